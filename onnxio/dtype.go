package onnxio

import (
	"fmt"
	"math"
)

// DataType is an ONNX TensorProto.DataType value. Values this package has no
// name for (newer IR versions) are kept as numbers and passed through.
type DataType int32

// The ONNX element types (onnx.proto, TensorProto.DataType).
const (
	Undefined     DataType = 0
	Float         DataType = 1
	Uint8         DataType = 2
	Int8          DataType = 3
	Uint16        DataType = 4
	Int16         DataType = 5
	Int32         DataType = 6
	Int64         DataType = 7
	String        DataType = 8
	Bool          DataType = 9
	Float16       DataType = 10
	Double        DataType = 11
	Uint32        DataType = 12
	Uint64        DataType = 13
	Complex64     DataType = 14
	Complex128    DataType = 15
	BFloat16      DataType = 16
	Float8E4M3FN  DataType = 17
	Float8E4M3FNZ DataType = 18
	Float8E5M2    DataType = 19
	Float8E5M2FNZ DataType = 20
	Uint4         DataType = 21
	Int4          DataType = 22
	Float4E2M1    DataType = 23
)

var dtypeNames = map[DataType]string{
	Undefined: "undefined", Float: "float32", Uint8: "uint8", Int8: "int8",
	Uint16: "uint16", Int16: "int16", Int32: "int32", Int64: "int64",
	String: "string", Bool: "bool", Float16: "float16", Double: "float64",
	Uint32: "uint32", Uint64: "uint64", Complex64: "complex64",
	Complex128: "complex128", BFloat16: "bfloat16",
	Float8E4M3FN: "float8e4m3fn", Float8E4M3FNZ: "float8e4m3fnuz",
	Float8E5M2: "float8e5m2", Float8E5M2FNZ: "float8e5m2fnuz",
	Uint4: "uint4", Int4: "int4", Float4E2M1: "float4e2m1",
}

// String returns the numpy-style name ("float32", "int64", ...), or
// "dtype(N)" for a type this package does not know.
func (d DataType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// IsFloat reports whether d is a floating-point type that converts to
// float32 (float32, float16, bfloat16, float64).
func (d DataType) IsFloat() bool {
	switch d {
	case Float, Float16, BFloat16, Double:
		return true
	}
	return false
}

// IsFloating reports whether d holds real floating-point numbers of any
// width, including the float8/float4 formats this package only passes through.
func (d DataType) IsFloating() bool {
	switch d {
	case Float, Float16, BFloat16, Double, Float8E4M3FN, Float8E4M3FNZ, Float8E5M2, Float8E5M2FNZ, Float4E2M1:
		return true
	}
	return false
}

// IsInteger reports whether d is an integer or bool type.
func (d DataType) IsInteger() bool {
	switch d {
	case Uint8, Int8, Uint16, Int16, Int32, Int64, Bool, Uint32, Uint64, Uint4, Int4:
		return true
	}
	return false
}

// bitSize is the storage size of one element in raw_data, in bits; 0 when
// unknown or variable (string).
func (d DataType) bitSize() int64 {
	switch d {
	case Uint8, Int8, Bool, Float8E4M3FN, Float8E4M3FNZ, Float8E5M2, Float8E5M2FNZ:
		return 8
	case Uint16, Int16, Float16, BFloat16:
		return 16
	case Float, Int32, Uint32:
		return 32
	case Int64, Double, Uint64, Complex64:
		return 64
	case Complex128:
		return 128
	case Uint4, Int4, Float4E2M1:
		return 4
	}
	return 0
}

// rawBytes is the raw_data length of n elements of d, or -1 when unknown.
func (d DataType) rawBytes(n int64) int64 {
	b := d.bitSize()
	if b == 0 {
		return -1
	}
	if n > (math.MaxInt64-7)/b {
		return math.MaxInt64 // larger than any limit
	}
	return (n*b + 7) / 8
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to float32 (exact).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf / nan
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: normalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// Float32ToFloat16 converts to half precision with round-to-nearest-even,
// overflow to ±Inf and NaN preserved as a quiet NaN.
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		rem := mant & (1<<shift - 1)
		v := mant >> shift
		if rem > half || (rem == half && v&1 == 1) {
			v++
		}
		return sign | uint16(v)
	}
	v := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && v&1 == 1) {
		v++ // may carry into the exponent, which is correct rounding
	}
	return sign | uint16(v)
}

// BFloat16ToFloat32 converts bfloat16 bits to float32 (exact).
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBFloat16 converts with round-to-nearest-even; NaN stays NaN.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
