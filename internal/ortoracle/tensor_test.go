package ortoracle

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestTensorRoundTrip(t *testing.T) {
	f := []float32{0, -1.5, float32(math.Inf(1)), math.SmallestNonzeroFloat32, 3e38}
	got, err := FromFloat32("f", []int64{5}, f).Float32()
	if err != nil || !slices.Equal(got, f) {
		t.Errorf("Float32(FromFloat32(%v)) = %v, %v", f, got, err)
	}
	if b := FromFloat32("f", []int64{1}, []float32{1}).Data; !slices.Equal(b, []byte{0, 0, 0x80, 0x3f}) {
		t.Errorf("FromFloat32(1) bytes = % x, want little-endian 00 00 80 3f", b)
	}
	i := []int64{math.MinInt64, -1, 0, 1 << 40}
	gotI, err := FromInt64("i", []int64{2, 2}, i).Int64()
	if err != nil || !slices.Equal(gotI, i) {
		t.Errorf("Int64(FromInt64(%v)) = %v, %v", i, gotI, err)
	}
	scalar := FromFloat32("s", nil, []float32{7})
	if err := scalar.Validate(); err != nil || scalar.NumElements() != 1 {
		t.Errorf("scalar: NumElements %d, Validate %v", scalar.NumElements(), err)
	}
}

func TestTensorInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Tensor
	}{
		{"no name", FromFloat32("", []int64{1}, []float32{1})},
		{"unknown dtype", Tensor{Name: "s", DType: "string", Shape: []int64{1}, Data: []byte{1}}},
		{"short data", FromFloat32("x", []int64{2, 2}, []float32{1, 2, 3})},
		{"negative dim", Tensor{Name: "x", DType: DTypeUint8, Shape: []int64{-1}, Data: nil}},
		{"overflowing shape", Tensor{Name: "x", DType: DTypeInt64, Shape: []int64{1 << 40, 1 << 40}}},
	} {
		if err := tc.t.Validate(); !errors.Is(err, ErrTensor) {
			t.Errorf("%s: Validate = %v, want ErrTensor", tc.name, err)
		}
	}
	if _, err := FromInt64("i", []int64{1}, []int64{1}).Float32(); !errors.Is(err, ErrTensor) {
		t.Errorf("Float32 of an int64 tensor: error %v, want ErrTensor", err)
	}
	if _, err := FromFloat32("f", []int64{2}, []float32{1, 2}).Int64(); !errors.Is(err, ErrTensor) {
		t.Errorf("Int64 of a float32 tensor: error %v, want ErrTensor", err)
	}
}
