// Package sparse owns edgeprune's sparse weight formats: what "zero" is,
// how the positions of the stored elements are encoded, how an encoding is
// validated, and the reference kernels over each format. Package pack stores
// pruned weights through it (docs/pack-format.md, "Encodings"); prune's N:M
// pattern and the engine's sparse kernels use its [NMLayout].
//
// An element is stored when its bit pattern is not all zero ([NonzeroMask]),
// so −0 and NaNs are kept and every conversion is exact, bit for bit.
// Positions are indices into the row-major flattened tensor. Three formats:
//
//   - CSR: the stored elements' positions, increasing. In memory, [CSR] is a
//     rows × cols matrix (row pointers, column indices, values), the layout a
//     sparse matrix–vector kernel walks row by row; as bytes, positions are
//     gaps ([AppendGaps], [ScanGaps]): row pointers follow from positions.
//   - Bitmap: one bit per element, LSB first, padding bits zero
//     ([NonzeroMask], [ScanMask]); [Bitmap] adds the values. At around 50%
//     density it is smaller than CSR.
//   - N:M ([NMLayout]): along a stated axis of the tensor, every group of M
//     elements keeps N slots (its nonzeros, then its lowest zero slots), their
//     in-group positions stored in [PosBits](M) bits each. The axis is the
//     input-channel (reduction) axis of the op that consumes the weight — for
//     Conv [O, I, kh, kw] the groups run along I at fixed output channel and
//     kernel position, the layout of sparse tensor cores and NHWC kernels;
//     [NMAlong] builds the layout from the dims and the axis. [NM] adds the
//     values.
//
// Each matrix type has Encode… (from dense), Decode (to dense), Validate (for
// data from outside) and MulVec, whose result equals the dense product.
package sparse
