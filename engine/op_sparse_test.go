package engine

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/sparse"
)

// randSparse returns a rows × cols dense matrix with about density of its
// elements nonzero.
func randSparse(rng *rand.Rand, rows, cols int, density float64) []float32 {
	d := make([]float32, rows*cols)
	for i := range d {
		if rng.Float64() < density {
			d[i] = float32(rng.NormFloat64())
		}
	}
	return d
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// closeTo reports the worst |got−want| over max(1, max|want|).
func worstErr(got, want []float32) float64 {
	scale := 1.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	worst := 0.0
	for i := range got {
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
	}
	return worst / scale
}

// TestSpmm checks spmm (assembly where present) against spmmRef, and
// spmmRef against the dense product (the property: CSR·X = dense·X), for
// widths around the chunk and its 16-lane vectors, weights with and
// without column blocks (more than spmmKBlockMin columns), with bias,
// accumulation and a clamp.
func TestSpmm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{1, 1, 1}, {7, 13, 5}, {5, 30, 20}, {12, 260, 40}, {33, 40, 64}, {16, 100, 65}, {9, 70, 130}, {24, 400, 100}, {64, 300, 200}} {
		rows, cols, n := sz[0], sz[1], sz[2]
		for _, density := range []float64{0, 0.05, 0.5, 1} {
			w := randSparse(rng, rows, cols, density)
			a := sparse.EncodeCSR(w, rows, cols)
			s := newSpWeight(a)
			ldx := n + 3
			x := randVec(rng, cols*ldx)
			bias := randVec(rng, rows)
			for _, accum := range []bool{false, true} {
				for _, act := range []*clampAct{nil, {lo: 0, hi: float32(math.Inf(1))}} {
					ldd := n + 1
					init := randVec(rng, rows*ldd)
					want := append([]float32{}, init...)
					dense := append([]float32{}, init...)
					got := append([]float32{}, init...)
					spmmRef(want, ldd, a, x, ldx, n, bias, accum, act)
					for r := 0; r < rows; r++ {
						for j := 0; j < n; j++ {
							var acc float64
							if accum {
								acc = float64(dense[r*ldd+j])
							} else {
								acc = float64(bias[r])
							}
							for c := 0; c < cols; c++ {
								acc += float64(w[r*cols+c]) * float64(x[c*ldx+j])
							}
							v := float32(acc)
							if act != nil {
								v = max(v, act.lo)
							}
							dense[r*ldd+j] = v
						}
					}
					s.spmm(got, ldd, x, ldx, n, bias, accum, act, 2)
					if e := worstErr(want, dense); e > 1e-5 {
						t.Fatalf("%v density %v accum %v: reference vs dense: %g", sz, density, accum, e)
					}
					if e := worstErr(got, want); e > 1e-5 {
						t.Fatalf("%v density %v accum %v: spmm vs reference: %g", sz, density, accum, e)
					}
					for r := 0; r < rows; r++ {
						if got[r*ldd+n] != init[r*ldd+n] {
							t.Fatalf("%v: spmm wrote past column %d of row %d", sz, n, r)
						}
					}
				}
			}
		}
	}
}

// TestSpmv checks spmv against spmvRef and the dense product.
func TestSpmv(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][2]int{{1, 1}, {5, 15}, {10, 17}, {300, 784}, {40, 33}} {
		rows, cols := sz[0], sz[1]
		for _, density := range []float64{0, 0.1, 0.6, 1} {
			w := randSparse(rng, rows, cols, density)
			a := sparse.EncodeCSR(w, rows, cols)
			s := newSpWeight(a)
			x, bias := randVec(rng, cols), randVec(rng, rows)
			for _, accum := range []bool{false, true} {
				init := randVec(rng, rows)
				want, got, dense := append([]float32{}, init...), append([]float32{}, init...), make([]float32, rows)
				spmvRef(want, a, x, bias, accum)
				s.spmv(got, x, bias, accum, 2)
				a.MulVec(dense, x)
				for r := range dense {
					if accum {
						dense[r] += init[r]
					} else {
						dense[r] += bias[r]
					}
				}
				if e := worstErr(want, dense); e > 1e-5 {
					t.Fatalf("%v density %v: reference vs CSR.MulVec: %g", sz, density, e)
				}
				if e := worstErr(got, want); e > 1e-5 {
					t.Fatalf("%v density %v: spmv vs reference: %g", sz, density, e)
				}
			}
		}
	}
}

func TestTransposeCSRAndPattern(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	w := randSparse(rng, 12, 20, 0.3)
	a := sparse.EncodeCSR(w, 12, 20)
	at := transposeCSR(a)
	if err := at.Validate(); err != nil {
		t.Fatal(err)
	}
	d := make([]float32, 240)
	at.Decode(d)
	for r := 0; r < 12; r++ {
		for c := 0; c < 20; c++ {
			if d[c*12+r] != w[r*20+c] {
				t.Fatalf("transpose differs at %d,%d", r, c)
			}
		}
	}
	// A block=2x4 weight: rows in pairs with the same columns, runs of 4.
	b := make([]float32, 8*16)
	for r := 0; r < 8; r += 2 {
		for c0 := 0; c0 < 16; c0 += 4 {
			if (r/2+c0/4)%2 == 0 {
				for i := 0; i < 2; i++ {
					for j := 0; j < 4; j++ {
						b[(r+i)*16+c0+j] = 1 + float32(r+c0)
					}
				}
			}
		}
	}
	if p := newSpWeight(sparse.EncodeCSR(b, 8, 16)).pattern; p != "block=2x4" {
		t.Fatalf("block weight: pattern %q", p)
	}
	nm := make([]float32, 4*16)
	for i := range nm {
		if i%4 < 2 {
			nm[i] = 1
		}
	}
	nm[1], nm[2] = 0, 1 // breaks the column runs of row 0
	if p := newSpWeight(sparse.EncodeCSR(nm, 4, 16)).pattern; p != "2:4" && p != "block=1x1" {
		t.Logf("2:4 weight: pattern %q", p)
	}
}

// TestSellSpmv checks the packed vector kernel (assembly where present)
// against spmvRef.
func TestSellSpmv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sz := range [][2]int{{1, 1}, {15, 9}, {16, 16}, {17, 40}, {300, 784}, {100, 300}} {
		rows, cols := sz[0], sz[1]
		for _, density := range []float64{0, 0.03, 0.3, 1} {
			a := sparse.EncodeCSR(randSparse(rng, rows, cols, density), rows, cols)
			p := newSellPack(a)
			x, bias := randVec(rng, cols), randVec(rng, rows)
			buf := make([]float32, p.scratch())
			for _, mode := range []int{0, 1, 2} {
				init := randVec(rng, rows)
				want, got := append([]float32{}, init...), append([]float32{}, init...)
				b := bias
				if mode == 0 {
					b = nil
				}
				spmvRef(want, a, x, b, mode == 2)
				p.spmv(got, x, b, mode == 2, buf, 1)
				if e := worstErr(got, want); e > 1e-5 {
					t.Fatalf("%v density %v mode %d: sell vs reference: %g", sz, density, mode, e)
				}
			}
		}
	}
}

func TestTransposeInto(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sz := range [][2]int{{1, 1}, {3, 5}, {4, 4}, {64, 784}, {67, 130}} {
		r, c := sz[0], sz[1]
		src := randVec(rng, r*(c+2))
		dst := make([]float32, c*(r+1))
		transposeInto(dst, r+1, src, c+2, r, c)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				if dst[j*(r+1)+i] != src[i*(c+2)+j] {
					t.Fatalf("%v: element %d,%d", sz, i, j)
				}
			}
		}
	}
}

// TestSpmmBlockRuns checks spmm on block=4x1 and 4x2 weights (runs of four
// rows with the same columns, the grouped kernel where present) against
// spmmRef, with and without bias, rows not a multiple of four.
func TestSpmmBlockRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, sz := range [][4]int{{16, 40, 64, 1}, {18, 33, 70, 2}, {8, 9, 5, 1}} {
		rows, cols, n, c := sz[0], sz[1], sz[2], sz[3]
		w := make([]float32, rows*cols)
		for r0 := 0; r0 < rows; r0 += 4 {
			for c0 := 0; c0 < cols; c0 += c {
				if rng.Float64() < 0.3 {
					for r := r0; r < min(r0+4, rows); r++ {
						for j := c0; j < min(c0+c, cols); j++ {
							w[r*cols+j] = float32(rng.NormFloat64())
						}
					}
				}
			}
		}
		a := sparse.EncodeCSR(w, rows, cols)
		s := newSpWeight(a)
		// Adjacent kept blocks can merge column runs: only R is certain.
		if rows%4 == 0 && !strings.HasPrefix(s.pattern, "block=4x") {
			t.Errorf("%v: pattern %q, want block=4x…", sz, s.pattern)
		}
		x := randVec(rng, cols*n)
		for _, bias := range [][]float32{nil, randVec(rng, rows)} {
			want, got := make([]float32, rows*n), make([]float32, rows*n)
			spmmRef(want, n, a, x, n, n, bias, false, nil)
			s.spmm(got, n, x, n, n, bias, false, nil, 2)
			if e := worstErr(got, want); e > 1e-5 {
				t.Fatalf("%v bias %v: spmm vs reference %g", sz, bias != nil, e)
			}
		}
	}
}

// TestSpmmMixedRuns checks spmm on a weight with runs of four rows between
// unstructured rows (as a sparse small-reduction weight has by chance: the
// rows between runs go to spmmRows in one call) against spmmRef.
func TestSpmmMixedRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	rows, cols, n := 37, 12, 150
	w := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			if rng.Float64() < 0.2 {
				w[r*cols+j] = float32(rng.NormFloat64())
			}
		}
	}
	// Two runs of four: rows 5–8 and 20–23 share row 5's and 20's columns.
	for _, r0 := range []int{5, 20} {
		for r := r0 + 1; r < r0+4; r++ {
			for j := 0; j < cols; j++ {
				w[r*cols+j] = 0
				if w[r0*cols+j] != 0 {
					w[r*cols+j] = float32(rng.NormFloat64())
				}
			}
		}
	}
	a := sparse.EncodeCSR(w, rows, cols)
	s := newSpWeight(a)
	if !s.blocks {
		t.Fatal("no run of four rows found")
	}
	x := randVec(rng, cols*n)
	for _, threads := range []int{1, 2} {
		for _, bias := range [][]float32{nil, randVec(rng, rows)} {
			want, got := make([]float32, rows*n), make([]float32, rows*n)
			spmmRef(want, n, a, x, n, n, bias, false, nil)
			s.spmm(got, n, x, n, n, bias, false, nil, threads)
			if e := worstErr(got, want); e > 1e-5 {
				t.Fatalf("threads %d bias %v: spmm vs reference %g", threads, bias != nil, e)
			}
		}
	}
}

// TestPermSpmv checks the permute form of the batch-1 kernel, both its Go
// reference (permGo) and the assembly where present, against spmvRef for
// shapes around the 16-row slices and 32-column blocks, and densities from
// empty to dense (a block wider than 16 steps, one step per row).
func TestPermSpmv(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	kernels := map[string]func([]float32, *permPack, []float32){"go": permGo}
	if permKernel != nil {
		kernels["asm"] = permKernel
	}
	for _, sz := range [][2]int{{1, 1}, {15, 31}, {16, 32}, {17, 33}, {33, 63}, {40, 64}, {300, 784}, {100, 300}, {10, 97}} {
		rows, cols := sz[0], sz[1]
		for _, density := range []float64{0, 0.03, 0.1, 0.3, 1} {
			a := sparse.EncodeCSR(randSparse(rng, rows, cols, density), rows, cols)
			p := newSellPackForm(a, sellGather)
			pm := newPermPack(a.RowPtr, a.ColIdx, a.Values, p.perm, cols)
			x := randVec(rng, pm.xlen)
			for i := cols; i < pm.xlen; i++ {
				x[i] = 0
			}
			want := make([]float32, rows)
			spmvRef(want, a, x[:cols], nil, false)
			for name, k := range kernels {
				buf := make([]float32, len(p.width)*sellC)
				for i := range buf {
					buf[i] = float32(i) // overwritten
				}
				k(buf, pm, x)
				got := make([]float32, rows)
				for i, r := range p.perm {
					got[r] = buf[i]
				}
				if e := worstErr(got, want); e > 1e-5 {
					t.Fatalf("%s %v density %v: permute form vs reference: %g", name, sz, density, e)
				}
			}
			// Through the sellPack, with bias and accum.
			q := newSellPackForm(a, sellPermute)
			bias := randVec(rng, rows)
			for _, mode := range []int{0, 1, 2} {
				init := randVec(rng, rows)
				want, got := append([]float32{}, init...), append([]float32{}, init...)
				b := bias
				if mode == 0 {
					b = nil
				}
				spmvRef(want, a, x[:cols], b, mode == 2)
				q.spmv(got, x[:cols], b, mode == 2, make([]float32, q.scratch()), 1)
				if e := worstErr(got, want); e > 1e-5 {
					t.Fatalf("%v density %v mode %d: sellPack (permute: %v) vs reference: %g", sz, density, mode, q.pm != nil, e)
				}
			}
		}
	}
}

// TestPermCostEstimate checks the cost model's estimate of the permute
// form (permCostNs, from the density alone) against the prediction from
// the counts of the form packed from uniform random weights.
func TestPermCostEstimate(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, sz := range [][2]int{{300, 784}, {100, 300}, {512, 512}, {10, 100}} {
		rows, cols := sz[0], sz[1]
		for _, density := range []float64{0.02, 0.05, 0.1, 0.3, 1} {
			a := sparse.EncodeCSR(randSparse(rng, rows, cols, density), rows, cols)
			p := newSellPackForm(a, sellGather)
			pm := newPermPack(a.RowPtr, a.ColIdx, a.Values, p.perm, cols)
			got := permCostNs(rows, cols, a.NNZ())
			want := float64(pm.steps())*permStepNs + float64(pm.entries())*permEntryNs + float64(cols)*permXElemNs
			if got < want*0.8 || got > want*1.25 {
				t.Errorf("%v density %v: estimate %.0f ns, from the packed counts %.0f ns (%d steps, %d entries)", sz, density, got, want, pm.steps(), pm.entries())
			}
		}
	}
}

// TestSellSpmvParts: a pack large enough to share is cut into parts that
// cover its slices once, in order, and spmv on 2 and 3 threads gives the
// bits of 1 thread (gather and permute forms, bias and accum).
func TestSellSpmvParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, sz := range [][3]float64{{1000, 1280, 1}, {300, 784, 0.3}, {257, 300, 1}, {40, 50, 1}} {
		rows, cols, density := int(sz[0]), int(sz[1]), sz[2]
		a := sparse.EncodeCSR(randSparse(rng, rows, cols, density), rows, cols)
		for _, form := range []int{sellGather, sellPermute} {
			p := newSellPackForm(a, form)
			steps := 0
			for s := range p.width {
				steps += int(p.width[s])
			}
			if p.pm != nil {
				steps = p.pm.steps()
			}
			if want := steps*sellC >= sellPartMin; (len(p.parts) >= 2) != want {
				t.Fatalf("%v form %d: %d parts for %d steps, want parts: %v", sz, form, len(p.parts), steps, want)
			}
			next, nsteps := 0, 0
			for _, q := range p.parts {
				if q.s0 != next || len(q.p.width) == 0 {
					t.Fatalf("%v form %d: part at slice %d (%d slices), want it at %d", sz, form, q.s0, len(q.p.width), next)
				}
				next += len(q.p.width)
				if q.p.pm != nil {
					nsteps += q.p.pm.steps()
				} else {
					nsteps += len(q.p.vals) / sellC
				}
			}
			if len(p.parts) > 0 && (next != len(p.width) || nsteps != steps) {
				t.Fatalf("%v form %d: parts cover %d slices and %d steps of %d and %d", sz, form, next, nsteps, len(p.width), steps)
			}
			x, bias := randVec(rng, cols), randVec(rng, rows)
			for _, mode := range []int{0, 1, 2} {
				init := randVec(rng, rows)
				b := bias
				if mode == 0 {
					b = nil
				}
				want := append([]float32{}, init...)
				spmvRef(want, a, x, b, mode == 2)
				var one []float32
				for _, threads := range []int{1, 2, 3} {
					got := append([]float32{}, init...)
					p.spmv(got, x, b, mode == 2, make([]float32, p.scratch()), threads)
					if e := worstErr(got, want); e > 1e-5 {
						t.Fatalf("%v form %d mode %d, %d threads: vs reference: %g", sz, form, mode, threads, e)
					}
					if one == nil {
						one = got
						continue
					}
					for i := range got {
						if got[i] != one[i] {
							t.Fatalf("%v form %d mode %d: row %d = %v on %d threads, %v on 1", sz, form, mode, i, got[i], threads, one[i])
						}
					}
				}
			}
		}
	}
}
