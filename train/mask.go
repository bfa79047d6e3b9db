package train

import (
	"fmt"
	"math"
)

// Masks hold pruned weights at zero: Keep[i] is nil for a parameter with
// nothing to hold, else one flag per element (false: held at zero). Apply
// zeroes the weights, the gradients and every optimizer slot under the mask,
// so neither the update nor momentum nor Adam's moments can revive a pruned
// weight, and N:M or block patterns stay exactly as pruning left them.
type Masks struct {
	Keep [][]bool
	held [][]int32 // indices of the held elements, per parameter
}

// WeightParams selects the parameters pruning targets: rank ≥ 2 (Conv, Gemm,
// MatMul weights), not biases or normalisation parameters, whose exact zeros
// are values, not pruning decisions.
func WeightParams(p *Param) bool { return len(p.Shape) >= 2 }

// MasksFromZeros makes masks from the exact zeros of the parameters that
// sel accepts (nil: WeightParams), as pruning left them.
func MasksFromZeros(params []*Param, sel func(*Param) bool) *Masks {
	if sel == nil {
		sel = WeightParams
	}
	m := &Masks{Keep: make([][]bool, len(params))}
	for i, p := range params {
		if !sel(p) {
			continue
		}
		var keep []bool
		for j, w := range p.Value {
			if w == 0 {
				if keep == nil {
					keep = make([]bool, len(p.Value))
					for k := range j {
						keep[k] = true
					}
				}
				continue
			}
			if keep != nil {
				keep[j] = true
			}
		}
		m.Keep[i] = keep
	}
	m.index()
	return m
}

func (m *Masks) index() {
	m.held = make([][]int32, len(m.Keep))
	for i, k := range m.Keep {
		for j, b := range k {
			if !b {
				m.held[i] = append(m.held[i], int32(j))
			}
		}
	}
}

// Held counts the elements held at zero.
func (m *Masks) Held() int {
	n := 0
	for _, k := range m.Keep {
		for _, b := range k {
			if !b {
				n++
			}
		}
	}
	return n
}

// MaskGrads zeroes the gradients under the masks.
func (m *Masks) MaskGrads(params []*Param) {
	if len(m.held) != len(m.Keep) {
		m.index()
	}
	for i, h := range m.held {
		g := params[i].Grad
		for _, j := range h {
			g[j] = 0
		}
	}
}

// Apply zeroes weights and optimizer state under the masks (st may be nil).
func (m *Masks) Apply(params []*Param, st *State) {
	if len(m.held) != len(m.Keep) {
		m.index()
	}
	for i, h := range m.held {
		zero(params[i].Value, h)
		if st != nil {
			for _, slot := range st.Slots {
				zero(slot[i], h)
			}
		}
	}
}

func zero(v []float32, idx []int32) {
	for _, j := range idx {
		v[j] = 0
	}
}

// ClipGradNorm scales the gradients so that their global L2 norm is at most
// maxNorm (torch.nn.utils.clip_grad_norm_), and returns the norm before
// clipping. The norm is summed in float64 in parameter order.
func ClipGradNorm(params []*Param, maxNorm float64) float64 {
	var s float64
	for _, p := range params {
		for _, g := range p.Grad {
			s += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(s)
	if maxNorm > 0 && norm > maxNorm {
		c := float32(maxNorm / (norm + 1e-6))
		for _, p := range params {
			for j := range p.Grad {
				p.Grad[j] *= c
			}
		}
	}
	return norm
}

// CheckMasksHeld verifies that every element held by m is still exactly
// zero: the property the loop guarantees.
func CheckMasksHeld(params []*Param, m *Masks) error {
	for i, k := range m.Keep {
		for j, b := range k {
			if !b && params[i].Value[j] != 0 {
				return fmt.Errorf("train: pruned weight %s[%d] became %g", params[i].ID, j, params[i].Value[j])
			}
		}
	}
	return nil
}
