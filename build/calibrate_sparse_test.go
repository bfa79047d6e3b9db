package build

import (
	"math"
	"testing"

	"github.com/edgeprune/edgeprune/profile"
)

// Sparse nodes whose time is linear in their nonzero FLOPs and weights
// (the given timings, not measured): the fitted sparse class predicts the
// held-out sparse variants' sparse nodes to within a percent where the
// default (a fixed efficiency and 10 µs per node) is far off, and the
// whole-run error says the same. The dense fit is not disturbed by the
// sparse plans: its validation does not count them.
func TestFitTimingsSparseClass(t *testing.T) {
	sparseMS := func(flops, nnz int64) float64 { return 0.0004 + float64(flops)*2e-7 + float64(nnz)*1e-7 }
	gemm := func(rows, cols int64, ms float64) profile.NodeSample {
		return profile.NodeSample{Name: "fc", Op: "Gemm", Class: profile.Gemm, FLOPs: 2 * rows * cols, Bytes: 4 * (rows*cols + rows + cols),
			Out: rows, In: cols, In2: rows * cols, MS: ms}
	}
	sp := func(rows, cols int64, density float64) profile.NodeSample {
		nnz := int64(float64(rows*cols) * density)
		return profile.NodeSample{Name: "fc", Op: "Gemm", Class: profile.Sparse, FLOPs: 2 * nnz, Bytes: 8*nnz + 4*(rows+cols),
			Out: rows, In: cols, In2: nnz, MS: sparseMS(2*nnz, nnz)}
	}
	plan := func(kind string, nodes ...profile.NodeSample) PlanTiming {
		var sum float64
		for _, n := range nodes {
			sum += n.MS
		}
		return PlanTiming{Kind: kind, Nodes: nodes, Run: profile.RunTimes{Wall: []float64{sum + 0.001}}}
	}
	var plans []PlanTiming
	for i, w := range []int64{300, 250, 200, 150, 100} {
		kind := PlanWidth
		if i == 4 {
			kind = PlanValidate
		}
		plans = append(plans, plan(kind, gemm(w, 784, float64(w)*784*2e-6), gemm(100, w, float64(w)*100*2e-6)))
	}
	densities := []float64{0.25, 0.1, 0.05, 0.03, 0.2, 0.08, 0.04}
	for i, d := range densities {
		kind := PlanSparseFit
		if i >= 4 {
			kind = PlanSparseValidate
		}
		w := int64(300 - 30*i)
		plans = append(plans, plan(kind, sp(w, 784, d), sp(100, w, d), gemm(10, 100, 0.002)))
	}
	tm := &Timings{Schema: TimingsSchema, PeakGFLOPS: 50, BandwidthGBs: 10, Threads: 1, Statistic: "median",
		Models: []ModelTimings{{Model: "m", Plans: plans}}}
	res, err := FitTimings(&profile.Profile{}, tm, CalibrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Sparse
	if s == nil {
		t.Fatal("no sparse validation")
	}
	if s.FitVariants != 4 || s.FitNodes != 8 || s.Fitted.N != 3 || len(s.Points) != 3 {
		t.Fatalf("fit variants %d, fit nodes %d, validated %d (%d points); want 4, 8, 3", s.FitVariants, s.FitNodes, s.Fitted.N, len(s.Points))
	}
	co := res.Calibration.ByThreads["1"]
	if c := co.Ops[string(profile.Sparse)]; c == nil || c.Terms == nil {
		t.Fatalf("sparse class not fitted: %+v", c)
	}
	if s.NodesFitted.MAPE > 0.01 {
		t.Errorf("fitted sparse nodes MAPE %.4f, want < 1%% (the timings are linear)", s.NodesFitted.MAPE)
	}
	if s.NodesDefault.MAPE < 10*s.NodesFitted.MAPE || s.NodesDefault.MAPE < 0.1 {
		t.Errorf("default sparse nodes MAPE %.4f, fitted %.4f: the default should be far off", s.NodesDefault.MAPE, s.NodesFitted.MAPE)
	}
	if !(s.Fitted.MAPE < s.Default.MAPE) {
		t.Errorf("whole runs: fitted MAPE %.4f ≥ default %.4f", s.Fitted.MAPE, s.Default.MAPE)
	}
	for _, p := range s.Points {
		if math.Abs(p.SparsePredicted-p.SparseMS) > 0.01*p.SparseMS {
			t.Errorf("sparsity %.2f: sparse nodes predicted %.5f ms, given %.5f", p.Sparsity, p.SparsePredicted, p.SparseMS)
		}
	}
	// The dense validation counts the one dense validation plan only.
	if res.Overall.CostModel.N != 1 {
		t.Errorf("dense validation on %d plans, want 1", res.Overall.CostModel.N)
	}
	// defaultSparse leaves the fitted coefficients alone.
	if d := defaultSparse(co); d.Ops[string(profile.Sparse)].Terms != nil || co.Ops[string(profile.Sparse)].Terms == nil {
		t.Error("defaultSparse: want the default class in the copy and the fitted one kept")
	}
}
