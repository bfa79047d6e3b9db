package engine

import (
	"fmt"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/sparse"
)

// data is a tensor inside the engine: a shape and a flat row-major slice.
// Floating-point types are stored as float32 in F, integer and bool types as
// int64 in I; exactly one of them is used, as the value's element type says.
type data struct {
	shape []int
	f     []float32
	i     []int64
	// sp holds a constant weight given sparse (WithSparseWeights); f is
	// then nil until a dense reader needs it (densify).
	sp *sparse.CSR
}

func (d *data) len() int { return numel(d.shape) }

// isIntType reports whether values of dt are stored as int64.
func isIntType(dt onnxio.DataType) bool { return dt.IsInteger() }

// storable reports whether the engine can hold values of dt.
func storable(dt onnxio.DataType) bool {
	switch dt {
	case onnxio.Float, onnxio.Float16, onnxio.BFloat16, onnxio.Double,
		onnxio.Uint8, onnxio.Int8, onnxio.Uint16, onnxio.Int16, onnxio.Int32, onnxio.Int64,
		onnxio.Uint32, onnxio.Uint64, onnxio.Bool:
		return true
	}
	return false
}

// value is one named tensor of a compiled graph.
type value struct {
	name  string
	dt    onnxio.DataType
	shape []int
	// konst holds the data of values known at compile time (initializers,
	// Constant nodes and everything folded from them); nil otherwise.
	konst *data
	// alias is the id of the value whose storage this one shares (Reshape,
	// Flatten, Squeeze, Identity ...), or -1.
	alias int
	// producer is the step index that writes the value, -1 for graph inputs
	// and constants.
	producer int
	input    bool // a graph input
	folded   bool // a node output computed at compile time
	// elided: computed inside a fused step and never stored (fuse_block.go).
	elided bool
}

func (v *value) isInt() bool { return isIntType(v.dt) }

func (v *value) String() string { return fmt.Sprintf("%s %v %v", v.name, v.dt, v.shape) }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// stridesOf returns the row-major strides of shape.
func stridesOf(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

func cloneInts(s []int) []int { return append([]int{}, s...) }

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// newData allocates zeroed storage for a value of type dt and shape.
func newData(dt onnxio.DataType, shape []int) *data {
	d := &data{shape: cloneInts(shape)}
	if isIntType(dt) {
		d.i = make([]int64, numel(shape))
	} else {
		d.f = make([]float32, numel(shape))
	}
	return d
}

// maxElements bounds any one tensor the engine will allocate (2 Gi - 1
// elements, also on 32-bit targets).
const maxElements = 1<<31 - 1

// checkShape validates a shape computed from model data before it is used
// to allocate.
func checkShape(shape []int) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return invalid("negative dimension in %v", shape)
		}
		if d > 0 && n > maxElements/d {
			return fmt.Errorf("%w: shape %v has more than %d elements", ErrNotImplemented, shape, maxElements)
		}
		n *= d
	}
	return nil
}
