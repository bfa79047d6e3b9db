package engine

import "github.com/edgeprune/edgeprune/internal/shapes"

// transposeKernel permutes dimensions: out[i_0..i_{r-1}] = x[j] with
// j[perm[d]] = i_d (default perm reverses the dimensions).
type transposeKernel struct {
	shape   []int // output shape
	strides []int // input stride for each output dim
}

func buildTranspose(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	x := b.in[0]
	r := len(x.shape)
	perm, ok := b.attrInts("perm")
	if !ok {
		perm = make([]int64, r)
		for i := range perm {
			perm[i] = int64(r - 1 - i)
		}
	}
	if len(perm) != r {
		return nil, invalid("perm %v for rank %d", perm, r)
	}
	seen := make([]bool, r)
	in := stridesOf(x.shape)
	k := &transposeKernel{shape: make([]int, r), strides: make([]int, r)}
	for d, p := range perm {
		if p < 0 || int(p) >= r || seen[p] {
			return nil, invalid("perm %v", perm)
		}
		seen[p] = true
		k.shape[d], k.strides[d] = x.shape[p], in[p]
	}
	return &built{k: k, out: one(x.dt, k.shape), alias: -1}, nil
}

func (k *transposeKernel) forward(_ *exec, in, out []*data) {
	gatherStrided(out[0], in[0], k.shape, k.strides, 0)
}

// concatKernel joins inputs along axis: for every outer index o, the inputs'
// blocks x_i[o, :, ...] follow each other.
type concatKernel struct {
	outer int
	sizes []int // per input: elements per outer index
}

func buildConcat(b *buildCtx) (*built, error) {
	if len(b.in) == 0 {
		return nil, invalid("Concat without inputs")
	}
	if err := b.need(len(b.in)); err != nil {
		return nil, err
	}
	x := b.in[0]
	if len(x.shape) == 0 {
		return nil, invalid("Concat of scalars")
	}
	axis, err := normAxis(b.attrInt("axis", 1), len(x.shape))
	if err != nil {
		return nil, err
	}
	out := cloneInts(x.shape)
	out[axis] = 0
	k := &concatKernel{outer: numel(x.shape[:axis])}
	for _, v := range b.in {
		if len(v.shape) != len(out) || v.isInt() != x.isInt() {
			return nil, invalid("Concat of %v and %v", x.shape, v.shape)
		}
		for d := range out {
			if d != axis && v.shape[d] != x.shape[d] {
				return nil, invalid("Concat of %v and %v on axis %d", x.shape, v.shape, axis)
			}
		}
		out[axis] += v.shape[axis]
		k.sizes = append(k.sizes, numel(v.shape[axis:]))
	}
	return &built{k: k, out: one(x.dt, out), alias: -1}, nil
}

func (k *concatKernel) forward(x *exec, in, out []*data) {
	total := 0
	for _, s := range k.sizes {
		total += s
	}
	n := k.outer * total
	threads := x.threads
	if n < parallelMinElems {
		threads = 1
	}
	// Split the output into element ranges; each copies the parts of the
	// inputs' blocks (one per input per outer index) that fall in it.
	parallelFor(n, threads, func(lo, hi int) {
		o, off := lo/total, 0
		i, at := 0, lo%total // input i's block holds [off, off+sizes[i]) of row o
		for at >= off+k.sizes[i] {
			off += k.sizes[i]
			i++
		}
		for p := lo; p < hi; {
			s := k.sizes[i]
			from, to := at-off, min(s, at-off+hi-p) // within input i's block
			if out[0].f != nil {
				copy(out[0].f[p:p+to-from], in[i].f[o*s+from:o*s+to])
			} else {
				copy(out[0].i[p:p+to-from], in[i].i[o*s+from:o*s+to])
			}
			p += to - from
			at += to - from
			if to == s {
				off += s
				i++
				if i == len(k.sizes) {
					i, off, at = 0, 0, 0
					o++
				}
			}
		}
	})
}

// splitKernel cuts the input along axis into consecutive parts (the inverse
// of concatKernel).
type splitKernel struct {
	outer int
	sizes []int
}

func buildSplit(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	x := b.in[0]
	if len(x.shape) == 0 {
		return nil, invalid("Split of a scalar")
	}
	axis, err := normAxis(b.attrInt("axis", 0), len(x.shape))
	if err != nil {
		return nil, err
	}
	var split []int64
	if b.opset < 13 {
		split, _ = b.attrInts("split")
	} else {
		s, ok, err := b.constInts(1)
		if err != nil {
			return nil, err
		}
		if ok {
			split = s
		}
	}
	dim := x.shape[axis]
	n := b.nOut
	if split == nil {
		if no := b.attrInt("num_outputs", 0); no > 0 {
			n = int(no)
		}
		if n < 1 {
			return nil, invalid("Split into %d outputs", n)
		}
		per := (dim + n - 1) / n
		for i := 0; i < n; i++ {
			split = append(split, int64(min(per, dim-i*per)))
		}
	}
	total := 0
	k := &splitKernel{outer: numel(x.shape[:axis])}
	var outs []outSpec
	for _, s := range split {
		if s < 0 {
			return nil, invalid("split %v", split)
		}
		total += int(s)
		sh := cloneInts(x.shape)
		sh[axis] = int(s)
		outs = append(outs, outSpec{x.dt, sh})
		k.sizes = append(k.sizes, numel(sh[axis:]))
	}
	if total != dim {
		return nil, invalid("split %v does not sum to %d", split, dim)
	}
	return &built{k: k, out: outs, alias: -1}, nil
}

func (k *splitKernel) forward(_ *exec, in, out []*data) {
	total := 0
	for _, s := range k.sizes {
		total += s
	}
	off := 0
	for i, s := range k.sizes {
		if i < len(out) && out[i] != nil {
			for o := 0; o < k.outer; o++ {
				if in[0].f != nil {
					copy(out[i].f[o*s:(o+1)*s], in[0].f[o*total+off:o*total+off+s])
				} else {
					copy(out[i].i[o*s:(o+1)*s], in[0].i[o*total+off:o*total+off+s])
				}
			}
		}
		off += s
	}
}

// sliceKernel copies x[starts:ends:steps] along the sliced axes.
type sliceKernel struct {
	shape   []int
	strides []int
	base    int
}

func buildSlice(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	x := b.in[0]
	r := len(x.shape)
	var starts, ends, axes, steps []int64
	if b.opset < 10 {
		starts, _ = b.attrInts("starts")
		ends, _ = b.attrInts("ends")
		axes, _ = b.attrInts("axes")
	} else {
		var err error
		if starts, _, err = b.constInts(1); err != nil {
			return nil, err
		}
		if ends, _, err = b.constInts(2); err != nil {
			return nil, err
		}
		if axes, _, err = b.constInts(3); err != nil {
			return nil, err
		}
		if steps, _, err = b.constInts(4); err != nil {
			return nil, err
		}
	}
	if len(starts) != len(ends) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return nil, invalid("Slice starts %v ends %v axes %v steps %v", starts, ends, axes, steps)
	}
	in := stridesOf(x.shape)
	k := &sliceKernel{shape: cloneInts(x.shape), strides: cloneInts(in)}
	for i := range starts {
		ax := int64(i)
		if axes != nil {
			ax = axes[i]
		}
		a, err := normAxis(ax, r)
		if err != nil {
			return nil, err
		}
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		s, count, err := shapes.SliceRange(starts[i], ends[i], step, x.shape[a])
		if err != nil {
			return nil, invalid("%v", err)
		}
		k.shape[a] = count
		k.strides[a] = in[a] * int(step)
		k.base += s * in[a]
	}
	return &built{k: k, out: one(x.dt, k.shape), alias: -1}, nil
}

func (k *sliceKernel) forward(_ *exec, in, out []*data) {
	gatherStrided(out[0], in[0], k.shape, k.strides, k.base)
}

// gatherKernel is ONNX Gather: out[o, j..., i] = x[o, idx[j...], i] along
// axis. Out-of-range indices (data, checked at run time) give zeros.
type gatherKernel struct {
	outer, dim, inner int
}

func buildGather(b *buildCtx) (*built, error) {
	if err := b.need(2); err != nil {
		return nil, err
	}
	x, idx := b.in[0], b.in[1]
	if !idx.isInt() {
		return nil, invalid("Gather indices of type %v", idx.dt)
	}
	if len(x.shape) == 0 {
		return nil, invalid("Gather from a scalar")
	}
	axis, err := normAxis(b.attrInt("axis", 0), len(x.shape))
	if err != nil {
		return nil, err
	}
	out := append(append(cloneInts(x.shape[:axis]), idx.shape...), x.shape[axis+1:]...)
	k := &gatherKernel{outer: numel(x.shape[:axis]), dim: x.shape[axis], inner: numel(x.shape[axis+1:])}
	return &built{k: k, out: one(x.dt, out), alias: -1}, nil
}

func (k *gatherKernel) forward(_ *exec, in, out []*data) {
	x, idx, o := in[0], in[1].i, out[0]
	n := len(idx)
	for a := 0; a < k.outer; a++ {
		for j, v := range idx {
			if v < 0 {
				v += int64(k.dim)
			}
			dst := (a*n + j) * k.inner
			if v < 0 || v >= int64(k.dim) {
				if o.f != nil {
					clear(o.f[dst : dst+k.inner])
				} else {
					clear(o.i[dst : dst+k.inner])
				}
				continue
			}
			src := (a*k.dim + int(v)) * k.inner
			if o.f != nil {
				copy(o.f[dst:dst+k.inner], x.f[src:src+k.inner])
			} else {
				copy(o.i[dst:dst+k.inner], x.i[src:src+k.inner])
			}
		}
	}
}
