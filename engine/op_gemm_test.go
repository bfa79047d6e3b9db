package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmFewRowsMatchesReference checks the vector-matrix path of Gemm
// (few rows of A) against sgemmRef, with and without transB, alpha and C.
func TestGemmFewRowsMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, m := range []int{1, 3, gemvRows + 1} {
		for _, transB := range []bool{false, true} {
			for _, withC := range []bool{false, true} {
				t.Run(fmt.Sprintf("m=%d/transB=%v/C=%v", m, transB, withC), func(t *testing.T) {
					n, kk := 37, 70
					k := &gemmKernel{m: m, n: n, k: kk, transB: transB, alpha: 0.5, beta: 1.5}
					if !transB && m <= gemvRows {
						for p := 0; p < kk; p++ {
							k.rowOffs = append(k.rowOffs, p*n)
						}
					}
					a, b, c := randSlice(r, m*kk), randSlice(r, kk*n), randSlice(r, n)
					in := []*data{{f: a}, {f: b}}
					want := make([]float32, m*n)
					if withC {
						k.cb = newBcast([]int{m, n}, []int{n})
						in = append(in, &data{f: c})
						for i := range want {
							want[i] = 1.5 * c[i%n]
						}
					}
					ldb := n
					if transB {
						ldb = kk
					}
					beta := float32(0)
					if withC {
						beta = 1
					}
					sgemmRef(false, transB, m, n, kk, 0.5, a, kk, b, ldb, beta, want, n)
					got := &data{f: make([]float32, m*n)}
					fill(got.f, 1e9)
					k.forward(&exec{threads: 1, scratch: make([]float32, n)}, in, []*data{got})
					for i := range want {
						if d := math.Abs(float64(want[i] - got.f[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("[%d] = %v, reference %v", i, got.f[i], want[i])
						}
					}
				})
			}
		}
	}
}
