package train

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
)

// RecalibrateBN re-estimates the running mean and variance of every
// BatchNormalization of m from the first batches batches of data (in the
// order of Shuffle(seed, 0)), as the plain average of the batch statistics
// (torch's momentum=None), and writes them into m. No weight changes. It
// is the cheapest recovery after structured pruning
// (shared/design/training.md §3). It returns the number of
// BatchNormalization statistics re-estimated (tensors, mean and var each).
// opts go to the engine after the batch shapes: a model with dynamic
// input dimensions needs engine.WithInputShape with the data's sample
// shape (the declared dims are taken as 1 otherwise, see ShardShapes).
func RecalibrateBN(ctx context.Context, m *onnxio.Model, data Dataset, batches, batch int, seed int64, opts ...engine.Option) (int, error) {
	if batches < 1 || batch < 1 {
		return 0, fmt.Errorf("%w: recalibrate on %d batches of %d", ErrInvalid, batches, batch)
	}
	if data.Len() < batch {
		return 0, fmt.Errorf("%w: %d samples make no batch of %d", ErrInvalid, data.Len(), batch)
	}
	shapes, err := ShardShapes(m, batch)
	if err != nil {
		return 0, err
	}
	shapes = append(shapes, opts...)
	t, err := engine.CompileTrainable(m, append(shapes, engine.WithBatchNorm(engine.BNTrain),
		engine.WithTrainable(func(string) bool { return false }))...)
	if err != nil {
		return 0, err
	}
	stats := t.RunningStats()
	if len(stats) == 0 {
		return 0, fmt.Errorf("%w: the model has no BatchNormalization node to recalibrate (folded into the convolutions at export?)", ErrInvalid)
	}
	ids := make([]string, 0, len(stats))
	for id := range stats {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	perm := Shuffle(data.Len(), seed, 0)
	batches = min(batches, data.Len()/batch)
	// ONNX's update is run ← m·run + (1−m)·batch. Probe m per element on the
	// first batch (running statistics 0, then 1), then recover each batch's
	// statistics from the update and average them.
	momentum := map[string][]float64{}
	sum := map[string][]float64{}
	forward := func(k int) error {
		b, err := data.Batch(ctx, perm[k*batch:(k+1)*batch])
		if err != nil {
			return err
		}
		_, err = t.Forward(ctx, b.Inputs)
		return err
	}
	set := func(v float32) {
		for _, id := range ids {
			for i := range stats[id] {
				stats[id][i] = v
			}
		}
	}
	set(1)
	if err := forward(0); err != nil {
		return 0, err
	}
	ones := map[string][]float32{}
	for _, id := range ids {
		ones[id] = slices.Clone(stats[id])
	}
	for k := range batches {
		set(0)
		if err := forward(k); err != nil {
			return 0, err
		}
		for _, id := range ids {
			s := stats[id]
			if k == 0 {
				mom := make([]float64, len(s))
				for i := range s {
					mom[i] = float64(ones[id][i]) - float64(s[i]) // (m + (1−m)b) − (1−m)b
					if 1-mom[i] < 1e-6 {
						return 0, fmt.Errorf("%w: BatchNormalization statistic %q has momentum 1: it never learns from batches", ErrInvalid, id)
					}
				}
				momentum[id] = mom
				sum[id] = make([]float64, len(s))
			}
			for i := range s {
				sum[id][i] += float64(s[i]) / (1 - momentum[id][i])
			}
		}
	}
	for _, id := range ids {
		s := stats[id]
		for i := range s {
			s[i] = float32(sum[id][i] / float64(batches))
		}
	}
	return len(ids), t.WriteBack(m)
}
