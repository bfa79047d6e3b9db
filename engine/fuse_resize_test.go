package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"gorgonia.org/tensor"
)

// TestResizeAddEqualsUnfused: a + Resize(x) (PP-OCR det's top-down neck:
// 2× nearest, asymmetric, floor), with the Resize's output as either
// operand of the Add, and a linear 2× resize, run as one step
// (Resize+Add), bit for bit equal to the same graph with the Resize's
// output also returned (which keeps the two apart), on 1 and 3 threads.
func TestResizeAddEqualsUnfused(t *testing.T) {
	in, out := []int64{1, 5, 7, 9}, []int64{1, 5, 14, 18}
	build := func(mode string, swap, expose bool, threads int) *Program {
		b := onnxbuild.New(13)
		b.Input("x", onnxbuild.Float, in...)
		b.Input("a", onnxbuild.Float, out...)
		roi := b.Const("roi", []int64{0}, nil)
		sc := b.Const("scales", []int64{4}, []float32{1, 1, 2, 2})
		b.Node("Resize", []string{"x", roi, sc}, []string{"r"}, onnxbuild.AttrString("mode", mode),
			onnxbuild.AttrString("coordinate_transformation_mode", "asymmetric"), onnxbuild.AttrString("nearest_mode", "floor"))
		ai := []string{"a", "r"}
		if swap {
			ai = []string{"r", "a"}
		}
		b.Node("Add", ai, []string{"y"})
		b.Output("y", onnxbuild.Float, out...)
		if expose {
			b.Output("r", onnxbuild.Float, out...)
		}
		p, err := Compile(decode(t, b), WithThreads(threads))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	rng := rand.New(rand.NewPCG(13, 14))
	x, a := randSlice(rng, 5*7*9), randSlice(rng, 5*14*18)
	feed := map[string]*tensor.Dense{"x": dense([]int{1, 5, 7, 9}, x), "a": dense([]int{1, 5, 14, 18}, a)}
	for _, mode := range []string{"nearest", "linear"} {
		for _, swap := range []bool{false, true} {
			for _, threads := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s/swap=%v/threads=%d", mode, swap, threads), func(t *testing.T) {
					forceParallel(t)
					fused, plain := build(mode, swap, false, threads), build(mode, swap, true, threads)
					if n := fused.Report().Nodes; len(n) != 1 || n[0].Op != "Resize+Add" {
						t.Fatalf("fused plan runs %d steps, the last %s; want one, Resize+Add", len(n), n[len(n)-1].Op)
					}
					if n := plain.Report().Nodes; len(n) != 2 {
						t.Fatalf("plan returning the Resize's output runs %d steps, want 2", len(n))
					}
					ra, err := fused.Run(context.Background(), feed)
					if err != nil {
						t.Fatal(err)
					}
					rb, err := plain.Run(context.Background(), feed)
					if err != nil {
						t.Fatal(err)
					}
					ya, yb := ra["y"].Data().([]float32), rb["y"].Data().([]float32)
					for i := range ya {
						if math.Float32bits(ya[i]) != math.Float32bits(yb[i]) {
							t.Fatalf("y[%d]: fused %v, unfused %v", i, ya[i], yb[i])
						}
					}
				})
			}
		}
	}
}
