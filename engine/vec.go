package engine

// Elementwise float32 kernels on slices of equal length. Each is a plain Go
// loop (the reference, shown in its comment); on amd64 with AVX-512
// (vec_amd64.go) the function variables are replaced by assembly that
// computes the same, checked against these loops in vec_test.go.
var (
	vecAdd        = vecAddGo        // dst[i] = a[i] + b[i]
	vecSub        = vecSubGo        // dst[i] = a[i] − b[i]
	vecMul        = vecMulGo        // dst[i] = a[i] · b[i]
	vecDiv        = vecDivGo        // dst[i] = a[i] / b[i]
	vecAddScalar  = vecAddScalarGo  // dst[i] = a[i] + s
	vecMulScalar  = vecMulScalarGo  // dst[i] = a[i] · s
	vecDivScalar  = vecDivScalarGo  // dst[i] = a[i] / s
	vecScaleShift = vecScaleShiftGo // dst[i] = a[i]·s + t (two roundings)
	vecSum        = vecSumGo        // Σ a[i] (the SIMD version adds in a different order)
	vecDot        = vecDotGo        // Σ a[i]·b[i] over len(a) (likewise)
	vecSigmoid    = vecSigmoidGo    // dst[i] = sigmoid(s[i]) (the SIMD version within 1e-6)
	vecClamp      = vecClampGo      // dst[i] = min(max(s[i], lo), hi)
	tapRows       = tapRowsGo       // see tapRowsGo
	tapMaxRow     = tapMaxRowGo     // see tapMaxRowGo
	packB32       = packB32Go       // see packB32Go
	deinterleave  = deinterleaveGo  // see deinterleaveGo
	packA8        = packA8Go        // see packA8Go
)

// packA8Go copies kc rows of rows ≤ 8 floats (row stride lda) into a
// packed 8-wide panel, zero-padding each row:
//
//	for p < kc, r < 8: dst[p*8+r] = a[p*lda+r] if r < rows, else 0
func packA8Go(dst, a []float32, lda, kc, rows int) {
	for p := 0; p < kc; p++ {
		d := dst[p*8 : p*8+8]
		copy(d, a[p*lda:p*lda+rows])
		clear(d[rows:])
	}
}

// deinterleaveGo splits src into its even and odd elements:
//
//	for i < len(even): even[i] = src[2i], odd[i] = src[2i+1]
//
// (len(odd) == len(even) and len(src) ≥ 2·len(even)).
func deinterleaveGo(even, odd, src []float32) {
	odd, src = odd[:len(even)], src[:2*len(even)]
	for i := range even {
		even[i], odd[i] = src[2*i], src[2*i+1]
	}
}

// packB32Go copies kc rows of cols ≤ 32 floats (row stride ldb) into a
// packed 32-wide panel, zero-padding each row:
//
//	for p < kc, q < 32: dst[p*32+q] = b[p*ldb+q] if q < cols, else 0
func packB32Go(dst, b []float32, ldb, kc, cols int) {
	for p := 0; p < kc; p++ {
		d := dst[p*32 : p*32+32]
		copy(d, b[p*ldb:p*ldb+cols])
		clear(d[cols:])
	}
}

func vecAddGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func vecSubGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}

func vecMulGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

func vecDivGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] / b[i]
	}
}

func vecDivScalarGo(dst, a []float32, s float32) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = a[i] / s
	}
}

func vecScaleShiftGo(dst, a []float32, s, t float32) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = float32(a[i]*s) + t // the conversion forbids a fused multiply-add
	}
}

func vecSigmoidGo(dst, s []float32) {
	s = s[:len(dst)]
	for i, v := range s {
		dst[i] = sigmoid(v)
	}
}

func vecDotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func vecSumGo(a []float32) float32 {
	var s float32
	for _, v := range a {
		s += v
	}
	return s
}

func vecAddScalarGo(dst, a []float32, s float32) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + s
	}
}

func vecMulScalarGo(dst, a []float32, s float32) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * s
	}
}

func vecClampGo(dst, s []float32, lo, hi float32) {
	s = s[:len(dst)]
	for i, v := range s {
		dst[i] = min(max(v, lo), hi)
	}
}

// tapRowGo computes one output row of a direct convolution from ntaps
// shifted rows of a plane:
//
//	for j < len(out):
//	    s := bias (ep.flags&epBias: *ep.bias, else 0)
//	    for t < len(offs): s += w[t] * base[offs[t]+j]
//	    out[j] = s, clamped to [ep.lo, ep.hi] when ep.flags&epClamp
func tapRowGo(out, base []float32, offs []int, w []float32, ep *kernEpi) {
	var b float32
	if ep.flags&epBias != 0 {
		b = *ep.bias
	}
	for j := range out {
		out[j] = b
	}
	for t, o := range offs {
		src := base[o : o+len(out)]
		wv := w[t]
		for j := range out {
			out[j] += wv * src[j]
		}
	}
	if ep.flags&epClamp != 0 {
		vecClampGo(out, out, ep.lo, ep.hi)
	}
}

// tapRowsGo is tapRowGo over rows of out (ostride apart) and of base
// (istride apart):
//
//	for r < rows: tapRowGo(out[r*ostride:][:n], base[r*istride:], offs, w, ep)
func tapRowsGo(out []float32, n, rows, ostride int, base []float32, istride int, offs []int, w []float32, ep *kernEpi) {
	for r := 0; r < rows; r++ {
		tapRowGo(out[r*ostride:r*ostride+n], base[r*istride:], offs, w, ep)
	}
}

// tapRow is one row of tapRows.
func tapRow(out, base []float32, offs []int, w []float32, ep *kernEpi) {
	tapRows(out, len(out), 1, 0, base, 0, offs, w, ep)
}

// tapMaxRowGo is the maximum over ntaps ≥ 1 shifted rows of a plane; a NaN
// among them gives NaN:
//
//	for j < len(out): out[j] = max over t of base[offs[t]+j]
func tapMaxRowGo(out, base []float32, offs []int) {
	copy(out, base[offs[0]:offs[0]+len(out)])
	for _, o := range offs[1:] {
		src := base[o : o+len(out)]
		for j, v := range src {
			if v > out[j] || v != v {
				out[j] = v
			}
		}
	}
}
