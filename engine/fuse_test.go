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
	build := func(exposeConv bool) *Plan {
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
