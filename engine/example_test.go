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
