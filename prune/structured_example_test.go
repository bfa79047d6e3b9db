package prune_test

import (
	"fmt"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/prune"
)

// Remove half the channels of every dependency group of a small residual
// CNN, physically. WithRoundTo(1) asks for exact ratios: the default keeps
// channel counts multiples of 8, which this toy model's 8-channel group
// could not go below.
func ExampleStructuredPruner() {
	m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.CNN()))
	if err != nil {
		panic(err)
	}
	sp, err := prune.NewStructured(prune.WithSparsity(0.5), prune.WithScope(prune.Layer), prune.WithRoundTo(1))
	if err != nil {
		panic(err)
	}
	plan, err := sp.Prune(m)
	if err != nil {
		panic(err)
	}
	for _, g := range plan.Groups {
		fmt.Printf("group %d %v: %d → %d", g.ID, g.Roots, g.Units, g.Kept)
		if g.Reason != "" {
			fmt.Print(" (not pruned: ", g.Reason, ")")
		}
		fmt.Println()
	}
	fmt.Println("parameters:", plan.Totals.ParamsBefore, "→", plan.Totals.ParamsAfter)
	// Output:
	// group 0 [Conv_0 Conv_1]: 8 → 4
	// group 1 [Conv_3]: 16 → 8
	// group 2 [Gemm_0]: 10 → 10 (not pruned: y is a graph output)
	// parameters: 1258 → 458
}
