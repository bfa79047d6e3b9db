package engine

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"gorgonia.org/tensor"
)

// TestFusedActivationEqualsUnfused: Conv→Clip fused into one step gives the
// same output as the same graph with the Conv output also returned (which
// keeps them apart).
func TestFusedActivationEqualsUnfused(t *testing.T) {
	build := func(exposeConv bool) *Program {
		b := onnxbuild.New(13)
		b.Input("x", onnxbuild.Float, 1, 3, 8, 8)
		w := b.Init("w", []int64{4, 3, 3, 3}, onnxbuild.Rand(1, 4*3*9, 0.5))
		lo := b.Const("lo", nil, []float32{-0.2})
		hi := b.Const("hi", nil, []float32{0.3})
		b.Node("Conv", []string{"x", w}, []string{"c"}, onnxbuild.AttrInts("pads", 1, 1, 1, 1))
		b.Node("Clip", []string{"c", lo, hi}, []string{"y"})
		b.Output("y", onnxbuild.Float, 1, 4, 8, 8)
		if exposeConv {
			b.Output("c", onnxbuild.Float, 1, 4, 8, 8)
		}
		p, err := Compile(decode(t, b))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fused, plain := build(false), build(true)
	if n := fused.Report().Nodes; len(n) != 1 || n[0].Op != "Conv+Clip" {
		t.Fatalf("fused plan runs %v, want one Conv+Clip", n)
	}
	if n := plain.Report().Nodes; len(n) != 2 {
		t.Fatalf("plan with the conv output exposed runs %d nodes, want 2", len(n))
	}
	x := randSlice(rand.New(rand.NewPCG(3, 4)), 3*64)
	in := map[string]*tensor.Dense{"x": dense([]int{1, 3, 8, 8}, x)}
	a, err := fused.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := plain.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	ya, yb := a["y"].Data().([]float32), b["y"].Data().([]float32)
	clipped := 0
	for i := range ya {
		if ya[i] != yb[i] {
			t.Fatalf("y[%d]: fused %v, unfused %v", i, ya[i], yb[i])
		}
		if ya[i] == -0.2 || ya[i] == 0.3 {
			clipped++
		}
	}
	if clipped == 0 {
		t.Error("no value was clipped: the test does not exercise the clamp")
	}
}

// TestChainEqualsUnfused: a scalar affine followed by HardSwish written out
// as ops (Add, Clip, Mul by the chain's input, Div) and more scalar ops run
// as two chain steps, bit for bit equal to the same graph with every
// intermediate returned (which keeps the ops apart) and to the ops done one
// by one in Go.
func TestChainEqualsUnfused(t *testing.T) {
	shape := []int64{1, 3, 8, 8}
	build := func(expose bool) *Program {
		b := onnxbuild.New(13)
		b.Input("x", onnxbuild.Float, shape...)
		sc := b.Const("sc", nil, []float32{0.75})
		sh := b.Const("sh", []int64{1}, []float32{0.5})
		three := b.Const("three", nil, []float32{3})
		six := b.Const("six", nil, []float32{6})
		zero := b.Const("zero", nil, []float32{0})
		q := b.Const("q", nil, []float32{0.25})
		b.Node("Mul", []string{"x", sc}, []string{"s"})
		b.Node("Add", []string{sh, "s"}, []string{"t"})
		b.Node("Add", []string{"t", three}, []string{"u"})
		b.Node("Clip", []string{"u", zero, six}, []string{"v"})
		b.Node("Mul", []string{"t", "v"}, []string{"w"})
		b.Node("Div", []string{"w", six}, []string{"y1"})
		b.Node("Sub", []string{"y1", q}, []string{"y2"})
		b.Node("Relu", []string{"y2"}, []string{"y"})
		b.Output("y", onnxbuild.Float, shape...)
		if expose {
			for _, o := range []string{"s", "u", "v", "w", "y1", "y2"} {
				b.Output(o, onnxbuild.Float, shape...)
			}
		}
		p, err := Compile(decode(t, b))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fused, plain := build(false), build(true)
	var ops []string
	for _, n := range fused.Report().Nodes {
		ops = append(ops, n.Op)
	}
	if len(ops) != 2 || ops[0] != "Mul+Add" || ops[1] != "Add+Clip+Mul+Div+Sub+Relu" {
		t.Fatalf("fused plan runs %v, want Mul+Add, Add+Clip+Mul+Div+Sub+Relu", ops)
	}
	if n := plain.Report().Nodes; len(n) != 8 {
		t.Fatalf("plan with every intermediate exposed runs %d nodes, want 8", len(n))
	}
	x := randSlice(rand.New(rand.NewPCG(5, 6)), 3*64)
	for i := range x {
		x[i] *= 8 // reach both ends of the Clip
	}
	in := map[string]*tensor.Dense{"x": dense([]int{1, 3, 8, 8}, x)}
	a, err := fused.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := plain.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	ya, yb := a["y"].Data().([]float32), b["y"].Data().([]float32)
	ends := 0
	for i, xv := range x {
		tv := float32(0.5) + float32(xv*0.75)
		v := min(max(tv+3, 0), 6)
		y := max(float32(float32(tv*v)/6)-0.25, 0)
		if ya[i] != yb[i] || ya[i] != y {
			t.Fatalf("y[%d]: fused %v, unfused %v, Go %v", i, ya[i], yb[i], y)
		}
		if v == 0 || v == 6 {
			ends++
		}
	}
	if ends == 0 {
		t.Error("no value reached the ends of the Clip")
	}
}
