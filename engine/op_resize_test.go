package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestResizePlanarMatchesReference builds planar resizes (identity on the
// leading axes, arbitrary tables on the last two) and compares the planar
// path with the reference loop, alone and with a tensor added to its output.
func TestResizePlanarMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i, c := range []struct {
		in, out []int
		linear  bool
	}{
		{[]int{1, 3, 5, 7}, []int{1, 3, 10, 14}, false},
		{[]int{1, 3, 5, 7}, []int{1, 3, 10, 14}, true},
		{[]int{2, 2, 6, 4}, []int{2, 2, 3, 9}, true},
		{[]int{4, 9}, []int{8, 5}, true},
		{[]int{2, 1, 3, 3}, []int{2, 1, 7, 2}, false},
		// Nearest with each column repeated twice or once (repeatX).
		{[]int{1, 4, 20, 20}, []int{1, 4, 40, 40}, false},
		{[]int{1, 2, 4, 6}, []int{1, 2, 9, 6}, false},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			k := &resizeKernel{in: c.in, out: c.out, linear: c.linear}
			for d := range c.out {
				n, m := c.in[d], c.out[d]
				i0, i1, w := make([]int, m), make([]int, m), make([]float32, m)
				for o := range i0 {
					if d < len(c.out)-2 {
						i0[o], i1[o] = o, o
						continue
					}
					// Monotone tables, as the builder makes, with repeats.
					i0[o] = o * n / m
					i1[o] = min(i0[o]+1, n-1)
					if c.linear && r.IntN(3) > 0 {
						w[o] = r.Float32()
					}
				}
				k.i0, k.i1, k.w = append(k.i0, i0), append(k.i1, i1), append(k.w, w)
			}
			if !k.isPlanar() {
				t.Fatal("not planar")
			}
			src := randSlice(r, numel(c.in))
			want, got := make([]float32, numel(c.out)), make([]float32, numel(c.out))
			k.forwardRef(src, want)
			// With a tensor added to the output (fuseResizeAdd): a + r.
			add := randSlice(r, len(want))
			for _, threads := range []int{1, 3} {
				for _, a := range [][]float32{nil, add} {
					k.forwardPlanar(&exec{threads: threads}, src, got, a, make([]float32, 2*c.out[len(c.out)-1]))
					for j := range want {
						w := want[j]
						if a != nil {
							w = a[j] + w
						}
						if math.Float32bits(got[j]) != math.Float32bits(w) {
							t.Fatalf("threads %d, add %v: [%d] = %v, reference %v", threads, a != nil, j, got[j], w)
						}
					}
				}
			}
		})
	}
}
