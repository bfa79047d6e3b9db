package train

import "github.com/edgeprune/edgeprune/dataset"

// Batch is samples from a dataset: one tensor per model input (samples along
// axis 0) and their labels (nil without labels).
type Batch = dataset.Batch

// Dataset is what the loop reads batches from (dataset.Open returns one).
type Dataset = dataset.Dataset

// Shuffle is the permutation of n samples the loop uses in an epoch: a
// function of (seed, epoch) only, the same on every machine.
func Shuffle(n int, seed int64, epoch int) []int { return dataset.Shuffle(n, seed, epoch) }
