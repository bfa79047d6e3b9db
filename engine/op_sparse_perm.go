package engine

// The permute form of the batch-1 kernel: a sellPack's slices of 16 rows
// cut into blocks of permBlock = 32 columns. x is small (a Gemm's
// reduction), so instead of a 16-lane gather per column of a slice (about
// one nonzero per cycle), a block's 32 inputs are held in two registers and
// each step picks, per lane, one of them by a 5-bit index (VPERMI2PS), then
// one FMA. Per (slice, block) pair with any nonzero, the entries are stored
// ELL-style: width = the most nonzeros of one of the slice's 16 rows inside
// the block; per step 16 values and 16 byte indices within the block (a
// row with fewer is padded with value 0 at index 0). Empty pairs are
// skipped. The padding is the price: at 10% density a row has ~3.2 of a
// block's 32 columns and the widest of 16 rows ~7, so a step does ~7
// useful lanes of 16, still several times the gather's rate. The form is
// chosen per weight by permPays.

const permBlock = 32

type permPack struct {
	nent []int32   // per slice: its (slice, block) entries
	blk  []int32   // per entry: first column of the block
	wid  []int32   // per entry: its steps
	vals []float32 // per step: 16 values
	idx  []uint8   // per step: 16 indices within the block
	xlen int       // columns rounded up to permBlock (x is copied there)
}

// newPermPack packs a (rows in the order perm, 16 per slice). A first pass
// finds the (slice, block) entries and their widths, so the values and
// indices are allocated once at their final size.
func newPermPack(rowPtr, colIdx []int32, values []float32, perm []int32, cols int) *permPack {
	p := &permPack{xlen: (cols + permBlock - 1) / permBlock * permBlock}
	nblk := p.xlen / permBlock
	// next[i]: the position in row perm[s0+i] of its next nonzero.
	var next [sellC]int32
	steps := 0
	for s0 := 0; s0 < len(perm); s0 += sellC {
		n := min(sellC, len(perm)-s0)
		for i := 0; i < n; i++ {
			next[i] = rowPtr[perm[s0+i]]
		}
		ent := int32(0)
		for b := 0; b < nblk; b++ {
			end := int32((b + 1) * permBlock)
			w := int32(0)
			for i := 0; i < n; i++ {
				r := perm[s0+i]
				k := next[i]
				for k < rowPtr[r+1] && colIdx[k] < end {
					k++
				}
				w = max(w, k-next[i])
				next[i] = k
			}
			if w == 0 {
				continue
			}
			ent++
			p.blk = append(p.blk, int32(b*permBlock))
			p.wid = append(p.wid, w)
			steps += int(w)
		}
		p.nent = append(p.nent, ent)
	}
	p.vals = make([]float32, steps*sellC)
	p.idx = make([]uint8, steps*sellC)
	e, base := 0, 0
	for s, s0 := 0, 0; s0 < len(perm); s, s0 = s+1, s0+sellC {
		n := min(sellC, len(perm)-s0)
		for i := 0; i < n; i++ {
			next[i] = rowPtr[perm[s0+i]]
		}
		for range p.nent[s] {
			b0 := p.blk[e]
			end := b0 + permBlock
			for i := 0; i < n; i++ {
				r := perm[s0+i]
				for j := 0; next[i] < rowPtr[r+1] && colIdx[next[i]] < end; j, next[i] = j+1, next[i]+1 {
					p.vals[base+j*sellC+i] = values[next[i]]
					p.idx[base+j*sellC+i] = uint8(colIdx[next[i]] - b0)
				}
			}
			base += int(p.wid[e]) * sellC
			e++
		}
	}
	return p
}

// steps is the number of 16-lane steps, entries the (slice, block) pairs.
func (p *permPack) steps() int   { return len(p.vals) / sellC }
func (p *permPack) entries() int { return len(p.blk) }

func (p *permPack) bytes() int64 {
	return int64(len(p.vals))*4 + int64(len(p.idx)) + int64(len(p.blk))*8 + int64(len(p.nent))*4
}

// permGo is the reference of the permute kernel: for every slice s and
// lane i, over the slice's entries e (block at column blk[e]) and their
// steps j,
//
//	out[16s+i] = Σ_e Σ_{j < wid[e]} vals[16(off_e+j) + i] · x[blk[e] + idx[16(off_e+j) + i]]
//
// x has at least xlen elements.
func permGo(out []float32, p *permPack, x []float32) {
	off, e := 0, 0
	for s, n := range p.nent {
		var acc [sellC]float32
		for ; n > 0; n, e = n-1, e+1 {
			xb := x[p.blk[e] : p.blk[e]+permBlock]
			for j := 0; j < int(p.wid[e]); j++ {
				v, c := p.vals[off:off+sellC], p.idx[off:off+sellC]
				for i := range acc {
					acc[i] += v[i] * xb[c[i]&(permBlock-1)]
				}
				off += sellC
			}
		}
		copy(out[s*sellC:], acc[:])
	}
}

// permKernel is the permute kernel where one exists (op_sparse_amd64.go);
// nil elsewhere, where the sellPack keeps the gather form (SELL/Go).
var permKernel func(out []float32, p *permPack, x []float32)

// Rates of the two batch-1 kernels on one core, measured with
// BenchmarkSpmvForms (op_sparse_bench_test.go) on lenet300's layer shapes
// and others, random weights at 70–97% sparsity (AMD EPYC Zen 5, AVX-512,
// benchmark lock at priority, loaded machine): the gather form 0.29–0.33
// ns per nonzero on the large shapes (more on small ones); the permute form
// ~0.45 ns per 16-lane step (slope over 300×784 at 3–30% density) and ~1.2
// ns per (slice, block) entry with the copy of x (its intercept).
const (
	sellNzNs     = 0.31
	permStepNs   = 0.45
	permEntryNs  = 1.2
	permXElemNs  = 0.03
	permMarginPc = 110 // the permute form must be predicted 10% faster
)

// permPays reports whether the permute form is predicted faster than the
// gather form for a weight with nnz nonzeros, columns cols.
func permPays(p *permPack, nnz, cols int) bool {
	if permKernel == nil {
		return false
	}
	sell := float64(nnz) * sellNzNs
	perm := float64(p.steps())*permStepNs + float64(p.entries())*permEntryNs + float64(cols)*permXElemNs
	return perm*permMarginPc/100 <= sell
}
