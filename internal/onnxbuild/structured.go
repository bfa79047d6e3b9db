package onnxbuild

import onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"

// StructuredModels are small models whose channel couplings exercise the
// structured pruning rules: Split and Transpose on the channel axis,
// PRelu and per-channel Mul/Add constants, Reshape into Gemm and MatMul, a
// depthwise Conv with a channel multiplier and a channel Slice, a channel
// shuffle with constant shapes and one exported with its shapes computed at
// run time, a flatten target and Split sizes computed at run time, grouped
// convolutions, and heads inside If branches (structured_shapes.go). Each has one float32 input "x" and output "y",
// and runs in ONNX Runtime.
func StructuredModels() []Canned {
	return []Canned{
		{"split_transpose", SplitTranspose},
		{"reshape_gemm", ReshapeGemm},
		{"depthwise_slice", DepthwiseSlice},
		{"shuffle", Shuffle},
		{"shuffle_exported", ShuffleExported},
		{"runtime_flatten", RuntimeFlatten},
		{"split_computed", SplitComputed},
		{"grouped_conv", GroupedConv},
		{"if_heads", IfHeads},
		{"if_heads_else", IfHeadsElse},
	}
}

// SplitTranspose, x[1,4,8,8] → y[1,4,8,8]:
//
//	s  = Relu(Conv 4→8, 3x3, pad 1)
//	a, b = Split(s, axis 1, [3, 5])
//	a2 = Conv 3→6 (a)
//	b2 = Transpose(Conv 5→6 (Transpose(b, NHWC)), NCHW)
//	t  = PRelu(a2 + b2, slope [6,1,1]) ⊙ k[1,6,1,1] + c[6,1,1]
//	y  = Conv 6→4 (t)
func SplitTranspose() *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 4, 8, 8)
	w := initRand(b, "stem.weight", 901, 0.3, 8, 4, 3, 3)
	bias := initRand(b, "stem.bias", 902, 0.1, 8)
	b.Node("Conv", []string{"x", w, bias}, []string{"stem"}, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
	b.Node("Relu", []string{"stem"}, []string{"s"})
	split := b.InitInt64("split.sizes", []int64{2}, []int64{3, 5})
	b.Node("Split", []string{"s", split}, []string{"a", "b"}, AttrInt("axis", 1))
	w = initRand(b, "a.weight", 903, 0.4, 6, 3, 1, 1)
	b.Node("Conv", []string{"a", w}, []string{"a2"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Transpose", []string{"b"}, []string{"b.nhwc"}, AttrInts("perm", 0, 2, 3, 1))
	b.Node("Transpose", []string{"b.nhwc"}, []string{"b.nchw"}, AttrInts("perm", 0, 3, 1, 2))
	w = initRand(b, "b.weight", 904, 0.4, 6, 5, 1, 1)
	bias = initRand(b, "b.bias", 905, 0.1, 6)
	b.Node("Conv", []string{"b.nchw", w, bias}, []string{"b.conv"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Transpose", []string{"b.conv"}, []string{"b.t"}, AttrInts("perm", 0, 2, 3, 1))
	b.Node("Transpose", []string{"b.t"}, []string{"b2"}, AttrInts("perm", 0, 3, 1, 2))
	b.Node("Add", []string{"a2", "b2"}, []string{"sum"})
	slope := b.Init("prelu.slope", []int64{6, 1, 1}, shift(Rand(906, 6, 0.1), 0.2))
	b.Node("PRelu", []string{"sum", slope}, []string{"act"})
	k := b.Init("scale", []int64{1, 6, 1, 1}, shift(Rand(907, 6, 0.3), 1))
	b.Node("Mul", []string{"act", k}, []string{"scaled"})
	c := b.Init("shift", []int64{6, 1, 1}, Rand(908, 6, 0.5))
	b.Node("Add", []string{"scaled", c}, []string{"t"})
	w = initRand(b, "out.weight", 909, 0.3, 4, 6, 1, 1)
	bias = initRand(b, "out.bias", 910, 0.1, 4)
	b.Node("Conv", []string{"t", w, bias}, []string{"y"}, AttrInts("kernel_shape", 1, 1))
	b.Output("y", Float, 1, 4, 8, 8)
	return b.Model()
}

// ReshapeGemm, x[1,3,8,8] → y[1,5]:
//
//	p = MaxPool 2x2 (Relu(BN(Conv 3→8, 3x3, pad 1)))     → [1,8,4,4]
//	h = Relu(Gemm(Reshape(p, [1,128]), W[16,128], transB))
//	y = Sigmoid(h)·V[16,5] + c[5]
func ReshapeGemm() *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 3, 8, 8)
	w := initRand(b, "conv.weight", 1001, 0.3, 8, 3, 3, 3)
	b.Node("Conv", []string{"x", w}, []string{"conv"}, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
	bn(b, "bn", "conv", 1002, 8)
	b.Node("Relu", []string{"bn"}, []string{"relu"})
	b.Node("MaxPool", []string{"relu"}, []string{"pool"}, AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2))
	shape := b.InitInt64("flat.shape", []int64{2}, []int64{1, 128})
	b.Node("Reshape", []string{"pool", shape}, []string{"flat"})
	w = initRand(b, "fc1.weight", 1003, 0.1, 16, 128)
	bias := initRand(b, "fc1.bias", 1004, 0.1, 16)
	b.Node("Gemm", []string{"flat", w, bias}, []string{"fc1"}, AttrInt("transB", 1))
	b.Node("Relu", []string{"fc1"}, []string{"h"})
	b.Node("Sigmoid", []string{"h"}, []string{"hs"})
	w = initRand(b, "fc2.weight", 1005, 0.3, 16, 5)
	bias = initRand(b, "fc2.bias", 1006, 0.1, 5)
	b.Node("MatMul", []string{"hs", w}, []string{"fc2"})
	b.Node("Add", []string{"fc2", bias}, []string{"y"})
	b.Output("y", Float, 1, 5)
	return b.Model()
}

// DepthwiseSlice, x[1,3,8,8] → y[1,4,8,8]:
//
//	d = Relu(Conv depthwise 4→8 (multiplier 2), 3x3, group 4 (Conv 3→4 (x)))
//	y = Conv 6→4 (Slice(d, channels [2, 8)))
func DepthwiseSlice() *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 3, 8, 8)
	w := initRand(b, "pw.weight", 1101, 0.4, 4, 3, 1, 1)
	bias := initRand(b, "pw.bias", 1102, 0.1, 4)
	b.Node("Conv", []string{"x", w, bias}, []string{"pw"}, AttrInts("kernel_shape", 1, 1))
	w = initRand(b, "dw.weight", 1103, 0.3, 8, 1, 3, 3)
	bias = initRand(b, "dw.bias", 1104, 0.1, 8)
	b.Node("Conv", []string{"pw", w, bias}, []string{"dw"}, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1), AttrInt("group", 4))
	b.Node("Relu", []string{"dw"}, []string{"d"})
	starts := b.InitInt64("slice.starts", []int64{1}, []int64{2})
	ends := b.InitInt64("slice.ends", []int64{1}, []int64{8})
	axes := b.InitInt64("slice.axes", []int64{1}, []int64{1})
	b.Node("Slice", []string{"d", starts, ends, axes}, []string{"sl"})
	w = initRand(b, "out.weight", 1105, 0.3, 4, 6, 1, 1)
	bias = initRand(b, "out.bias", 1106, 0.1, 4)
	b.Node("Conv", []string{"sl", w, bias}, []string{"y"}, AttrInts("kernel_shape", 1, 1))
	b.Output("y", Float, 1, 4, 8, 8)
	return b.Model()
}

// Shuffle is a ShuffleNet unit with constant shapes, x[1,8,8,8] → y[1,8,8,8]:
//
//	a, b = Split(x, axis 1, [4, 4])
//	b2   = Relu(Conv 4→4 (DWConv 3x3 (Relu(Conv 4→4 (b)))))
//	y    = Reshape(Transpose(Reshape(Concat(a, b2), [1,2,4,8,8]), 0 2 1 3 4), [1,8,8,8])
func Shuffle() *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 8, 8, 8)
	split := b.InitInt64("split.sizes", []int64{2}, []int64{4, 4})
	b.Node("Split", []string{"x", split}, []string{"a", "b"}, AttrInt("axis", 1))
	w := initRand(b, "b1.weight", 1201, 0.4, 4, 4, 1, 1)
	bias := initRand(b, "b1.bias", 1202, 0.1, 4)
	b.Node("Conv", []string{"b", w, bias}, []string{"b1"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Relu", []string{"b1"}, []string{"b1r"})
	w = initRand(b, "dw.weight", 1203, 0.3, 4, 1, 3, 3)
	bias = initRand(b, "dw.bias", 1204, 0.1, 4)
	b.Node("Conv", []string{"b1r", w, bias}, []string{"dw"}, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1), AttrInt("group", 4))
	w = initRand(b, "b3.weight", 1205, 0.4, 4, 4, 1, 1)
	bias = initRand(b, "b3.bias", 1206, 0.1, 4)
	b.Node("Conv", []string{"dw", w, bias}, []string{"b3"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Relu", []string{"b3"}, []string{"b2"})
	b.Node("Concat", []string{"a", "b2"}, []string{"cat"}, AttrInt("axis", 1))
	s5 := b.InitInt64("shuffle.split", []int64{5}, []int64{1, 2, 4, 8, 8})
	b.Node("Reshape", []string{"cat", s5}, []string{"g"})
	b.Node("Transpose", []string{"g"}, []string{"gt"}, AttrInts("perm", 0, 2, 1, 3, 4))
	s4 := b.InitInt64("shuffle.merge", []int64{4}, []int64{1, 8, 8, 8})
	b.Node("Reshape", []string{"gt", s4}, []string{"y"})
	b.Output("y", Float, 1, 8, 8, 8)
	return b.Model()
}
