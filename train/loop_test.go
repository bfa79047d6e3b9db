package train

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func replicasOf(t *testing.T, m *mlp, n int) []Model {
	t.Helper()
	rs := []Model{m}
	for range n - 1 {
		r, err := m.Replica()
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

func snapshot(ps []*Param) [][]float32 {
	var out [][]float32
	for _, p := range ps {
		out = append(out, slices.Clone(p.Value))
	}
	return out
}

// TestMLPGradient checks the test model's hand-written backward (through
// the cross-entropy seed) against central differences, so the loop tests
// below stand on a correct model.
func TestMLPGradient(t *testing.T) {
	m := newMLP(3, 4, 3, 1)
	data := newBlobs(6, 3, 3, 2)
	b, _ := data.Batch(context.Background(), []int{0, 1, 2, 3, 4, 5})
	loss := CrossEntropy{Output: "logits"}
	eval := func() float64 {
		out, err := m.Forward(context.Background(), b.Inputs)
		if err != nil {
			t.Fatal(err)
		}
		v := Value{Data: out["logits"].Data().([]float32), Shape: []int{6, 3}}
		seeds := map[string][]float32{}
		l, err := loss.Eval(LossInput{Student: map[string]Value{"logits": v}, Labels: b.Labels, N: 6}, seeds)
		if err != nil {
			t.Fatal(err)
		}
		m.ZeroGrad()
		if err := m.Backward(context.Background(), seeds); err != nil {
			t.Fatal(err)
		}
		return l
	}
	eval()
	var grads [][]float32
	for _, p := range m.params {
		grads = append(grads, slices.Clone(p.Grad))
	}
	for pi, p := range m.params {
		for i := range p.Value {
			orig := p.Value[i]
			p.Value[i] = orig + 1e-2
			lp := eval()
			p.Value[i] = orig - 1e-2
			lm := eval()
			p.Value[i] = orig
			num := (lp - lm) / 2e-2
			if math.Abs(num-float64(grads[pi][i])) > 2e-3*max(1, math.Abs(num)) {
				t.Errorf("%s[%d]: grad %g, central difference %g", p.ID, i, grads[pi][i], num)
			}
		}
	}
}

func fit(t *testing.T, m *mlp, replicas int, data Dataset, opts ...Option) *History {
	t.Helper()
	tr, err := New(replicasOf(t, m, replicas), opts...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := tr.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestFitLearnsAndIsDeterministic: the loop drives the loss down and the
// training accuracy up on separable data, for every optimizer and schedule,
// and the same seed and replica count give bit-identical weights.
func TestFitLearnsAndIsDeterministic(t *testing.T) {
	data := newBlobs(512, 8, 4, 7)
	for _, tc := range []struct {
		name  string
		opt   Optimizer
		sched string
		lr    float64
	}{
		{"sgd", SGD{Momentum: 0.9, WeightDecay: 1e-4}, "constant", 0.05},
		{"nesterov-cosine", SGD{Momentum: 0.9, Nesterov: true}, "cosine", 0.05},
		{"adamw-onecycle", AdamW{WeightDecay: 0.01}, "onecycle", 0.01},
		{"sgd-step-warmup", SGD{Momentum: 0.5}, "step:2:0.5", 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sched, err := ParseSchedule(tc.sched, tc.lr, 4, StepsPerEpoch(512, 32), 0.5)
			if err != nil {
				t.Fatal(err)
			}
			opts := []Option{WithEpochs(4), WithBatchSize(32), WithSeed(11), WithOptimizer(tc.opt, nil),
				WithSchedule(sched), WithLoss(CrossEntropy{Output: "logits"}), WithClipNorm(5)}
			m1 := newMLP(8, 16, 4, 3)
			h := fit(t, m1, 2, data, opts...)
			first, last := h.Epochs[0], h.Epochs[len(h.Epochs)-1]
			if !(last.Loss < first.Loss/2) || last.TrainAcc == nil || *last.TrainAcc < 0.9 {
				t.Errorf("loss %v → %v, train accuracy %v: did not learn", first.Loss, last.Loss, *last.TrainAcc)
			}
			m2 := newMLP(8, 16, 4, 3)
			fit(t, m2, 2, data, opts...)
			for i, p := range m1.params {
				if !slices.Equal(p.Value, m2.params[i].Value) {
					t.Errorf("%s differs between two runs with the same seed and threads", p.ID)
				}
			}
		})
	}
}

// TestReplicasMatchSingle: two replicas on half-batches sum to the same
// gradient as one model on the whole batch (up to float32 summation order).
func TestReplicasMatchSingle(t *testing.T) {
	data := newBlobs(256, 8, 4, 7)
	opts := []Option{WithEpochs(2), WithBatchSize(32), WithSeed(1), WithLoss(CrossEntropy{Output: "logits"})}
	m1, m4 := newMLP(8, 16, 4, 3), newMLP(8, 16, 4, 3)
	fit(t, m1, 1, data, opts...)
	fit(t, m4, 4, data, opts...)
	for i, p := range m1.params {
		for j, v := range p.Value {
			if d := math.Abs(float64(v - m4.params[i].Value[j])); d > 1e-4 {
				t.Fatalf("%s[%d]: 1 replica %g, 4 replicas %g", p.ID, j, v, m4.params[i].Value[j])
			}
		}
	}
}

// TestMasksHold: weights pruned to zero stay exactly zero through SGD with
// momentum and weight decay and through AdamW, and so do their optimizer
// slots; unpruned weights do move.
func TestMasksHold(t *testing.T) {
	data := newBlobs(256, 8, 4, 7)
	for _, opt := range []Optimizer{SGD{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-3}, AdamW{WeightDecay: 0.1}} {
		t.Run(opt.Name(), func(t *testing.T) {
			m := newMLP(8, 16, 4, 3)
			// prune 2:4 along the input axis of fc1 and every other weight of fc2
			w1 := m.params[0].Value
			for i := range w1 {
				if i%4 < 2 {
					w1[i] = 0
				}
			}
			w2 := m.params[2].Value
			for i := 0; i < len(w2); i += 2 {
				w2[i] = 0
			}
			before := snapshot(m.params)
			masks := MasksFromZeros(m.params, nil)
			if got, want := masks.Held(), len(w1)/2+len(w2)/2; got != want {
				t.Fatalf("%d elements held, want %d", got, want)
			}
			tr, err := New(replicasOf(t, m, 2), WithEpochs(2), WithBatchSize(32), WithOptimizer(opt, nil),
				WithSchedule(Constant(0.05)), WithLoss(CrossEntropy{Output: "logits"}), WithMasks(masks))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Fit(context.Background(), data); err != nil {
				t.Fatal(err)
			}
			for i, p := range m.params {
				moved := false
				for j, v := range p.Value {
					if (before[i][j] == 0) != (v == 0) {
						t.Errorf("%s[%d]: %g before, %g after: zero pattern changed", p.ID, j, before[i][j], v)
					}
					moved = moved || v != before[i][j]
				}
				if !moved {
					t.Errorf("%s did not train", p.ID)
				}
				for name, slot := range tr.State().Slots {
					for j, s := range slot[i] {
						if before[i][j] == 0 && WeightParams(p) && s != 0 {
							t.Errorf("optimizer slot %s of %s[%d] = %g under the mask", name, p.ID, j, s)
						}
					}
				}
			}
			if err := CheckMasksHeld(m.params, masks); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestDistillWithoutLabels: a student trained only on a teacher's logits,
// from a dataset with no labels, learns the teacher's decisions.
func TestDistillWithoutLabels(t *testing.T) {
	data := newBlobs(512, 8, 4, 7)
	teacher := newMLP(8, 16, 4, 3)
	fit(t, teacher, 1, data, WithEpochs(4), WithBatchSize(32), WithSchedule(Constant(0.05)), WithLoss(CrossEntropy{Output: "logits"}))
	tplan, _ := teacher.Replica()
	tf := func(ctx context.Context, in map[string]*tensor.Dense) (map[string]Value, error) {
		tr, _ := tplan.Replica() // own tape per call
		out, err := tr.Forward(ctx, in)
		if err != nil {
			return nil, err
		}
		h, hs, _ := tr.Value("hidden")
		return map[string]Value{"logits": {Data: out["logits"].Data().([]float32), Shape: []int{out["logits"].Shape()[0], 4}},
			"hidden": {Data: h, Shape: hs}}, nil
	}
	unlabelled := *data
	unlabelled.noLab = true
	student := newMLP(8, 16, 4, 99)
	fit(t, student, 2, &unlabelled, WithEpochs(4), WithBatchSize(32), WithSchedule(Constant(0.05)),
		WithLoss(Sum{Distill{Output: "logits", T: 3}, FeatureMSE{Name: "hidden", Weight: 0.1}}), WithTeacher(tf))
	// agreement with the teacher on the data
	b, _ := data.Batch(context.Background(), Shuffle(512, 0, 0))
	so, _ := student.Forward(context.Background(), b.Inputs)
	sd := so["logits"].Data().([]float32)
	agree := countCorrect(sd, 512, 4, b.Labels)
	if agree < 480 {
		t.Errorf("distilled student gets %d/512 right", agree)
	}
	// labels needed but absent: a clear error
	_, err := New([]Model{newMLP(8, 16, 4, 1)}, WithLoss(CrossEntropy{Output: "logits"}))
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := New([]Model{newMLP(8, 16, 4, 1)}, WithLoss(CrossEntropy{Output: "logits"}))
	if _, err := tr.Fit(context.Background(), &unlabelled); !errors.Is(err, ErrLabels) {
		t.Errorf("cross-entropy on unlabelled data: %v, want ErrLabels", err)
	}
}

// TestNonFiniteLossStops: a learning rate that blows up stops with the step
// it happened at, and the weights are not updated by that step.
func TestNonFiniteLossStops(t *testing.T) {
	data := newBlobs(256, 8, 4, 7)
	m := newMLP(8, 16, 4, 3)
	tr, err := New([]Model{m}, WithEpochs(3), WithBatchSize(32), WithOptimizer(SGD{}, nil), WithSchedule(Constant(1e30)),
		WithLoss(CrossEntropy{Output: "logits"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Fit(context.Background(), data)
	var nf *NonFiniteError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "at epoch 1, step") {
		t.Fatalf("error %v, want a NonFiniteError naming the step", err)
	}
	if nf.GlobalStep < 1 {
		t.Errorf("stopped at step %d: the first step is finite", nf.GlobalStep)
	}
}

func TestNewRefuses(t *testing.T) {
	m := newMLP(2, 2, 2, 1)
	empty := &mlp{}
	for _, tc := range []struct {
		models []Model
		opts   []Option
		want   string
	}{
		{[]Model{empty}, []Option{WithLoss(CrossEntropy{Output: "logits"})}, "no trainable parameter"},
		{[]Model{m}, nil, "no loss"},
		{[]Model{m, m, m}, []Option{WithBatchSize(64), WithLoss(CrossEntropy{Output: "logits"})}, "not a multiple of 3"},
		{[]Model{m}, []Option{WithLoss(Distill{Output: "logits"})}, "needs a teacher"},
		{[]Model{m}, []Option{WithEpochs(0)}, "0 epochs"},
		{[]Model{m}, []Option{WithOptimizer(SGD{}, &State{IDs: []string{"x"}}), WithLoss(CrossEntropy{Output: "logits"})}, "1 parameters, the model 4"},
	} {
		_, err := New(tc.models, tc.opts...)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want ErrInvalid saying %q", err, tc.want)
		}
	}
}
