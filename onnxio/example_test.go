package onnxio_test

import (
	"fmt"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
)

// Every weight of a model, wherever it is stored, through one view.
func ExampleModel_Params() {
	m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.IfModel()))
	if err != nil {
		panic(err)
	}
	for _, p := range m.Params() {
		u := p.FirstUse()
		fmt.Printf("%-28s %-11s %-7s %v -> %s input %d\n", p.ID, p.Where, p.DataType(), p.Shape(), u.Node.GetOpType(), u.Input)
	}
	// Output:
	// gamma                        initializer float32 [4] -> Mul input 1
	// zero                         constant    float32 [] -> Greater input 1
	// If_0/then_branch/then.weight initializer float32 [8 4] -> MatMul input 1
	// If_0/then_branch/then.bias   constant    float32 [4] -> Add input 1
	// If_0/else_branch/else.weight initializer float32 [8 4] -> MatMul input 1
	// If_0/else_branch/else.bias   constant    float32 [4] -> Add input 1
}

// Float32 views share memory with the model: zeroing through the view
// changes what Marshal writes.
func ExampleParam_Float32() {
	m, _ := onnxio.Decode(onnxbuild.Marshal(onnxbuild.MLP()))
	p := m.Params()[0]
	w, view, _ := p.Float32()
	for i := range w {
		w[i] = 0
	}
	fmt.Println(p.ID, "view:", view, "nonzeros:", p.Nonzeros())
	// Output:
	// fc1.weight view: true nonzeros: 0
}
