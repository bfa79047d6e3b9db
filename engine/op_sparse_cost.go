package engine

// The cost model that chooses, per weight, between the dense kernels and
// the sparse ones (op_sparse.go). It predicts both times from the shape and
// the number of nonzeros at rates measured on the kernels of this package
// (docs/benchmarks.md, "Sparse kernels"), and runs a weight sparse only
// when the prediction is at least sparseMargin faster: near the crossover
// the dense kernel is kept, so the default does not make a model slower.

// sparseMargin is how much faster the sparse kernel must be predicted.
const sparseMargin = 1.25

// Rates in multiply-adds per nanosecond on one core, read from
// TestSparseCostTable on the pruned real models (AMD EPYC Zen 5, AVX-512;
// a loaded machine, so rounded down for the sparse side): the prepacked
// SGEMM of Conv, Gemm's SGEMM that packs B on every run, the dense vector
// kernel, spmm per nonzero and chunk column, the packed vector kernel per
// nonzero.
const (
	denseConvPerNs = 45.0
	denseGemmPerNs = 30.0
	denseVecPerNs  = 20.0
	denseVecNs     = 100.0 // fixed cost of a vector product
	sparseMMPerNs  = 11.0  // the input chunk (cols × 64 floats) beyond L2's share
	sparseMMHotNs  = 18.0  // the input chunk within 256 KiB
	sparseRowNs    = 4.0   // spmm, per row and column chunk
	transposeNs    = 0.5   // Gemm's Aᵀ and Yᵀ, per element
	sparseVecPerNs = 3.0
	sparseVecNs    = 200.0 // fixed cost of a vector product
)

// sparseCost returns the predicted dense and sparse times (ns) of a rows ×
// cols weight with nnz nonzeros applied to n columns; conv says the dense
// kernel is Conv's prepacked SGEMM and the sparse one needs no transposes.
func sparseCost(rows, cols, nnz, n int, conv bool) (dense, sparse float64) {
	macs := float64(rows) * float64(cols) * float64(n)
	if n < spGemmRows && !conv {
		per := float64(n)
		dense = per * (float64(rows*cols)/denseVecPerNs + denseVecNs)
		sparse = per * (float64(nnz)/sparseVecPerNs + sparseVecNs + float64(rows))
		return dense, sparse
	}
	chunks := float64((n + spmmChunk - 1) / spmmChunk)
	rate := sparseMMPerNs
	if cols*spmmChunk*4 <= 256<<10 {
		rate = sparseMMHotNs
	}
	sparse = float64(nnz)*chunks*spmmChunk/rate + float64(rows)*chunks*sparseRowNs
	if conv {
		dense = macs / denseConvPerNs
	} else {
		dense = macs / denseGemmPerNs
		sparse += float64(n) * float64(rows+cols) * transposeNs
	}
	return dense, sparse
}

// sparsePays reports whether the sparse kernel is predicted sparseMargin
// times faster.
func sparsePays(rows, cols, nnz, n int, conv bool) bool {
	d, s := sparseCost(rows, cols, nnz, n, conv)
	return s*sparseMargin <= d
}
