//go:build !purego

package engine

import (
	"math/rand/v2"
	"testing"

	"github.com/edgeprune/edgeprune/sparse"
)

// TestNEONKernelsSelected checks that an arm64 build runs the NEON kernels
// (so the kernel tests under qemu-aarch64 test them, not the Go loops) and
// that Kernels reports them.
func TestNEONKernelsSelected(t *testing.T) {
	if activeKernel() != neonKernel || neonKernel.name != "neon-8x12" {
		t.Fatalf("active SGEMM kernel %q, want neon-8x12", activeKernel().name)
	}
	want := map[string]string{"sgemm": "neon-8x12", "elementwise": "neon", "taps": "neon", "sigmoid": "neon", "spmm": "neon"}
	for _, k := range Kernels() {
		if want[k.Class] != k.Name {
			t.Errorf("Kernels: %s %s, want %s", k.Class, k.Name, want[k.Class])
		}
	}
	if got := KernelSummary(); got != "sgemm neon-8x12, elementwise neon, taps neon, sigmoid neon, spmm neon" {
		t.Errorf("KernelSummary() = %q", got)
	}
}

// TestSpmmNEONEveryWidth checks the NEON spmm kernels (op_sparse_arm64.s)
// through their hooks against spmmRef for every chunk width 1…64 (each
// tile of 64, 32, 16, 8, 4 and 1 column) and wider ones, rows without
// nonzeros, bias or none, accumulation, and that nothing past the
// w columns of a row is written.
func TestSpmmNEONEveryWidth(t *testing.T) {
	if spmmRows == nil || spmmGroup4 == nil {
		t.Fatal("the NEON spmm kernels are not installed")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	const rows, cols = 9, 23
	wt := randSparse(rng, rows, cols, 0.4)
	for c := range cols {
		wt[4*cols+c] = 0 // a row without nonzeros
	}
	a := sparse.EncodeCSR(wt, rows, cols)
	// Four rows sharing row 0's columns, for spmmGroup4.
	g := make([]float32, 4*cols)
	for r := range 4 {
		for c := range cols {
			if wt[c] != 0 {
				g[r*cols+c] = float32(rng.NormFloat64())
			}
		}
	}
	ga := sparse.EncodeCSR(g, 4, cols)
	gnz := int(ga.RowPtr[1])
	for _, w := range append(func() (ws []int) {
		for w := 1; w <= 64; w++ {
			ws = append(ws, w)
		}
		return ws
	}(), 65, 99, 130) {
		ldx, ldd := w+5, w+3
		x := randVec(rng, cols*ldx)
		for _, bias := range [][]float32{nil, randVec(rng, rows)} {
			for _, accum := range []bool{false, true} {
				init := randVec(rng, rows*ldd)
				want, got := append([]float32{}, init...), append([]float32{}, init...)
				spmmRef(want, ldd, a, x, ldx, w, bias, accum, nil)
				if accum {
					for r := range rows {
						b := float32(0)
						if bias != nil {
							b = bias[r]
						}
						k0, k1 := a.RowPtr[r], a.RowPtr[r+1]
						spmmRow(got[r*ldd:r*ldd+w], x, ldx, a.Values[k0:k1], a.ColIdx[k0:k1], b, true)
					}
				} else {
					var bias1 []float32
					if bias != nil {
						bias1 = bias[1:]
					}
					spmmRows(got[ldd:], ldd, x, ldx, a, a.RowPtr[1:rows+1], 1, rows-1, w, bias1, false)
					b := float32(0)
					if bias != nil {
						b = bias[0]
					}
					spmmRow(got[:w], x, ldx, a.Values[:a.RowPtr[1]], a.ColIdx[:a.RowPtr[1]], b, false)
				}
				for i := range got {
					if i%ldd >= w && got[i] != init[i] {
						t.Fatalf("w %d accum %v: wrote element %d of row %d, past the chunk", w, accum, i%ldd, i/ldd)
					}
				}
				if e := worstErr(got, want); e > 1e-5 {
					t.Fatalf("w %d bias %v accum %v: spmmRow/spmmRows vs reference: %g", w, bias != nil, accum, e)
				}
			}
			if w > 64 {
				continue // spmmGroup4 takes at most one chunk
			}
			init := randVec(rng, 4*ldd)
			want, got := append([]float32{}, init...), append([]float32{}, init...)
			var gb []float32
			if bias != nil {
				gb = bias[:4]
			}
			spmmRef(want, ldd, ga, x, ldx, w, gb, false, nil)
			spmmGroup4(got, ldd, x, ldx, ga.Values, gnz, ga.ColIdx[:gnz], w, gb)
			for i := range got {
				if i%ldd >= w && got[i] != init[i] {
					t.Fatalf("w %d: spmmGroup4 wrote element %d of row %d, past the chunk", w, i%ldd, i/ldd)
				}
			}
			if e := worstErr(got, want); e > 1e-5 {
				t.Fatalf("w %d bias %v: spmmGroup4 vs reference: %g", w, bias != nil, e)
			}
		}
	}
}

// TestNEONPartialKernel checks the NEON kernel's partial contract (the
// swapped convolution relies on it): for every rows × cols edge, with each
// epilogue, it stores the product's rows × cols part as the reference loop
// computes it and touches nothing else of C.
func TestNEONPartialKernel(t *testing.T) {
	if !neonKernel.partial {
		t.Fatal("neon-8x12 is not partial")
	}
	rng := rand.New(rand.NewPCG(23, 24))
	const kc, ldc = 5, 15
	a, b := randVec(rng, 8*kc), randVec(rng, 12*kc)
	bias := randVec(rng, 8)
	for rows := 1; rows <= 8; rows++ {
		for cols := 1; cols <= 12; cols++ {
			for _, flags := range []int{0, epAccum, epBias, epAccum | epBias | epClamp} {
				c := randVec(rng, 8*ldc)
				want := append([]float32{}, c...)
				for r := range rows {
					for q := range cols {
						var s float32
						for p := range kc {
							s += a[p*8+r] * b[p*12+q]
						}
						if flags&epAccum != 0 {
							s += want[r*ldc+q]
						}
						if flags&epBias != 0 {
							s += bias[r]
						}
						if flags&epClamp != 0 {
							s = min(max(s, -0.5), 0.5)
						}
						want[r*ldc+q] = s
					}
				}
				ep := kernEpi{flags: flags, lo: -0.5, hi: 0.5, rows: int32(rows), mask: 1<<cols - 1}
				if flags&epBias != 0 {
					ep.bias, ep.biasS = &bias[0], bias[:rows]
				}
				neonKernel.run(kc, a, b, c, ldc, &ep)
				for i := range c {
					r, q := i/ldc, i%ldc
					if r >= rows || q >= cols {
						if c[i] != want[i] {
							t.Fatalf("rows %d cols %d flags %d: wrote C[%d][%d] outside the block", rows, cols, flags, r, q)
						}
						continue
					}
					if d := float64(c[i] - want[i]); d > 1e-5 || d < -1e-5 {
						t.Fatalf("rows %d cols %d flags %d: C[%d][%d] = %v, reference %v", rows, cols, flags, r, q, c[i], want[i])
					}
				}
			}
		}
	}
}
