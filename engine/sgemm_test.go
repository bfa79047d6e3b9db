package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

func TestSgemmMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 4, 4}, {6, 16, 3}, {17, 33, 300}, {64, 129, 257}, {70, 600, 20}, {5, 1, 9}, {150, 40, 600}}
	for _, sz := range sizes {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, beta := range []float32{0, 1, 0.5} {
				for _, threads := range []int{1, 3} {
					m, n, k := sz[0], sz[1], sz[2]
					a, b := randSlice(r, m*k), randSlice(r, k*n)
					lda, ldb := k, n
					if tr[0] {
						lda = m
					}
					if tr[1] {
						ldb = k
					}
					c0 := randSlice(r, m*n)
					want := append([]float32{}, c0...)
					sgemmRef(tr[0], tr[1], m, n, k, 1.5, a, lda, b, ldb, beta, want, n)
					for _, kern := range kernels() {
						got := append([]float32{}, c0...)
						sgemmWith(kern, tr[0], tr[1], m, n, k, 1.5, a, lda, b, ldb, beta, got, n, threads)
						for i := range want {
							if d := math.Abs(float64(want[i] - got[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
								t.Fatalf("%s %v trans=%v beta=%v threads=%d: c[%d] = %v, reference %v", kern.name, sz, tr, beta, threads, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// kernels lists the micro-kernels this machine can run.
func kernels() []*microKernel {
	return append([]*microKernel{goKernel}, simdKernels...)
}

func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{64, 3136, 576}, {256, 196, 2304}, {1000, 1, 512}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		for _, kern := range kernels() {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%dx%dx%d/threads=%d", kern.name, m, n, k, threads), func(b *testing.B) {
					b.SetBytes(int64(4 * (m*k + k*n + m*n)))
					b.ReportAllocs()
					for b.Loop() {
						sgemmWith(kern, false, false, m, n, k, 1, a, k, bb, n, 0, c, n, threads)
					}
					b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
				})
			}
		}
	}
}

// TestGemmPackedEpilogue checks every kernel's fused epilogue (accumulate
// into C, per-row bias, clamp) against the reference product followed by
// the same steps done separately.
func TestGemmPackedEpilogue(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][3]int{{12, 32, 5}, {25, 70, 300}, {7, 3, 600}, {36, 64, 256}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, b, c0, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m*n), randSlice(r, m)
		for _, v := range []struct{ accum, bias, clamp bool }{{false, false, false}, {true, false, false}, {false, true, false}, {false, false, true}, {true, true, true}} {
			want := append([]float32{}, c0...)
			beta := float32(0)
			if v.accum {
				beta = 1
			}
			sgemmRef(false, false, m, n, k, 1, a, k, b, n, beta, want, n)
			var bs []float32
			var act *clampAct
			if v.bias {
				bs = bias
				for i := range want {
					want[i] += bias[i/n]
				}
			}
			if v.clamp {
				act = &clampAct{lo: -1, hi: 1.5}
				act.apply(want)
			}
			for _, kern := range kernels() {
				for _, threads := range []int{1, 2} {
					// C has 3 more columns than the product: they must
					// stay as they are.
					ldc := n + 3
					got := make([]float32, m*ldc)
					for i := range got {
						got[i] = 7
					}
					for i := 0; i < m; i++ {
						copy(got[i*ldc:i*ldc+n], c0[i*n:(i+1)*n])
					}
					pa := packAll(kern, false, m, k, 1, a, k, nil)
					gemmPacked(pa, false, n, b, n, got, ldc, v.accum, bs, nil, act, threads)
					for i := range got {
						r, j := i/ldc, i%ldc
						w := float32(7)
						if j < n {
							w = want[r*n+j]
						}
						if d := math.Abs(float64(w - got[i])); d > 1e-4*(1+math.Abs(float64(w))) || math.IsNaN(float64(got[i])) {
							t.Fatalf("%s %v %+v threads=%d: c[%d,%d] = %v, reference %v", kern.name, sz, v, threads, r, j, got[i], w)
						}
					}
				}
			}
		}
	}
}

// BenchmarkMicroKernel runs each micro-kernel on one packed panel pair
// that stays in L1 (kc = gemmKC): its GFLOPS is the machine's SGEMM peak
// for that kernel, the ceiling the per-layer figures are read against
// (bench/kernels_vs_ort.sh).
func BenchmarkMicroKernel(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 3))
	for _, kern := range kernels() {
		kc := gemmKC
		a, bp := randSlice(r, kern.mr*kc), randSlice(r, kc*kern.nr)
		c := make([]float32, kern.mr*kern.nr)
		ep := kernEpi{flags: epAccum, rows: int32(kern.mr), mask: 1<<kern.nr - 1}
		b.Run(kern.name, func(b *testing.B) {
			for b.Loop() {
				kern.run(kc, a, bp, c, kern.nr, &ep)
			}
			b.ReportMetric(float64(2*kern.mr*kern.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// TestGemmPackedResidual: gemmPacked with a residual R (epResid) and a
// clamp gives, on every kernel and edge, the bits of the product stored
// without them and R added and clamped after.
func TestGemmPackedResidual(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][3]int{{12, 32, 5}, {25, 70, 300}, {7, 3, 600}, {36, 64, 256}, {8, 12, 17}} {
		m, n, k := sz[0], sz[1], sz[2]
		ldc := n + 3
		a, b, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m)
		res := randSlice(r, m*ldc)
		c0 := randSlice(r, m*ldc)
		for _, accum := range []bool{false, true} {
			for _, act := range []*clampAct{nil, {lo: 0, hi: float32(math.Inf(1))}} {
				for _, kern := range kernels() {
					for _, threads := range []int{1, 2} {
						pa := packAll(kern, false, m, k, 1, a, k, nil)
						want := append([]float32{}, c0...)
						gemmPacked(pa, false, n, b, n, want, ldc, accum, bias, nil, nil, threads)
						for i := 0; i < m; i++ {
							row := want[i*ldc : i*ldc+n]
							vecAddGo(row, row, res[i*ldc:i*ldc+n])
							act.apply(row)
						}
						got := append([]float32{}, c0...)
						gemmPacked(pa, false, n, b, n, got, ldc, accum, bias, res, act, threads)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s %v accum=%v act=%v threads=%d: c[%d,%d] = %v, unfused %v", kern.name, sz, accum, act != nil, threads, i/ldc, i%ldc, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestGemmPackedSplitBitwise: however gemmPacked cuts C into blocks for
// its threads (panels shared out evenly, a multiple of threads of blocks,
// rows split when the columns are few), every element is written, once,
// with the bits of the 1-thread product. The sizes include PP-OCR det's
// 20² maps (400 columns, 12½ panels of 32) and 80² (6400).
func TestGemmPackedSplitBitwise(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][3]int{{192, 400, 192}, {48, 6400, 32}, {12, 6400, 48}, {24, 100, 300}, {9, 33, 7}, {16, 1000, 5}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, b, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m)
		for _, kern := range kernels() {
			pa := packAll(kern, false, m, k, 1, a, k, nil)
			want := make([]float32, m*n)
			gemmPacked(pa, false, n, b, n, want, n, false, bias, nil, nil, 1)
			for _, threads := range []int{2, 3, 4} {
				got := make([]float32, m*n)
				for i := range got {
					got[i] = float32(math.NaN())
				}
				gemmPacked(pa, false, n, b, n, got, n, false, bias, nil, nil, threads)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s %v, %d threads: c[%d] = %v, 1 thread %v", kern.name, sz, threads, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestGemmPackedRowsSplit: where the columns are a few panels the threads
// cannot share evenly (gemmRowsSplit: a 14² map's 196 columns), the rows
// are split instead, and the product (bias, residual, clamp) has the bits
// of one thread on 2 and 3, within rounding of the reference; likewise
// split by rows when asked (gemmPackedSplit), column blocks beyond
// gemmNC included.
func TestGemmPackedRowsSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	// With 32-column panels (AVX-512), the first two (14², 7 panels) and
	// the third (100 columns, 4 panels, 3 threads) split rows; 49 columns
	// (7², 2 panels) do not at 2 threads.
	for _, sz := range [][3]int{{96, 196, 576}, {384, 196, 64}, {96, 100, 40}, {72, 49, 30}, {192, 784, 32}, {40, 1100, 20}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, b, bias, res := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m), randSlice(r, m*n)
		act := &clampAct{lo: -1, hi: 1.5}
		want := make([]float32, m*n)
		sgemmRef(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
		for i := range want {
			want[i] = min(max(want[i]+bias[i/n]+res[i], -1), 1.5)
		}
		for _, kern := range kernels() {
			split := gemmRowsSplit(n, kern.nr, (m+kern.mr-1)/kern.mr, 2)
			if kern.nr == 32 && kern.mr == 8 && n <= gemmNC && split != (n == 196) {
				t.Fatalf("%s %v: gemmRowsSplit at 2 threads %v, want %v", kern.name, sz, split, n == 196)
			}
			if kern.nr == 32 && kern.mr == 8 && !gemmRowsSplit(n, kern.nr, (m+kern.mr-1)/kern.mr, 3) && n == 100 {
				t.Fatalf("%s %v: no rows split at 3 threads", kern.name, sz)
			}
			pa := packAll(kern, false, m, k, 1, a, k, nil)
			var one []float32
			for _, threads := range []int{1, 2, 3, -2, -3} {
				// Negative: gemmPackedSplit by rows on that many threads.
				got := make([]float32, m*n)
				gemmPackedSplit(pa, false, n, b, n, got, n, false, bias, res, act, max(threads, -threads), threads < 0)
				for i := range got {
					if d := math.Abs(float64(want[i] - got[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("%s %v threads=%d: c[%d] = %v, reference %v", kern.name, sz, threads, i, got[i], want[i])
					}
				}
				if one == nil {
					one = got
					continue
				}
				for i := range got {
					if got[i] != one[i] {
						t.Fatalf("%s %v: c[%d] = %v on %d threads, %v on 1 (rows split %v)", kern.name, sz, i, got[i], threads, one[i], split)
					}
				}
			}
		}
	}
}
