package train

import (
	"bytes"
	"math"
	"testing"
)

// FuzzReadState feeds saved optimizer states (a training checkpoint's
// optimizer part) to ReadState, seeded with the states of SGD and AdamW
// after a step. Properties: ReadState never panics; what it accepts is
// self-consistent (a shape per parameter, each slot one slice per parameter
// of its shape's size), and written again it reads back to the same state,
// bit for bit.
func FuzzReadState(f *testing.F) {
	params := []*Param{
		{ID: "w", Shape: []int{2, 3}, Value: []float32{1, -2, 3, 0, 5, -6}, Grad: []float32{.1, .2, -.3, .4, 0, .6}},
		{ID: "b", Shape: []int{2}, Value: []float32{.5, -.5}, Grad: []float32{1, -1}},
	}
	for _, o := range []Optimizer{SGD{Momentum: 0.9}, AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}} {
		st := o.Init(params)
		if err := o.Update(params, st, 0.01); err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := st.WriteTo(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		st, err := ReadState(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := st.consistent(); err != nil {
			t.Fatalf("accepted an inconsistent state: %v", err)
		}
		var buf bytes.Buffer
		if _, err := st.WriteTo(&buf); err != nil {
			t.Fatalf("accepted state does not write: %v", err)
		}
		again, err := ReadState(&buf)
		if err != nil {
			t.Fatalf("written state does not read back: %v", err)
		}
		if !sameState(st, again) {
			t.Fatalf("state changed in a write and read:\n%+v\n%+v", st, again)
		}
	})
}

func sameState(a, b *State) bool {
	if a.Step != b.Step || len(a.IDs) != len(b.IDs) || len(a.Slots) != len(b.Slots) {
		return false
	}
	for i := range a.IDs {
		if a.IDs[i] != b.IDs[i] || len(a.Shapes[i]) != len(b.Shapes[i]) {
			return false
		}
		for j := range a.Shapes[i] {
			if a.Shapes[i][j] != b.Shapes[i][j] {
				return false
			}
		}
	}
	for name, va := range a.Slots {
		vb, ok := b.Slots[name]
		if !ok || len(va) != len(vb) {
			return false
		}
		for i := range va {
			if len(va[i]) != len(vb[i]) {
				return false
			}
			for j := range va[i] {
				if math.Float32bits(va[i][j]) != math.Float32bits(vb[i][j]) {
					return false
				}
			}
		}
	}
	return true
}
