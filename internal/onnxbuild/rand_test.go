package onnxbuild

import (
	"math"
	"testing"
)

func TestSplitmix64(t *testing.T) {
	// The first outputs for seed 0, as published with the reference
	// implementation (https://prng.di.unimi.it/splitmix64.c).
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	s := splitmix64{}
	for i, w := range want {
		if got := s.next(); got != w {
			t.Errorf("output %d = %#x, want %#x", i, got, w)
		}
	}
}

func TestRandValues(t *testing.T) {
	// Pinned from the splitmix64 outputs above: the top 24 bits, minus
	// 2^23, times scale/2^23.
	want := []float32{
		float32(0xe220a8-(1<<23)) / (1 << 23),
		float32(0x6e789e-(1<<23)) / (1 << 23),
		float32(0x06c45d-(1<<23)) / (1 << 23),
	}
	got := Rand(0, 3, 1)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Rand(0, 3, 1)[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	scaled := Rand(0, 3, 0.25)
	for i := range want {
		if scaled[i] != want[i]/4 {
			t.Errorf("Rand(0, 3, 0.25)[%d] = %v, want %v", i, scaled[i], want[i]/4)
		}
	}
}

func TestRandProperties(t *testing.T) {
	const n = 100000
	const scale = 0.5
	a := Rand(42, n, scale)
	var sum float64
	for i, v := range a {
		if v < -scale || v >= scale {
			t.Fatalf("Rand(42, n, %v)[%d] = %v, outside [-scale, scale)", scale, i, v)
		}
		sum += float64(v)
	}
	// The mean of n uniform values on [-0.5, 0.5) has standard deviation
	// 0.5/sqrt(3n) ≈ 0.0009; allow five of them.
	if mean := sum / n; math.Abs(mean) > 0.0046 {
		t.Errorf("mean %v, want about 0", mean)
	}

	prefix := Rand(42, 10, scale)
	for i := range prefix {
		if prefix[i] != a[i] {
			t.Fatalf("Rand(42, 10) is not a prefix of Rand(42, %d) at %d", n, i)
		}
	}
	other := Rand(43, 10, scale)
	same := 0
	for i := range other {
		if other[i] == a[i] {
			same++
		}
	}
	if same > 1 {
		t.Errorf("seeds 42 and 43 agree on %d of 10 values", same)
	}
	if len(Rand(1, 0, 1)) != 0 {
		t.Error("Rand(1, 0, 1) is not empty")
	}
}
