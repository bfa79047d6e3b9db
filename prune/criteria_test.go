package prune

import (
	"context"
	"math"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// mnistCalibration is the first n samples of ../shared/data/mnist_train.npz
// as one batch; only those samples are decompressed (streamed).
func mnistCalibration(t *testing.T, n int) *Calibration {
	t.Helper()
	d, err := dataset.Open(testmodels.SharedData(t, "mnist_train.npz"), dataset.WithMemoryLimit(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &Calibration{Data: d, Samples: n, Batch: n}
}

// compareMask prunes a fresh copy of the model with opts and counts the
// elements whose pruned/kept state differs from the reference masks
// "<prefix>/<ID>".
func compareMask(t *testing.T, path string, masks map[string][]int64, prefix string, opts ...Option) (differ, total int) {
	t.Helper()
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pr.Prune(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range plan.Params {
		mask, ok := masks[prefix+"/"+e.ID]
		if !ok {
			t.Fatalf("pruned %s, which has no reference mask %s/%s", e.ID, prefix, e.ID)
		}
		var w []float32
		for _, p := range m.Params() {
			if p.ID == e.ID {
				w, _, _ = p.Float32()
			}
		}
		if len(w) != len(mask) {
			t.Fatalf("%s: %d weights, mask %d", e.ID, len(w), len(mask))
		}
		for i, v := range w {
			total++
			if (v == 0) != (mask[i] == 0) {
				differ++
			}
		}
	}
	return differ, total
}

// TestCriteriaMatchTorchMasks compares global Taylor and per-row Wanda with
// the masks torch computed through the same ONNX graphs on the first 128
// samples of mnist_train.npz as one batch (../shared/models/README.md): at
// most 0.1% of the elements may differ (ties and float noise at the
// threshold).
func TestCriteriaMatchTorchMasks(t *testing.T) {
	ctx := context.Background()
	for _, model := range []string{"lenet300", "lenet5"} {
		t.Run(model, func(t *testing.T) {
			path := testmodels.Shared(t, "mnist/"+model+".onnx")
			masks := readMasks(t, testmodels.Shared(t, "mnist/"+model+"_criteria_masks.npz"))
			m, err := onnxio.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cal := mnistCalibration(t, 128)
			taylor, err := Taylor(ctx, m, cal)
			if err != nil {
				t.Fatal(err)
			}
			wanda, err := Wanda(ctx, m, cal, Selection{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				imp   Importance
				scope Scope
				s     float64
				key   string
			}{
				{taylor, Global, 0.5, "taylor_global_0.5"}, {taylor, Global, 0.9, "taylor_global_0.9"}, {taylor, Global, 0.95, "taylor_global_0.95"},
				{wanda, Row, 0.5, "wanda_row_0.5"}, {wanda, Row, 0.9, "wanda_row_0.9"},
			} {
				differ, total := compareMask(t, path, masks, c.key, WithImportance(c.imp), WithScope(c.scope), WithSparsity(c.s))
				frac := float64(differ) / float64(total)
				if frac > 0.001 {
					t.Errorf("%s: %d of %d elements (%.4f%%) differ from torch's mask; at most 0.1%% may", c.key, differ, total, 100*frac)
				}
				t.Logf("%s: %d of %d elements differ from torch's mask", c.key, differ, total)
			}
		})
	}
}

// TestCriteriaRanking checks properties of the other criteria on lenet5:
// SNIP ranks exactly as Taylor and sums to 1; OBD and Taylor prune
// different weights than magnitude; every criterion prunes the requested
// count.
func TestCriteriaRanking(t *testing.T) {
	ctx := context.Background()
	path := testmodels.Shared(t, "mnist/lenet5.onnx")
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cal := mnistCalibration(t, 16)
	cal.Batch = 8 // two batches: gradients summed
	taylor, err := Taylor(ctx, m, cal)
	if err != nil {
		t.Fatal(err)
	}
	snip, err := SNIP(ctx, m, cal)
	if err != nil {
		t.Fatal(err)
	}
	obd, err := OBD(ctx, m, cal)
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := Targets(m, Selection{})
	var sum float64
	for _, tg := range targets {
		ts, ss := taylor.Elem[tg.ID()], snip.Elem[tg.ID()]
		for i := range ts {
			sum += float64(ss[i])
		}
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("SNIP scores of the weights sum to %v, want 1", sum)
	}
	masks := map[string]map[string][]bool{}
	for _, imp := range []Importance{taylor, snip, obd, Magnitude{}} {
		mm, _ := onnxio.ReadFile(path)
		pr, err := New(WithImportance(imp), WithSparsity(0.9))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pr.Prune(mm)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(float64(plan.Totals.Elements)*0.9 + 0.5); plan.Totals.ZerosAfter != want {
			t.Errorf("%s: %d zeros, want %d", imp.Name(), plan.Totals.ZerosAfter, want)
		}
		masks[imp.Name()] = map[string][]bool{}
		for _, p := range mm.Params() {
			w, _, _ := p.Float32()
			z := make([]bool, len(w))
			for i, v := range w {
				z[i] = v == 0
			}
			masks[imp.Name()][p.ID] = z
		}
	}
	diff := func(a, b string) int {
		n := 0
		for id, ma := range masks[a] {
			for i := range ma {
				if ma[i] != masks[b][id][i] {
					n++
				}
			}
		}
		return n
	}
	if d := diff("taylor", "snip"); d != 0 {
		t.Errorf("snip and taylor masks differ in %d elements; SNIP is Taylor normalised", d)
	}
	for _, c := range []string{"taylor", "obd"} {
		if d := diff(c, "l1"); d == 0 {
			t.Errorf("%s prunes exactly what magnitude prunes: the gradients did not count", c)
		}
	}
	if d := diff("taylor", "obd"); d == 0 {
		t.Error("obd prunes exactly what taylor prunes")
	}
}

// TestWandaConvColumnsByHand checks the im2col column norms of a strided,
// padded Conv against a direct loop over the output positions.
func TestWandaConvColumnsByHand(t *testing.T) {
	g := &convGeom{group: 1, kh: 3, kw: 2, sh: 2, sw: 1, dh: 1, dw: 2, pt: 1, pl: 0, pb: 1, pr: 1}
	const n, c, h, w = 2, 2, 5, 4
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(i%7) - 2.5
	}
	got, err := g.columnSquares(x, []int{n, c, h, w})
	if err != nil {
		t.Fatal(err)
	}
	oh := (h+g.pt+g.pb-g.dh*(g.kh-1)-1)/g.sh + 1
	ow := (w+g.pl+g.pr-g.dw*(g.kw-1)-1)/g.sw + 1
	for ch := range c {
		for ky := range g.kh {
			for kx := range g.kw {
				var want float64
				for b := range n {
					for oy := range oh {
						for ox := range ow {
							iy, ix := oy*g.sh-g.pt+ky*g.dh, ox*g.sw-g.pl+kx*g.dw
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								v := float64(x[((b*c+ch)*h+iy)*w+ix])
								want += v * v
							}
						}
					}
				}
				if g := got[(ch*g.kh+ky)*g.kw+kx]; g != want {
					t.Errorf("column (%d,%d,%d): %v, want %v", ch, ky, kx, g, want)
				}
			}
		}
	}
}

// TestGroupTaylor scores lenet5's channel groups with Taylor: structured
// pruning runs, and the unit scores are the sums of element scores over
// the coupled slices.
func TestGroupTaylor(t *testing.T) {
	ctx := context.Background()
	path := testmodels.Shared(t, "mnist/lenet5.onnx")
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	taylor, err := Taylor(ctx, m, mnistCalibration(t, 32))
	if err != nil {
		t.Fatal(err)
	}
	dg, err := BuildDepGraph(m)
	if err != nil {
		t.Fatal(err)
	}
	// The group of c1's output channels: unit u scores, by hand,
	// Σ taylor(c1.weight[u,:,:,:]) + taylor(c1.bias[u]) + Σ taylor(c2.weight[:,u,:,:]).
	var g *Group
	for _, gr := range dg.Groups {
		for _, c := range gr.Coupled {
			if c.Param.ID == "c1.weight" && c.Kind == KindWeight {
				g = gr
			}
		}
	}
	if g == nil || g.Units != 20 {
		t.Fatalf("no group of c1's 20 output channels: %+v", g)
	}
	dst := make([]float32, g.Units)
	if why, err := taylor.Scores(dst, g); err != nil || why != "" {
		t.Fatalf("group %d: %v %s", g.ID, err, why)
	}
	w1, b1, w2 := taylor.Elem["c1.weight"], taylor.Elem["c1.bias"], taylor.Elem["c2.weight"]
	if len(w1) != 20*25 || len(b1) != 20 || len(w2) != 50*20*25 {
		t.Fatalf("scores of c1.weight %d, c1.bias %d, c2.weight %d", len(w1), len(b1), len(w2))
	}
	for u := range 20 {
		want := float64(b1[u])
		for i := range 25 {
			want += float64(w1[u*25+i])
		}
		for o := range 50 {
			for i := range 25 {
				want += float64(w2[(o*20+u)*25+i])
			}
		}
		if d := math.Abs(float64(dst[u]) - want); d > 1e-6*want {
			t.Errorf("unit %d: %v, by hand %v", u, dst[u], want)
		}
	}
	sp, err := NewStructured(WithSparsity(0.5), WithCriterion(taylor))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sp.Plan(m)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Criterion != "taylor" {
		t.Errorf("plan criterion %q", plan.Criterion)
	}
	if plan.Totals.PrunedUnits == 0 {
		t.Errorf("structured taylor at 0.5 removed nothing: %+v", plan.Totals)
	}
}
