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
	nd := len(shape)
	inner, step := shape[nd-1], strides[nd-1]
	idx := make([]int, nd-1)
	off := base
	for o := 0; o < n; o += inner {
		row := dst[o : o+inner]
		if step == 1 {
			copy(row, src[off:off+inner])
		} else {
			for j := range row {
				row[j] = src[off+j*step]
			}
		}
		for d := nd - 2; d >= 0; d-- {
			idx[d]++
			off += strides[d]
			if idx[d] < shape[d] {
				break
			}
			off -= strides[d] * shape[d]
			idx[d] = 0
		}
	}
}
