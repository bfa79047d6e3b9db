package train

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"gorgonia.org/tensor"
)

// Teacher runs the teacher model (the unpruned original) on a shard's
// inputs and returns the values the loss reads. engine.Program.Run, adapted,
// is one; it is called from several goroutines at once.
type Teacher func(ctx context.Context, inputs map[string]*tensor.Dense) (map[string]Value, error)

// StepInfo is reported after every optimizer step.
type StepInfo struct {
	Epoch, Step, Steps int // 1-based epoch; step within it (0-based) of Steps
	GlobalStep         int
	Loss               float64 // the batch's mean loss
	LR                 float64
	GradNorm           float64 // global L2 norm before clipping
	Samples            int     // samples seen in this epoch
	Elapsed            time.Duration
}

// EpochInfo is one point of the training curve.
type EpochInfo struct {
	Epoch      int      `json:"epoch"`
	Loss       float64  `json:"loss"`                // mean over the epoch's steps
	TrainAcc   *float64 `json:"train_acc,omitempty"` // top-1 on the training batches, with labels
	ValAcc     *float64 `json:"val_acc,omitempty"`   // set by the OnEpoch callback
	ValLoss    *float64 `json:"val_loss,omitempty"`
	LR         float64  `json:"lr"` // at the epoch's last step
	Seconds    float64  `json:"seconds"`
	SamplesSec float64  `json:"samples_per_sec"`
}

type config struct {
	epochs, batch int
	seed          int64
	opt           Optimizer
	state         *State
	sched         Schedule
	clip          float64
	loss          Loss
	teachers      []Teacher
	masks         *Masks
	onStep        func(StepInfo)
	onEpoch       func(*EpochInfo) error
}

// Option configures a Trainer.
type Option func(*config) error

// WithEpochs sets the number of epochs (default 1).
func WithEpochs(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: %d epochs: need ≥ 1", ErrInvalid, n)
		}
		c.epochs = n
		return nil
	}
}

// WithBatchSize sets the mini-batch size (default 64). It must be a multiple
// of the number of replicas; an epoch's last incomplete batch is dropped.
func WithBatchSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: batch size %d: need ≥ 1", ErrInvalid, n)
		}
		c.batch = n
		return nil
	}
}

// WithSeed sets the shuffling seed.
func WithSeed(s int64) Option { return func(c *config) error { c.seed = s; return nil } }

// WithOptimizer sets the optimizer (default SGD, momentum 0.9) and,
// optionally, a state to resume from.
func WithOptimizer(o Optimizer, resume *State) Option {
	return func(c *config) error {
		if o == nil {
			return fmt.Errorf("%w: no optimizer", ErrInvalid)
		}
		c.opt, c.state = o, resume
		return nil
	}
}

// WithSchedule sets the learning-rate schedule (default constant 0.01).
func WithSchedule(s Schedule) Option {
	return func(c *config) error {
		if s == nil {
			return fmt.Errorf("%w: no schedule", ErrInvalid)
		}
		c.sched = s
		return nil
	}
}

// WithClipNorm clips the gradients' global L2 norm to n (0: no clipping).
func WithClipNorm(n float64) Option {
	return func(c *config) error {
		if !(n >= 0) || math.IsInf(n, 0) {
			return fmt.Errorf("%w: clip norm %v: need ≥ 0", ErrInvalid, n)
		}
		c.clip = n
		return nil
	}
}

// WithLoss sets the objective.
func WithLoss(l Loss) Option { return func(c *config) error { c.loss = l; return nil } }

// WithTeacher sets the teacher for distillation; one per replica, or one
// shared by all.
func WithTeacher(t ...Teacher) Option {
	return func(c *config) error { c.teachers = t; return nil }
}

// WithMasks holds these masks (see Masks).
func WithMasks(m *Masks) Option { return func(c *config) error { c.masks = m; return nil } }

// WithProgress calls f after every step.
func WithProgress(f func(StepInfo)) Option { return func(c *config) error { c.onStep = f; return nil } }

// WithEpochEnd calls f after every epoch (to evaluate, fill ValAcc, save);
// an error stops training.
func WithEpochEnd(f func(*EpochInfo) error) Option {
	return func(c *config) error { c.onEpoch = f; return nil }
}

// Trainer runs the loop over replicas of one model.
type Trainer struct {
	cfg      config
	replicas []Model
	params   [][]*Param // per replica
}

// New makes a trainer. replicas[0] is the model; the others are its
// replicas (same parameters, shared values, own gradients), one per thread:
// each batch is cut into len(replicas) equal shards, run in parallel, and
// the gradients are summed in replica order, so the result depends only on
// the data, the seed and the number of replicas.
func New(replicas []Model, opts ...Option) (*Trainer, error) {
	c := config{epochs: 1, batch: 64, opt: SGD{Momentum: 0.9}, sched: Constant(0.01)}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if len(replicas) == 0 {
		return nil, fmt.Errorf("%w: no model", ErrInvalid)
	}
	if c.loss == nil {
		return nil, fmt.Errorf("%w: no loss", ErrInvalid)
	}
	if c.batch%len(replicas) != 0 {
		return nil, fmt.Errorf("%w: batch %d is not a multiple of %d replicas (threads)", ErrInvalid, c.batch, len(replicas))
	}
	if _, tv, _ := c.loss.Needs(); len(tv) > 0 && len(c.teachers) == 0 {
		return nil, fmt.Errorf("%w: the loss %s needs a teacher", ErrInvalid, c.loss)
	}
	if len(c.teachers) > 1 && len(c.teachers) != len(replicas) {
		return nil, fmt.Errorf("%w: %d teachers for %d replicas", ErrInvalid, len(c.teachers), len(replicas))
	}
	t := &Trainer{cfg: c, replicas: replicas}
	main := replicas[0].Params()
	if len(main) == 0 {
		return nil, fmt.Errorf("%w: the model has no trainable parameter", ErrInvalid)
	}
	for r, m := range replicas {
		ps := m.Params()
		if len(ps) != len(main) {
			return nil, fmt.Errorf("%w: replica %d has %d parameters, the model %d", ErrInvalid, r, len(ps), len(main))
		}
		for i, p := range ps {
			if p.ID != main[i].ID || len(p.Value) != len(main[i].Value) || len(p.Grad) != len(p.Value) {
				return nil, fmt.Errorf("%w: replica %d parameter %d (%s) differs from the model's (%s)", ErrInvalid, r, i, p.ID, main[i].ID)
			}
		}
		t.params = append(t.params, ps)
	}
	if c.state == nil {
		t.cfg.state = c.opt.Init(main)
	} else if err := c.state.check(main); err != nil {
		return nil, err
	}
	return t, nil
}

// State is the optimizer state (to save and resume).
func (t *Trainer) State() *State { return t.cfg.state }

// StepsPerEpoch is the number of full batches of size batch in n samples.
func StepsPerEpoch(n, batch int) int { return n / batch }

// History is the training curve.
type History struct {
	Epochs []EpochInfo `json:"epochs"`
	Steps  int         `json:"steps"`
	Loss   string      `json:"loss"`
}

type shardOut struct {
	loss    float64
	correct int
	labeled bool
	err     error
}

// Fit trains for the configured epochs on data.
func (t *Trainer) Fit(ctx context.Context, data Dataset) (*History, error) {
	c := &t.cfg
	n := data.Len()
	steps := StepsPerEpoch(n, c.batch)
	if steps < 1 {
		return nil, fmt.Errorf("%w: %d samples make no batch of %d", ErrInvalid, n, c.batch)
	}
	if _, _, needLabels := c.loss.Needs(); needLabels && !data.HasLabels() {
		return nil, fmt.Errorf("%w: the loss %s needs labels and the dataset has none", ErrLabels, c.loss)
	}
	h := &History{Loss: c.loss.String()}
	main := t.params[0]
	global := 0
	for ep := 1; ep <= c.epochs; ep++ {
		start := time.Now()
		perm := Shuffle(n, c.seed, ep-1)
		var sumLoss float64
		correct, labeled := 0, 0
		var lr float64
		for s := range steps {
			if err := ctx.Err(); err != nil {
				return h, err
			}
			b, err := data.Batch(ctx, perm[s*c.batch:(s+1)*c.batch])
			if err != nil {
				return h, err
			}
			loss, corr, lab, err := t.step(ctx, b)
			if err != nil {
				return h, fmt.Errorf("epoch %d, step %d: %w", ep, s, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return h, &NonFiniteError{Epoch: ep, Step: s, GlobalStep: global, What: "loss", Value: loss}
			}
			if c.masks != nil {
				c.masks.MaskGrads(main)
			}
			norm := ClipGradNorm(main, c.clip)
			if math.IsNaN(norm) || math.IsInf(norm, 0) {
				return h, &NonFiniteError{Epoch: ep, Step: s, GlobalStep: global, What: "gradient norm", Value: norm}
			}
			lr = c.sched.LR(global)
			if err := c.opt.Update(main, c.state, lr); err != nil {
				return h, err
			}
			if c.masks != nil {
				c.masks.Apply(main, c.state)
			}
			sumLoss += loss
			if lab {
				correct += corr
				labeled += c.batch
			}
			global++
			if c.onStep != nil {
				c.onStep(StepInfo{Epoch: ep, Step: s, Steps: steps, GlobalStep: global, Loss: loss, LR: lr,
					GradNorm: norm, Samples: (s + 1) * c.batch, Elapsed: time.Since(start)})
			}
		}
		sec := time.Since(start).Seconds()
		e := EpochInfo{Epoch: ep, Loss: sumLoss / float64(steps), LR: lr, Seconds: sec,
			SamplesSec: float64(steps*c.batch) / sec}
		if labeled > 0 {
			a := float64(correct) / float64(labeled)
			e.TrainAcc = &a
		}
		if c.onEpoch != nil {
			if err := c.onEpoch(&e); err != nil {
				h.Epochs = append(h.Epochs, e)
				return h, err
			}
		}
		h.Epochs = append(h.Epochs, e)
		h.Steps = global
	}
	return h, nil
}

// step runs forward and backward on every replica's shard of b and leaves
// the summed gradient in the model's parameters. It returns the batch's
// mean loss and the number of correctly classified samples (when labelled).
func (t *Trainer) step(ctx context.Context, b Batch) (float64, int, bool, error) {
	c := &t.cfg
	R := len(t.replicas)
	S := c.batch / R
	shards, err := cut(b, c.batch, S)
	if err != nil {
		return 0, 0, false, err
	}
	outs := make([]shardOut, R)
	var wg sync.WaitGroup
	for r := range R {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[r] = t.shard(ctx, r, shards[r])
		}()
	}
	wg.Wait()
	var loss float64
	correct, labeled := 0, true
	for _, o := range outs {
		if o.err != nil {
			return 0, 0, false, o.err
		}
		loss += o.loss
		correct += o.correct
		labeled = labeled && o.labeled
	}
	t.reduce()
	return loss, correct, labeled, nil
}

// reduce adds the replicas' gradients into the model's, in replica order,
// in parallel over parameters.
func (t *Trainer) reduce() {
	if len(t.replicas) == 1 {
		return
	}
	var wg sync.WaitGroup
	for i, p := range t.params[0] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := p.Grad
			for r := 1; r < len(t.params); r++ {
				for j, v := range t.params[r][i].Grad {
					g[j] += v
				}
			}
		}()
	}
	wg.Wait()
}

func (t *Trainer) shard(ctx context.Context, r int, b Batch) shardOut {
	c := &t.cfg
	m := t.replicas[r]
	m.ZeroGrad()
	out, err := m.Forward(ctx, b.Inputs)
	if err != nil {
		return shardOut{err: err}
	}
	sNames, tNames, _ := c.loss.Needs()
	in := LossInput{Student: map[string]Value{}, Labels: b.Labels, N: c.batch}
	for _, name := range sNames {
		if v, ok := out[name]; ok {
			d, ok := v.Data().([]float32)
			if !ok {
				return shardOut{err: fmt.Errorf("train: output %q is %v, not float32", name, v.Dtype())}
			}
			in.Student[name] = Value{Data: d, Shape: v.Shape().Clone()}
		} else if d, sh, ok := m.Value(name); ok {
			in.Student[name] = Value{Data: d, Shape: sh}
		} else {
			return shardOut{err: fmt.Errorf("train: the model has no output or kept value %q", name)}
		}
	}
	if len(tNames) > 0 {
		tch := c.teachers[0]
		if len(c.teachers) > 1 {
			tch = c.teachers[r]
		}
		tv, err := tch(ctx, b.Inputs)
		if err != nil {
			return shardOut{err: fmt.Errorf("train: teacher: %w", err)}
		}
		in.Teacher = tv
	}
	seeds := map[string][]float32{}
	loss, err := c.loss.Eval(in, seeds)
	if err != nil {
		return shardOut{err: err}
	}
	o := shardOut{loss: loss}
	if b.Labels != nil && len(sNames) > 0 {
		v := in.Student[sNames[0]]
		if n, k, err := v.rows(); err == nil && CheckLabels(b.Labels, n, k) == nil {
			o.correct, o.labeled = countCorrect(v.Data, n, k, b.Labels), true
		}
	}
	if err := m.Backward(ctx, seeds); err != nil {
		return shardOut{err: err}
	}
	return o
}

func countCorrect(d []float32, n, k int, labels []int64) int {
	c := 0
	for i := range n {
		row := d[i*k : (i+1)*k]
		best := 0
		for j := 1; j < k; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		if int64(best) == labels[i] {
			c++
		}
	}
	return c
}

// cut splits a batch of n samples into shards of s samples (sharing memory).
func cut(b Batch, n, s int) ([]Batch, error) {
	if s == n {
		return []Batch{b}, nil
	}
	var shards []Batch
	for lo := 0; lo < n; lo += s {
		sh := Batch{Inputs: map[string]*tensor.Dense{}}
		for name, x := range b.Inputs {
			shape := x.Shape().Clone()
			if len(shape) == 0 || shape[0] != n {
				return nil, fmt.Errorf("train: input %q has shape %v for a batch of %d", name, shape, n)
			}
			k := x.Shape().TotalSize() / n
			shape[0] = s
			var backing any
			switch d := x.Data().(type) {
			case []float32:
				backing = d[lo*k : (lo+s)*k]
			case []int64:
				backing = d[lo*k : (lo+s)*k]
			default:
				return nil, fmt.Errorf("train: input %q is %v: want float32 or int64", name, x.Dtype())
			}
			sh.Inputs[name] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing))
		}
		if b.Labels != nil {
			sh.Labels = b.Labels[lo : lo+s]
		}
		shards = append(shards, sh)
	}
	return shards, nil
}
