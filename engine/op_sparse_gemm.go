package engine

// Gemm and MatMul with a constant B run sparse: s holds B as rows =
// outputs (N) × columns = reduction (K), alpha folded in.

// spGemmRows is the batch (rows of A) from which the product runs as one
// spmm over Aᵀ instead of a spmv per row.
const spGemmRows = 16

// spGemmScratch is the scratch gemm needs: Aᵀ (unless A is stored
// transposed) and Yᵀ.
func spGemmScratch(m, n, k int, transA bool) int {
	if m < spGemmRows && !transA {
		return 0
	}
	s := n * m
	if !transA {
		s += k * m
	}
	return s
}

// gemm sets y = A·Sᵀ (+ y when accum) for A [m, k] (transA: stored [k, m]),
// y [m, n]. The reference is a dense product with B decoded: for every i, r,
//
//	y[i, r] = init + Σ_{t ∈ row r of S} S.Values[t] · A[i, S.ColIdx[t]]
func (s *spWeight) gemm(x *exec, a []float32, transA bool, m, k int, y []float32, accum bool) {
	n := s.a.Rows
	if m < spGemmRows && !transA {
		for i := 0; i < m; i++ {
			s.spmv(y[i*n:(i+1)*n], a[i*k:(i+1)*k], nil, accum, x.threads)
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

func (k *gemmKernel) sparseWeights() ([]*spWeight, int64) {
	if k.sp == nil {
		return nil, 0
	}
	return []*spWeight{k.sp}, int64(k.n) * int64(k.k)
}

func (k *matmulKernel) sparseWeights() ([]*spWeight, int64) {
	if k.sp == nil {
		return nil, 0
	}
	return []*spWeight{k.sp}, int64(k.n) * int64(k.k)
}
