package build

import (
	"context"
	"fmt"
	"math"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
)

// scores runs m on every batch and returns the first output per sample.
func scores(ctx context.Context, m *onnxio.Model, batches []engine.Batch, threads int) ([][]float32, error) {
	var out [][]float32
	plans := map[string]*engine.Program{}
	for _, b := range batches {
		var opts []engine.Option
		key := ""
		for n, t := range b.Inputs {
			opts = append(opts, engine.WithInputShape(n, t.Shape()...))
			key += fmt.Sprint(n, t.Shape())
		}
		p := plans[key]
		if p == nil {
			var err error
			if p, err = engine.Compile(m, append(opts, engine.WithThreads(threads))...); err != nil {
				return nil, err
			}
			plans[key] = p
		}
		res, err := p.Run(ctx, b.Inputs)
		if err != nil {
			return nil, err
		}
		first := p.Outputs()[0]
		f, ok := res[first.Name].Data().([]float32)
		if !ok {
			return nil, fmt.Errorf("build: output %q is not float scores", first.Name)
		}
		n := 1
		if len(first.Shape) > 0 {
			n = first.Shape[0]
		}
		per := len(f) / max(n, 1)
		for i := 0; i < n; i++ {
			out = append(out, f[i*per:(i+1)*per])
		}
	}
	return out, nil
}

// meanKL is the mean KL divergence KL(softmax(ref) ‖ softmax(got)) over
// samples, in nats.
func meanKL(ref, got [][]float32) float64 {
	var s float64
	for i := range ref {
		p, q := softmax(ref[i]), softmax(got[i])
		for j := range p {
			if p[j] > 0 {
				s += p[j] * (math.Log(p[j]) - math.Log(math.Max(q[j], 1e-30)))
			}
		}
	}
	return s / float64(max(len(ref), 1))
}

func softmax(v []float32) []float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, float64(x))
	}
	out := make([]float64, len(v))
	var z float64
	for i, x := range v {
		out[i] = math.Exp(float64(x) - m)
		z += out[i]
	}
	for i := range out {
		out[i] /= z
	}
	return out
}

// agreement is the fraction of samples whose top-1 class is the same.
func agreement(ref, got [][]float32) float64 {
	n := 0
	for i := range ref {
		if argmax(ref[i]) == argmax(got[i]) {
			n++
		}
	}
	return float64(n) / float64(max(len(ref), 1))
}

// accuracy is top-1 accuracy against labels (batches in order).
func accuracy(got [][]float32, batches []engine.Batch) (float64, bool) {
	var labels []int64
	for _, b := range batches {
		if b.Labels == nil {
			return 0, false
		}
		labels = append(labels, b.Labels...)
	}
	if len(labels) != len(got) {
		return 0, false
	}
	n := 0
	for i := range got {
		if int64(argmax(got[i])) == labels[i] {
			n++
		}
	}
	return float64(n) / float64(max(len(got), 1)), true
}

func argmax(v []float32) int {
	b := 0
	for i, x := range v {
		if x > v[b] {
			b = i
		}
	}
	return b
}

// weightDamage is the fraction of the weights' energy (sum of squares)
// that pruning removed, summed over the original's float parameters: the
// damage estimate when there is no data.
func weightDamage(orig map[string]float64, m *onnxio.Model) float64 {
	now := paramEnergy(m)
	var d float64
	for name, e := range orig {
		if e > 0 {
			d += math.Max(0, e-now[name]) / e
		}
	}
	return d
}

func paramEnergy(m *onnxio.Model) map[string]float64 {
	out := map[string]float64{}
	for _, p := range m.Params() {
		if !p.DataType().IsFloat() {
			continue
		}
		f, _, err := p.Float32()
		if err != nil {
			continue
		}
		var s float64
		for _, x := range f {
			s += float64(x) * float64(x)
		}
		out[p.ID] = s
	}
	return out
}
