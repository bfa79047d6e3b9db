package train

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

// TestMaskApplyClearsState: a state that carries momentum under the mask
// (resumed from before pruning) is cleared there, and the weights with it.
func TestMaskApplyClearsState(t *testing.T) {
	p := &Param{ID: "w", Shape: []int{2, 2}, Value: []float32{1, 0, 3, 0}, Grad: []float32{1, 1, 1, 1}}
	b := &Param{ID: "b", Shape: []int{2}, Value: []float32{0, 1}, Grad: []float32{1, 1}}
	ps := []*Param{p, b}
	m := MasksFromZeros(ps, nil)
	if m.Keep[1] != nil {
		t.Errorf("bias (rank 1) got a mask: its zeros are values, not pruning")
	}
	if !slices.Equal(m.Keep[0], []bool{true, false, true, false}) {
		t.Errorf("mask %v", m.Keep[0])
	}
	st := AdamW{}.Init(ps)
	for _, s := range st.Slots {
		for i := range s {
			for j := range s[i] {
				s[i][j] = 7
			}
		}
	}
	p.Value[1] = 5
	m.Apply(ps, st)
	if p.Value[1] != 0 || st.Slots["m"][0][1] != 0 || st.Slots["v"][0][3] != 0 || st.Slots["m"][0][0] != 7 || st.Slots["m"][1][0] != 7 {
		t.Errorf("after Apply: w %v, m %v, v %v", p.Value, st.Slots["m"], st.Slots["v"])
	}
	m.MaskGrads(ps)
	if !slices.Equal(p.Grad, []float32{1, 0, 1, 0}) || !slices.Equal(b.Grad, []float32{1, 1}) {
		t.Errorf("masked grads %v %v", p.Grad, b.Grad)
	}
}

// TestStateResume: two steps in a row equal one step, save, load, one step.
func TestStateResume(t *testing.T) {
	mk := func() []*Param {
		return []*Param{{ID: "w", Shape: []int{3}, Value: []float32{1, -2, 3}, Grad: []float32{0.5, 0.25, -1}}}
	}
	for _, o := range []Optimizer{SGD{Momentum: 0.9, Nesterov: true, WeightDecay: 0.01}, AdamW{WeightDecay: 0.01}} {
		a := mk()
		sa := o.Init(a)
		for range 2 {
			if err := o.Update(a, sa, 0.1); err != nil {
				t.Fatal(err)
			}
		}
		b := mk()
		sb := o.Init(b)
		if err := o.Update(b, sb, 0.1); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := sb.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		sb2, err := ReadState(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Update(b, sb2, 0.1); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a[0].Value, b[0].Value) {
			t.Errorf("%s: straight %v, resumed %v", o.Name(), a[0].Value, b[0].Value)
		}
		other := []*Param{{ID: "v", Shape: []int{3}, Value: make([]float32, 3), Grad: make([]float32, 3)}}
		if err := o.Update(other, sb2, 0.1); err == nil {
			t.Errorf("%s: a state for w accepted for v", o.Name())
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	ps := []*Param{{Grad: []float32{3, 0}}, {Grad: []float32{4}}}
	if n := ClipGradNorm(ps, 1); math.Abs(n-5) > 1e-12 {
		t.Errorf("norm %v, want 5", n)
	}
	if n := ClipGradNorm(ps, 0); math.Abs(n-1) > 1e-5 {
		t.Errorf("norm after clipping to 1: %v", n)
	}
}
