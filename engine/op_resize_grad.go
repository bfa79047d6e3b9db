package engine

// Backward of Resize: each output is a weighted sum of source elements
// (per axis, weight 1 − w at i0 and w at i1; nearest: 1 at i0), so δ is
// scattered back with the same weights, output by output in order.
func (k *resizeKernel) backward(_ *exec, in, out, dOut, dIn []*data) {
	d, g := dOut[0].f, dIn[0].f
	r := len(k.out)
	is := stridesOf(k.in)
	idx := make([]int, r)
	var scatter func(ax, off int, c float32)
	scatter = func(ax, off int, c float32) {
		if ax == r {
			g[off] += c
			return
		}
		i := idx[ax]
		w := k.w[ax][i]
		if !k.linear || w == 0 || k.i1[ax][i] == k.i0[ax][i] {
			scatter(ax+1, off+k.i0[ax][i]*is[ax], c)
			return
		}
		scatter(ax+1, off+k.i0[ax][i]*is[ax], c*(1-w))
		scatter(ax+1, off+k.i1[ax][i]*is[ax], c*w)
	}
	for o := range d {
		scatter(0, 0, d[o])
		for ax := r - 1; ax >= 0; ax-- {
			idx[ax]++
			if idx[ax] < k.out[ax] {
				break
			}
			idx[ax] = 0
		}
	}
}

func (k *resizeKernel) tapeNeeds() (in, out uint64) { return 0, 0 }
