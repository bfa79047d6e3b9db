package engine

// Backward of the data-movement ops: each adds δ back where its forward
// read from (the adjoint of the copy).

// stridedAdd is the adjoint of stridedCopy: dst[base + Σ idx·strides] +=
// src[o] for every element o of shape (row-major).
func stridedAdd(dst, src []float32, shape, strides []int, base int) {
	n := numel(shape)
	if n == 0 {
		return
	}
	if len(shape) == 0 {
		dst[base] += src[0]
		return
	}
	w := newStridedRows(shape, strides, base)
	for o := 0; o < n; o += w.inner {
		row, off := src[o:o+w.inner], w.off
		if w.step == 1 {
			vecAdd(dst[off:off+w.inner], dst[off:off+w.inner], row)
		} else {
			for j, v := range row {
				dst[off+j*w.step] += v
			}
		}
		w.next()
	}
}

// Transpose: dx[perm⁻¹] += δ.
func (k *transposeKernel) backward(_ *exec, in, out, dOut, dIn []*data) {
	stridedAdd(dIn[0].f, dOut[0].f, k.shape, k.strides, 0)
}

func (k *transposeKernel) tapeNeeds() (in, out uint64) { return 0, 0 }

// Slice: δ goes back to the sliced positions; the rest of dx is untouched.
func (k *sliceKernel) backward(_ *exec, in, out, dOut, dIn []*data) {
	stridedAdd(dIn[0].f, dOut[0].f, k.shape, k.strides, k.base)
}

func (k *sliceKernel) tapeNeeds() (in, out uint64) { return 0, 0 }

// Concat: each input gets its block of δ.
func (k *concatKernel) backward(_ *exec, in, out, dOut, dIn []*data) {
	total := 0
	for _, s := range k.sizes {
		total += s
	}
	d := dOut[0].f
	off := 0
	for i, s := range k.sizes {
		if dIn[i] != nil {
			g := dIn[i].f
			for o := 0; o < k.outer; o++ {
				dst := g[o*s : (o+1)*s]
				vecAdd(dst, dst, d[o*total+off:o*total+off+s])
			}
		}
		off += s
	}
}

func (k *concatKernel) tapeNeeds() (in, out uint64) { return 0, 0 }

// Split: the parts' gradients (those that have one) go back into place.
func (k *splitKernel) backward(_ *exec, in, out, dOut, dIn []*data) {
	total := 0
	for _, s := range k.sizes {
		total += s
	}
	g := dIn[0].f
	off := 0
	for i, s := range k.sizes {
		if i < len(dOut) && dOut[i] != nil {
			d := dOut[i].f
			for o := 0; o < k.outer; o++ {
				dst := g[o*total+off : o*total+off+s]
				vecAdd(dst, dst, d[o*s:(o+1)*s])
			}
		}
		off += s
	}
}

func (k *splitKernel) tapeNeeds() (in, out uint64) { return 0, 0 }

// Gather: δ is added back to the gathered rows (repeated indices add up, in
// index order); out-of-range indices, which gave zeros, pass nothing.
func (k *gatherKernel) backward(_ *exec, in, out, dOut, dIn []*data) {
	idx, d, g := in[1].i, dOut[0].f, dIn[0].f
	n := len(idx)
	for a := 0; a < k.outer; a++ {
		for j, v := range idx {
			if v < 0 {
				v += int64(k.dim)
			}
			if v < 0 || v >= int64(k.dim) {
				continue
			}
			dst := g[(a*k.dim+int(v))*k.inner:][:k.inner]
			vecAdd(dst, dst, d[(a*n+j)*k.inner:][:k.inner])
		}
	}
}

// tapeNeeds: the indices.
func (k *gatherKernel) tapeNeeds() (in, out uint64) { return 0b10, 0 }

// Dropout in inference mode with its mask output: the identity.
func (k *copyKernel) backward(_ *exec, in, out, dOut, dIn []*data) {
	vecAdd(dIn[0].f, dIn[0].f, dOut[0].f)
}

func (k *copyKernel) tapeNeeds() (in, out uint64) { return 0, 0 }

// Backward of ReduceMean and ReduceSum: δ broadcast back over the reduced
// axes (divided by their size for the mean). ReduceMax has none.
func (k *reduceKernel) backward(_ *exec, in, out, dOut, dIn []*data) {
	if k.kind == reduceMax {
		panic("engine: ReduceMax has no backward")
	}
	s := float32(1)
	if k.kind == reduceMean && k.count > 0 {
		s = 1 / float32(k.count)
	}
	d, g := dOut[0].f, dIn[0].f
	k.bc.rows(func(_ int, offs []int, n int, step []int) {
		dd, s0 := d[offs[0]:], step[0]
		gg, s1 := g[offs[1]:], step[1]
		for j := 0; j < n; j++ {
			gg[j*s1] += s * dd[j*s0]
		}
	})
}

func (k *reduceKernel) tapeNeeds() (in, out uint64) { return 0, 0 }
