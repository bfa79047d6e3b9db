package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edgeprune/edgeprune/onnxio"
)

// BenchmarkMaxPool runs MaxPool layers of the models the engine is
// measured on: resnet18's 3×3 stride-2 pool of its 112² stem.
func BenchmarkMaxPool(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name  string
		x     []int
		attrs map[string][]int64
	}{
		{"resnet18", []int{1, 64, 112, 112}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {2, 2}, "pads": {1, 1, 1, 1}}},
	} {
		bc := &buildCtx{opset: 13, nOut: 1, attrs: attrMap(c.attrs, "")}
		bc.in = []*value{{dt: onnxio.Float, shape: c.x}}
		bt, err := buildPool(poolMax)(bc)
		if err != nil {
			b.Fatal(err)
		}
		k := bt.k.(*poolKernel)
		x := randSlice(r, numel(c.x))
		out := make([]float32, numel(bt.out[0].shape))
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", c.name, threads), func(b *testing.B) {
				b.SetBytes(int64(4 * (len(x) + len(out))))
				b.ReportAllocs()
				for b.Loop() {
					k.forward(&exec{threads: threads}, []*data{{f: x}}, []*data{{f: out}})
				}
			})
		}
	}
}
