package main

import (
	"context"
	"fmt"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/train"
)

// sampleShapes binds the dynamic dimensions of m's inputs (other than the
// batch) to the size of ds's samples, with n samples per batch: PaddleOCR's
// exports declare x as [?,3,?,?], and the image folder's preprocessing
// (--preset ppocr-cls) fixes each sample at [3,48,192]. Inputs with only
// fixed dimensions need nothing beyond train.ShardShapes.
func sampleShapes(m *onnxio.Model, ds train.Dataset, n int) ([]engine.Option, error) {
	var opts []engine.Option
	var sample map[string][]int
	for _, in := range m.Info().Inputs {
		dynamic := false
		for i, d := range in.Shape {
			dynamic = dynamic || (i > 0 && d.Value <= 0)
		}
		if !dynamic {
			continue
		}
		if sample == nil {
			b, err := ds.Batch(context.Background(), []int{0})
			if err != nil {
				return nil, err
			}
			sample = map[string][]int{}
			for name, t := range b.Inputs {
				sample[name] = append([]int{}, t.Shape()...)
			}
		}
		s, ok := sample[in.Name]
		if !ok || len(s) != len(in.Shape) {
			return nil, fmt.Errorf("model input %q (%d dims, some dynamic): the data's samples are %v: they fix the dynamic dims, so they must have the model's rank", in.Name, len(in.Shape), s)
		}
		s[0] = n
		opts = append(opts, engine.WithInputShape(in.Name, s...))
	}
	return opts, nil
}
