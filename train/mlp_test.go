package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// mlp is a small differentiable model with hand-written gradients, standing
// in for *engine.Trainable in the loop's tests:
//
//	hidden = relu(x·W1ᵀ + b1)   [n, h]   (kept value "hidden")
//	logits = hidden·W2ᵀ + b2     [n, c]   (output "logits")
//
// Replicas share Value and own Grad and the tape, as engine replicas do.
type mlp struct {
	d, h, c int
	params  []*Param
	// tape
	x, hid []float32
	n      int
	probs  bool // output softmax probabilities as "probs" too
	out    []float32
}

func newMLP(d, h, c int, seed uint64) *mlp {
	r := rand.New(rand.NewPCG(seed, 1))
	mk := func(id string, shape ...int) *Param {
		n := 1
		for _, s := range shape {
			n *= s
		}
		p := &Param{ID: id, Shape: shape, Value: make([]float32, n), Grad: make([]float32, n)}
		for i := range p.Value {
			p.Value[i] = float32(r.NormFloat64() * 0.3)
		}
		return p
	}
	return &mlp{d: d, h: h, c: c, params: []*Param{
		mk("fc1.weight", h, d), mk("fc1.bias", h), mk("fc2.weight", c, h), mk("fc2.bias", c),
	}}
}

func (m *mlp) Params() []*Param { return m.params }

func (m *mlp) Replica() (*mlp, error) {
	r := &mlp{d: m.d, h: m.h, c: m.c, probs: m.probs}
	for _, p := range m.params {
		r.params = append(r.params, &Param{ID: p.ID, Shape: p.Shape, Value: p.Value, Grad: make([]float32, len(p.Grad))})
	}
	return r, nil
}

func (m *mlp) ZeroGrad() {
	for _, p := range m.params {
		clear(p.Grad)
	}
}

func (m *mlp) Forward(ctx context.Context, in map[string]*tensor.Dense) (map[string]*tensor.Dense, error) {
	x, ok := in["x"]
	if !ok {
		return nil, fmt.Errorf("mlp: no input x")
	}
	xs := x.Data().([]float32)
	n := x.Shape()[0]
	if len(xs) != n*m.d {
		return nil, fmt.Errorf("mlp: x has %d values for %d samples of %d", len(xs), n, m.d)
	}
	w1, b1, w2, b2 := m.params[0].Value, m.params[1].Value, m.params[2].Value, m.params[3].Value
	m.x, m.n = xs, n
	m.hid = make([]float32, n*m.h)
	m.out = make([]float32, n*m.c)
	for i := range n {
		for j := range m.h {
			s := b1[j]
			for k := range m.d {
				s += xs[i*m.d+k] * w1[j*m.d+k]
			}
			m.hid[i*m.h+j] = max(s, 0)
		}
		for j := range m.c {
			s := b2[j]
			for k := range m.h {
				s += m.hid[i*m.h+k] * w2[j*m.h+k]
			}
			m.out[i*m.c+j] = s
		}
	}
	out := map[string]*tensor.Dense{"logits": tensor.New(tensor.WithShape(n, m.c), tensor.WithBacking(m.out))}
	if m.probs {
		p := make([]float64, m.c)
		ps := make([]float32, n*m.c)
		for i := range n {
			logSoftmax(p, m.out[i*m.c:(i+1)*m.c], 1, false)
			for j := range m.c {
				ps[i*m.c+j] = float32(expf(p[j]))
			}
		}
		out["probs"] = tensor.New(tensor.WithShape(n, m.c), tensor.WithBacking(ps))
	}
	return out, nil
}

func (m *mlp) Value(name string) ([]float32, []int, bool) {
	if name == "hidden" && m.hid != nil {
		return m.hid, []int{m.n, m.h}, true
	}
	return nil, nil, false
}

func (m *mlp) Backward(ctx context.Context, seeds map[string][]float32) error {
	n := m.n
	dl := make([]float32, n*m.c)
	if s, ok := seeds["logits"]; ok {
		copy(dl, s)
	}
	if s, ok := seeds["probs"]; ok {
		// dz_j = p_j (ds_j − Σ_k p_k ds_k)
		p := make([]float64, m.c)
		for i := range n {
			logSoftmax(p, m.out[i*m.c:(i+1)*m.c], 1, false)
			var dot float64
			for k := range m.c {
				dot += expf(p[k]) * float64(s[i*m.c+k])
			}
			for j := range m.c {
				dl[i*m.c+j] += float32(expf(p[j]) * (float64(s[i*m.c+j]) - dot))
			}
		}
	}
	dh := make([]float32, n*m.h)
	if s, ok := seeds["hidden"]; ok {
		copy(dh, s)
	}
	w1, w2 := m.params[0].Value, m.params[2].Value
	g1, gb1, g2, gb2 := m.params[0].Grad, m.params[1].Grad, m.params[2].Grad, m.params[3].Grad
	for i := range n {
		for j := range m.c {
			d := dl[i*m.c+j]
			gb2[j] += d
			for k := range m.h {
				g2[j*m.h+k] += d * m.hid[i*m.h+k]
				dh[i*m.h+k] += d * w2[j*m.h+k]
			}
		}
		for j := range m.h {
			if m.hid[i*m.h+j] <= 0 {
				continue
			}
			d := dh[i*m.h+j]
			gb1[j] += d
			for k := range m.d {
				g1[j*m.d+k] += d * m.x[i*m.d+k]
			}
		}
	}
	_ = w1
	return nil
}

// blobs is a labelled dataset of c Gaussian clusters in d dimensions.
type blobs struct {
	x      []float32
	labels []int64
	d      int
	noLab  bool
}

func newBlobs(n, d, c int, seed uint64) *blobs {
	r := rand.New(rand.NewPCG(seed, 2))
	centers := make([]float64, c*d)
	for i := range centers {
		centers[i] = r.NormFloat64() * 2
	}
	b := &blobs{d: d}
	for i := range n {
		y := i % c
		for k := range d {
			b.x = append(b.x, float32(centers[y*d+k]+r.NormFloat64()))
		}
		b.labels = append(b.labels, int64(y))
	}
	return b
}

func (b *blobs) Len() int         { return len(b.labels) }
func (b *blobs) Inputs() []string { return []string{"x"} }
func (b *blobs) HasLabels() bool  { return !b.noLab }
func (b *blobs) Close() error     { return nil }
func (b *blobs) Batch(ctx context.Context, idx []int) (Batch, error) {
	x := make([]float32, 0, len(idx)*b.d)
	var lab []int64
	for _, i := range idx {
		x = append(x, b.x[i*b.d:(i+1)*b.d]...)
		if !b.noLab {
			lab = append(lab, b.labels[i])
		}
	}
	return Batch{Inputs: map[string]*tensor.Dense{"x": tensor.New(tensor.WithShape(len(idx), b.d), tensor.WithBacking(x))}, Labels: lab}, nil
}

func expf(x float64) float64 { return math.Exp(x) }
