package engine

import "github.com/edgeprune/edgeprune/internal/shapes"

// broadcastShapes returns the numpy-style (multidirectional) broadcast of
// shapes (shapes.Broadcast).
func broadcastShapes(in ...[]int) ([]int, error) {
	out, err := shapes.Broadcast(in...)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return out, nil
}

// bcast iterates an output shape and the inputs broadcast to it, one row of
// the innermost (coalesced) dimension at a time.
type bcast struct {
	dims    []int   // coalesced output dimensions
	strides [][]int // per input, its stride along each coalesced dim (0 = broadcast)
	n       int     // output elements
}

func newBcast(out []int, ins ...[]int) *bcast {
	full := make([][]int, len(ins))
	for k, s := range ins {
		st := make([]int, len(out))
		off := len(out) - len(s)
		acc := 1
		for i := len(s) - 1; i >= 0; i-- {
			if s[i] != 1 {
				st[off+i] = acc
			}
			acc *= s[i]
		}
		full[k] = st
	}
	// Coalesce adjacent dims where every input is contiguous across them.
	bc := &bcast{n: numel(out), strides: make([][]int, len(ins))}
	for i, d := range out {
		if d == 1 && len(out) > 1 {
			continue
		}
		last := len(bc.dims) - 1
		merge := last >= 0
		if merge {
			for k := range ins {
				prev, cur := bc.strides[k][last], full[k][i]
				if !(prev == 0 && cur == 0) && prev != cur*d {
					merge = false
					break
				}
			}
		}
		if merge {
			bc.dims[last] *= d
			for k := range ins {
				bc.strides[k][last] = full[k][i]
			}
			continue
		}
		bc.dims = append(bc.dims, d)
		for k := range ins {
			bc.strides[k] = append(bc.strides[k], full[k][i])
		}
	}
	if len(bc.dims) == 0 {
		bc.dims = []int{1}
		for k := range ins {
			bc.strides[k] = []int{0}
		}
	}
	return bc
}

// rows calls fn for every innermost row: the output offset, each input's
// offset, the row length and each input's step along the row (0 or 1 after
// coalescing, but any stride is allowed).
func (bc *bcast) rows(fn func(out int, in []int, n int, step []int)) {
	if bc.n == 0 {
		return
	}
	bc.rowRange(0, bc.nrows(), fn)
}

// nrows is the number of innermost rows rows visits.
func (bc *bcast) nrows() int {
	if bc.n == 0 {
		return 0
	}
	return bc.n / bc.dims[len(bc.dims)-1]
}

// rowRange is rows for rows [lo, hi) only (0 ≤ lo ≤ hi ≤ nrows), so that
// disjoint ranges can run on different threads.
func (bc *bcast) rowRange(lo, hi int, fn func(out int, in []int, n int, step []int)) {
	nd := len(bc.dims)
	inner := bc.dims[nd-1]
	step := make([]int, len(bc.strides))
	for k := range bc.strides {
		step[k] = bc.strides[k][nd-1]
	}
	idx := make([]int, nd-1)
	offs := make([]int, len(bc.strides))
	// The multi-index of row lo, outer dimensions only.
	for d, r := nd-2, lo; d >= 0; d-- {
		idx[d] = r % bc.dims[d]
		r /= bc.dims[d]
		for k := range offs {
			offs[k] += idx[d] * bc.strides[k][d]
		}
	}
	for row := lo; row < hi; row++ {
		fn(row*inner, offs, inner, step)
		for d := nd - 2; d >= 0; d-- {
			idx[d]++
			for k := range offs {
				offs[k] += bc.strides[k][d]
			}
			if idx[d] < bc.dims[d] {
				break
			}
			for k := range offs {
				offs[k] -= bc.strides[k][d] * bc.dims[d]
			}
			idx[d] = 0
		}
	}
}
