package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestVecMatchesReference checks the elementwise kernels in use (assembly
// on AVX-512 machines) against the Go loops, at lengths around the vector
// widths and tails, and that nothing past len(dst) is written.
func TestVecMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 3, 15, 16, 17, 63, 64, 65, 100, 200} {
		a, b := randSlice(r, n+1), randSlice(r, n+1)
		a[n/2] = float32(math.NaN())
		s := r.Float32()
		check := func(name string, got, want []float32) {
			t.Helper()
			for i := range want {
				if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
					t.Fatalf("%s n=%d: [%d] = %v, reference %v", name, n, i, got[i], want[i])
				}
			}
		}
		run := func(name string, f, ref func(dst []float32)) {
			t.Helper()
			got, want := make([]float32, n+1), make([]float32, n+1)
			got[n], want[n] = 7, 7 // the sentinel past the end must survive
			f(got[:n])
			ref(want[:n])
			check(name, got, want)
		}
		run("add", func(d []float32) { vecAdd(d, a, b) }, func(d []float32) { vecAddGo(d, a, b) })
		run("sub", func(d []float32) { vecSub(d, a, b) }, func(d []float32) { vecSubGo(d, a, b) })
		run("mul", func(d []float32) { vecMul(d, a, b) }, func(d []float32) { vecMulGo(d, a, b) })
		run("adds", func(d []float32) { vecAddScalar(d, a, s) }, func(d []float32) { vecAddScalarGo(d, a, s) })
		run("muls", func(d []float32) { vecMulScalar(d, a, s) }, func(d []float32) { vecMulScalarGo(d, a, s) })
		run("div", func(d []float32) { vecDiv(d, a, b) }, func(d []float32) { vecDivGo(d, a, b) })
		run("divs", func(d []float32) { vecDivScalar(d, a, s) }, func(d []float32) { vecDivScalarGo(d, a, s) })
		run("scaleshift", func(d []float32) { vecScaleShift(d, a, s, -0.5) }, func(d []float32) { vecScaleShiftGo(d, a, s, -0.5) })
		run("clamp", func(d []float32) { vecClamp(d, a, -0.5, 0.25) }, func(d []float32) { vecClampGo(d, a, -0.5, 0.25) })
		// The sum is checked against a float64 sum (its order differs).
		var ref float64
		for _, v := range b[:n] {
			ref += float64(v)
		}
		if got := vecSum(b[:n]); math.Abs(float64(got)-ref) > 1e-5*float64(n) {
			t.Fatalf("sum n=%d: %v, float64 reference %v", n, got, ref)
		}
		var dref float64
		for i := range n {
			if i != n/2 {
				dref += float64(a[i]) * float64(b[i])
			}
		}
		a[n/2] = 0 // no NaN for the dot product
		if got := vecDot(a[:n], b[:n]); math.Abs(float64(got)-dref) > 1e-5*float64(n) {
			t.Fatalf("dot n=%d: %v, float64 reference %v", n, got, dref)
		}
		// Clamping is a property too: every non-NaN result lies in range.
		got := make([]float32, n)
		vecClamp(got, a, -0.5, 0.25)
		for i, v := range got {
			if v < -0.5 || v > 0.25 {
				t.Fatalf("clamp n=%d: [%d] = %v outside [-0.5, 0.25]", n, i, v)
			}
		}
	}
}

func TestTapRowsMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 7, 16, 30, 64, 100, 150} {
		for _, ntaps := range []int{1, 9, 25} {
			for _, flags := range []int{0, epBias, epClamp, epBias | epClamp} {
				for _, rows := range []int{1, 3} {
					ostride, istride := n+2, n+5
					base := randSlice(r, (rows-1)*istride+n+3*ntaps)
					offs := make([]int, ntaps)
					for i := range offs {
						offs[i] = r.IntN(3 * ntaps)
					}
					w := randSlice(r, ntaps)
					bias := r.Float32()
					ep := &kernEpi{flags: flags, bias: &bias, lo: -0.5, hi: 0.75}
					got, want := make([]float32, rows*ostride), make([]float32, rows*ostride)
					for i := range got {
						got[i], want[i] = 7, 7 // the gaps between rows must survive
					}
					tapRows(got, n, rows, ostride, base, istride, offs, w, ep)
					tapRowsGo(want, n, rows, ostride, base, istride, offs, w, ep)
					for i := range want {
						if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("n=%d taps=%d flags=%d rows=%d: [%d] = %v, reference %v", n, ntaps, flags, rows, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

func TestTapMaxRowMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 8))
	for _, n := range []int{1, 7, 16, 30, 64, 100, 150} {
		for _, ntaps := range []int{1, 4, 9} {
			for _, nan := range []int{-1, 0, 1} { // where a NaN is: nowhere, first tap, a later tap
				base := randSlice(r, n+3*ntaps)
				offs := make([]int, ntaps)
				for i := range offs {
					offs[i] = r.IntN(3 * ntaps)
				}
				if nan >= 0 && nan < ntaps {
					base[offs[nan]+n/2] = float32(math.NaN())
				}
				got, want := make([]float32, n+1), make([]float32, n+1)
				got[n], want[n] = 7, 7
				tapMaxRow(got[:n], base, offs)
				tapMaxRowGo(want[:n], base, offs)
				for i := range want {
					if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
						t.Fatalf("n=%d taps=%d nan=%d: [%d] = %v, reference %v", n, ntaps, nan, i, got[i], want[i])
					}
				}
				if nan >= 0 && nan < ntaps && !math.IsNaN(float64(got[n/2])) {
					t.Fatalf("n=%d taps=%d: NaN in tap %d did not give NaN", n, ntaps, nan)
				}
			}
		}
	}
}

func TestPackB12MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, cols := range []int{1, 4, 11, 12} {
		for _, kc := range []int{1, 5} {
			ldb := 20
			// b ends right after the last row's cols, as for packB32.
			b := randSlice(r, (kc-1)*ldb+cols)
			got, want := randSlice(r, 12*kc), make([]float32, 12*kc)
			packB12(got, b, ldb, kc, cols)
			packB12Go(want, b, ldb, kc, cols)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("cols %d kc %d: [%d] = %v, reference %v", cols, kc, i, got[i], want[i])
				}
			}
		}
	}
}

func TestPackB32MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, cols := range []int{1, 15, 16, 17, 31, 32} {
		kc, ldb := 5, 40
		// b ends right after the last row's cols: reading past them would
		// panic in the wrapper or fault.
		b := randSlice(r, (kc-1)*ldb+cols)
		got, want := randSlice(r, 32*kc), make([]float32, 32*kc)
		packB32(got, b, ldb, kc, cols)
		packB32Go(want, b, ldb, kc, cols)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("cols %d: [%d] = %v, reference %v", cols, i, got[i], want[i])
			}
		}
	}
}

func TestPackA8MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for rows := 1; rows <= 8; rows++ {
		kc, lda := 6, 11
		a := randSlice(r, (kc-1)*lda+rows) // ends right after the last row read
		got, want := randSlice(r, 8*kc), make([]float32, 8*kc)
		packA8(got, a, lda, kc, rows)
		packA8Go(want, a, lda, kc, rows)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("rows %d: [%d] = %v, reference %v", rows, i, got[i], want[i])
			}
		}
	}
}

func TestDeinterleaveMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{1, 15, 16, 17, 40, 56} {
		src := randSlice(r, 2*n+1)
		ge, go_ := make([]float32, n+1), make([]float32, n+1)
		we, wo := make([]float32, n+1), make([]float32, n+1)
		ge[n], go_[n], we[n], wo[n] = 7, 7, 7, 7
		deinterleave(ge[:n], go_[:n], src)
		deinterleaveGo(we[:n], wo[:n], src)
		for i := range we {
			if ge[i] != we[i] || go_[i] != wo[i] {
				t.Fatalf("n=%d: [%d] = %v %v, reference %v %v", n, i, ge[i], go_[i], we[i], wo[i])
			}
		}
	}
}

// TestSigmoidMatchesReference compares vecSigmoid with the float64
// reference over a wide range (both tails, ±0, ±Inf, NaN) and checks it is
// monotone and within [0, 1].
func TestSigmoidMatchesReference(t *testing.T) {
	var xs []float32
	for x := float32(-120); x <= 120; x += 0.0137 {
		xs = append(xs, x)
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-8, -1e-8, 3.4e38, -3.4e38)
	got, want := make([]float32, len(xs)+1), make([]float32, len(xs)+1)
	got[len(xs)], want[len(xs)] = 7, 7
	vecSigmoid(got[:len(xs)], xs)
	vecSigmoidGo(want[:len(xs)], xs)
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) != math.IsNaN(g) || math.Abs(g-w) > 1e-6*math.Max(w, 1e-30)+1e-38 {
			t.Fatalf("sigmoid(%v) = %v, reference %v", xs[min(i, len(xs)-1)], g, w)
		}
	}
	for i := 1; i < len(xs) && xs[i] > xs[i-1]; i++ {
		if got[i] < got[i-1] || got[i] < 0 || got[i] > 1 {
			t.Fatalf("sigmoid not monotone in [0, 1] at %v: %v after %v", xs[i], got[i], got[i-1])
		}
	}
}

func BenchmarkVec(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{49, 3136, 50176} {
		x, y, d := randSlice(r, n), randSlice(r, n), make([]float32, n)
		b.Run(fmt.Sprintf("add/%d", n), func(b *testing.B) {
			b.SetBytes(int64(12 * n))
			b.ReportAllocs()
			for b.Loop() {
				vecAdd(d, x, y)
			}
		})
		b.Run(fmt.Sprintf("clamp/%d", n), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			b.ReportAllocs()
			for b.Loop() {
				vecClamp(d, x, 0, 6)
			}
		})
		// The Go loops beside them, for the speed-up of the kernels in use
		// (engine.Kernels) in one run.
		b.Run(fmt.Sprintf("add-go/%d", n), func(b *testing.B) {
			b.SetBytes(int64(12 * n))
			b.ReportAllocs()
			for b.Loop() {
				vecAddGo(d, x, y)
			}
		})
		b.Run(fmt.Sprintf("clamp-go/%d", n), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			b.ReportAllocs()
			for b.Loop() {
				vecClampGo(d, x, 0, 6)
			}
		})
	}
}
