package profile

import "strings"

// OpClass groups nodes that cost alike on a CPU.
type OpClass string

// The op classes of the cost model.
const (
	ConvKxK  OpClass = "conv_kxk" // dense convolution with a kernel larger than 1×1
	Conv1x1  OpClass = "conv_1x1" // pointwise convolution (a GEMM)
	ConvDW   OpClass = "conv_dw"  // depthwise or grouped convolution
	Gemm     OpClass = "gemm"     // Gemm, MatMul
	Eltwise  OpClass = "eltwise"  // element-wise: activations, Add, Mul, normalisation
	Pool     OpClass = "pool"     // pooling, Resize, reductions
	Movement OpClass = "move"     // data movement: Concat, Transpose, Slice, Pad, Gather
	// Sparse is a Conv, Gemm or MatMul that the engine runs on its sparse
	// kernels (engine.NodeCost.Kernel): its FLOPs are those of the
	// weight's nonzeros (FLOPs × Density).
	Sparse OpClass = "sparse"
)

// OpClasses lists every class, in report order.
var OpClasses = []OpClass{ConvKxK, Conv1x1, ConvDW, Gemm, Sparse, Eltwise, Pool, Movement}

func joinClasses() string {
	s := make([]string, len(OpClasses))
	for i, c := range OpClasses {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
