package npdata

import (
	"fmt"
	"sort"

	"github.com/edgeprune/edgeprune/dataset"
	"gorgonia.org/tensor"
)

// The .npy/.npz format is package dataset's: these adapt its reads and
// writes to Array, for tests and callers that want flat slices.

// FromDense converts a tensor (float32, int64 or bool) into an Array
// sharing its data.
func FromDense(name string, t *tensor.Dense) (*Array, error) {
	a := &Array{Name: name, Shape: append([]int{}, t.Shape()...)}
	if t.IsScalar() {
		a.Shape = []int{}
	}
	switch d := t.Data().(type) {
	case []float32:
		a.F = d
	case float32:
		a.F = []float32{d}
	case []int64:
		a.I = d
	case int64:
		a.I = []int64{d}
	case []bool:
		a.I, a.Bool = make([]int64, len(d)), true
		for i, b := range d {
			if b {
				a.I[i] = 1
			}
		}
	case bool:
		a.I, a.Bool = []int64{0}, true
		if d {
			a.I[0] = 1
		}
	default:
		return nil, fmt.Errorf("%w: tensor of %v", ErrUnsupported, t.Dtype())
	}
	return a, nil
}

// ReadNPY reads a .npy file (dataset.ReadNPY); the array is named after
// the file.
func ReadNPY(path string) (*Array, error) {
	t, err := dataset.ReadNPY(path)
	if err != nil {
		return nil, err
	}
	return FromDense(baseName(path), t)
}

// ReadNPZ reads every array of a .npz file (dataset.ReadNPZ), sorted by
// name.
func ReadNPZ(path string) ([]*Array, error) {
	m, err := dataset.ReadNPZ(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]*Array, 0, len(names))
	for _, k := range names {
		a, err := FromDense(k, m[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// WriteNPY writes a to path as .npy (dataset.WriteNPY: <f4, <i8 or |b1),
// through a temporary file renamed into place.
func WriteNPY(path string, a *Array) error {
	return dataset.WriteNPY(path, a.tensor())
}

// tensor is the array as a tensor of its own type (bool for Bool arrays).
func (a *Array) tensor() *tensor.Dense {
	var back any = a.F
	switch {
	case a.Bool:
		b := make([]bool, len(a.I))
		for i, v := range a.I {
			b[i] = v != 0
		}
		back = b
	case a.F == nil:
		back = a.I
	}
	if len(a.Shape) == 0 {
		switch v := back.(type) {
		case []float32:
			return tensor.New(tensor.FromScalar(v[0]))
		case []int64:
			return tensor.New(tensor.FromScalar(v[0]))
		case []bool:
			return tensor.New(tensor.FromScalar(v[0]))
		}
	}
	return tensor.New(tensor.WithShape(a.Shape...), tensor.WithBacking(back))
}

func baseName(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			path = path[i+1:]
			break
		}
	}
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' {
			return path[:i]
		}
	}
	return path
}
