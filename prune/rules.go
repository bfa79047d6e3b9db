package prune

import (
	"fmt"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// The built-in rules, one file per kind: rules_layers.go (weights: Conv,
// ConvTranspose, Gemm, MatMul, normalization), rules_elementwise.go
// (activations, casts, pooling, broadcasting ops, reductions, softmax),
// rules_shape.go (Concat, Split, Slice, Transpose, Flatten, Reshape,
// Resize, Pad), depgraph_fold.go (Shape), depgraph_shuffle.go (channel
// shuffles), rules_rnn.go (LSTM, GRU, Gather).

// DefaultRegistry returns a new registry with the built-in rules.
func DefaultRegistry() *Registry {
	r := NewRegistry()
	r.Register("Conv", convRule{})
	r.Register("ConvTranspose", convTransposeRule{})
	r.Register("Gemm", gemmRule{})
	r.Register("MatMul", matMulRule{})
	r.Register("BatchNormalization", normRule{params: []SliceKind{KindScale, KindShift, KindStat, KindStat}})
	r.Register("InstanceNormalization", normRule{params: []SliceKind{KindScale, KindShift}})
	for _, op := range []string{"Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "HardSigmoid",
		"HardSwish", "Tanh", "Softplus", "Softsign", "Mish", "Erf", "Abs", "Neg", "Exp", "Identity", "Dropout",
		"Clip", "Floor", "Ceil", "Round", "Sign", "Sqrt", "Reciprocal", "Log", "ThresholdedRelu", "Shrink",
		"Sin", "Cos"} {
		r.Register(op, unaryRule{})
	}
	r.Register("Cast", castRule{})
	for _, op := range []string{"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"} {
		r.Register(op, poolRule{})
	}
	binary := map[string]SliceKind{"Add": KindShift, "Sub": KindShift, "Mul": KindScale, "Div": KindDivisor,
		"Pow": KindDivisor, "Max": KindDivisor, "Min": KindDivisor, "Sum": KindShift, "Mean": KindDivisor, "PRelu": KindScale}
	for op, k := range binary {
		r.Register(op, elementwiseRule{kind: k})
	}
	r.Register("Concat", concatRule{})
	r.Register("Split", splitRule{})
	r.Register("Slice", sliceRule{})
	r.Register("Transpose", transposeRule{})
	r.Register("Flatten", flattenRule{})
	r.Register("Reshape", reshapeRule{})
	r.Register("Resize", resizeRule{})
	r.Register("Upsample", resizeRule{})
	r.Register("Pad", padRule{})
	for _, op := range []string{"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
		"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"} {
		r.Register(op, reduceRule{})
	}
	for _, op := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		r.Register(op, softmaxRule{})
	}
	r.Register("Shape", shapeRule{})
	r.Register("Gather", gatherRule{})
	r.Register("LSTM", rnnRule{gates: 4})
	r.Register("GRU", rnnRule{gates: 3})
	r.Register("Size", refuseRule{why: "its element count is read by Size at run time"})
	r.Register("LRN", refuseRule{why: "LRN normalizes across channels"})
	r.Register("LayerNormalization", refuseRule{why: "LayerNormalization normalizes across the channel axis"})
	return r
}

// refuseRule blocks every input space.
type refuseRule struct {
	NoRewrite
	why string
}

func (r refuseRule) Couple(c *Coupler, n *onnx.NodeProto) {
	c.BlockInputs(n, fmt.Sprintf("%s (%q)", r.why, c.Label(n)))
}
