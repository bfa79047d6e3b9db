// Package shapes is ONNX shape inference as pure functions: the output
// shape of broadcasting, Reshape, Flatten, Squeeze, Unsqueeze, Shape and
// Slice from the input shapes and the (constant) arguments. The engine's
// builders use them to compile a model and prune's dependency graph reads
// the engine's results (engine.Report.Values), so each rule is written once.
//
// Specs: https://onnx.ai/onnx/repo-docs/Broadcasting.html and the operator
// pages at https://onnx.ai/onnx/operators/.
package shapes

import (
	"errors"
	"fmt"
	"slices"
)

// ErrShape is wrapped by every error of this package: the arguments do not
// give a valid shape.
var ErrShape = errors.New("invalid shape")

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrShape}, args...)...)
}

// Numel is the number of elements of shape (1 for a scalar).
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Broadcast is the numpy-style (multidirectional) broadcast of shapes.
func Broadcast(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case o == d || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, errorf("shapes %v do not broadcast", shapes)
			}
		}
	}
	return out, nil
}

// BroadcastIndex maps element i (row-major) of the broadcast shape out to
// the element of an input of shape in that it reads.
func BroadcastIndex(out, in []int, i int) int {
	off := len(out) - len(in)
	idx, stride := 0, 1
	for d := len(out) - 1; d >= 0; d-- {
		c := i % out[d]
		i /= out[d]
		if k := d - off; k >= 0 {
			if in[k] != 1 {
				idx += c * stride
			}
			stride *= in[k]
		}
	}
	return idx
}

// NormAxis maps a possibly negative axis into [0, rank).
func NormAxis(axis int64, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(a), nil
}

// Reshape is the output shape of Reshape of x to target: 0 copies the
// input dimension (unless allowZero), one -1 is inferred.
func Reshape(x []int, target []int64, allowZero bool) ([]int, error) {
	out := make([]int, len(target))
	infer := -1
	known := 1
	for i, d := range target {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, errorf("Reshape shape %v has two -1", target)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(x) {
				return nil, errorf("Reshape shape %v copies dim %d of %v", target, i, x)
			}
			out[i] = x[i]
		case d < 0:
			return nil, errorf("Reshape shape %v", target)
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	n := Numel(x)
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, errorf("cannot reshape %v to %v", x, target)
		}
		out[infer] = n / known
	} else if known != n {
		return nil, errorf("cannot reshape %v (%d elements) to %v", x, n, target)
	}
	return out, nil
}

// Flatten is the output shape of Flatten at axis (negative counts from
// the end; rank is allowed).
func Flatten(x []int, axis int64) ([]int, error) {
	a := axis
	if a < 0 {
		a += int64(len(x))
	}
	if a < 0 || a > int64(len(x)) {
		return nil, errorf("Flatten axis %d for rank %d", axis, len(x))
	}
	return []int{Numel(x[:a]), Numel(x[a:])}, nil
}

// Squeeze drops the given axes, which must be 1, or every 1 when axes is
// nil.
func Squeeze(x []int, axes []int64) ([]int, error) {
	drop := make([]bool, len(x))
	if axes != nil {
		for _, a := range axes {
			ax, err := NormAxis(a, len(x))
			if err != nil {
				return nil, err
			}
			if x[ax] != 1 {
				return nil, errorf("Squeeze axis %d of %v is not 1", a, x)
			}
			drop[ax] = true
		}
	} else {
		for i, d := range x {
			drop[i] = d == 1
		}
	}
	out := []int{}
	for i, d := range x {
		if !drop[i] {
			out = append(out, d)
		}
	}
	return out, nil
}

// Unsqueeze inserts dimensions of 1 at axes (of the output).
func Unsqueeze(x []int, axes []int64) ([]int, error) {
	rank := len(x) + len(axes)
	ins := make([]bool, rank)
	for _, a := range axes {
		ax, err := NormAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if ins[ax] {
			return nil, errorf("Unsqueeze axes %v repeat", axes)
		}
		ins[ax] = true
	}
	out := make([]int, 0, rank)
	j := 0
	for i := range rank {
		if ins[i] {
			out = append(out, 1)
		} else {
			out = append(out, x[j])
			j++
		}
	}
	return out, nil
}

// ShapeRange is the range of dimensions [lo, hi) that Shape (opset 15
// start/end; end nil means the rank) returns of a value of rank rank.
func ShapeRange(rank int, start int64, end *int64) (lo, hi int) {
	clamp := func(a int64) int {
		if a < 0 {
			a += int64(rank)
		}
		return int(min(max(a, 0), int64(rank)))
	}
	lo, hi = clamp(start), rank
	if end != nil {
		hi = clamp(*end)
	}
	return lo, max(lo, hi)
}

// SliceRange resolves one axis of Slice on a dimension of size dim: the
// first index taken and how many (step may be negative, not 0).
func SliceRange(start, end, step int64, dim int) (first, count int, err error) {
	if step == 0 {
		return 0, 0, errorf("Slice step 0")
	}
	d := int64(dim)
	s, e := start, end
	if s < 0 {
		s += d
	}
	if e < 0 {
		e += d
	}
	var n int64
	if step > 0 {
		s, e = min(max(s, 0), d), min(max(e, 0), d)
		if e > s {
			n = (e - s + step - 1) / step
		}
	} else {
		s, e = min(max(s, -1), d-1), min(max(e, -1), d-1)
		if s > e {
			n = (s - e - step - 1) / -step
		}
	}
	if n == 0 {
		s = 0
	}
	return int(s), int(n), nil
}

// Equal reports whether two shapes are the same.
func Equal(a, b []int) bool { return slices.Equal(a, b) }
