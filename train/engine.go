package train

import (
	"context"
	"fmt"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// ShardShapes fixes every model input's first (batch) dimension to n, the
// other dimensions as the model declares them (dynamic ones as 1: a caller
// training on samples of another size passes engine.WithInputShape after
// these, as finetune does with its data's sample shape).
func ShardShapes(m *onnxio.Model, n int) ([]engine.Option, error) {
	var opts []engine.Option
	for _, in := range m.Info().Inputs {
		if in.Shape == nil {
			return nil, fmt.Errorf("train: input %q has unknown rank: give its shape (engine.WithInputShape)", in.Name)
		}
		s := make([]int64, len(in.Shape))
		for i, d := range in.Shape {
			s[i] = max(d.Value, 1) // dynamic: 1 until a caller's WithInputShape (the data's sample shape) overrides it
		}
		if len(s) == 0 {
			return nil, fmt.Errorf("train: input %q is a scalar: it has no batch axis to train over", in.Name)
		}
		dims := make([]int, len(s))
		for i, d := range s {
			dims[i] = int(d)
		}
		dims[0] = n
		opts = append(opts, engine.WithInputShape(in.Name, dims...))
	}
	return opts, nil
}

// Compile compiles m for training on batches of batch samples cut into
// threads shards: the primary Trainable (WriteBack, Report, running
// statistics) and all replicas as Models, replicas[0] being the primary.
// Each replica runs single-threaded; the threads are the replicas.
// BatchNormalization in training mode takes its statistics over the whole
// batch, all shards together (engine.SyncBatchNorm), as one process with
// the batch would: the result does not depend on how the batch is cut.
func Compile(m *onnxio.Model, batch, threads int, opts ...engine.Option) (*engine.Trainable, []Model, error) {
	if threads < 1 {
		threads = 1
	}
	if batch < 1 || batch%threads != 0 {
		return nil, nil, fmt.Errorf("%w: batch %d is not a positive multiple of %d threads", ErrInvalid, batch, threads)
	}
	shapes, err := ShardShapes(m, batch/threads)
	if err != nil {
		return nil, nil, err
	}
	all := append(append(shapes, engine.WithThreads(1)), opts...)
	t, err := engine.CompileTrainable(m, all...)
	if err != nil {
		return nil, nil, err
	}
	models := []Model{t}
	var reps []*engine.Trainable
	for range threads - 1 {
		r, err := t.Replica()
		if err != nil {
			return nil, nil, err
		}
		models = append(models, r)
		reps = append(reps, r)
	}
	if err := engine.SyncBatchNorm(t, reps...); err != nil {
		return nil, nil, err
	}
	return t, models, nil
}

// EngineTeacher runs the teacher model on the engine, one instance per
// concurrent caller (up to threads), on shards of n samples, returning its
// outputs and the intermediate values named in keep.
func EngineTeacher(m *onnxio.Model, n, threads int, keep ...string) (Teacher, error) {
	shapes, err := ShardShapes(m, n)
	if err != nil {
		return nil, err
	}
	opts := append(shapes, engine.WithThreads(1), engine.WithTrainable(func(string) bool { return false }))
	if len(keep) > 0 {
		opts = append(opts, engine.WithKeepValues(keep...))
	}
	pool := make(chan *engine.Trainable, max(threads, 1))
	first, err := engine.CompileTrainable(m, opts...)
	if err != nil {
		return nil, fmt.Errorf("train: teacher: %w", err)
	}
	pool <- first
	for range max(threads, 1) - 1 {
		r, err := first.Replica()
		if err != nil {
			return nil, fmt.Errorf("train: teacher: %w", err)
		}
		pool <- r
	}
	return func(ctx context.Context, in map[string]*tensor.Dense) (map[string]Value, error) {
		t := <-pool
		defer func() { pool <- t }()
		out, err := t.Forward(ctx, in)
		if err != nil {
			return nil, err
		}
		vals := map[string]Value{}
		for name, d := range out {
			f, ok := d.Data().([]float32)
			if !ok {
				continue
			}
			// the teacher's buffers are reused by its next call: copy
			vals[name] = Value{Data: append([]float32(nil), f...), Shape: d.Shape().Clone()}
		}
		for _, k := range keep {
			if d, s, ok := t.Value(k); ok {
				vals[k] = Value{Data: append([]float32(nil), d...), Shape: s}
			}
		}
		return vals, nil
	}, nil
}

// SoftmaxOutput says whether the graph output name is produced by a
// Softmax node (as PP-OCR's classifier): such a model trains with the NLL of
// its probabilities, not a second softmax.
func SoftmaxOutput(m *onnxio.Model, name string) bool {
	for _, n := range m.Graph().GetNode() {
		for _, o := range n.GetOutput() {
			if o == name {
				return n.GetOpType() == "Softmax" && n.GetDomain() == ""
			}
		}
	}
	return false
}

// Accuracy is the top-1 accuracy of m's first output on a labelled dataset,
// run by the engine in batches of batch.
func Accuracy(ctx context.Context, m *onnxio.Model, data Dataset, batch, threads int) (float64, error) {
	if !data.HasLabels() {
		return 0, fmt.Errorf("%w: the evaluation data has no labels", ErrLabels)
	}
	var batches []engine.Batch
	for lo := 0; lo < data.Len(); lo += batch {
		idx := make([]int, 0, batch)
		for i := lo; i < min(lo+batch, data.Len()); i++ {
			idx = append(idx, i)
		}
		b, err := data.Batch(ctx, idx)
		if err != nil {
			return 0, err
		}
		batches = append(batches, engine.Batch{Inputs: b.Inputs, Labels: b.Labels})
	}
	res, err := engine.Evaluate(ctx, m, batches, engine.EvalOptions{Threads: threads})
	if err != nil {
		return 0, err
	}
	return res.Top1, nil
}
