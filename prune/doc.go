// Package prune decides which weights of an ONNX model to remove and removes
// them, on the model as onnxio reads it: magnitude pruning as
// torch.nn.utils.prune, TF-MOT and Neural Compressor know it, without a
// framework.
//
// Three things are kept apart, as in Torch-Pruning:
//
//   - What can be pruned: [Targets] lists the float weights (rank ≥ 2) that
//     Conv, ConvTranspose, Gemm, MatMul, LSTM and GRU use as weights —
//     initializers, Constant nodes or subgraph tensors, read directly or
//     through Cast and Identity — with their output- and input-channel axes
//     (LSTM/GRU W and R: rows, gates × hidden units, on axis 1; input
//     features or hidden units on axis 2, along which N:M groups run; a
//     block never straddles two gates). Biases, peepholes, initial states
//     and normalization parameters are never targets. [Selection] narrows
//     them.
//   - How important each unit is: an [Importance] scores elements
//     ([Magnitude] |w|, [L2]); units of several elements are scored by a
//     p-norm of their elements' scores. Criteria computed on calibration
//     data (a [Calibration] over a package dataset Dataset, run by the
//     engine's forward and backward passes) are [ElementScores], which are
//     both an Importance and a GroupImportance ([ScoreCriterion]):
//     [Taylor] |w·∂L/∂w| with the gradients of each batch's mean
//     cross-entropy summed over the batches (Molchanov et al. 2019); [SNIP]
//     the same normalised to sum 1 (Lee et al. 2019); [OBD] ½·F·w² with F
//     the empirical Fisher diagonal E_n[g_n²] (LeCun et al. 1990,
//     Hessian-free); [Wanda] |W_ij|·‖X_j‖₂ with X_j the input feature the
//     weight multiplies — for Conv the im2col column, input channel ×
//     kernel offset over every output position (Sun et al. 2023), compared
//     within each output row by the [Row] scope. A model whose output is a
//     Softmax is scored with the negative log-likelihood of its
//     probabilities. Global Taylor and per-row Wanda reproduce torch's
//     masks on the MNIST LeNets (criteria_test.go). Structured pruning sums
//     a channel's element scores over its coupled weight, bias and scale
//     slices (Torch-Pruning's GroupTaylorImportance).
//   - How much goes, and in which shape: a [Pattern] (element, N:M along
//     the input-channel axis, RxC blocks) defines the units, a [Scope]
//     (per layer, per output row, or one global threshold with per-layer
//     bounds) the count,
//     and an O(n) radix selection with ties broken by position the units,
//     identically on every machine. Existing zeros are taken first.
//
// A [Pruner] makes a [Plan] (which parameters, pattern, how many units each
// loses: data, printed as JSON and replayed by [Apply]) and applies it.
// [Cubic] is the gradual schedule of Zhu & Gupta for iterative pruning.
//
// Structured (channel) pruning removes whole channels by dependency group:
// [BuildDepGraph] follows each Conv/Gemm/MatMul output channel and each
// LSTM/GRU hidden unit (rules_rnn.go: the unit's rows in every gate of W, R
// and the biases, its R column, peepholes and initial states, in both
// directions) through the graph with per-op [Rule]s from an explicit
// [Registry] — through residual Adds, Concat, Split/Slice, Gather, depthwise
// and grouped Conv, channel shuffle and Reshape, with the shapes and the folded shape computations (Shape → Gather
// → … → a Reshape target) the engine's compiled plan reports at the bound
// input shapes (engine.Report.Values), to consumers in the main graph or in
// If/Loop bodies; a [GroupImportance] scores the groups' units; a
// [StructuredPruner] selects them (reusing the radix selection) into a
// [StructuredPlan], which [ApplyStructured] carries out shrunk, or
// [MaskStructured] as zeros. A model whose shapes cannot be inferred is
// [ErrShapes].
//
// One [Option] vocabulary configures [New], [NewStructured] and
// [BuildDepGraph]; an option that does not apply where it is given is
// refused by name. Writing a rule for another op: rule.go is the framework
// ([Rule], [NoRewrite], [Registry], [Coupler], [Rewriter]); the built-in
// rules (rules*.go) use nothing else.
package prune
