package engine

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestElementwiseThreads checks the kernels split across threads in issue
// 15's second round (broadcast binary ops by rows, BatchNormalization and
// global pooling by planes, Concat by output ranges) against references
// computed element by element, on 1, 2 and 3 threads, bit for bit, at sizes
// above parallelMinElems so that the parallel paths run.
func TestElementwiseThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct{ a, b []int }{
		{[]int{1, 96, 40, 40}, []int{1, 96, 1, 1}},  // per-channel scale (PP-OCR det's attention)
		{[]int{1, 24, 80, 80}, []int{24, 1, 1}},     // per-channel bias
		{[]int{1, 1, 80, 80}, []int{1, 24, 80, 80}}, // one map over the channels
		{[]int{2, 3, 64, 65}, []int{3, 1, 65}},
	} {
		shape, err := broadcastShapes(c.a, c.b)
		if err != nil {
			t.Fatal(err)
		}
		a, b := randSlice(r, numel(c.a)), randSlice(r, numel(c.b))
		want := make([]float32, numel(shape))
		sa, sb := fullStrides(shape, c.a), fullStrides(shape, c.b)
		for i := range want {
			ia, ib, rest := 0, 0, i
			for d := len(shape) - 1; d >= 0; d-- {
				ia += rest % shape[d] * sa[d]
				ib += rest % shape[d] * sb[d]
				rest /= shape[d]
			}
			want[i] = a[ia] * b[ib]
		}
		for _, threads := range []int{1, 2, 3} {
			k := &binaryKernel{op: binMul, bc: newBcast(shape, c.a, c.b)}
			got := make([]float32, len(want))
			k.forward(&exec{threads: threads}, []*data{{f: a}, {f: b}}, []*data{{f: got}})
			equalBits(t, "Mul", c.a, c.b, threads, got, want)
		}
	}

	// BatchNormalization and GlobalAveragePool over 2×48 planes of 24².
	n, ch, inner := 2, 48, 24*24
	x := randSlice(r, n*ch*inner)
	scale, bias, mean, variance := randSlice(r, ch), randSlice(r, ch), randSlice(r, ch), randSlice(r, ch)
	for i := range variance {
		variance[i] = float32(math.Abs(float64(variance[i])))
	}
	bnWant, gapWant := make([]float32, len(x)), make([]float32, n*ch)
	for p := 0; p < n*ch; p++ {
		c := p % ch
		s := scale[c] / float32(math.Sqrt(float64(variance[c])+float64(float32(1e-5))))
		sh := bias[c] - mean[c]*s
		vecScaleShift(bnWant[p*inner:(p+1)*inner], x[p*inner:(p+1)*inner], s, sh)
		gapWant[p] = vecSum(x[p*inner:(p+1)*inner]) / float32(inner)
	}
	for _, threads := range []int{1, 2, 3} {
		got := make([]float32, len(x))
		(&batchNormKernel{n: n, c: ch, inner: inner, eps: 1e-5}).forward(&exec{threads: threads},
			[]*data{{f: x}, {f: scale}, {f: bias}, {f: mean}, {f: variance}}, []*data{{f: got}})
		equalBits(t, "BatchNormalization", nil, nil, threads, got, bnWant)
		gap := make([]float32, n*ch)
		(&globalPoolKernel{kind: poolAvg, nc: n * ch, inner: inner}).forward(&exec{threads: threads}, []*data{{f: x}}, []*data{{f: gap}})
		equalBits(t, "GlobalAveragePool", nil, nil, threads, gap, gapWant)
	}

	// Concat: blocks of unequal sizes (one empty), several outer indices,
	// so chunk edges fall inside blocks and on their ends; float and int.
	for _, c := range []struct {
		outer int
		sizes []int
	}{{1, []int{24 * 6400, 24 * 6400, 24 * 6400, 24 * 6400}}, {3, []int{7001, 0, 12345, 1}}, {40, []int{999, 1001}}} {
		var ins []*data
		var want []float32
		var wantI []int64
		for _, s := range c.sizes {
			v := randSlice(r, c.outer*s)
			ins = append(ins, &data{f: v})
		}
		for o := 0; o < c.outer; o++ {
			for i, s := range c.sizes {
				want = append(want, ins[i].f[o*s:(o+1)*s]...)
			}
		}
		for _, v := range want {
			wantI = append(wantI, int64(v*1000))
		}
		insI := make([]*data, len(ins))
		for i, d := range ins {
			iv := make([]int64, len(d.f))
			for j := range d.f {
				iv[j] = int64(d.f[j] * 1000)
			}
			insI[i] = &data{i: iv}
		}
		for _, threads := range []int{1, 2, 3} {
			k := &concatKernel{outer: c.outer, sizes: c.sizes}
			got := make([]float32, len(want))
			k.forward(&exec{threads: threads}, ins, []*data{{f: got}})
			equalBits(t, "Concat", []int{c.outer}, c.sizes, threads, got, want)
			gotI := make([]int64, len(want))
			k.forward(&exec{threads: threads}, insI, []*data{{i: gotI}})
			for j := range gotI {
				if gotI[j] != wantI[j] {
					t.Fatalf("int Concat outer %d sizes %v, threads %d: [%d] = %d, want %d", c.outer, c.sizes, threads, j, gotI[j], wantI[j])
				}
			}
		}
	}
}

// fullStrides is s's stride along each dimension of out (0 where s is
// broadcast), s aligned to out's last dimensions.
func fullStrides(out, s []int) []int {
	st := make([]int, len(out))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 1 {
			st[len(out)-len(s)+i] = acc
		}
		acc *= s[i]
	}
	return st
}

func equalBits(t *testing.T, op string, a, b []int, threads int, got, want []float32) {
	t.Helper()
	for j := range want {
		if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
			t.Fatalf("%s %v %v, threads %d: [%d] = %v, reference %v", op, a, b, threads, j, got[j], want[j])
		}
	}
}
