package engine

import "strings"

// Names of the element-wise, tap (direct and depthwise convolution,
// pooling) and sigmoid kernels in use: "go" for the loops in vec.go, else
// set by the file that installs faster ones (vec_amd64.go, vec_arm64.go).
var (
	vecKernelName     = "go"
	tapKernelName     = "go"
	sigmoidKernelName = "go"
	// spmmKernelName names the sparse × dense kernels (op_sparse.go's
	// spmmRow, spmmRows, spmmGroup4) of weights that run sparse.
	spmmKernelName = "go"
)

// KernelInfo names a class of inner kernel and the implementation this
// process runs for it, as selected at start-up from the CPU's features
// (and -tags purego, which keeps the portable Go kernels).
type KernelInfo struct {
	Class string `json:"class"` // sgemm, elementwise, taps, sigmoid, spmm
	Name  string `json:"name"`  // e.g. avx512-8x32, neon-8x12, avx512, neon, go
}

// Kernels lists the kernels every compiled Program in this process runs:
// the SGEMM micro-kernel (MatMul, Gemm, convolutions through im2col), the
// element-wise kernels (Add, Mul, Relu/Clip, BatchNorm, …), the tap kernels
// (depthwise and small direct convolutions, MaxPool), the sigmoid and the
// sparse × dense product of weights that run sparse (op_sparse.go).
func Kernels() []KernelInfo {
	return []KernelInfo{
		{"sgemm", activeKernel().name},
		{"elementwise", vecKernelName},
		{"taps", tapKernelName},
		{"sigmoid", sigmoidKernelName},
		{"spmm", spmmKernelName},
	}
}

// KernelSummary is Kernels on one line: "sgemm neon-8x12, elementwise
// neon, taps neon, sigmoid neon, spmm neon" on arm64.
func KernelSummary() string {
	var parts []string
	for _, k := range Kernels() {
		parts = append(parts, k.Class+" "+k.Name)
	}
	return strings.Join(parts, ", ")
}
