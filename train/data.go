package train

import (
	"context"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Batch is samples from a dataset: one tensor per model input (samples along
// axis 0) and their labels (nil without labels).
type Batch struct {
	Inputs map[string]*tensor.Dense
	Labels []int64
}

// Dataset is what the loop reads batches from.
type Dataset interface {
	Len() int
	Inputs() []string
	HasLabels() bool
	Batch(ctx context.Context, idx []int) (Batch, error)
	Close() error
}

// Shuffle is the permutation of n samples the loop uses in an epoch: a
// function of (seed, epoch) only, the same on every machine (PCG).
func Shuffle(n int, seed int64, epoch int) []int {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(epoch)))
	return r.Perm(n)
}
