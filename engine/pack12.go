package engine

// packB12 packs a 12-wide panel of B for the NEON micro-kernel (nr = 12):
// the NEON version on arm64 (vec_arm64.go), else packB12Go.
var packB12 = packB12Go

// packB12Go copies kc rows of cols ≤ 12 floats (row stride ldb) into a
// packed 12-wide panel, zero-padding each row:
//
//	for p < kc, q < 12: dst[p*12+q] = b[p*ldb+q] if q < cols, else 0
func packB12Go(dst, b []float32, ldb, kc, cols int) {
	for p := 0; p < kc; p++ {
		d := dst[p*12 : p*12+12]
		copy(d, b[p*ldb:p*ldb+cols])
		clear(d[cols:])
	}
}
