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
	// parts cut the slices into runs of about equal work for the threads
	// (setParts): each part a view of this pack's slices from s0 (width,
	// vals, cols or pm of those slices only), which the kernels run as a
	// whole pack. Nil when the pack is too small to share.
	parts []sellPart
}

// sellPart is one part of a sellPack: its slices from s0, as a pack.
type sellPart struct {
	s0 int
	p  sellPack
}

// sellParts is the most parts a pack is cut into, sellPartMin the
// multiply-adds (16-lane steps × 16) from which it is cut at all: below,
// a region's hand-off costs more than the second thread saves.
const (
	sellParts   = 16
	sellPartMin = 1 << 16
)

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
			p.setParts()
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
	p.setParts()
	return p
}

// setParts cuts the slices into up to sellParts runs of about equal steps
// (16-lane multiply-adds), each a view of the pack's arrays. A slice's
// sums are the same whichever run holds it.
func (p *sellPack) setParts() {
	ns := len(p.width)
	// steps[s]: the 16-lane steps of slice s; ent[s]: its permute entries.
	steps, ent := make([]int, ns), make([]int, ns)
	total := 0
	for s := range ns {
		if p.pm != nil {
			ent[s] = int(p.pm.nent[s])
		} else {
			steps[s] = int(p.width[s])
		}
	}
	if p.pm != nil {
		e := 0
		for s := range ns {
			for range ent[s] {
				steps[s] += int(p.pm.wid[e])
				e++
			}
		}
	}
	for _, n := range steps {
		total += n
	}
	np := min(sellParts, ns)
	if total*sellC < sellPartMin || np < 2 {
		return
	}
	s, e, off := 0, 0, 0 // slice, permute entry, step at the part's start
	acc := 0
	for i := range np {
		s0, e0, off0 := s, e, off
		for s < ns && (i == np-1 || acc < (i+1)*total/np || s == s0) {
			acc += steps[s]
			e += ent[s]
			off += steps[s]
			s++
		}
		if s == s0 {
			break
		}
		q := sellPart{s0: s0, p: sellPack{rows: min(p.rows, s*sellC) - s0*sellC, width: p.width[s0:s]}}
		if p.pm != nil {
			q.p.pm = &permPack{nent: p.pm.nent[s0:s], blk: p.pm.blk[e0:e], wid: p.pm.wid[e0:e],
				vals: p.pm.vals[off0*sellC : off*sellC], idx: p.pm.idx[off0*sellC : off*sellC], xlen: p.pm.xlen}
		} else {
			q.p.vals, q.p.cols = p.vals[off0*sellC:off*sellC], p.cols[off0*sellC:off*sellC]
		}
		p.parts = append(p.parts, q)
	}
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
// scratch()) for the sums in sorted order and the permute form's copy of
// x, on up to threads goroutines (by parts of the slices: the same sums,
// bit for bit, whichever goroutine runs a slice).
func (p *sellPack) spmv(dst, x, bias []float32, accum bool, buf []float32, threads int) {
	if p.rows == 0 {
		return
	}
	n := len(p.width) * sellC
	xk := x
	if p.pm != nil {
		xk = buf[n : n+p.pm.xlen]
		clear(xk[copy(xk, x):])
	}
	buf = buf[:n]
	run := func(q *sellPack, s0 int) {
		out := buf[s0*sellC : s0*sellC+len(q.width)*sellC]
		if q.pm != nil {
			permKernel(out, q.pm, xk)
		} else {
			sellKernel(out, q, xk)
		}
		for i := s0 * sellC; i < min(p.rows, s0*sellC+len(out)); i++ {
			r := p.perm[i]
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
	if threads < 2 || len(p.parts) < 2 {
		run(p, 0)
		return
	}
	parallelFor(len(p.parts), threads, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			run(&p.parts[i].p, p.parts[i].s0)
		}
	})
}
