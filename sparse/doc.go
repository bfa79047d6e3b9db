// Package sparse holds the sparse tensor formats edgeprune stores pruned
// weights in, and their reference kernels.
//
// A weight tensor is viewed as a row-major matrix (see [View2D]): a Conv
// weight [out, in, kh, kw] as out × in·kh·kw, a Gemm/MatMul weight as
// stored (dims[0] × the rest). Three formats hold its nonzeros:
//
//   - [CSR]: compressed sparse rows (row pointers, column indices, values),
//     the layout a sparse matrix–vector kernel walks row by row.
//   - [Bitmap]: one bit per element (row-major, LSB first in each byte) plus
//     the nonzero values in row-major order; at around 50% density it is
//     smaller than CSR.
//   - [NM]: N:M structured sparsity (for example 2:4, the pattern sparse
//     tensor cores accelerate): in every group of M consecutive elements of
//     a row, N slots are kept, their positions stored in log2(M) bits each.
//
// All conversions to and from dense are exact, bit for bit: "zero" means
// the all-zero bit pattern, so a negative zero is kept as a stored value.
// The container format of package pack stores the same positions
// (docs/pack-format.md).
package sparse
