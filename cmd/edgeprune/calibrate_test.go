package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/profile"
)

// TestCalibrateCLI runs the mechanics of calibrate on LeNet-5 (seconds;
// the timings mean nothing at one run): the calibrated profile loads with
// a linear model per op class and op, the validation is on held-out
// variants, and --from-timings refits the saved measurements to the same
// coefficients. scripts/cross.sh runs this test under qemu (arm64, armv7).
func TestCalibrateCLI(t *testing.T) {
	if _, err := os.Stat(lenet5); err != nil {
		t.Skip("../shared/models/mnist/lenet5.onnx not found (the shared reference models)")
	}
	dir := t.TempDir()
	out, saved := filepath.Join(dir, "cal.yaml"), filepath.Join(dir, "timings.json")
	code, stdout, stderr := runCLI(t, "calibrate", lenet5, "--profile", "../../configs/host-amd64.yaml", "-o", out,
		"--threads", "1", "--variants", "2", "--fit-variants", "2", "--runs", "2", "--save-timings", saved)
	if code != 0 || !strings.Contains(stdout, "validation on 2 variants not fitted on") {
		t.Fatalf("calibrate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	p, err := profile.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	co, ok := p.Coeffs()
	if !ok || p.Calibration.Validation == nil || p.Calibration.Validation.Variants != 2 {
		t.Fatalf("calibrated profile: ok %v, calibration %+v", ok, p.Calibration)
	}
	if oc := co.Ops["conv_kxk"]; oc == nil || len(oc.Terms) != profile.NumTerms {
		t.Errorf("conv_kxk coefficients %+v: want the linear model's %d terms", oc, profile.NumTerms)
	}
	if co.Ops["conv_kxk/Conv+Relu"] == nil && co.Ops["conv_kxk/Conv"] == nil {
		t.Errorf("no per-op coefficients for LeNet-5's convolutions: %v", keys(co.Ops))
	}
	out2 := filepath.Join(dir, "refit.yaml")
	code, _, stderr = runCLI(t, "calibrate", "--from-timings", saved, "--profile", "../../configs/host-amd64.yaml", "-o", out2)
	if code != 0 {
		t.Fatalf("--from-timings: exit %d\n%s", code, stderr)
	}
	p2, err := profile.Load(out2)
	if err != nil {
		t.Fatal(err)
	}
	co2, _ := p2.Coeffs()
	if !reflect.DeepEqual(co, co2) {
		t.Errorf("--from-timings refit differs:\n%+v\n%+v", co, co2)
	}
	// Refused: a models list with --from-timings, a file that is not timings.
	if code, _, _ := runCLI(t, "calibrate", lenet5, "--from-timings", saved, "--profile", "../../configs/host-amd64.yaml", "-o", out2); code != 2 {
		t.Errorf("MODEL with --from-timings: exit %d, want 2", code)
	}
	if code, _, stderr := runCLI(t, "calibrate", "--from-timings", out, "--profile", "../../configs/host-amd64.yaml", "-o", out2); code != 1 || !strings.Contains(stderr, "cal.yaml") {
		t.Errorf("YAML as timings: exit %d, %q", code, stderr)
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	return k
}

// calibrate --from-ort-profile on the timings of tools/ort/profile_rounds.js
// (synthetic here): fits on the :fit variants, validates on :validate and
// writes a profile that loads.
func TestCalibrateFromORTCLI(t *testing.T) {
	dir := t.TempDir()
	var list []build.ORTTiming
	for i, kind := range []string{"width", "width", "fit", "fit", "fit", "fit", "validate", "validate"} {
		n := 1000 * (i + 1)
		var ev []string
		for r := 0; r < 3; r++ {
			ts := r * 100000
			ev = append(ev, fmt.Sprintf(`{"cat":"Session","name":"model_run","ts":%d,"dur":%d}`, ts, n/10+20))
			ev = append(ev, fmt.Sprintf(`{"cat":"Node","name":"r_kernel_time","ts":%d,"dur":%d,"args":{"op_name":"Relu","input_type_shape":[{"float":[1,%d]}],"output_type_shape":[{"float":[1,%d]}]}}`, ts+5, n/10, n, n))
		}
		prof := filepath.Join(dir, fmt.Sprintf("m-%s-%02d_prof.json", kind, i))
		if err := os.WriteFile(prof, []byte("["+strings.Join(ev, ",\n")+"]"), 0o644); err != nil {
			t.Fatal(err)
		}
		ms := float64(n)/10/1000*0.9 + 0.002
		list = append(list, build.ORTTiming{Model: filepath.Join(dir, fmt.Sprintf("m-%s-%02d.onnx", kind, i)), Profile: prof, Warmup: 1,
			WallMS: []float64{ms}, CPUMS: []float64{ms}})
	}
	b, _ := json.Marshal(list)
	timings := filepath.Join(dir, "all.ort.json")
	if err := os.WriteFile(timings, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "ort.yaml")
	code, stdout, stderr := runCLI(t, "calibrate", "--profile", "../../configs/host-amd64.yaml", "-o", out, "--threads", "1", "--statistic", "min",
		"--ort-no-graph", "--from-ort-profile", timings+":fit", "--ort-validate", timings+":validate")
	if code != 0 || !strings.Contains(stdout, "validated on 2 held out") || !strings.Contains(stdout, "latency without the profiler") {
		t.Fatalf("calibrate --from-ort-profile: exit %d\n%s\n%s", code, stdout, stderr)
	}
	p, err := profile.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if p.Calibration == nil || p.Calibration.Runtime.Name != "ort" || p.Calibration.Validation == nil || p.Calibration.Validation.Variants != 2 ||
		p.Calibration.Validation.Within10Pct != 1 {
		t.Errorf("calibration %+v (validation %+v)", p.Calibration, p.Calibration.Validation)
	}
}
