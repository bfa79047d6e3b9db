package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// BenchmarkModels runs the real models of docs/benchmarks.md (Engine,
// Threads) at batch 1 on 1 and 2 threads: go test ./engine -run XXX -bench
// Models.
func BenchmarkModels(b *testing.B) {
	models := []struct {
		name, path string
		shape      []int
	}{
		{"resnet18", testmodels.Shared(b, "tv/resnet18.onnx"), []int{1, 3, 224, 224}},
		{"mobilenet_v2", testmodels.Shared(b, "tv/mobilenet_v2.onnx"), []int{1, 3, 224, 224}},
		{"ppocr_det_320", testmodels.OCR(b, "det"), []int{1, 3, 320, 320}},
	}
	for _, mm := range models {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", mm.name, threads), func(b *testing.B) {
				m, err := onnxio.ReadFile(mm.path)
				if err != nil {
					b.Fatal(err)
				}
				name := m.Info().Inputs[0].Name
				p, err := Compile(m, WithInputShape(name, mm.shape...), WithThreads(threads))
				if err != nil {
					b.Fatal(err)
				}
				r := rand.New(rand.NewPCG(1, 2))
				x := randSlice(r, numel(mm.shape))
				in := map[string]*tensor.Dense{name: tensor.New(tensor.WithShape(mm.shape...), tensor.WithBacking(x))}
				if _, err := p.Run(context.Background(), in); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Run(context.Background(), in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(p.Report().FLOPs)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}
