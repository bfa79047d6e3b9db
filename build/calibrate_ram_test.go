package build

import (
	"context"
	"math"
	"testing"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
)

// TestFitRAMHoldsOutValidation: the memory model is fitted on the width and
// fitting plans only (a validation point far off the line moves nothing),
// every point carries the fitted prediction, and the validation's errors
// are those of the validation points.
func TestFitRAMHoldsOutValidation(t *testing.T) {
	const overhead, scale = 20.0, 1.1
	point := func(kind string, fileMB, extra float64) RSSPoint {
		tt := profile.RAMTerms{FileBytes: int64(fileMB * profile.MB)}
		return RSSPoint{Model: "m", Kind: kind, Terms: tt, PeakRSSMB: overhead + scale*float64(tt.PeakBytes())/profile.MB + extra}
	}
	pts := []RSSPoint{point(PlanWidth, 10, 0), point(PlanFit, 30, 0), point(PlanFit, 50, 0),
		point(PlanValidate, 20, 0), point(PlanSparseValidate, 40, 500)}
	r := FitRAM(pts)
	if r == nil {
		t.Fatal("no fit")
	}
	if math.Abs(r.OverheadMB-overhead) > 0.05 || math.Abs(r.Scale-scale) > 0.0005 {
		t.Errorf("fit %.2f MB + %.4f, want %.1f + %.3f (the validation points moved it)", r.OverheadMB, r.Scale, overhead, scale)
	}
	if r.Fit.N != 3 || r.Validation.N != 2 || len(r.Points) != 5 {
		t.Fatalf("fit on %d, validated on %d, %d points; want 3, 2, 5", r.Fit.N, r.Validation.N, len(r.Points))
	}
	if r.Fit.MAPE > 1e-3 || r.Fit.Within10Pct != 1 {
		t.Errorf("fit errors %+v on exact points", r.Fit)
	}
	// The second validation point is measured 500 MB above the line: one of
	// two within ±10%, and the MAPE is its error over 2.
	off := r.Points[4]
	wantMAPE := math.Abs(off.PredictedMB-off.PeakRSSMB) / off.PeakRSSMB / 2
	if r.Validation.Within10Pct != 0.5 || math.Abs(r.Validation.MAPE-wantMAPE) > 2e-3 {
		t.Errorf("validation %+v, want half within ±10%% and MAPE %.3f", r.Validation, wantMAPE)
	}
	if FitRAM(nil) != nil {
		t.Error("nothing measured: fitted")
	}
}

// TestMeasurePeakRSS: with CalibrateOptions.PeakRSS, Measure records one
// point per plan it compiles, of its kind, with the plan's terms.
func TestMeasurePeakRSS(t *testing.T) {
	m, err := onnxio.ReadFile("../testdata/demo/demonet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	p := testProfile(t)
	calls := 0
	opts := CalibrateOptions{Threads: 1, Runs: 1, Rounds: 1, Warmup: 1, Widths: []float64{1, 0.5}, FitVariants: 1, Variants: 2, SparseVariants: 1, Seed: 1,
		PeakRSS: func(ctx context.Context, m *onnxio.Model) (float64, error) { calls++; return float64(10 + calls), nil }}
	tm, err := Measure(context.Background(), p, []NamedModel{{Name: "demonet.onnx", Model: m}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.RSS) != 7 || calls != 7 {
		t.Fatalf("%d points from %d calls, want 7 (2 widths, 1 fit, 2 validation, 1 sparse fit, 1 sparse validation)", len(tm.RSS), calls)
	}
	kinds := map[string]int{}
	for i, pt := range tm.RSS {
		kinds[pt.Kind]++
		if pt.PeakRSSMB != float64(11+i) || pt.Terms.FileBytes <= 0 || pt.Terms.HeldBytes <= 0 || pt.Terms.ActivationBytes <= 0 {
			t.Errorf("point %d: %+v", i, pt)
		}
	}
	if kinds[PlanWidth] != 2 || kinds[PlanFit] != 1 || kinds[PlanValidate] != 2 || kinds[PlanSparseFit] != 1 || kinds[PlanSparseValidate] != 1 {
		t.Errorf("kinds %v", kinds)
	}
}

func testProfile(t *testing.T) *profile.Profile {
	t.Helper()
	p, err := profile.Load("../configs/host-amd64.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
