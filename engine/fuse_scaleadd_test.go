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

// TestScaleAddEqualsUnfused: x + x·gate(x) (PP-OCR det's residual
// squeeze-and-excitation: GlobalAveragePool, HardSigmoid, Mul by the
// [1, C, 1, 1] gate, Add of x), with the operands of the Mul and of the Add
// in either order, runs the Mul and the Add as one step (Mul+Add), bit for
// bit equal to the same graph with the product also returned (which keeps
// them apart), on 1 and 3 threads, for batches of 1 and 2.
func TestScaleAddEqualsUnfused(t *testing.T) {
	for _, nb := range []int64{1, 2} { // a gate for all images, one per image
		testScaleAdd(t, []int64{nb, 6, 9, 11})
	}
}

func testScaleAdd(t *testing.T, shape []int64) {
	build := func(swapMul, swapAdd, expose bool, threads int) *Program {
		b := onnxbuild.New(13)
		b.Input("x", onnxbuild.Float, shape...)
		b.Node("GlobalAveragePool", []string{"x"}, []string{"g"})
		b.Node("HardSigmoid", []string{"g"}, []string{"s"})
		mi, ai := []string{"x", "s"}, []string{"x", "m"}
		if swapMul {
			mi = []string{"s", "x"}
		}
		if swapAdd {
			ai = []string{"m", "x"}
		}
		b.Node("Mul", mi, []string{"m"})
		b.Node("Add", ai, []string{"y"})
		b.Output("y", onnxbuild.Float, shape...)
		if expose {
			b.Output("m", onnxbuild.Float, shape...)
		}
		p, err := Compile(decode(t, b), WithThreads(threads))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	dims := []int{int(shape[0]), int(shape[1]), int(shape[2]), int(shape[3])}
	x := randSlice(rand.New(rand.NewPCG(7, 8)), numel(dims))
	for i := range x {
		x[i] *= 5
	}
	in := map[string]*tensor.Dense{"x": dense(dims, x)}
	for _, threads := range []int{1, 3} {
		for _, v := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			t.Run(fmt.Sprintf("%v/threads=%d/swapMul=%v/swapAdd=%v", shape, threads, v[0], v[1]), func(t *testing.T) {
				forceParallel(t)
				fused, plain := build(v[0], v[1], false, threads), build(v[0], v[1], true, threads)
				last := func(p *Program) string { n := p.Report().Nodes; return n[len(n)-1].Op }
				if op := last(fused); op != "Mul+Add" {
					t.Fatalf("fused plan's last step is %s, want Mul+Add", op)
				}
				if op := last(plain); op != "Add" {
					t.Fatalf("plan returning the product ends with %s, want Add", op)
				}
				a, err := fused.Run(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				b, err := plain.Run(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				ya, yb := a["y"].Data().([]float32), b["y"].Data().([]float32)
				for i := range ya {
					if math.Float32bits(ya[i]) != math.Float32bits(yb[i]) {
						t.Fatalf("y[%d]: fused %v, unfused %v", i, ya[i], yb[i])
					}
				}
			})
		}
	}
}
