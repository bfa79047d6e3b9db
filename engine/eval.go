package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// Batch is one batch of samples: every model input with the samples along
// the first axis, and optionally their integer labels.
type Batch struct {
	Inputs map[string]*tensor.Dense
	Labels []int64
}

// SplitBatches cuts inputs (all with the same first dimension) and labels
// into batches of at most size samples. The batches share the inputs' memory.
func SplitBatches(inputs map[string]*tensor.Dense, labels []int64, size int) ([]Batch, error) {
	if size < 1 {
		return nil, fmt.Errorf("engine: batch size %d", size)
	}
	n := -1
	for name, t := range inputs {
		if t.Dims() == 0 {
			return nil, fmt.Errorf("%w: input %q is a scalar: no samples axis", ErrInput, name)
		}
		if n >= 0 && t.Shape()[0] != n {
			return nil, fmt.Errorf("%w: inputs have %d and %d samples", ErrInput, n, t.Shape()[0])
		}
		n = t.Shape()[0]
	}
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("%w: %d labels for %d samples", ErrInput, len(labels), n)
	}
	var out []Batch
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		b := Batch{Inputs: map[string]*tensor.Dense{}}
		if labels != nil {
			b.Labels = labels[lo:hi]
		}
		for name, t := range inputs {
			shape := append([]int{hi - lo}, t.Shape()[1:]...)
			per := numel(t.Shape()[1:])
			var back any
			switch d := t.Data().(type) {
			case []float32:
				back = d[lo*per : hi*per]
			case []int64:
				back = d[lo*per : hi*per]
			case []bool:
				back = d[lo*per : hi*per]
			default:
				return nil, fmt.Errorf("%w: input %q of %v", ErrInput, name, t.Dtype())
			}
			b.Inputs[name] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(back))
		}
		out = append(out, b)
	}
	return out, nil
}

// EvalOptions configures Evaluate.
type EvalOptions struct {
	// Reference, when set, is run on the same batches and compared with
	// (fidelity: top-1 agreement, cosine similarity, max abs difference).
	Reference *onnxio.Model
	Threads   int                   // 0: all cores
	Progress  func(done, total int) // called after every batch, if set
	// Compile is passed to Compile for the model (not the reference):
	// WithSparse, the WithSparseWeights of ReadPack.
	Compile []Option
}

// EvalResult holds the metrics over all samples, computed on the first
// output of the model taken as one score vector per sample.
type EvalResult struct {
	Samples int
	// With labels: top-1 and top-5 accuracy, as fractions.
	Labeled    bool
	Top1, Top5 float64
	// With a reference model: how often both models' top-1 class agree,
	// the mean cosine similarity of their score vectors, and the largest
	// absolute difference of any score.
	Compared      bool
	AgreementTop1 float64
	CosineMean    float64
	MaxAbsDiff    float64
}

// planCache compiles a model once per distinct set of input shapes.
type planCache struct {
	m       *onnxio.Model
	opts    []Option
	threads int
	plans   map[string]*Program
}

func (c *planCache) get(inputs map[string]*tensor.Dense) (*Program, error) {
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	var key strings.Builder
	var opts []Option
	for _, n := range names {
		fmt.Fprintf(&key, "%s%v;", n, inputs[n].Shape())
		opts = append(opts, WithInputShape(n, inputs[n].Shape()...))
	}
	if p, ok := c.plans[key.String()]; ok {
		return p, nil
	}
	if c.threads > 0 {
		opts = append(opts, WithThreads(c.threads))
	}
	p, err := Compile(c.m, append(opts, c.opts...)...)
	if err != nil {
		return nil, err
	}
	c.plans[key.String()] = p
	return p, nil
}

// Evaluate runs m over the batches and returns accuracy (when the batches
// carry labels) and fidelity to opts.Reference (when set).
func Evaluate(ctx context.Context, m *onnxio.Model, batches []Batch, opts EvalOptions) (*EvalResult, error) {
	return EvaluateEach(ctx, m, len(batches), func(i int) (Batch, error) { return batches[i], nil }, opts)
}

// EvaluateEach is Evaluate over n batches read one at a time by batch(i), in
// order, so that a large dataset need not be in memory at once.
func EvaluateEach(ctx context.Context, m *onnxio.Model, n int, batch func(i int) (Batch, error), opts EvalOptions) (*EvalResult, error) {
	main := &planCache{m: m, opts: opts.Compile, threads: opts.Threads, plans: map[string]*Program{}}
	var ref *planCache
	if opts.Reference != nil {
		ref = &planCache{m: opts.Reference, threads: opts.Threads, plans: map[string]*Program{}}
	}
	res := &EvalResult{Compared: ref != nil, Labeled: n > 0}
	var top1, top5, agree int
	var cosSum float64
	total := n
	for bi := range total {
		b, err := batch(bi)
		if err != nil {
			return nil, err
		}
		if b.Labels == nil {
			res.Labeled = false
		}
		scores, n, err := runScores(ctx, main, b)
		if err != nil {
			return nil, err
		}
		if b.Labels != nil && len(b.Labels) != n {
			return nil, fmt.Errorf("%w: batch %d has %d labels for %d samples", ErrInput, bi, len(b.Labels), n)
		}
		var rs []float32
		if ref != nil {
			var rn int
			if rs, rn, err = runScores(ctx, ref, b); err != nil {
				return nil, fmt.Errorf("reference model: %w", err)
			}
			if rn != n || len(rs) != len(scores) {
				return nil, fmt.Errorf("%w: reference gives %d scores for %d samples, the model %d", ErrInput, len(rs), rn, len(scores))
			}
		}
		per := 0
		if n > 0 {
			per = len(scores) / n
		}
		for s := 0; s < n; s++ {
			v := scores[s*per : (s+1)*per]
			if b.Labels != nil {
				r := rankOf(v, int(b.Labels[s]))
				if r == 0 {
					top1++
				}
				if r < 5 {
					top5++
				}
			}
			if ref != nil {
				rv := rs[s*per : (s+1)*per]
				if argmax(v) == argmax(rv) {
					agree++
				}
				cosSum += cosine(v, rv)
				for i := range v {
					res.MaxAbsDiff = math.Max(res.MaxAbsDiff, math.Abs(float64(v[i])-float64(rv[i])))
				}
			}
		}
		res.Samples += n
		if opts.Progress != nil {
			opts.Progress(bi+1, total)
		}
	}
	if res.Samples > 0 {
		n := float64(res.Samples)
		res.Top1, res.Top5 = float64(top1)/n, float64(top5)/n
		res.AgreementTop1, res.CosineMean = float64(agree)/n, cosSum/n
	}
	return res, nil
}

// runScores runs one batch and returns the first output's data and the
// number of samples.
func runScores(ctx context.Context, c *planCache, b Batch) ([]float32, int, error) {
	p, err := c.get(b.Inputs)
	if err != nil {
		return nil, 0, err
	}
	out, err := p.Run(ctx, b.Inputs)
	if err != nil {
		return nil, 0, err
	}
	first := p.Outputs()[0]
	t := out[first.Name]
	f, ok := t.Data().([]float32)
	if !ok {
		return nil, 0, fmt.Errorf("%w: output %q is %v, not float scores", ErrInput, first.Name, first.DType)
	}
	n := 1
	if len(first.Shape) > 0 {
		n = first.Shape[0]
	}
	return f, n, nil
}

// rankOf returns how many scores are strictly greater than v[label] (0 means
// top-1); an out-of-range label ranks last.
func rankOf(v []float32, label int) int {
	if label < 0 || label >= len(v) {
		return len(v)
	}
	r := 0
	for i, x := range v {
		if x > v[label] || (x == v[label] && i < label) {
			r++
		}
	}
	return r
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		if aa == bb {
			return 1
		}
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// Timing is the latency distribution Measure found.
type Timing struct {
	Runs   int
	Median time.Duration
	P90    time.Duration
	Min    time.Duration
}

// Measure runs p on inputs warmup times, then runs times, and returns the
// latency distribution.
func Measure(ctx context.Context, p *Program, inputs map[string]*tensor.Dense, warmup, runs int) (*Timing, error) {
	if runs < 1 {
		return nil, fmt.Errorf("engine: Measure: runs %d", runs)
	}
	for i := 0; i < warmup; i++ {
		if _, err := p.Run(ctx, inputs); err != nil {
			return nil, err
		}
	}
	ds := make([]time.Duration, runs)
	for i := range ds {
		t0 := time.Now()
		if _, err := p.Run(ctx, inputs); err != nil {
			return nil, err
		}
		ds[i] = time.Since(t0)
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
	pick := func(q float64) time.Duration { return ds[min(len(ds)-1, int(math.Ceil(q*float64(len(ds))))-1)] }
	return &Timing{Runs: runs, Median: ds[(len(ds)-1)/2], P90: pick(0.9), Min: ds[0]}, nil
}

// RandomInputs makes inputs for every input of p at its compiled shape:
// float inputs uniform in [0, 1) from a fixed seed, integer inputs zero. The
// same plan shapes give the same values on every run and machine, so two
// models' outputs on them can be compared (edgeprune bench, run --random).
func RandomInputs(p *Program) map[string]*tensor.Dense {
	r := rand.New(rand.NewPCG(1, 2))
	feed := map[string]*tensor.Dense{}
	for _, in := range p.Inputs() {
		n := 1
		for _, d := range in.Shape {
			n *= d
		}
		if in.DType.IsInteger() {
			feed[in.Name] = tensor.New(tensor.WithShape(in.Shape...), tensor.WithBacking(make([]int64, n)))
			continue
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32()
		}
		feed[in.Name] = tensor.New(tensor.WithShape(in.Shape...), tensor.WithBacking(x))
	}
	return feed
}
