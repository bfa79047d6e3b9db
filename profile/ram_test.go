package profile

import (
	"math"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// TestRAMTermsArithmetic: the phases and the prediction from given terms,
// in both regimes (the load phase dominating, the run phase dominating).
func TestRAMTermsArithmetic(t *testing.T) {
	for _, tc := range []struct {
		terms           RAMTerms
		load, run, peak int64
	}{
		// A model whose activations are small: reading it is the peak.
		{RAMTerms{FileBytes: 100, HeldBytes: 60, ActivationBytes: 10, SparseBuildBytes: 5}, 200, 175, 200},
		// Activations and held copies beyond the file: running is.
		{RAMTerms{FileBytes: 100, HeldBytes: 110, ActivationBytes: 40, SparseBuildBytes: 16}, 200, 266, 266},
	} {
		tt := tc.terms
		if tt.LoadBytes() != tc.load || tt.RunBytes() != tc.run || tt.PeakBytes() != tc.peak {
			t.Errorf("%+v: load %d run %d peak %d, want %d %d %d", tt, tt.LoadBytes(), tt.RunBytes(), tt.PeakBytes(), tc.load, tc.run, tc.peak)
		}
		c := &Coeffs{RSSOverheadMB: 2, RSSScale: 1.5}
		if got, want := c.RAMBytes(tt), int64(2*MB+1.5*float64(tc.peak)); got != want {
			t.Errorf("%+v: RAMBytes %d, want %d", tt, got, want)
		}
		// Uncalibrated (zero coefficients): the peak itself, scale 1.
		if got := (&Coeffs{}).RAMBytes(tt); got != tc.peak {
			t.Errorf("%+v: uncalibrated RAMBytes %d, want %d", tt, got, tc.peak)
		}
	}
}

// TestRAMTermsOf checks the terms against what they stand for on a small
// model: the serialized size, the plan's report, and 8 bytes per nonzero
// of a Gemm weight run sparse (SparseBuildBytes), none when it runs dense.
func TestRAMTermsOf(t *testing.T) {
	const in, out = 64, 32
	w := make([]float32, in*out)
	nnz := 0
	for i := range w {
		if i%4 == 0 { // 25% dense
			w[i] = float32(i%7) + 1
			nnz++
		}
	}
	b := onnxbuild.New(13)
	x := b.Input("x", onnx.TensorProto_FLOAT, 1, in)
	b.Node("Gemm", []string{x, b.Init("w", []int64{out, in}, w), b.Init("b", []int64{out}, make([]float32, out))}, []string{"y"}, onnxbuild.AttrInt("transB", 1))
	b.Output("y", onnx.TensorProto_FLOAT, 1, out)
	data := b.Bytes()
	m, err := onnxio.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []engine.SparseMode{engine.SparseOff, engine.SparseAlways} {
		plan, err := engine.Compile(m, engine.WithSparse(mode))
		if err != nil {
			t.Fatal(err)
		}
		r := plan.Report()
		tt := RAMTermsOf(m, plan)
		if tt.FileBytes != int64(len(data)) {
			t.Errorf("mode %v: FileBytes %d, want the serialized %d", mode, tt.FileBytes, len(data))
		}
		if tt.HeldBytes != r.WeightBytes || tt.ActivationBytes != r.PeakActivationBytes {
			t.Errorf("mode %v: held %d activations %d, want the report's %d %d", mode, tt.HeldBytes, tt.ActivationBytes, r.WeightBytes, r.PeakActivationBytes)
		}
		want := int64(0)
		if mode == engine.SparseAlways {
			want = 8 * int64(nnz)
		}
		if tt.SparseBuildBytes != want {
			t.Errorf("mode %v: SparseBuildBytes %d, want %d", mode, tt.SparseBuildBytes, want)
		}
	}
	if tt := RAMTermsOf(nil, mustCompile(t, m)); tt.FileBytes != 0 {
		t.Errorf("no model: FileBytes %d, want 0", tt.FileBytes)
	}
}

func mustCompile(t *testing.T, m *onnxio.Model) *engine.Program {
	t.Helper()
	p, err := engine.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFitRAM: points made by the model itself are fitted back to its
// coefficients; a line that would need a negative overhead is fitted
// through the origin; one distinct peak fits the scale alone; nothing
// measured fits nothing.
func TestFitRAM(t *testing.T) {
	pt := func(peakMB, overhead, scale float64) RAMPoint {
		f := int64(peakMB * MB / 2) // the load phase: 2 · file
		return RAMPoint{Terms: RAMTerms{FileBytes: f}, PeakRSSMB: overhead + scale*float64(2*f)/MB}
	}
	var pts []RAMPoint
	for _, p := range []float64{10, 25, 40, 90, 160} {
		pts = append(pts, pt(p, 17.5, 1.08))
	}
	o, s, ok := FitRAM(pts)
	if !ok || math.Abs(o-17.5) > 1e-6 || math.Abs(s-1.08) > 1e-6 {
		t.Errorf("fit %v %v %v, want 17.5 1.08", o, s, ok)
	}
	pts = pts[:0]
	for _, p := range []float64{10, 25, 40} {
		pts = append(pts, pt(p, -5, 1.2))
	}
	o, s, ok = FitRAM(pts)
	if !ok || o != 0 || s <= 0 {
		t.Fatalf("negative intercept: fit %v %v %v, want overhead 0 and a positive scale", o, s, ok)
	}
	var sxy, sxx float64 // the least-squares line through the origin
	for _, p := range pts {
		x := float64(p.Terms.PeakBytes()) / MB
		sxy += x * p.PeakRSSMB
		sxx += x * x
	}
	if math.Abs(s-sxy/sxx) > 1e-9 {
		t.Errorf("negative intercept: scale %v, want %v (through the origin)", s, sxy/sxx)
	}
	o, s, ok = FitRAM([]RAMPoint{pt(40, 0, 1.3), pt(40, 0, 1.3)})
	if !ok || o != 0 || math.Abs(s-1.3) > 1e-9 {
		t.Errorf("one distinct peak: fit %v %v %v, want 0 1.3", o, s, ok)
	}
	if _, _, ok := FitRAM(nil); ok {
		t.Error("no points: fitted")
	}
}
