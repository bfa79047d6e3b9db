package onnxbuild

import (
	"bytes"
	"math"
	"testing"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

func TestTensorEncodings(t *testing.T) {
	shape := []int64{2}
	cases := []struct {
		t    *onnx.TensorProto
		elem onnx.TensorProto_DataType
		raw  []byte
	}{
		{Float32Tensor("a", shape, []float32{1, -2}), Float,
			[]byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0}},
		{Float16Tensor("a", shape, []float32{1, -2}), Float16,
			[]byte{0x00, 0x3c, 0x00, 0xc0}},
		{Float64Tensor("a", shape, []float64{1, -2}), Double,
			[]byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0x00, 0xc0}},
		{Int64Tensor("a", shape, []int64{1, -2}), Int64,
			[]byte{1, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, c := range cases {
		if c.t.GetDataType() != int32(c.elem) || !bytes.Equal(c.t.RawData, c.raw) {
			t.Errorf("%v tensor: type %d raw % x, want type %d raw % x", c.elem, c.t.GetDataType(), c.t.RawData, c.elem, c.raw)
		}
		if len(c.t.Dims) != 1 || c.t.Dims[0] != 2 || c.t.GetName() != "a" {
			t.Errorf("%v tensor: name %q dims %v, want a [2]", c.elem, c.t.GetName(), c.t.Dims)
		}
	}
	shape[0] = 9
	if cases[0].t.Dims[0] != 2 {
		t.Error("tensor shares the caller's shape slice")
	}

	s := Float32Tensor("s", nil, []float32{3})
	if len(s.Dims) != 0 || len(s.RawData) != 4 {
		t.Errorf("scalar: dims %v, %d raw bytes; want [], 4", s.Dims, len(s.RawData))
	}
}

// halfToFloat32 is the reference binary16 decoder.
func halfToFloat32(h uint16) float32 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return float32(sign * math.Ldexp(m, -24))
	case 0x1f:
		if m == 0 {
			return float32(sign * math.Inf(1))
		}
		return float32(math.NaN())
	}
	return float32(sign * math.Ldexp(1024+m, e-25))
}

func TestFloat16BitsExact(t *testing.T) {
	// Every binary16 value, converted to float32 and back, is itself.
	for h := 0; h < 1<<16; h++ {
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN payloads are not preserved
		}
		if got := float16Bits(halfToFloat32(uint16(h))); got != uint16(h) {
			t.Fatalf("float16Bits(%g) = %#04x, want %#04x", halfToFloat32(uint16(h)), got, h)
		}
	}
}

func TestFloat16BitsRounding(t *testing.T) {
	// Between neighbours lo < hi: the midpoint goes to the even one, and
	// anything off the midpoint to the nearer one. 0x7c00 (Inf) stands
	// for 65536 above the largest finite value.
	for h := uint16(0); h < 0x7c00; h++ {
		lo := float64(halfToFloat32(h))
		hi := 65536.0
		if h+1 < 0x7c00 {
			hi = float64(halfToFloat32(h + 1))
		}
		mid := float32((lo + hi) / 2) // exact: 12 significant bits
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		below := math.Nextafter32(mid, float32(math.Inf(-1)))
		above := math.Nextafter32(mid, float32(math.Inf(1)))
		for _, c := range []struct {
			f    float32
			want uint16
		}{{mid, even}, {below, h}, {above, h + 1}, {-mid, even | 0x8000}} {
			if got := float16Bits(c.f); got != c.want {
				t.Fatalf("float16Bits(%g) = %#04x, want %#04x (between %#04x and %#04x)", c.f, got, c.want, h, h+1)
			}
		}
	}
}

func TestFloat16BitsSpecial(t *testing.T) {
	cases := []struct {
		f    float32
		want uint16
	}{
		{1e6, 0x7c00},
		{-1e6, 0xfc00},
		{float32(math.Inf(1)), 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
		{1e-10, 0x0000},
		{-1e-10, 0x8000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{65504, 0x7bff},
		{1.0 / 3, 0x3555},
	}
	for _, c := range cases {
		if got := float16Bits(c.f); got != c.want {
			t.Errorf("float16Bits(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if h := float16Bits(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("float16Bits(NaN) = %#04x, not a NaN", h)
	}
}
