package train

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// ErrInvalid marks a setting the loop cannot use (a negative learning rate,
// a momentum outside [0, 1), a state that does not match the parameters).
var ErrInvalid = errors.New("train: invalid setting")

// State is an optimizer's state: the step count and, per slot name
// ("momentum", "m", "v"), one slice per parameter, in the order of the
// parameters it was made for. It is plain data: WriteTo saves it and
// ReadState resumes it.
type State struct {
	Step   int64
	IDs    []string // parameter IDs, in order
	Shapes [][]int
	Slots  map[string][][]float32
}

// Optimizer updates parameters from their gradients. Init makes a fresh
// state for params; Update is one step: it reads Value and Grad of params
// and the state, and writes the new values and state. With the same
// params, grads, state and lr it gives the same result on every machine.
type Optimizer interface {
	Name() string
	Init(params []*Param) *State
	Update(params []*Param, st *State, lr float64) error
}

func newState(params []*Param, slots ...string) *State {
	st := &State{Slots: map[string][][]float32{}}
	for _, p := range params {
		st.IDs = append(st.IDs, p.ID)
		st.Shapes = append(st.Shapes, slices.Clone(p.Shape))
	}
	for _, s := range slots {
		v := make([][]float32, len(params))
		for i, p := range params {
			v[i] = make([]float32, len(p.Value))
		}
		st.Slots[s] = v
	}
	return st
}

// check verifies that st was made for params (same IDs, sizes, slots).
func (st *State) check(params []*Param, slots ...string) error {
	if st == nil {
		return fmt.Errorf("%w: no optimizer state", ErrInvalid)
	}
	if len(st.IDs) != len(params) {
		return fmt.Errorf("%w: optimizer state has %d parameters, the model %d", ErrInvalid, len(st.IDs), len(params))
	}
	for _, s := range slots {
		v, ok := st.Slots[s]
		if !ok || len(v) != len(params) {
			return fmt.Errorf("%w: optimizer state has no slot %q for every parameter", ErrInvalid, s)
		}
	}
	for i, p := range params {
		if st.IDs[i] != p.ID {
			return fmt.Errorf("%w: optimizer state parameter %d is %q, the model's %q", ErrInvalid, i, st.IDs[i], p.ID)
		}
		if len(p.Grad) != len(p.Value) {
			return fmt.Errorf("%w: parameter %q has %d values and %d gradients", ErrInvalid, p.ID, len(p.Value), len(p.Grad))
		}
		for _, s := range slots {
			if len(st.Slots[s][i]) != len(p.Value) {
				return fmt.Errorf("%w: optimizer state %q of %q has %d elements, the parameter %d", ErrInvalid, s, p.ID, len(st.Slots[s][i]), len(p.Value))
			}
		}
	}
	return nil
}

// consistent checks what a state says about itself: a shape per parameter,
// non-negative dimensions, and in every slot one slice per parameter with
// as many elements as its shape.
func (st *State) consistent() error {
	if st.Step < 0 {
		return fmt.Errorf("%w: step %d", ErrInvalid, st.Step)
	}
	if len(st.Shapes) != len(st.IDs) {
		return fmt.Errorf("%w: %d parameter IDs and %d shapes", ErrInvalid, len(st.IDs), len(st.Shapes))
	}
	sizes := make([]int, len(st.Shapes))
	for i, sh := range st.Shapes {
		n := 1
		for _, d := range sh {
			if d < 0 || (d > 0 && n > math.MaxInt32/d) {
				return fmt.Errorf("%w: parameter %q: shape %v", ErrInvalid, st.IDs[i], sh)
			}
			n *= d
		}
		sizes[i] = n
	}
	for name, v := range st.Slots {
		if len(v) != len(st.IDs) {
			return fmt.Errorf("%w: slot %q has %d entries for %d parameters", ErrInvalid, name, len(v), len(st.IDs))
		}
		for i, x := range v {
			if len(x) != sizes[i] {
				return fmt.Errorf("%w: slot %q of %q has %d elements, its shape %v holds %d", ErrInvalid, name, st.IDs[i], len(x), st.Shapes[i], sizes[i])
			}
		}
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// SGD is torch.optim.SGD: with weight decay λ, momentum μ, dampening d,
//
//	g ← ∇ + λ·w
//	b ← g (first step), else μ·b + (1−d)·g
//	g ← g + μ·b (Nesterov), else b
//	w ← w − lr·g
type SGD struct {
	Momentum    float64
	Dampening   float64
	WeightDecay float64
	Nesterov    bool
}

// Name is "sgd".
func (o SGD) Name() string { return "sgd" }

// Validate checks the settings.
func (o SGD) Validate() error {
	switch {
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return fmt.Errorf("%w: SGD momentum %v: need 0 ≤ momentum < 1", ErrInvalid, o.Momentum)
	case !(o.Dampening >= 0 && o.Dampening <= 1):
		return fmt.Errorf("%w: SGD dampening %v: need 0 ≤ dampening ≤ 1", ErrInvalid, o.Dampening)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return fmt.Errorf("%w: weight decay %v: need ≥ 0", ErrInvalid, o.WeightDecay)
	case o.Nesterov && (o.Momentum == 0 || o.Dampening != 0):
		return fmt.Errorf("%w: Nesterov momentum needs momentum > 0 and no dampening", ErrInvalid)
	}
	return nil
}

// Init makes a state with a momentum buffer per parameter.
func (o SGD) Init(params []*Param) *State { return newState(params, "momentum") }

// Update takes one step.
func (o SGD) Update(params []*Param, st *State, lr float64) error {
	if err := st.check(params, "momentum"); err != nil {
		return err
	}
	mu, damp, wd := float32(o.Momentum), float32(1-o.Dampening), float32(o.WeightDecay)
	eta := float32(lr)
	first := st.Step == 0
	for i, p := range params {
		buf := st.Slots["momentum"][i]
		w, grad := p.Value, p.Grad
		for j := range w {
			g := grad[j] + wd*w[j]
			if mu != 0 {
				if first {
					buf[j] = g
				} else {
					buf[j] = mu*buf[j] + damp*g
				}
				if o.Nesterov {
					g += mu * buf[j]
				} else {
					g = buf[j]
				}
			}
			w[j] -= eta * g
		}
	}
	st.Step++
	return nil
}

// AdamW is torch.optim.AdamW (decoupled weight decay, Loshchilov & Hutter):
//
//	w ← w·(1 − lr·λ)
//	m ← β₁m + (1−β₁)∇,  v ← β₂v + (1−β₂)∇²
//	w ← w − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)
type AdamW struct {
	Beta1, Beta2 float64 // 0: 0.9, 0.999
	Eps          float64 // 0: 1e-8
	WeightDecay  float64
}

// Name is "adamw".
func (o AdamW) Name() string { return "adamw" }

func (o AdamW) defaults() AdamW {
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	return o
}

// Validate checks the settings.
func (o AdamW) Validate() error {
	o = o.defaults()
	switch {
	case !(o.Beta1 > 0 && o.Beta1 < 1) || !(o.Beta2 > 0 && o.Beta2 < 1):
		return fmt.Errorf("%w: AdamW betas %v, %v: need 0 < β < 1", ErrInvalid, o.Beta1, o.Beta2)
	case !(o.Eps > 0):
		return fmt.Errorf("%w: AdamW eps %v: need > 0", ErrInvalid, o.Eps)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return fmt.Errorf("%w: weight decay %v: need ≥ 0", ErrInvalid, o.WeightDecay)
	}
	return nil
}

// Init makes a state with first and second moments per parameter.
func (o AdamW) Init(params []*Param) *State { return newState(params, "m", "v") }

// Update takes one step.
func (o AdamW) Update(params []*Param, st *State, lr float64) error {
	if err := st.check(params, "m", "v"); err != nil {
		return err
	}
	o = o.defaults()
	t := float64(st.Step + 1)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2 := 1 - math.Pow(o.Beta2, t)
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	decay := float32(1 - lr*o.WeightDecay)
	stepSize := float32(lr / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	eps := float32(o.Eps)
	for i, p := range params {
		m, v := st.Slots["m"][i], st.Slots["v"][i]
		w, grad := p.Value, p.Grad
		for j := range w {
			g := grad[j]
			w[j] *= decay
			m[j] = b1*m[j] + (1-b1)*g
			v[j] = b2*v[j] + (1-b2)*g*g
			denom := float32(math.Sqrt(float64(v[j])))/sqrtBC2 + eps
			w[j] -= stepSize * m[j] / denom
		}
	}
	st.Step++
	return nil
}

// NewOptimizer returns "sgd" (momentum, Nesterov) or "adamw" with weight
// decay wd, validated.
func NewOptimizer(name string, momentum float64, nesterov bool, wd float64) (Optimizer, error) {
	switch name {
	case "sgd":
		o := SGD{Momentum: momentum, Nesterov: nesterov, WeightDecay: wd}
		return o, o.Validate()
	case "adamw":
		if nesterov {
			return nil, fmt.Errorf("%w: Nesterov is an SGD setting", ErrInvalid)
		}
		o := AdamW{WeightDecay: wd}
		return o, o.Validate()
	}
	return nil, fmt.Errorf("%w: optimizer %q: want sgd or adamw", ErrInvalid, name)
}
