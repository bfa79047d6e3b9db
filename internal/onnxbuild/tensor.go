package onnxbuild

import (
	"encoding/binary"
	"fmt"
	"math"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// The tensor constructors below store their data in raw_data, little-endian,
// as the ONNX IR requires. They panic if len(data) is not the product of
// shape or a dimension is negative. An empty shape is a scalar.

// Float32Tensor returns a FLOAT tensor.
func Float32Tensor(name string, shape []int64, data []float32) *onnx.TensorProto {
	checkLen(name, shape, len(data))
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return rawTensor(name, Float, shape, raw)
}

// Float16Tensor returns a FLOAT16 tensor holding data rounded to the
// nearest half-precision value (ties to even; overflow becomes ±Inf).
func Float16Tensor(name string, shape []int64, data []float32) *onnx.TensorProto {
	checkLen(name, shape, len(data))
	raw := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(raw[2*i:], float16Bits(v))
	}
	return rawTensor(name, Float16, shape, raw)
}

// Float64Tensor returns a DOUBLE tensor.
func Float64Tensor(name string, shape []int64, data []float64) *onnx.TensorProto {
	checkLen(name, shape, len(data))
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
	}
	return rawTensor(name, Double, shape, raw)
}

// Int64Tensor returns an INT64 tensor.
func Int64Tensor(name string, shape []int64, data []int64) *onnx.TensorProto {
	checkLen(name, shape, len(data))
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return rawTensor(name, Int64, shape, raw)
}

func rawTensor(name string, elem onnx.TensorProto_DataType, shape []int64, raw []byte) *onnx.TensorProto {
	return &onnx.TensorProto{
		Name:     proto.String(name),
		DataType: proto.Int32(int32(elem)),
		Dims:     append([]int64(nil), shape...),
		RawData:  raw,
	}
}

func checkLen(name string, shape []int64, n int) {
	want := int64(1)
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("onnxbuild: tensor %q has negative dimension in shape %v", name, shape))
		}
		want *= d
	}
	if want != int64(n) {
		panic(fmt.Sprintf("onnxbuild: tensor %q has %d values, shape %v needs %d", name, n, shape, want))
	}
}

// float16Bits converts f to IEEE 754 binary16, rounding to nearest with ties
// to even. NaN becomes a quiet NaN of the same sign.
func float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // biased half-precision exponent
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e <= 0:
		// Subnormal half (or zero): the result counts units of 2^-24.
		if e < -10 {
			return sign // below half the smallest subnormal
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		r := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++ // may carry into the smallest normal, which is still correct
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // a carry into the exponent is correct, up to Inf
	}
	return sign | uint16(r)
}
