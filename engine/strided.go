package engine

// gather copies, for every index of shape (row-major), the source element at
// base + Σ idx[d]·strides[d]: the reference loop of Transpose, Slice and
// Expand. Both the float and the int storage are handled.
func gatherStrided(dst, src *data, shape, strides []int, base int) {
	if dst.f != nil || src.f != nil {
		stridedCopy(dst.f, src.f, shape, strides, base)
	} else {
		stridedCopy(dst.i, src.i, shape, strides, base)
	}
}

func stridedCopy[T any](dst, src []T, shape, strides []int, base int) {
	n := numel(shape)
	if n == 0 {
		return
	}
	if len(shape) == 0 {
		dst[0] = src[base]
		return
	}
	w := newStridedRows(shape, strides, base)
	for o := 0; o < n; o += w.inner {
		row, off := dst[o:o+w.inner], w.off
		if w.step == 1 {
			copy(row, src[off:off+w.inner])
		} else {
			for j := range row {
				row[j] = src[off+j*w.step]
			}
		}
		w.next()
	}
}

// stridedRows walks the rows (last axis) of shape in row-major order,
// keeping off = base + Σ idx[d]·strides[d] of each row's first element; the
// walk shared by stridedCopy and its adjoint stridedAdd.
type stridedRows struct {
	shape, strides, idx []int
	inner, step, off    int
}

func newStridedRows(shape, strides []int, base int) stridedRows {
	nd := len(shape)
	return stridedRows{shape: shape, strides: strides, idx: make([]int, nd-1),
		inner: shape[nd-1], step: strides[nd-1], off: base}
}

// next moves off to the next row's first element.
func (w *stridedRows) next() {
	for d := len(w.idx) - 1; d >= 0; d-- {
		w.idx[d]++
		w.off += w.strides[d]
		if w.idx[d] < w.shape[d] {
			return
		}
		w.off -= w.strides[d] * w.shape[d]
		w.idx[d] = 0
	}
}
