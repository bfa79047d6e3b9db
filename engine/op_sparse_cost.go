package engine

// The cost model that chooses, per weight, between the dense kernels and
// the sparse ones (op_sparse.go). It predicts both times from the shape and
// the number of nonzeros at rates measured on the kernels of this package
// (docs/benchmarks.md, "Sparse kernels"), and runs a weight sparse only
// when the prediction is at least sparseMargin faster: near the crossover
// the dense kernel is kept, so the default does not make a model slower.

// sparseMargin is how much faster the sparse kernel must be predicted.
const sparseMargin = 1.25

// Rates in multiply-adds per nanosecond (one core), measured with
// BenchmarkSparseKernels: dense is the packed SGEMM (n ≥ 16 columns) or the
// vector kernel (n < 16); sparse is spmm per nonzero and column, or spmv
// per nonzero.
const (
	denseMACsPerNs   = 40.0 // sgemm, AVX-512, mid-size shapes
	denseVecPerNs    = 8.0  // gemv over a weight that fits in L2
	sparseMMPerNs    = 12.0 // spmm, full 64-column chunks
	sparseVecPerNs   = 2.0  // spmv, 16-lane gathers
	sparseRowNs      = 4.0  // per row and chunk: call and store
	denseFixedNs     = 0.0
	sparseChunkWidth = float64(spmmChunk)
)

// sparseCost returns the predicted dense and sparse times (ns) of a rows ×
// cols weight with nnz nonzeros applied to n columns.
func sparseCost(rows, cols, nnz, n int) (dense, sparse float64) {
	macs := float64(rows) * float64(cols) * float64(n)
	if n < 16 {
		dense = macs/denseVecPerNs + denseFixedNs
		sparse = float64(nnz)*float64(n)/sparseVecPerNs + float64(rows*n)
		return dense, sparse
	}
	chunks := float64((n + spmmChunk - 1) / spmmChunk)
	// A partial last chunk costs as much as a full one.
	eff := chunks * sparseChunkWidth
	dense = macs / denseMACsPerNs
	sparse = float64(nnz)*eff/sparseMMPerNs + float64(rows)*chunks*sparseRowNs
	return dense, sparse
}

// sparsePays reports whether the sparse kernel is predicted sparseMargin
// times faster.
func sparsePays(rows, cols, nnz, n int) bool {
	d, s := sparseCost(rows, cols, nnz, n)
	return s*sparseMargin <= d
}
