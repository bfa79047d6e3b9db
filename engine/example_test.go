package engine_test

import (
	"context"
	"fmt"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

func ExampleCompile() {
	// A small CNN built in code; engine.Compile takes any *onnxio.Model.
	m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.CNN()))
	if err != nil {
		panic(err)
	}
	in := m.Info().Inputs[0]
	p, err := engine.Compile(m, engine.WithThreads(1))
	if err != nil {
		panic(err)
	}
	x := tensor.New(tensor.WithShape(1, 3, 16, 16), tensor.WithBacking(make([]float32, 3*16*16)))
	out, err := p.Run(context.Background(), map[string]*tensor.Dense{in.Name: x})
	if err != nil {
		panic(err)
	}
	for _, o := range p.Outputs() {
		fmt.Println(o.Name, out[o.Name].Shape())
	}
	rep := p.Report()
	fmt.Println(len(rep.Nodes) > 0, rep.MACs > 0, rep.PeakActivationBytes > 0)
	// Output:
	// y (1, 10)
	// true true true
}

func ExampleCompileTrainable() {
	// An MLP built in code; train on any *onnxio.Model the same way.
	m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.MLP()))
	if err != nil {
		panic(err)
	}
	in := m.Info().Inputs[0]
	tr, err := engine.CompileTrainable(m, engine.WithThreads(1))
	if err != nil {
		panic(err)
	}
	shape := tr.Inputs()[0].Shape
	n := 1
	for _, d := range shape {
		n *= d
	}
	x := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, n)))
	ctx := context.Background()
	out, err := tr.Forward(ctx, map[string]*tensor.Dense{in.Name: x})
	if err != nil {
		panic(err)
	}
	// Seed: dLoss/dOutput, here L = Σ outputs.
	o := tr.Outputs()[0]
	seed := make([]float32, out[o.Name].Shape().TotalSize())
	for i := range seed {
		seed[i] = 1
	}
	if err := tr.Backward(ctx, map[string][]float32{o.Name: seed}); err != nil {
		panic(err)
	}
	for _, p := range tr.Params() {
		fmt.Println(p.ID, p.Shape)
	}
	last := tr.Params()[len(tr.Params())-1]
	fmt.Println("dL/d"+last.ID, last.Grad) // 1 per output, batch of 1
	// Output:
	// fc1.weight [32 16]
	// fc1.bias [32]
	// fc2.weight [32 16]
	// fc2.bias [16]
	// fc3.weight [16 4]
	// fc3.bias [4]
	// dL/dfc3.bias [1 1 1 1]
}
