package engine

import "github.com/edgeprune/edgeprune/sparse"

// Gemm and MatMul with a constant B run sparse: s holds B as rows =
// outputs (N) × columns = reduction (K), alpha folded in.

// spGemmRows is the batch (rows of A) from which the product runs as one
// spmm over Aᵀ instead of a spmv per row.
const spGemmRows = 16

// gemmSetup prepares s for products with m rows of A and returns the
// scratch gemm needs: below spGemmRows, the vector kernel's packed form
// and its sums; from there Aᵀ (unless A is stored transposed) and Yᵀ.
// The packed form replaces the CSR (s.a keeps only the dimensions), so
// the weight is held once, in the form the kernel reads.
func (s *spWeight) gemmSetup(m, k int, transA bool) int {
	if m < spGemmRows && !transA {
		s.sell = newSellPack(s.a)
		s.a = &sparse.CSR{Rows: s.a.Rows, Cols: s.a.Cols}
		return s.sell.scratch()
	}
	n := s.a.Rows
	sc := n * m
	if !transA {
		sc += k * m
	}
	return sc
}

// gemm sets y = A·Sᵀ (+ y when accum) for A [m, k] (transA: stored [k, m]),
// y [m, n]. The reference is a dense product with B decoded: for every i, r,
//
//	y[i, r] = init + Σ_{t ∈ row r of S} S.Values[t] · A[i, S.ColIdx[t]]
func (s *spWeight) gemm(x *exec, a []float32, transA bool, m, k int, y []float32, accum bool) {
	n := s.a.Rows
	if m < spGemmRows && !transA {
		for i := 0; i < m; i++ {
			yi, ai := y[i*n:(i+1)*n], a[i*k:(i+1)*k]
			_ = ai[s.a.Cols-1] // every column the kernel reads
			s.sell.spmv(yi, ai, nil, accum, x.scratch, x.threads)
		}
		return
	}
	xt := a
	sc := x.scratch
	if !transA {
		xt = sc[:k*m]
		transposeInto(xt, m, a, k, m, k)
		sc = sc[k*m:]
	}
	zt := sc[:n*m]
	s.spmm(zt, m, xt, m, m, nil, false, nil, x.threads)
	if !accum {
		transposeInto(y, n, zt, m, n, m)
		return
	}
	for i := 0; i < m; i++ {
		yr := y[i*n : (i+1)*n]
		for r := range yr {
			yr[r] += zt[r*m+i]
		}
	}
}

// sparseWeights of Gemm and MatMul: their one weight, which stands for
// its rows × columns dense elements.
func (k *gemmKernel) sparseWeights() ([]*spWeight, int64)   { return k.sp.asList() }
func (k *matmulKernel) sparseWeights() ([]*spWeight, int64) { return k.sp.asList() }

func (s *spWeight) asList() ([]*spWeight, int64) {
	if s == nil {
		return nil, 0
	}
	return []*spWeight{s}, int64(s.a.Rows) * int64(s.a.Cols)
}
