package train_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/train"
	"gorgonia.org/tensor"
)

// TestBatchNormStatisticsOverWholeBatch: with BatchNorm in training mode,
// fine-tuning bncnn on batches of 32 cut into 2 or 4 replicas gives the
// weights and running statistics of one model on the whole batch (up to
// summation order), as torch's single-process training does. Replicas that
// each normalise their own shard (no engine.SyncBatchNorm) do not: the
// check can tell.
func TestBatchNormStatisticsOverWholeBatch(t *testing.T) {
	// bncnn's torch fixture batch: 64 MNIST training samples.
	fx, err := dataset.ReadNPZ(testmodels.Shared(t, "grads/bncnn_train_grads.npz"))
	if err != nil {
		t.Fatal(err)
	}
	data := fixture{x: fx["input"], y: fx["labels"].Data().([]int64)}
	run := func(threads int, synced bool) map[string][]float32 {
		t.Helper()
		m := readModel(t, "bncnn.onnx")
		opts := []engine.Option{engine.WithBatchNorm(engine.BNTrain)}
		var models []train.Model
		var prim *engine.Trainable
		var err error
		if synced {
			prim, models, err = train.Compile(m, 32, threads, opts...)
		} else {
			prim, models, err = compileUnsynced(m, 32, threads, opts...)
		}
		if err != nil {
			t.Fatal(err)
		}
		tr, err := train.New(models, train.WithEpochs(1), train.WithBatchSize(32), train.WithSeed(3),
			train.WithOptimizer(train.SGD{Momentum: 0.9}, nil), train.WithSchedule(train.Constant(0.05)),
			train.WithLoss(train.CrossEntropy{Output: "logits"}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Fit(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		if err := prim.WriteBack(m); err != nil {
			t.Fatal(err)
		}
		out := map[string][]float32{}
		for _, p := range m.Params() {
			if v, _, err := p.Float32(); err == nil {
				out[p.ID] = v
			}
		}
		return out
	}
	worst := func(a, b map[string][]float32) (float64, string) {
		w, at := 0.0, ""
		for id, x := range a {
			var scale, diff float64
			for i, v := range x {
				scale = max(scale, math.Abs(float64(v)))
				diff = max(diff, math.Abs(float64(v)-float64(b[id][i])))
			}
			if r := diff / max(scale, 1e-12); r > w {
				w, at = r, id
			}
		}
		return w, at
	}
	one := run(1, true)
	for _, th := range []int{2, 4} {
		e, id := worst(one, run(th, true))
		t.Logf("%d replicas, synced: worst %.3g (%s)", th, e, id)
		if e > 1e-4 {
			t.Errorf("%d replicas: %s differs from one model on the whole batch by %.3g of its scale", th, id, e)
		}
	}
	e, id := worst(one, run(2, false))
	t.Logf("2 replicas, each on its shard: worst %.3g (%s)", e, id)
	if e < 1e-3 {
		t.Errorf("2 replicas normalising their own shards differ by only %.3g (%s): the check cannot tell", e, id)
	}
}

// compileUnsynced is train.Compile without engine.SyncBatchNorm: each
// replica normalises its own shard (the behaviour before).
func compileUnsynced(m *onnxio.Model, batch, threads int, opts ...engine.Option) (*engine.Trainable, []train.Model, error) {
	shapes, err := train.ShardShapes(m, batch/threads)
	if err != nil {
		return nil, nil, err
	}
	t, err := engine.CompileTrainable(m, append(append(shapes, engine.WithThreads(1)), opts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("compile: %w", err)
	}
	models := []train.Model{t}
	for range threads - 1 {
		r, err := t.Replica()
		if err != nil {
			return nil, nil, err
		}
		models = append(models, r)
	}
	return t, models, nil
}

// fixture is an in-memory labelled dataset of [N,...] float32 inputs.
type fixture struct {
	x *tensor.Dense
	y []int64
}

func (f fixture) Len() int         { return len(f.y) }
func (f fixture) Inputs() []string { return []string{"input"} }
func (f fixture) HasLabels() bool  { return true }
func (f fixture) Close() error     { return nil }
func (f fixture) Batch(_ context.Context, idx []int) (dataset.Batch, error) {
	src := f.x.Data().([]float32)
	per := len(src) / len(f.y)
	x := make([]float32, 0, len(idx)*per)
	y := make([]int64, 0, len(idx))
	for _, i := range idx {
		x = append(x, src[i*per:(i+1)*per]...)
		y = append(y, f.y[i])
	}
	shape := append([]int{len(idx)}, f.x.Shape()[1:]...)
	return dataset.Batch{Inputs: map[string]*tensor.Dense{"input": tensor.New(tensor.WithShape(shape...), tensor.WithBacking(x))}, Labels: y}, nil
}
