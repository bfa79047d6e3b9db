package engine

import (
	"slices"

	"github.com/edgeprune/edgeprune/sparse"
)

// sellPack is a CSR matrix repacked for the vector kernel (spmv), the
// sliced-ELLPACK layout of SELL-C-σ with C = 16 and σ = all rows: rows are
// sorted by their number of nonzeros (perm[i] is the i-th row in that
// order), taken 16 at a time, and each slice stores its nonzeros column by
// column: for j < width[s], 16 values and 16 column indices, row i of the
// slice at lane i (a row shorter than the slice is padded with value 0 at
// column 0). One 16-lane gather and one FMA then serve 16 rows at once,
// with no horizontal sum per row. It is the kernel's packed form of the
// weight, as packedA is the dense SGEMM's; the weight's format stays
// sparse.CSR.
type sellPack struct {
	rows  int
	perm  []int32
	width []int32 // per slice
	vals  []float32
	cols  []int32
	// pm is the permute form (op_sparse_perm.go) when it was chosen; it
	// then replaces vals and cols.
	pm *permPack
}

const sellC = 16

// Forms of newSellPackForm: chosen by permPays, gather, permute.
const (
	sellAuto = iota
	sellGather
	sellPermute
)

func newSellPack(a *sparse.CSR) *sellPack { return newSellPackForm(a, sellAuto) }

// newSellPackForm packs a in the given form (sellPermute only where
// permKernel exists; elsewhere it falls back to the gather form). Only the
// form kept is built in full: the permute form is packed first where it
// may be chosen, and the gather form's values and columns only when it is
// not (building both and dropping one held both while compiling).
func newSellPackForm(a *sparse.CSR, form int) *sellPack {
	p := &sellPack{rows: a.Rows, perm: make([]int32, a.Rows)}
	for i := range p.perm {
		p.perm[i] = int32(i)
	}
	rowLen := func(r int32) int32 { return a.RowPtr[r+1] - a.RowPtr[r] }
	slices.SortStableFunc(p.perm, func(x, y int32) int { return int(rowLen(y) - rowLen(x)) })
	total := 0
	for s0 := 0; s0 < a.Rows; s0 += sellC {
		w := int32(0)
		for i := s0; i < min(s0+sellC, a.Rows); i++ {
			w = max(w, rowLen(p.perm[i]))
		}
		p.width = append(p.width, w)
		total += int(w) * sellC
	}
	if form != sellGather && permKernel != nil {
		pm := newPermPack(a.RowPtr, a.ColIdx, a.Values, p.perm, a.Cols)
		if form == sellPermute || permPays(pm, a.NNZ(), a.Cols) {
			p.pm = pm
			return p
		}
	}
	p.vals = make([]float32, total)
	p.cols = make([]int32, total)
	base := 0
	for s, s0 := 0, 0; s0 < a.Rows; s, s0 = s+1, s0+sellC {
		for i := s0; i < min(s0+sellC, a.Rows); i++ {
			r := p.perm[i]
			for j, k := 0, a.RowPtr[r]; k < a.RowPtr[r+1]; j, k = j+1, k+1 {
				p.vals[base+j*sellC+i-s0] = a.Values[k]
				p.cols[base+j*sellC+i-s0] = a.ColIdx[k]
			}
		}
		base += int(p.width[s]) * sellC
	}
	return p
}

// scratch is the buf spmv needs: the rows rounded up to 16, and for the
// permute form x padded to whole blocks.
func (p *sellPack) scratch() int {
	n := len(p.width) * sellC
	if p.pm != nil {
		n += p.pm.xlen
	}
	return n
}

// bytes is the memory of the packed form.
func (p *sellPack) bytes() int64 {
	b := int64(len(p.vals))*4 + int64(len(p.cols))*4 + int64(len(p.perm))*4 + int64(len(p.width))*4
	if p.pm != nil {
		b += p.pm.bytes()
	}
	return b
}

// sellGo computes, for every slice s and lane i, the sum over the slice's
// columns j of vals·x[cols] into out[16·s + i] (rows in perm order):
//
//	out[16s+i] = Σ_{j < width[s]} vals[off_s + 16j + i] · x[cols[off_s + 16j + i]]
func sellGo(out []float32, p *sellPack, x []float32) {
	off := 0
	for s, w := range p.width {
		var acc [sellC]float32
		for j := 0; j < int(w); j++ {
			v, c := p.vals[off:off+sellC], p.cols[off:off+sellC]
			for i := range acc {
				acc[i] += v[i] * x[c[i]]
			}
			off += sellC
		}
		copy(out[s*sellC:], acc[:])
	}
}

var sellKernel = sellGo

// spmv computes spmvRef through the packed form, with buf (at least
// scratch()) for the sums in sorted order and the permute form's copy of x.
func (p *sellPack) spmv(dst, x, bias []float32, accum bool, buf []float32) {
	if p.rows == 0 {
		return
	}
	n := len(p.width) * sellC
	if p.pm != nil {
		xp := buf[n : n+p.pm.xlen]
		clear(xp[copy(xp, x):])
		permKernel(buf[:n], p.pm, xp)
	} else {
		sellKernel(buf[:n], p, x)
	}
	buf = buf[:n]
	for i, r := range p.perm {
		switch {
		case accum:
			dst[r] += buf[i]
		case bias != nil:
			dst[r] = bias[r] + buf[i]
		default:
			dst[r] = buf[i]
		}
	}
}
