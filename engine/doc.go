// Package engine runs ONNX models in pure Go: a float32 executor for ONNX
// graphs, checked against ONNX Runtime, that cross-compiles without cgo.
//
// [Compile] turns a model and the shapes of its inputs into a [Program]: nodes in
// topological order, every shape inferred once (dynamic dimensions are bound
// at compile time), everything that depends only on constants and shapes
// folded away (the Shape→Gather→Concat→Reshape chains exporters emit), and
// one activation arena whose slots are reused as soon as a value is dead.
// [Program.Report] gives the peak activation memory and the FLOPs and MACs of
// every node. Ops the engine lacks are listed by name before anything runs,
// in an error wrapping [ErrNotImplemented].
//
// [Program.Run] takes and returns gorgonia.org/tensor tensors; inside, values are
// flat slices (float32 for floating-point types, int64 for integer and bool
// types) with a static shape.
//
// Each operator lives in its own op_*.go file: a builder (attribute parsing
// and shape inference, pure functions of the input types and shapes) and a
// kernel whose forward method writes into caller-owned outputs. The plain loop
// in each kernel's doc comment is the reference; fast paths (blocked parallel
// SGEMM for Conv/Gemm/MatMul, depthwise convolution) are tested against it.
// Kernels keep what a backward pass needs (attributes, shapes, the
// im2col layout) in the kernel struct, so a backward can sit beside forward.
//
// [CompileTrainable] compiles the same plan for training (reverse mode):
// trainable float parameters (initializers, Constant nodes, in If branches
// too; selected by
// onnxio parameter ID with [WithTrainable] or [WithFrozen]) become run-time
// values, [Trainable.Forward] keeps what the backward reads (the tape,
// planned in the same arena with reuse), and [Trainable.Backward] runs each
// kernel's backward (op_*_grad.go, beside its forward, on the same SGEMM) in
// reverse order, accumulating into [Param].Grad. [GradOps] lists the ops
// with a backward (one table, diffSlots); an op without one on a
// parameter's path is refused at compile time. BatchNormalization runs
// frozen or in training mode ([WithBatchNorm]). Every backward is checked
// against central differences (gradcheck_test.go) and whole models against
// torch's autograd (trainable_torch_test.go).
//
// Operator semantics follow the ONNX operator specification,
// https://onnx.ai/onnx/operators/ (and docs/Operators.md in github.com/onnx/onnx),
// including the differences between opsets (attributes that became inputs).
// docs/ops.md lists the ops the engine implements and their conformance results.
package engine
