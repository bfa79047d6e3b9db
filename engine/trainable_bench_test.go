package engine

import (
	"context"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// BenchmarkTrainStep is one forward and backward (mean cross-entropy seed)
// of a batch of 128 MNIST images, 2 threads: a training step without the
// optimizer.
func BenchmarkTrainStep(b *testing.B) {
	images, labels := testmodels.MNIST(b)
	const batch = 128
	for _, c := range []struct {
		name string
		bn   BNMode
	}{{"lenet300", BNFrozen}, {"lenet5", BNFrozen}, {"bncnn", BNTrain}} {
		b.Run(c.name, func(b *testing.B) {
			m, err := onnxio.ReadFile(testmodels.Shared(b, "mnist/"+c.name+".onnx"))
			if err != nil {
				b.Fatal(err)
			}
			tr, err := CompileTrainable(m, WithInputShape("input", batch, 1, 28, 28), WithThreads(2), WithBatchNorm(c.bn))
			if err != nil {
				b.Fatal(err)
			}
			x := tensor.New(tensor.WithShape(batch, 1, 28, 28), tensor.WithBacking(images[:batch*784]))
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				outs, err := tr.Forward(ctx, map[string]*tensor.Dense{"input": x})
				if err != nil {
					b.Fatal(err)
				}
				seed, _ := ceSeed(outs["logits"].Data().([]float32), labels[:batch], 10)
				if err := tr.Backward(ctx, map[string][]float32{"logits": seed}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
