package train

import (
	"context"

	"github.com/edgeprune/edgeprune/engine"

	"gorgonia.org/tensor"
)

// Param is one trainable float parameter: its onnxio parameter ID, shape,
// the live values the model computes with and the gradient a backward pass
// accumulates.
type Param = engine.Param

// Model is what the loop trains: a forward that records what one backward
// needs, a backward seeded with dLoss/dValue for outputs (or kept values),
// and the parameters. *engine.Trainable satisfies it.
type Model interface {
	Params() []*Param
	Forward(ctx context.Context, inputs map[string]*tensor.Dense) (map[string]*tensor.Dense, error)
	Backward(ctx context.Context, seeds map[string][]float32) error
	ZeroGrad()
	Value(name string) ([]float32, []int, bool)
}

var _ Model = (*engine.Trainable)(nil)
