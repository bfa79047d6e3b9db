package onnxbuild_test

import (
	"fmt"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
)

// A one-layer model: y = Relu(x·Wᵀ + b) with a dynamic batch.
func ExampleNew() {
	b := onnxbuild.New(13)
	b.InputDyn("x", onnxbuild.Float, "N", 4)
	w := b.Init("fc.weight", []int64{2, 4}, onnxbuild.Rand(1, 8, 0.5))
	bias := b.Const("fc.bias", []int64{2}, []float32{0.1, -0.1})
	b.Node("Gemm", []string{"x", w, bias}, []string{"fc"}, onnxbuild.AttrInt("transB", 1))
	b.Node("Relu", []string{"fc"}, []string{"y"})
	b.OutputDyn("y", onnxbuild.Float, "N", 2)

	m := b.Model()
	fmt.Println(m.GetIrVersion(), m.GetProducerName(), m.OpsetImport[0].GetVersion())
	for _, n := range m.Graph.Node {
		fmt.Println(n.GetName(), n.Input, "→", n.Output)
	}
	// Output:
	// 8 edgeprune-onnxbuild 13
	// Constant_0 [] → [fc.bias]
	// Gemm_0 [x fc.weight fc.bias] → [fc]
	// Relu_0 [fc] → [y]
}

// An If node whose branches are built with Sub and may read outer values.
func ExampleBuilder_Sub() {
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 2)
	b.Input("cond", onnxbuild.Bool)

	double := b.Sub("then_branch")
	two := double.Const("two", nil, []float32{2})
	double.Node("Mul", []string{"x", two}, []string{"doubled"})
	double.Output("doubled", onnxbuild.Float, 2)

	negate := b.Sub("else_branch")
	negate.Node("Neg", []string{"x"}, []string{"negated"})
	negate.Output("negated", onnxbuild.Float, 2)

	b.Node("If", []string{"cond"}, []string{"y"},
		onnxbuild.AttrGraph("then_branch", double.Graph()),
		onnxbuild.AttrGraph("else_branch", negate.Graph()))
	b.Output("y", onnxbuild.Float, 2)

	for _, a := range b.Model().Graph.Node[0].Attribute {
		for _, n := range a.G.Node {
			fmt.Println(a.GetName(), n.GetName())
		}
	}
	// Output:
	// then_branch Constant_0
	// then_branch Mul_0
	// else_branch Neg_0
}

func ExampleRand() {
	fmt.Printf("%.4f\n", onnxbuild.Rand(7, 4, 1))
	// Output:
	// [-0.2203 -0.9664 0.8015 0.1659]
}
