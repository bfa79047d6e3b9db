package engine

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
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
// as one chain step (two chains merged: the affine's output is the
// HardSwish's x), bit for bit equal to the same graph with every
// intermediate returned (which keeps the ops apart) and to the ops done one
// by one in Go, on 1 and 3 threads, for a map of one partial block and one
// of several. With the affine's output also returned, the two chains stay
// two steps.
func TestChainEqualsUnfused(t *testing.T) {
	build := func(shape []int64, expose []string, threads int) *Program {
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
		for _, o := range expose {
			b.Output(o, onnxbuild.Float, shape...)
		}
		p, err := Compile(decode(t, b), WithThreads(threads))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ops := func(p *Program) (s []string) {
		for _, n := range p.Report().Nodes {
			s = append(s, n.Op)
		}
		return s
	}
	for _, shape := range [][]int64{{1, 3, 8, 8}, {1, 5, 33, 31}} {
		for _, threads := range []int{1, 3} {
			fused, plain := build(shape, nil, threads), build(shape, []string{"s", "u", "v", "w", "y1", "y2"}, threads)
			if o := ops(fused); len(o) != 1 || o[0] != "Mul+Add+Add+Clip+Mul+Div+Sub+Relu" {
				t.Fatalf("fused plan runs %v, want Mul+Add+Add+Clip+Mul+Div+Sub+Relu", o)
			}
			if n := plain.Report().Nodes; len(n) != 8 {
				t.Fatalf("plan with every intermediate exposed runs %d nodes, want 8", len(n))
			}
			if o := ops(build(shape, []string{"t"}, threads)); len(o) != 2 || o[0] != "Mul+Add" || o[1] != "Add+Clip+Mul+Div+Sub+Relu" {
				t.Fatalf("plan returning t runs %v, want Mul+Add, Add+Clip+Mul+Div+Sub+Relu", o)
			}
			n := 1
			for _, d := range shape {
				n *= int(d)
			}
			x := randSlice(rand.New(rand.NewPCG(5, 6)), n)
			for i := range x {
				x[i] *= 8 // reach both ends of the Clip
			}
			dims := []int{int(shape[0]), int(shape[1]), int(shape[2]), int(shape[3])}
			in := map[string]*tensor.Dense{"x": dense(dims, x)}
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
					t.Fatalf("%v, %d threads: y[%d]: fused %v, unfused %v, Go %v", shape, threads, i, ya[i], yb[i], y)
				}
				if v == 0 || v == 6 {
					ends++
				}
			}
			if ends == 0 {
				t.Error("no value reached the ends of the Clip")
			}
		}
	}
}

// TestFusedResidualEqualsUnfused: Conv → Add(residual) → Relu, and Conv →
// Add without an activation (mobilenet_v2's blocks), run as one Conv step
// whose epilogue adds the residual, bit for bit equal to the same graph
// with the Conv output also returned (which keeps the three apart), with
// the residual as either operand of the Add, on 1 and 3 threads, for a
// 3×3 convolution (implicit, linear), a 1×1 (pointwise) and a 7² map
// (swapped). A residual that broadcasts, or an Add after a Relu already
// fused, stays a step of its own.
func TestFusedResidualEqualsUnfused(t *testing.T) {
	type graph struct {
		c, hw      int64
		k          int64
		relu       bool
		residFirst bool
	}
	build := func(g graph, expose bool, threads int) *Program {
		b := onnxbuild.New(13)
		b.Input("x", onnxbuild.Float, 1, g.c, g.hw, g.hw)
		n := int(g.c * g.c * g.k * g.k)
		w1 := b.Init("w1", []int64{g.c, g.c, 1, 1}, onnxbuild.Rand(2, int(g.c*g.c), 0.5))
		w := b.Init("w", []int64{g.c, g.c, g.k, g.k}, onnxbuild.Rand(1, n, 0.5))
		bias := b.Init("bias", []int64{g.c}, onnxbuild.Rand(3, int(g.c), 0.5))
		p := (g.k - 1) / 2
		// The residual: a 1×1 convolution of x (so that it is not a
		// graph input either).
		b.Node("Conv", []string{"x", w1}, []string{"r"})
		b.Node("Conv", []string{"r", w, bias}, []string{"c"}, onnxbuild.AttrInts("pads", p, p, p, p))
		ins := []string{"c", "r"}
		if g.residFirst {
			ins = []string{"r", "c"}
		}
		out := "y"
		if g.relu {
			out = "s"
		}
		b.Node("Add", ins, []string{out})
		if g.relu {
			b.Node("Relu", []string{"s"}, []string{"y"})
		}
		b.Output("y", onnxbuild.Float, 1, g.c, g.hw, g.hw)
		if expose {
			b.Output("c", onnxbuild.Float, 1, g.c, g.hw, g.hw)
		}
		pr, err := Compile(decode(t, b), WithThreads(threads))
		if err != nil {
			t.Fatal(err)
		}
		return pr
	}
	for _, g := range []graph{
		{c: 16, hw: 12, k: 3, relu: true},
		{c: 16, hw: 12, k: 1, relu: true},
		{c: 16, hw: 12, k: 1, relu: true, residFirst: true},
		{c: 24, hw: 10, k: 1},
		{c: 64, hw: 7, k: 3, relu: true},
	} {
		for _, threads := range []int{1, 3} {
			fused, plain := build(g, false, threads), build(g, true, threads)
			want := "Conv+Add"
			if g.relu {
				want += "+Relu"
			}
			if fused.main.steps[1].k.(*convKernel).linear {
				want = "Conv" // the linear path keeps the Add apart (fuseResidual)
			}
			if n := fused.Report().Nodes; len(n) < 2 || n[1].Op != want {
				t.Fatalf("%+v: fused plan runs %v, want Conv, %s", g, n, want)
			}
			if n := plain.Report().Nodes; len(n) < 3 || n[1].Op != "Conv" {
				t.Fatalf("%+v: plan with the conv output exposed runs %v, want the Add apart", g, n)
			}
			sz := int(g.c * g.hw * g.hw)
			x := randSlice(rand.New(rand.NewPCG(3, 4)), sz)
			in := map[string]*tensor.Dense{"x": dense([]int{1, int(g.c), int(g.hw), int(g.hw)}, x)}
			a, err := fused.Run(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			b, err := plain.Run(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			ya, yb := a["y"].Data().([]float32), b["y"].Data().([]float32)
			zeros := 0
			for i := range ya {
				if math.Float32bits(ya[i]) != math.Float32bits(yb[i]) {
					t.Fatalf("%+v threads %d: y[%d]: fused %v, unfused %v", g, threads, i, ya[i], yb[i])
				}
				if ya[i] == 0 {
					zeros++
				}
			}
			if g.relu && zeros == 0 {
				t.Errorf("%+v: nothing clamped: the test does not exercise the Relu", g)
			}
		}
	}

	// Not fused: a residual that broadcasts, and an Add after Conv+Relu.
	for _, c := range []struct {
		name    string
		rShape  []int64
		reluFst bool
	}{{"broadcast", []int64{1, 8, 1, 1}, false}, {"after relu", []int64{1, 8, 6, 6}, true}} {
		b := onnxbuild.New(13)
		b.Input("x", onnxbuild.Float, 1, 8, 6, 6)
		b.Input("r", onnxbuild.Float, c.rShape...)
		w := b.Init("w", []int64{8, 8, 3, 3}, onnxbuild.Rand(1, 8*8*9, 0.5))
		b.Node("Conv", []string{"x", w}, []string{"c"}, onnxbuild.AttrInts("pads", 1, 1, 1, 1))
		sum := "c"
		if c.reluFst {
			b.Node("Relu", []string{"c"}, []string{"cr"})
			sum = "cr"
		}
		b.Node("Add", []string{sum, "r"}, []string{"y"})
		b.Output("y", onnxbuild.Float, 1, 8, 6, 6)
		p, err := Compile(decode(t, b))
		if err != nil {
			t.Fatal(err)
		}
		if n := p.Report().Nodes; len(n) != 2 || n[1].Op != "Add" {
			t.Errorf("%s: plan runs %v, want the Add apart", c.name, n)
		}
	}
}

// TestFusedResidualRealModels: resnet18 (Conv → Add → Relu in every block)
// and mobilenet_v2 (Conv → Add) with the residual Adds fused give the
// bits of the same models with every Add's operands also returned (which
// keeps each Add apart), on 1 and 2 threads.
func TestFusedResidualRealModels(t *testing.T) {
	for _, name := range []string{"resnet18", "mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			path := testmodels.Shared(t, "tv/"+name+".onnx")
			shape := []int{1, 3, 224, 224}
			x := randSlice(rand.New(rand.NewPCG(9, 10)), numel(shape))
			for _, threads := range []int{1, 2} {
				var outs [2][]float32
				for i, expose := range []bool{false, true} {
					m, err := onnxio.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					g := m.Graph()
					adds := 0
					if expose {
						for _, n := range g.GetNode() {
							if n.GetOpType() == "Add" {
								adds++
								for _, in := range n.GetInput() {
									g.Output = append(g.Output, &onnx.ValueInfoProto{Name: proto.String(in)})
								}
							}
						}
						if adds == 0 {
							t.Fatal("no Add in the model")
						}
					}
					in0 := m.Info().Inputs[0]
					p, err := Compile(m, WithInputShape(in0.Name, shape...), WithThreads(threads))
					if err != nil {
						t.Fatal(err)
					}
					fusedAdds := 0
					for _, n := range p.Report().Nodes {
						if strings.HasPrefix(n.Op, "Conv+Add") {
							fusedAdds++
						}
					}
					if expose != (fusedAdds == 0) {
						t.Fatalf("expose %v: %d residual Adds fused", expose, fusedAdds)
					}
					out, err := p.Run(context.Background(), map[string]*tensor.Dense{in0.Name: dense(shape, x)})
					if err != nil {
						t.Fatal(err)
					}
					outs[i] = out[g.GetOutput()[0].GetName()].Data().([]float32)
				}
				for j := range outs[0] {
					if math.Float32bits(outs[0][j]) != math.Float32bits(outs[1][j]) {
						t.Fatalf("threads %d: output[%d] fused %v, unfused %v", threads, j, outs[0][j], outs[1][j])
					}
				}
			}
		})
	}
}
