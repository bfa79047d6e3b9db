package train

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"
)

// Arrays is a Dataset held in memory: one tensor per model input with the
// samples along axis 0, and optional labels.
type Arrays struct {
	inputs map[string]*tensor.Dense
	names  []string
	labels []int64
	n      int
}

// NewArrays checks that every tensor (float32 or int64) and the labels
// count the same samples.
func NewArrays(inputs map[string]*tensor.Dense, labels []int64) (*Arrays, error) {
	a := &Arrays{inputs: inputs, labels: labels, n: -1}
	for name, t := range inputs {
		s := t.Shape()
		if len(s) == 0 {
			return nil, fmt.Errorf("train: input %q is a scalar: need samples along axis 0", name)
		}
		switch t.Data().(type) {
		case []float32, []int64:
		default:
			return nil, fmt.Errorf("train: input %q is %v: want float32 or int64", name, t.Dtype())
		}
		if a.n >= 0 && s[0] != a.n {
			return nil, fmt.Errorf("train: input %q has %d samples, another input %d", name, s[0], a.n)
		}
		a.n = s[0]
		a.names = append(a.names, name)
	}
	if a.n < 0 {
		return nil, fmt.Errorf("train: a dataset with no input")
	}
	if labels != nil && len(labels) != a.n {
		return nil, fmt.Errorf("%w: %d labels for %d samples", ErrLabels, len(labels), a.n)
	}
	return a, nil
}

// Len is the number of samples.
func (a *Arrays) Len() int { return a.n }

// Inputs names the inputs.
func (a *Arrays) Inputs() []string { return a.names }

// HasLabels says whether there are labels.
func (a *Arrays) HasLabels() bool { return a.labels != nil }

// Close does nothing.
func (a *Arrays) Close() error { return nil }

// Batch copies the samples at idx, in that order.
func (a *Arrays) Batch(_ context.Context, idx []int) (Batch, error) {
	b := Batch{Inputs: map[string]*tensor.Dense{}}
	for _, i := range idx {
		if i < 0 || i >= a.n {
			return Batch{}, fmt.Errorf("train: sample %d of %d", i, a.n)
		}
	}
	for name, t := range a.inputs {
		shape := t.Shape().Clone()
		k := shape.TotalSize() / a.n
		shape[0] = len(idx)
		switch d := t.Data().(type) {
		case []float32:
			out := make([]float32, 0, len(idx)*k)
			for _, i := range idx {
				out = append(out, d[i*k:(i+1)*k]...)
			}
			b.Inputs[name] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out))
		case []int64:
			out := make([]int64, 0, len(idx)*k)
			for _, i := range idx {
				out = append(out, d[i*k:(i+1)*k]...)
			}
			b.Inputs[name] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out))
		}
	}
	if a.labels != nil {
		b.Labels = make([]int64, len(idx))
		for j, i := range idx {
			b.Labels[j] = a.labels[i]
		}
	}
	return b, nil
}
