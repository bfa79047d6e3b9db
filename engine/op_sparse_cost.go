package engine

import "math"

// The cost model that chooses, per weight, between the dense kernels and
// the sparse ones (op_sparse.go). It predicts both times from the shape,
// the number of nonzeros and the kernel kind, at rates measured on the
// kernels of this package (docs/benchmarks.md, "Sparse execution", cost
// model), and runs a weight sparse only when the prediction is at least
// sparseMargin faster: near the crossover the dense kernel is kept, so the
// default does not make a model slower.

// sparseMargin is how much faster the sparse kernel must be predicted;
// sparseMargin1x1 for a 1×1 Conv, whose rates were refitted with the
// 16-lane chunk kernel and where the residuals of the fit are smaller.
const (
	sparseMargin    = 1.25
	sparseMargin1x1 = 1.15
)

// costKind is the kernel a weight belongs to, for the cost model.
type costKind int

const (
	// costGemm: Gemm/MatMul (SGEMM packing B on every run; the sparse
	// kernel needs Aᵀ and Yᵀ transposes); below spGemmRows columns, the
	// vector kernels (sparse: the faster predicted of the gather and the
	// permute forms, op_sparse_perm.go).
	costGemm costKind = iota
	// costConv1x1: a 1×1 stride-1 unpadded Conv, whose input planes the
	// sparse kernel reads directly.
	costConv1x1
	// costConvKxK: any other Conv, where the sparse kernel first writes
	// the im2col matrix (C/G·kh·kw × positions) the dense kernels avoid.
	costConvKxK
)

// Rates on one core, fitted (weighted least squares, relative error) to
// the per-node times of TestSparseCostTable on mobilenet_v2, resnet18
// (90% global and per layer), PP-OCR det and cls (90% global) and
// lenet300, taken through the benchmark lock at priority (AMD EPYC Zen 5,
// AVX-512): multiply-adds per ns of the prepacked SGEMM of Conv, plus a
// term per element of input and output (small reductions, where the
// SGEMM cannot amortise its packing and stores); spmm per nonzero
// multiply-add, per row and 64-column chunk, and per im2col element;
// Gemm's per-run packing SGEMM and the transposes around its sparse
// kernel; the vector kernels (dense: compute or weight bandwidth, whichever
// is slower; sparse: the SELL kernel per nonzero).
//
// The 1×1 Conv rates were refitted after the kernel gained column blocks
// and 16-lane chunk widths (session 4, the same test on the same models,
// under load): the dense SGEMM per multiply-add, slower on a short side
// (at most 24 output or 16 input channels over at least 1600 positions,
// where its 8×32 tiles do little work per store), per output element,
// and per output element beyond 1 MiB of output (written to memory);
// spmm per nonzero multiply-add over the chunk's 16-lane vectors and per
// row and chunk.
const (
	denseConv1x1PerNs      = 81.0
	denseConv1x1ShortPerNs = 46.3
	denseConv1x1OutNs      = 0.0065
	denseConv1x1BigNs      = 0.060
	sparse1x1PerNs         = 37.2
	sparse1x1RowNs         = 6.65
	denseConvKxKPerNs      = 73.0
	denseConvKxKElemNs     = 0.052
	denseGemmPerNs         = 35.0
	denseVecPerNs          = 23.0
	denseVecBytesNs        = 32.0  // weight bytes per ns when they do not fit in cache
	denseVecNs             = 100.0 // fixed cost of a vector product
	sparseMMPerNs          = 37.0  // spmm, 1×1 Conv and Gemm
	sparseMMRowNs          = 1.5   // spmm, per row and column chunk
	sparseKxKPerNs         = 25.0  // spmm on an im2col matrix
	sparseKxKRowNs         = 16.0
	im2colNs               = 0.175 // per im2col element written
	transposeNs            = 0.5   // Gemm's Aᵀ and Yᵀ, per element
	sparseVecPerNs         = 3.0
	sparseVecNs            = 200.0 // fixed cost of a vector product
)

// sparseCost returns the predicted dense and sparse times (ns) of a rows ×
// cols weight with nnz nonzeros applied to n columns by a kernel of the
// given kind.
func sparseCost(rows, cols, nnz, n int, kind costKind) (dense, sparse float64) {
	macs := float64(rows) * float64(cols) * float64(n)
	if n < spGemmRows && kind == costGemm {
		per := float64(n)
		w := float64(rows) * float64(cols)
		dense = per * (max(w/denseVecPerNs, 4*w/denseVecBytesNs) + denseVecNs)
		// The sparse kernels read at least their nonzeros' values and
		// indices (gather: 4 + 4 bytes, permute: 4 + 1), at the rate the
		// dense kernel reads its weights: near full density that is more
		// than the dense weights (mobilenet_v2's classifier, 1000 × 1280
		// at density 1, ran 323–366 µs in the permute form against 240–298
		// dense on one thread of the Intel Xeon, session 12).
		kern := max(float64(nnz)/sparseVecPerNs, 8*float64(nnz)/denseVecBytesNs)
		if permKernel != nil {
			kern = min(kern, max(permCostNs(rows, cols, nnz), 5*float64(nnz)/denseVecBytesNs))
		}
		sparse = per * (kern + sparseVecNs + float64(rows))
		return dense, sparse
	}
	chunks := float64((n + spmmChunk - 1) / spmmChunk)
	// The kernel computes whole 16-lane vectors of each chunk.
	nzmacs := float64(nnz) * float64((n+15)/16*16)
	elems := float64(rows+cols) * float64(n)
	switch kind {
	case costConv1x1:
		rate := denseConv1x1PerNs
		if (rows <= 24 || cols <= 16) && n >= 1600 {
			rate = denseConv1x1ShortPerNs
		}
		out := float64(rows) * float64(n)
		dense = macs/rate + out*denseConv1x1OutNs
		if out*4 > 1<<20 {
			dense += out * denseConv1x1BigNs
		}
		sparse = nzmacs/sparse1x1PerNs + float64(rows)*chunks*sparse1x1RowNs
	case costConvKxK:
		dense = macs/denseConvKxKPerNs + elems*denseConvKxKElemNs
		sparse = nzmacs/sparseKxKPerNs + float64(rows)*chunks*sparseKxKRowNs + float64(cols)*float64(n)*im2colNs
	default:
		dense = macs / denseGemmPerNs
		sparse = nzmacs/sparseMMPerNs + float64(rows)*chunks*sparseMMRowNs + elems*transposeNs
	}
	return dense, sparse
}

// permCostNs predicts the permute form of the vector kernel
// (op_sparse_perm.go) for nonzeros spread uniformly: per (slice of 16
// rows, block of 32 columns), the expected widest of 16 rows, each
// Binomial(32, density) — 1 − P(max < k) summed over k — and the chance
// the pair has any nonzero. A pruned weight is rarely uniform (lenet300's
// border pixels are all zero), so this errs towards the gather form;
// newSellPack then chooses between the two on the packed counts.
func permCostNs(rows, cols, nnz int) float64 {
	if rows == 0 || cols == 0 {
		return 0
	}
	d := min(1, float64(nnz)/(float64(rows)*float64(cols)))
	// cdf[k] = P(Binomial(32, d) ≤ k).
	pk, cdf := math.Pow(1-d, permBlock), 0.0
	width := 0.0
	for k := 0; k < permBlock; k++ {
		cdf += pk
		width += 1 - math.Pow(min(1, cdf), float64(min(sellC, rows)))
		if d < 1 {
			pk *= float64(permBlock-k) / float64(k+1) * d / (1 - d)
		}
	}
	pairs := float64((rows+sellC-1)/sellC) * float64((cols+permBlock-1)/permBlock)
	nonEmpty := 1 - math.Pow(1-d, float64(min(sellC, rows)*permBlock))
	return pairs*nonEmpty*(width*permStepNs+permEntryNs) + float64(cols)*permXElemNs
}

// sparsePays reports whether the sparse kernel is predicted sparseMargin
// times faster.
func sparsePays(rows, cols, nnz, n int, kind costKind) bool {
	d, s := sparseCost(rows, cols, nnz, n, kind)
	if kind == costConv1x1 {
		return s*sparseMargin1x1 <= d
	}
	return s*sparseMargin <= d
}
