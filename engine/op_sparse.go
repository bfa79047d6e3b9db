package engine

import (
	"slices"
	"strconv"

	"github.com/edgeprune/edgeprune/sparse"
)

// Sparse weights (issue 12, "Sparse execution"). A constant weight of Gemm,
// MatMul or Conv whose zeros make it pay (sparsePays, op_sparse_cost.go)
// is held as a sparse.CSR whose rows are the op's output channels and whose
// columns are its reduction index, and multiplied by the sparse kernels
// below instead of the packed SGEMM. Every pattern prune makes runs on them:
// unstructured, block=RxC and N:M weights are all CSR here (csr, bitmap and
// N:M packs are read into CSR without a dense copy, pack.ReadSparse). The
// row runs of block=4x… weights (four rows with the same columns) read each
// input row once for the four on amd64 (spmmGroup4); other runs go row by
// row.

// spWeight is one sparse weight matrix as the kernels read it.
type spWeight struct {
	a *sparse.CSR
	// groups partitions the rows into runs [groups[i], groups[i+1]) of
	// at most maxGroupRows rows with identical column indices (block=Rx…
	// patterns; unstructured weights have runs of one row): the unit spmm
	// splits over threads, and what detectPattern reads R from.
	groups []int
	// pattern names what the weight looks like, for reports: "csr",
	// "block=RxC" (R rows share columns, C columns in a row run together)
	// or "N:M" (at most N nonzeros in every M consecutive columns).
	pattern string
	// blocks: some row run has four rows (spmmGroup4 applies).
	blocks bool
	// kptr and kblocks: the column blocks of a wide weight (setKBlocks);
	// nil when it has none.
	kptr    []int32
	kblocks int
	// sell is the vector kernel's packed form (op_sparse_sell.go), when
	// the weight multiplies single rows; it then replaces a's nonzeros.
	sell *sellPack
	// nnz is the number of nonzeros (a's, also after sell replaced them).
	nnz int
}

func newSpWeight(a *sparse.CSR) *spWeight {
	s := &spWeight{a: a, groups: []int{0}, nnz: a.NNZ()}
	for r := 1; r <= a.Rows; r++ {
		if r == a.Rows || r-s.groups[len(s.groups)-1] >= maxGroupRows || !sameCols(a, r-1, r) {
			s.groups = append(s.groups, r)
		}
	}
	s.pattern = detectPattern(a, s.groups)
	s.setKBlocks()
	for i := 1; i < len(s.groups); i++ {
		s.blocks = s.blocks || s.groups[i]-s.groups[i-1] == 4
	}
	return s
}

// maxGroupRows bounds a row run.
const maxGroupRows = 4

func sameCols(a *sparse.CSR, r0, r1 int) bool {
	return slices.Equal(a.ColIdx[a.RowPtr[r0]:a.RowPtr[r0+1]], a.ColIdx[a.RowPtr[r1]:a.RowPtr[r1+1]])
}

// detectPattern names the structure of a (for reports and the cost
// model): the common row-run length R and column-run length C when they
// are above 1, or the smallest N:M (M ∈ {4, 8, 16}) every row fits.
func detectPattern(a *sparse.CSR, groups []int) string {
	r := 0
	for i := 1; i < len(groups); i++ {
		n := groups[i] - groups[i-1]
		if r == 0 || n < r {
			r = n
		}
	}
	c := 0
	for row := 0; row < a.Rows; row++ {
		cols := a.ColIdx[a.RowPtr[row]:a.RowPtr[row+1]]
		for i := 0; i < len(cols); {
			j := i + 1
			for j < len(cols) && cols[j] == cols[j-1]+1 {
				j++
			}
			if c == 0 || j-i < c {
				c = j - i
			}
			i = j
		}
	}
	if r > 1 || c > 1 {
		return "block=" + strconv.Itoa(max(r, 1)) + "x" + strconv.Itoa(max(c, 1))
	}
	for _, m := range []int{4, 8, 16} {
		if a.Cols%m != 0 {
			continue
		}
		// cnt[b]: the row's nonzeros in block b, one array for all rows
		// (reset where the row touched it; a map per row was the largest
		// transient of compiling an unstructured resnet18: 160 MB).
		n := 0
		cnt := make([]int32, a.Cols/m)
		for row := 0; row < a.Rows; row++ {
			cols := a.ColIdx[a.RowPtr[row]:a.RowPtr[row+1]]
			for _, j := range cols {
				cnt[j/int32(m)]++
				n = max(n, int(cnt[j/int32(m)]))
			}
			for _, j := range cols {
				cnt[j/int32(m)] = 0
			}
		}
		if n <= m/2 {
			return strconv.Itoa(n) + ":" + strconv.Itoa(m)
		}
	}
	return "csr"
}

// bytes is the memory the weight holds: values, column indices and row
// pointers.
func (s *spWeight) bytes() int64 {
	b := int64(len(s.a.Values))*4 + int64(len(s.a.ColIdx))*4 + int64(len(s.a.RowPtr))*4 + int64(len(s.kptr))*4
	if s.sell != nil {
		b += s.sell.bytes()
	}
	return b
}

// transposeCSR returns aᵀ as a CSR, without a dense copy.
func transposeCSR(a *sparse.CSR) *sparse.CSR {
	t := &sparse.CSR{Rows: a.Cols, Cols: a.Rows, RowPtr: make([]int32, a.Cols+1),
		ColIdx: make([]int32, len(a.ColIdx)), Values: make([]float32, len(a.Values))}
	for _, j := range a.ColIdx {
		t.RowPtr[j+1]++
	}
	for j := 0; j < a.Cols; j++ {
		t.RowPtr[j+1] += t.RowPtr[j]
	}
	next := slices.Clone(t.RowPtr[:a.Cols])
	for r := 0; r < a.Rows; r++ {
		for k := a.RowPtr[r]; k < a.RowPtr[r+1]; k++ {
			j := a.ColIdx[k]
			t.ColIdx[next[j]] = int32(r)
			t.Values[next[j]] = a.Values[k]
			next[j]++
		}
	}
	return t
}

// subRows returns rows [lo, hi) of a, sharing its column indices and values.
func subRows(a *sparse.CSR, lo, hi int) *sparse.CSR {
	base := a.RowPtr[lo]
	rp := make([]int32, hi-lo+1)
	for r := lo; r <= hi; r++ {
		rp[r-lo] = a.RowPtr[r] - base
	}
	end := a.RowPtr[hi]
	return &sparse.CSR{Rows: hi - lo, Cols: a.Cols, RowPtr: rp, ColIdx: a.ColIdx[base:end:end], Values: a.Values[base:end:end]}
}

// spmmRef is the reference loop of spmm: for every row r of a and column
// j < n,
//
//	dst[r·ldd+j] = init + Σ_{k ∈ row r} Values[k] · x[ColIdx[k]·ldx + j]
//
// where init is bias[r] (0 without bias) or, with accum, dst[r·ldd+j]
// itself; then act clamps the row.
func spmmRef(dst []float32, ldd int, a *sparse.CSR, x []float32, ldx, n int, bias []float32, accum bool, act *clampAct) {
	for r := 0; r < a.Rows; r++ {
		row := dst[r*ldd : r*ldd+n]
		for j := range row {
			var s float32
			switch {
			case accum:
				s = row[j]
			case bias != nil:
				s = bias[r]
			}
			for k := a.RowPtr[r]; k < a.RowPtr[r+1]; k++ {
				s += a.Values[k] * x[int(a.ColIdx[k])*ldx+j]
			}
			row[j] = s
		}
		act.apply(row)
	}
}

// spmmChunk is the width of the column chunks spmm computes in registers.
const spmmChunk = 64

// spmm computes spmmRef with the row runs split over threads, in column
// chunks of spmmChunk (a chunk of every row of a thread's share, then the
// next chunk, so the input chunk stays in cache).
func (s *spWeight) spmm(dst []float32, ldd int, x []float32, ldx, n int, bias []float32, accum bool, act *clampAct, threads int) {
	a := s.a
	ng := len(s.groups) - 1
	if n == 0 || a.Rows == 0 {
		return
	}
	if a.Cols > 0 {
		_ = x[(a.Cols-1)*ldx+n-1] // every column the kernels read
	}
	if int64(a.NNZ())*int64(n) < 1<<16 {
		threads = 1
	}
	parallelFor(ng, threads, func(lo, hi int) {
		for j0 := 0; j0 < n; j0 += spmmChunk {
			w := min(spmmChunk, n-j0)
			if spmmRows != nil && !s.blocks {
				s.spmmRun(dst[j0:], ldd, x[j0:], ldx, s.groups[lo], s.groups[hi], w, bias, accum)
				continue
			}
			for g := lo; g < hi; g++ {
				if spmmRows != nil && !accum && s.groups[g+1]-s.groups[g] != 4 {
					// Rows outside four-row runs (with unstructured
					// weights, runs of four arise by chance) go in one
					// call up to the next run of four.
					e := g + 1
					for e < hi && s.groups[e+1]-s.groups[e] != 4 {
						e++
					}
					s.spmmRun(dst[j0:], ldd, x[j0:], ldx, s.groups[g], s.groups[e], w, bias, false)
					g = e - 1
					continue
				}
				if r0 := s.groups[g]; spmmGroup4 != nil && !accum && s.groups[g+1]-r0 == 4 {
					var b []float32
					if bias != nil {
						b = bias[r0 : r0+4]
					}
					k0, nz := a.RowPtr[r0], int(a.RowPtr[r0+1]-a.RowPtr[r0])
					spmmGroup4(dst[r0*ldd+j0:], ldd, x[j0:], ldx, a.Values[k0:], nz, a.ColIdx[k0:int(k0)+nz], w, b)
					continue
				}
				for r := s.groups[g]; r < s.groups[g+1]; r++ {
					var b float32
					if bias != nil {
						b = bias[r]
					}
					k0, k1 := a.RowPtr[r], a.RowPtr[r+1]
					spmmRow(dst[r*ldd+j0:r*ldd+j0+w], x[j0:], ldx, a.Values[k0:k1], a.ColIdx[k0:k1], b, accum)
				}
			}
		}
		if act != nil {
			for r := s.groups[lo]; r < s.groups[hi]; r++ {
				act.apply(dst[r*ldd : r*ldd+n])
			}
		}
	})
}

// spmmRun computes rows [r0, r1) of one column chunk (w ≤ spmmChunk
// columns of dst and x) through spmmRows: in one call, or, for a weight
// with column blocks (kptr), one call per block, the first initialising
// the rows and the others accumulating into them, so that the block's
// input rows stay in L1 while every row of the share reads them.
func (s *spWeight) spmmRun(dst []float32, ldd int, x []float32, ldx int, r0, r1, w int, bias []float32, accum bool) {
	if bias != nil {
		bias = bias[r0:r1]
	}
	dst = dst[r0*ldd:]
	if s.kptr == nil {
		spmmRows(dst, ldd, x, ldx, s.a, s.a.RowPtr[r0:r1+1], 1, r1-r0, w, bias, accum)
		return
	}
	ps := s.kblocks + 1
	for b := 0; b < s.kblocks; b++ {
		spmmRows(dst, ldd, x, ldx, s.a, s.kptr[r0*ps+b:(r1-1)*ps+b+2], ps, r1-r0, w, bias, accum)
		bias, accum = nil, true
	}
}

// spmmKBlock is the width of the column blocks of a weight with more
// than spmmKBlockMin columns (kptr): a block's input rows, one column
// chunk wide, take spmmKBlock·spmmChunk·4 bytes = 32 KiB, within L1.
var (
	spmmKBlock    = 128
	spmmKBlockMin = 192
)

// setKBlocks fills s.kptr (per row, where each column block's nonzeros
// start, and the row's end) when a has more than spmmKBlockMin columns;
// otherwise clears it.
func (s *spWeight) setKBlocks() {
	a := s.a
	s.kptr, s.kblocks = nil, 0
	if a.Cols <= spmmKBlockMin {
		return
	}
	s.kblocks = (a.Cols + spmmKBlock - 1) / spmmKBlock
	ps := s.kblocks + 1
	s.kptr = make([]int32, a.Rows*ps)
	for r := 0; r < a.Rows; r++ {
		k := a.RowPtr[r]
		for b := 0; b < s.kblocks; b++ {
			for k < a.RowPtr[r+1] && int(a.ColIdx[k]) < b*spmmKBlock {
				k++
			}
			s.kptr[r*ps+b] = k
		}
		s.kptr[r*ps+s.kblocks] = a.RowPtr[r+1]
	}
}

// spmmRowGo is one row and chunk of spmmRef (len(dst) ≤ spmmChunk):
//
//	dst[j] = init + Σ_k vals[k] · x[cols[k]·ldx + j]
func spmmRowGo(dst, x []float32, ldx int, vals []float32, cols []int32, b float32, accum bool) {
	var acc [spmmChunk]float32
	w := len(dst)
	if accum {
		copy(acc[:w], dst)
	} else if b != 0 {
		for j := range acc[:w] {
			acc[j] = b
		}
	}
	for k, v := range vals {
		xr := x[int(cols[k])*ldx:][:w]
		for j, xv := range xr {
			acc[j] += v * xv
		}
	}
	copy(dst, acc[:w])
}

// spmvRef is the reference loop of spmv (one input vector):
//
//	dst[r] = init + Σ_{k ∈ row r} Values[k] · x[ColIdx[k]]
//
// init as in spmmRef.
func spmvRef(dst []float32, a *sparse.CSR, x, bias []float32, accum bool) {
	for r := 0; r < a.Rows; r++ {
		var s float32
		switch {
		case accum:
			s = dst[r]
		case bias != nil:
			s = bias[r]
		}
		for k := a.RowPtr[r]; k < a.RowPtr[r+1]; k++ {
			s += a.Values[k] * x[a.ColIdx[k]]
		}
		dst[r] = s
	}
}

// spmv computes spmvRef with the rows split over threads.
func (s *spWeight) spmv(dst, x, bias []float32, accum bool, threads int) {
	a := s.a
	if a.Cols > 0 {
		_ = x[a.Cols-1] // every column the kernels read
	}
	if a.NNZ() < 1<<16 {
		threads = 1
	}
	parallelFor(a.Rows, threads, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var init float32
			switch {
			case accum:
				init = dst[r]
			case bias != nil:
				init = bias[r]
			}
			k0, k1 := a.RowPtr[r], a.RowPtr[r+1]
			dst[r] = init + spDot(a.Values[k0:k1], a.ColIdx[k0:k1], x)
		}
	})
}

// spDotGo is Σ_k vals[k]·x[cols[k]], in four interleaved partial sums.
func spDotGo(vals []float32, cols []int32, x []float32) float32 {
	var s0, s1, s2, s3 float32
	k := 0
	for ; k+4 <= len(vals); k += 4 {
		s0 += vals[k] * x[cols[k]]
		s1 += vals[k+1] * x[cols[k+1]]
		s2 += vals[k+2] * x[cols[k+2]]
		s3 += vals[k+3] * x[cols[k+3]]
	}
	for ; k < len(vals); k++ {
		s0 += vals[k] * x[cols[k]]
	}
	return (s0 + s1) + (s2 + s3)
}

// The kernels in use: the Go loops above, replaced at init by assembly
// where the CPU has it (op_sparse_amd64.go).
var (
	spmmRow = spmmRowGo
	spDot   = spDotGo
	// spmmGroup4, where set, computes a run of four rows sharing their
	// columns in one pass over the input rows (op_sparse_amd64.s);
	// without it such runs go row by row through spmmRow.
	spmmGroup4 func(dst []float32, ldd int, x []float32, ldx int, vals []float32, stride int, cols []int32, w int, bias []float32)
	// spmmRows, where set, computes one column chunk (w ≤ spmmChunk) of
	// rows consecutive rows of a in one call (op_sparse_amd64.s): row i
	// of them has the nonzeros [ptr[i·pstride], ptr[i·pstride+1]) of a,
	// its output at dst[i·ldd:], its initial value dst itself with accum,
	// else bias[i] (0 when bias is nil).
	spmmRows func(dst []float32, ldd int, x []float32, ldx int, a *sparse.CSR, ptr []int32, pstride, rows, w int, bias []float32, accum bool)
)

// transposeInto writes the rows × cols matrix src (row stride lds) as its
// cols × rows transpose into dst (row stride ldd): dst[j·ldd+i] =
// src[i·lds+j]. Four source rows at a time, so each destination row gets
// four consecutive elements per pass, in column tiles that stay in cache.
func transposeInto(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	const tile = 128
	for j0 := 0; j0 < cols; j0 += tile {
		j1 := min(j0+tile, cols)
		i := 0
		for ; i+4 <= rows; i += 4 {
			s0, s1 := src[i*lds+j0:i*lds+j1], src[(i+1)*lds+j0:(i+1)*lds+j1]
			s2, s3 := src[(i+2)*lds+j0:(i+2)*lds+j1], src[(i+3)*lds+j0:(i+3)*lds+j1]
			for j := range s0 {
				d := dst[(j0+j)*ldd+i:][:4]
				d[0], d[1], d[2], d[3] = s0[j], s1[j], s2[j], s3[j]
			}
		}
		for ; i < rows; i++ {
			for j := j0; j < j1; j++ {
				dst[j*ldd+i] = src[i*lds+j]
			}
		}
	}
}
