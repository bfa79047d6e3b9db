package onnxbuild

// Rand returns n pseudo-random float32 values uniform on [-scale, scale),
// identical on every architecture and Go version, for deterministic weights.
//
// The generator is splitmix64 (Steele, Lea, Flood: "Fast splittable
// pseudorandom number generators", OOPSLA 2014) started at seed. Value i
// takes the top 24 bits of the generator's i-th output u:
//
//	out[i] = float32(int32(u>>40) - 1<<23) * (scale / (1 << 23))
//
// The integer fits float32 exactly and the product is a single rounding, so
// no fused multiply-add can change the result.
func Rand(seed int64, n int, scale float32) []float32 {
	out := make([]float32, n)
	step := scale / (1 << 23)
	s := splitmix64{state: uint64(seed)}
	for i := range out {
		out[i] = float32(int32(s.next()>>40)-1<<23) * step
	}
	return out
}

type splitmix64 struct{ state uint64 }

func (s *splitmix64) next() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
