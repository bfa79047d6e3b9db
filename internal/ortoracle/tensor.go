package ortoracle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Element types, named as ONNX Runtime's JavaScript API names them.
const (
	DTypeFloat32 = "float32"
	DTypeFloat64 = "float64"
	DTypeInt64   = "int64"
	DTypeInt32   = "int32"
	DTypeInt8    = "int8"
	DTypeUint8   = "uint8"
	DTypeBool    = "bool"    // one byte per element, 0 or 1
	DTypeFloat16 = "float16" // IEEE 754 half, as its raw uint16 bits
)

// ErrTensor reports a Tensor whose name, type, shape and data do not agree.
var ErrTensor = errors.New("ortoracle: invalid tensor")

// Tensor is one named model input or output. Data holds the elements in
// row-major order as little-endian bytes.
type Tensor struct {
	Name  string
	DType string
	Shape []int64
	Data  []byte
}

// ElemSize returns the size in bytes of one element of dtype, and whether
// dtype is one the oracle supports.
func ElemSize(dtype string) (int, bool) {
	switch dtype {
	case DTypeFloat64, DTypeInt64:
		return 8, true
	case DTypeFloat32, DTypeInt32:
		return 4, true
	case DTypeFloat16:
		return 2, true
	case DTypeInt8, DTypeUint8, DTypeBool:
		return 1, true
	}
	return 0, false
}

// NumElements returns the product of t.Shape: 1 for a scalar, and -1 when a
// dimension is negative or the product overflows.
func (t Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt64/d) {
			return -1
		}
		n *= d
	}
	return n
}

// Validate checks that t has a name, a supported dtype, a non-negative shape
// and exactly the data that shape needs.
func (t Tensor) Validate() error {
	if t.Name == "" {
		return fmt.Errorf("%w: no name", ErrTensor)
	}
	size, ok := ElemSize(t.DType)
	if !ok {
		return fmt.Errorf("%w %q: unsupported dtype %q", ErrTensor, t.Name, t.DType)
	}
	n := t.NumElements()
	if n < 0 || n > math.MaxInt64/int64(size) {
		return fmt.Errorf("%w %q: bad shape %v", ErrTensor, t.Name, t.Shape)
	}
	if want := n * int64(size); int64(len(t.Data)) != want {
		return fmt.Errorf("%w %q: data is %d bytes, shape %v of %s needs %d",
			ErrTensor, t.Name, len(t.Data), t.Shape, t.DType, want)
	}
	return nil
}

// FromFloat32 returns a float32 tensor holding data.
func FromFloat32(name string, shape []int64, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: DTypeFloat32, Shape: shape, Data: b}
}

// Float32 returns t's elements; t must be a valid float32 tensor.
func (t Tensor) Float32() ([]float32, error) {
	if err := t.check(DTypeFloat32); err != nil {
		return nil, err
	}
	out := make([]float32, len(t.Data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// FromInt64 returns an int64 tensor holding data.
func FromInt64(name string, shape []int64, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: DTypeInt64, Shape: shape, Data: b}
}

// Int64 returns t's elements; t must be a valid int64 tensor.
func (t Tensor) Int64() ([]int64, error) {
	if err := t.check(DTypeInt64); err != nil {
		return nil, err
	}
	out := make([]int64, len(t.Data)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

func (t Tensor) check(dtype string) error {
	if t.DType != dtype {
		return fmt.Errorf("%w %q: is %s, not %s", ErrTensor, t.Name, t.DType, dtype)
	}
	return t.Validate()
}
