package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSwTapsKernel checks the swapped implicit path's kernel against its
// reference loop, for every rows/columns limit and with and without epAccum,
// and that it writes nothing outside its rows and columns.
func TestSwTapsKernel(t *testing.T) {
	if swTapsKernel == nil {
		t.Skip("no swapped implicit kernel on this CPU (AVX-512 only)")
	}
	r := rand.New(rand.NewPCG(7, 8))
	base := randSlice(r, 500)
	for _, kc := range []int{1, 7, 64, 193} {
		for _, c := range []struct {
			rows int32
			mask uint32
			acc  bool
		}{{8, 1<<32 - 1, false}, {8, 1<<32 - 1, true}, {3, 1<<32 - 1, false}, {8, 1<<5 - 1, true}, {1, 1<<20 - 1, true}, {5, 1<<17 - 1, false}} {
			t.Run(fmt.Sprintf("kc=%d/rows=%d/mask=%x/acc=%v", kc, c.rows, c.mask, c.acc), func(t *testing.T) {
				pos := make([]int, 8)
				for i := range pos {
					pos[i] = r.IntN(200)
				}
				offs := make([]int, kc)
				for i := range offs {
					offs[i] = r.IntN(300)
				}
				b := randSlice(r, 32*kc)
				const ldc = 37
				got := randSlice(r, 8*ldc)
				want := append([]float32(nil), got...)
				ep := kernEpi{rows: c.rows, mask: c.mask}
				if c.acc {
					ep.flags = epAccum
				}
				swTapsRef(kc, pos, base, offs, b, want, ldc, &ep, nil, 0)
				swTapsKernel(kc, pos, base, offs, b, got, ldc, &ep, nil, 0)
				for i := range got {
					d := got[i] - want[i]
					if d < 0 {
						d = -d
					}
					if d > 1e-4*float32(kc+1) {
						t.Fatalf("C[%d,%d] = %v, want %v", i/ldc, i%ldc, got[i], want[i])
					}
				}
			})
		}
	}
}

// TestSwTapsKernelTransposed checks the kernel's transposed store (epSwT)
// against the reference, with every combination of its flags, and that it
// leaves C and the rest of the output alone.
func TestSwTapsKernelTransposed(t *testing.T) {
	if swTapsKernel == nil {
		t.Skip("no swapped implicit kernel on this CPU (AVX-512 only)")
	}
	r := rand.New(rand.NewPCG(9, 10))
	base := randSlice(r, 500)
	bias := randSlice(r, 32)
	for _, kc := range []int{1, 9, 150} {
		for fl := 0; fl < 16; fl++ { // epAccum, epBias, epClamp, epResid
			t.Run(fmt.Sprintf("kc=%d/flags=%d", kc, fl), func(t *testing.T) {
				pos := make([]int, 8)
				for i := range pos {
					pos[i] = r.IntN(200)
				}
				offs := make([]int, kc)
				for i := range offs {
					offs[i] = r.IntN(300)
				}
				b := randSlice(r, 32*kc)
				const ldc, ldo = 33, 11
				c := randSlice(r, 8*ldc)
				c0 := append([]float32(nil), c...)
				got := randSlice(r, 32*ldo)
				want := append([]float32(nil), got...)
				ep := kernEpi{flags: fl | epSwT, rows: 8, mask: 1<<32 - 1, lo: -0.5, hi: 0.75}
				ep.bias, ep.biasS = &bias[0], bias
				resid := randSlice(r, 32*ldo)
				resid[3*ldo+5] = float32(math.NaN()) // stays NaN through the clamp
				ep.residS = resid
				swTapsRef(kc, pos, base, offs, b, c, ldc, &ep, want, ldo)
				swTapsKernel(kc, pos, base, offs, b, c, ldc, &ep, got, ldo)
				for i := range c {
					if c[i] != c0[i] {
						t.Fatalf("C[%d] written", i)
					}
				}
				for i := range got {
					if math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
						t.Fatalf("o[%d,%d] = %v, want %v", i/ldo, i%ldo, got[i], want[i])
					}
					d := got[i] - want[i]
					if d < 0 {
						d = -d
					}
					if d > 1e-4*float32(kc+1) {
						t.Fatalf("o[%d,%d] = %v, want %v", i/ldo, i%ldo, got[i], want[i])
					}
				}
			})
		}
	}
}
