// Command ramfit measures the peak resident set of child processes that
// read, compile and run each model once (edgeprune calibrate --rss-probe,
// as calibrate and build measure it: GOGC=100, no GOMEMLIMIT, the median
// of -runs children), fits the memory model (build.FitRAM: overhead +
// scale × max(2·file, file + held + activations + sparse build)) on every
// other model and validates it on the rest, and prints one row per model
// beside the earlier prediction, weights + activations, and the summary:
// MAPE and the fraction within ±10% of the validation models and of all.
//
//	go run ./bench/ramfit -bin /tmp/ram/edgeprune variants/*.onnx
//
// bench/ram_fit.sh makes the variants and runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
)

func main() {
	bin := flag.String("bin", "", "the edgeprune binary to run as the child")
	runs := flag.Int("runs", 3, "children per model (the median is kept)")
	threads := flag.Int("threads", 1, "engine threads of the children")
	jsonOut := flag.String("json", "", "also write the fit and every point as JSON here")
	flag.Parse()
	if *bin == "" || flag.NArg() < 2 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "usage: ramfit -bin EDGEPRUNE [-runs 3] [-threads 1] [-json OUT] MODEL.onnx MODEL.onnx...")
		os.Exit(2)
	}
	var pts []build.RSSPoint
	weights := map[string]int64{}
	for i, path := range flag.Args() {
		m, err := onnxio.ReadFile(path)
		if err != nil {
			fail(err)
		}
		weights[filepath.Base(path)] = profile.ResidentWeightBytes(m)
		pt, mbs, err := build.ProbePeakRSS(context.Background(), *bin, path, *threads, *runs)
		if err != nil {
			fail(err)
		}
		pt.Kind = build.PlanFit
		if i%2 == 1 {
			pt.Kind = build.PlanValidate
		}
		pts = append(pts, pt)
		fmt.Fprintf(os.Stderr, "%s: %.1f MB (runs %v)\n", pt.Model, pt.PeakRSSMB, mbs)
	}
	fit := build.FitRAM(pts)
	if fit == nil {
		fail(fmt.Errorf("nothing to fit"))
	}
	fmt.Printf("memory model: peak RSS = %.1f MB + %.3f × max(2·file, file + held + activations + sparse build), fitted on the %d 'fit' rows\n",
		fit.OverheadMB, fit.Scale, fit.Fit.N)
	fmt.Printf("%-34s %-8s %7s %7s %7s %7s %7s %9s %9s %7s %12s\n", "model", "kind", "file", "held", "acts", "sparse", "RSS", "predicted", "error", "w+a", "w+a error")
	var wa, meas []float64
	for _, p := range fit.Points {
		t := p.Terms
		old := float64(weights[p.Model]+t.ActivationBytes) / profile.MB
		wa, meas = append(wa, old), append(meas, p.PeakRSSMB)
		fmt.Printf("%-34s %-8s %7.1f %7.1f %7.1f %7.1f %7.1f %9.1f %+8.1f%% %7.1f %+11.1f%%\n", p.Model, p.Kind,
			mb(t.FileBytes), mb(t.HeldBytes), mb(t.ActivationBytes), mb(t.SparseBuildBytes), p.PeakRSSMB, p.PredictedMB,
			(p.PredictedMB-p.PeakRSSMB)/p.PeakRSSMB*100, old, (old-p.PeakRSSMB)/p.PeakRSSMB*100)
	}
	var ap, am []float64
	for _, p := range fit.Points {
		ap, am = append(ap, p.PredictedMB), append(am, p.PeakRSSMB)
	}
	all := profile.Stats(ap, am)
	old := profile.Stats(wa, meas)
	fmt.Printf("validation (%d models not fitted on): MAPE %.1f%%, %.0f%% within ±10%%\n", fit.Validation.N, fit.Validation.MAPE*100, fit.Validation.Within10Pct*100)
	fmt.Printf("fit (%d models): MAPE %.1f%%, %.0f%% within ±10%%; all %d: MAPE %.1f%%, %.0f%% within ±10%%\n", fit.Fit.N, fit.Fit.MAPE*100, fit.Fit.Within10Pct*100, all.N, all.MAPE*100, all.Within10Pct*100)
	fmt.Printf("earlier model, weights + activations (no overhead, uncalibrated): MAPE %.1f%%, %.0f%% within ±10%%\n", old.MAPE*100, old.Within10Pct*100)
	if *jsonOut != "" {
		b, err := json.MarshalIndent(fit, "", "  ")
		if err != nil {
			fail(err)
		}
		tmp := *jsonOut + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			fail(err)
		}
		if err := os.Rename(tmp, *jsonOut); err != nil {
			fail(err)
		}
	}
}

func mb(b int64) float64 { return float64(b) / profile.MB }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ramfit:", err)
	os.Exit(1)
}
