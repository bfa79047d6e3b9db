package prune_test

import (
	"fmt"
	"log"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/prune"
)

// Prune the weights of a small MLP (two Gemm layers and a MatMul) to 75% by
// one global magnitude threshold, each layer kept between 50% and 90%.
func ExamplePruner_Prune() {
	m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.MLP()))
	if err != nil {
		log.Fatal(err)
	}
	pr, err := prune.New(prune.WithSparsity(0.75), prune.WithLayerBounds(0.5, 0.9))
	if err != nil {
		log.Fatal(err)
	}
	plan, err := pr.Prune(m) // m now holds the zeros; m.WriteFile saves it
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range plan.Params {
		fmt.Printf("%s %s %v: %d of %d zero\n", p.ID, p.Op, p.Shape, p.ZerosAfter, p.Elements)
	}
	fmt.Printf("total: %d of %d zero\n", plan.Totals.ZerosAfter, plan.Totals.Elements)
	// Output:
	// fc1.weight Gemm [32 16]: 377 of 512 zero
	// fc2.weight Gemm [32 16]: 391 of 512 zero
	// fc3.weight MatMul [16 4]: 48 of 64 zero
	// total: 816 of 1088 zero
}
