package main

import (
	"context"
	"math"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/internal/devenv"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/profile"
)

// TestUncalibratedRAMPrediction: an uncalibrated profile's memory model
// (the datasheet coefficients: profile.DefaultRSSOverheadMB and scale 1)
// predicts the measured peak resident set of a process that reads,
// compiles and runs a small model within ±25% — the overhead, not the
// model's heap, is most of it (the heap alone was 20 MB low).
func TestUncalibratedRAMPrediction(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peak RSS is read from /proc (linux)")
	}
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Load(filepath.Join(root, "configs", "raspberry-pi-4.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	co, calibrated := p.Coeffs()
	if calibrated {
		t.Fatal("raspberry-pi-4.yaml is calibrated; the test needs the datasheet coefficients")
	}
	bin := buildCLI(t)
	models := []string{demoModel(t)}
	if !testing.Short() {
		models = append(models, testmodels.Shared(t, "mnist/lenet5.onnx"))
	}
	for _, path := range models {
		pt, runs, err := build.ProbePeakRSS(context.Background(), bin, path, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		pred := float64(co.RAMBytes(pt.Terms)) / profile.MB
		if e := math.Abs(pred-pt.PeakRSSMB) / pt.PeakRSSMB; e > 0.25 {
			t.Errorf("%s: predicted %.1f MB, measured %.1f MB (runs %v): %.0f%% off", filepath.Base(path), pred, pt.PeakRSSMB, runs, 100*e)
		} else {
			t.Logf("%s: predicted %.1f MB, measured %.1f MB", filepath.Base(path), pred, pt.PeakRSSMB)
		}
	}
}
