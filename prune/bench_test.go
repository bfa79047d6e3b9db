package prune

import (
	"os"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// BenchmarkPruneResNet18 measures Prune alone (read and write excluded) on
// resnet18's 11.7M weights; bytes/s counts the weights' float32 bytes.
// The whole CLI process is measured by bench/prune_resnet18.sh.
func BenchmarkPruneResNet18(b *testing.B) {
	raw, err := os.ReadFile(testmodels.Shared(b, "tv/resnet18.onnx"))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts []Option
	}{
		{"global-0.9", []Option{WithSparsity(0.9)}},
		{"layer-0.9", []Option{WithSparsity(0.9), WithScope(Layer)}},
		{"global-0.9-bounded", []Option{WithSparsity(0.9), WithLayerBounds(0.2, 0.95)}},
		{"2:4", []Option{WithPattern(Pattern{Kind: NM, N: 2, M: 4})}},
		{"block=1x4-0.75", []Option{WithPattern(Pattern{Kind: Block, R: 1, C: 4}), WithSparsity(0.75)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			pr, err := New(c.opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				m, err := onnxio.Decode(raw)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				plan, err := pr.Prune(m)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(4 * plan.Totals.Elements)
			}
		})
	}
}
