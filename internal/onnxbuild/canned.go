package onnxbuild

import (
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// CannedOpset is the default-domain opset of every canned model.
const CannedOpset = 13

// Canned names one canned model.
type Canned struct {
	Name  string // file stem of its golden copy, testdata/models/<Name>.onnx
	Build func() *onnx.ModelProto
}

// CannedModels lists every canned model, in a fixed order. Each has one
// float32 input "x" and one float32 output "y", passes
// onnx.checker.check_model with full_check, and runs in ONNX Runtime.
func CannedModels() []Canned {
	return []Canned{
		{"mlp", MLP},
		{"cnn", CNN},
		{"const_weights", ConstWeights},
		{"if", IfModel},
		{"se_block", SEBlock},
		{"concat", ConcatModel},
		{"float16_weights", Float16Weights},
		{"float64_weights", Float64Weights},
	}
}

// MLP is x[N,16] → Gemm(transB=1) → Relu → Gemm(alpha=0.5) → Relu →
// MatMul → Add → y[N,4], mixing Gemm layers and a MatMul+Add layer.
//
//	h1 = relu(x·W1ᵀ + b1)       W1 fc1.weight [32,16], b1 fc1.bias [32]
//	h2 = relu(0.5·h1·W2 + b2)   W2 fc2.weight [32,16], b2 fc2.bias [16]
//	y  = h2·W3 + b3             W3 fc3.weight [16,4],  b3 fc3.bias [4]
func MLP() *onnx.ModelProto {
	b := New(CannedOpset)
	b.InputDyn("x", Float, "N", 16)
	w1 := initRand(b, "fc1.weight", 101, 0.25, 32, 16)
	b1 := initRand(b, "fc1.bias", 102, 0.1, 32)
	b.Node("Gemm", []string{"x", w1, b1}, []string{"fc1"}, AttrInt("transB", 1))
	b.Node("Relu", []string{"fc1"}, []string{"relu1"})
	w2 := initRand(b, "fc2.weight", 103, 0.25, 32, 16)
	b2 := initRand(b, "fc2.bias", 104, 0.1, 16)
	b.Node("Gemm", []string{"relu1", w2, b2}, []string{"fc2"},
		AttrFloat("alpha", 0.5), AttrFloat("beta", 1))
	b.Node("Relu", []string{"fc2"}, []string{"relu2"})
	w3 := initRand(b, "fc3.weight", 105, 0.25, 16, 4)
	b3 := initRand(b, "fc3.bias", 106, 0.1, 4)
	b.Node("MatMul", []string{"relu2", w3}, []string{"fc3.matmul"})
	b.Node("Add", []string{"fc3.matmul", b3}, []string{"y"})
	b.OutputDyn("y", Float, "N", 4)
	return b.Model()
}

// CNN is a small residual network, x[1,3,16,16] → y[1,10]:
//
//	r1 = Relu(BN(Conv 3→8, 3x3, pad 1))
//	r2 = Relu(BN(Conv 8→8, 3x3, pad 1, no bias) + r1)
//	dw = Conv depthwise 8→8, 3x3, group 8, stride 2, pad 1   → [1,8,8,8]
//	pw = Conv 1x1 8→16
//	y  = Gemm(Flatten(GlobalAveragePool(pw)), transB=1)     → [1,10]
//
// The BatchNormalization parameters are stored in float_data rather than
// raw_data, so readers see both encodings.
func CNN() *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 3, 16, 16)
	pad1 := AttrInts("pads", 1, 1, 1, 1)
	k3 := AttrInts("kernel_shape", 3, 3)

	w := initRand(b, "conv1.weight", 201, 0.3, 8, 3, 3, 3)
	bias := initRand(b, "conv1.bias", 202, 0.1, 8)
	b.Node("Conv", []string{"x", w, bias}, []string{"conv1"}, k3, pad1)
	bn(b, "bn1", "conv1", 203, 8)
	b.Node("Relu", []string{"bn1"}, []string{"relu1"})

	w = initRand(b, "conv2.weight", 204, 0.2, 8, 8, 3, 3)
	b.Node("Conv", []string{"relu1", w}, []string{"conv2"}, k3, pad1)
	bn(b, "bn2", "conv2", 205, 8)
	b.Node("Add", []string{"bn2", "relu1"}, []string{"residual"})
	b.Node("Relu", []string{"residual"}, []string{"relu2"})

	w = initRand(b, "dw.weight", 206, 0.3, 8, 1, 3, 3)
	bias = initRand(b, "dw.bias", 207, 0.1, 8)
	b.Node("Conv", []string{"relu2", w, bias}, []string{"dw"},
		k3, pad1, AttrInt("group", 8), AttrInts("strides", 2, 2))

	w = initRand(b, "pw.weight", 208, 0.3, 16, 8, 1, 1)
	bias = initRand(b, "pw.bias", 209, 0.1, 16)
	b.Node("Conv", []string{"dw", w, bias}, []string{"pw"}, AttrInts("kernel_shape", 1, 1))

	b.Node("GlobalAveragePool", []string{"pw"}, []string{"pool"})
	b.Node("Flatten", []string{"pool"}, []string{"flat"}, AttrInt("axis", 1))
	w = initRand(b, "fc.weight", 210, 0.25, 10, 16)
	bias = initRand(b, "fc.bias", 211, 0.1, 10)
	b.Node("Gemm", []string{"flat", w, bias}, []string{"y"}, AttrInt("transB", 1))
	b.Output("y", Float, 1, 10)
	return b.Model()
}

// ConstWeights holds every weight in a Constant node and has no
// initializers, as paddle2onnx exports do. x[1,3,4,4] → y[1,8]:
//
//	r = Relu(Conv 3→4, 3x3, pad 1)                  → [1,4,4,4]
//	y = Reshape(r, Constant int64 [0,-1])·W + bias   W [64,8]
func ConstWeights() *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 3, 4, 4)
	w := b.Const("conv2d_0.w_0", []int64{4, 3, 3, 3}, Rand(301, 4*3*3*3, 0.3))
	bias := b.Const("conv2d_0.b_0", []int64{4}, Rand(302, 4, 0.1))
	b.Node("Conv", []string{"x", w, bias}, []string{"conv2d_0.tmp_0"},
		AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
	b.Node("Relu", []string{"conv2d_0.tmp_0"}, []string{"relu_0.tmp_0"})
	shape := b.ConstTensor(Int64Tensor("reshape_0.shape", []int64{2}, []int64{0, -1}))
	b.Node("Reshape", []string{"relu_0.tmp_0", shape}, []string{"reshape_0.tmp_0"})
	w = b.Const("fc_0.w_0", []int64{64, 8}, Rand(303, 64*8, 0.15))
	bias = b.Const("fc_0.b_0", []int64{8}, Rand(304, 8, 0.1))
	b.Node("MatMul", []string{"reshape_0.tmp_0", w}, []string{"fc_0.tmp_0"})
	b.Node("Add", []string{"fc_0.tmp_0", bias}, []string{"y"})
	b.Output("y", Float, 1, 8)
	return b.Model()
}

// IfModel chooses between two subgraphs, x[N,8] → y[N,4]:
//
//	cond = ReduceSum(x, keepdims=0) > 0
//	then: y = x·then.weight + then.bias
//	else: y = (x·else.weight + else.bias) ⊙ gamma
//
// Each branch holds its weight as a subgraph initializer and its bias as a
// Constant node inside the subgraph; the else branch also reads gamma, an
// initializer of the main graph.
func IfModel() *onnx.ModelProto {
	b := New(CannedOpset)
	b.InputDyn("x", Float, "N", 8)
	gamma := b.Init("gamma", []int64{4}, shift(Rand(401, 4, 0.5), 1))
	b.Node("ReduceSum", []string{"x"}, []string{"sum"}, AttrInt("keepdims", 0))
	zero := b.ConstTensor(Float32Tensor("zero", nil, []float32{0}))
	b.Node("Greater", []string{"sum", zero}, []string{"cond"})

	then := b.Sub("then_branch")
	w := initRand(then, "then.weight", 402, 0.3, 8, 4)
	bias := then.Const("then.bias", []int64{4}, Rand(403, 4, 0.1))
	then.Node("MatMul", []string{"x", w}, []string{"then.matmul"})
	then.Node("Add", []string{"then.matmul", bias}, []string{"then.out"})
	then.OutputDyn("then.out", Float, "N", 4)

	els := b.Sub("else_branch")
	w = initRand(els, "else.weight", 404, 0.3, 8, 4)
	bias = els.Const("else.bias", []int64{4}, Rand(405, 4, 0.1))
	els.Node("MatMul", []string{"x", w}, []string{"else.matmul"})
	els.Node("Add", []string{"else.matmul", bias}, []string{"else.add"})
	els.Node("Mul", []string{"else.add", gamma}, []string{"else.out"})
	els.OutputDyn("else.out", Float, "N", 4)

	b.Node("If", []string{"cond"}, []string{"y"},
		AttrGraph("then_branch", then.Graph()), AttrGraph("else_branch", els.Graph()))
	b.OutputDyn("y", Float, "N", 4)
	return b.Model()
}

// SEBlock is a squeeze-and-excitation block, x[1,8,8,8] → y[1,8,8,8]:
//
//	t = Relu(Conv 8→8, 3x3, pad 1)
//	g = HardSigmoid(Conv 2→8 (Relu(Conv 8→2 (GlobalAveragePool(t)))))
//	y = t ⊙ g
func SEBlock() *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 8, 8, 8)
	w := initRand(b, "conv.weight", 501, 0.2, 8, 8, 3, 3)
	bias := initRand(b, "conv.bias", 502, 0.1, 8)
	b.Node("Conv", []string{"x", w, bias}, []string{"conv"},
		AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
	b.Node("Relu", []string{"conv"}, []string{"trunk"})
	b.Node("GlobalAveragePool", []string{"trunk"}, []string{"se.pool"})
	w = initRand(b, "se.reduce.weight", 503, 0.5, 2, 8, 1, 1)
	bias = initRand(b, "se.reduce.bias", 504, 0.1, 2)
	b.Node("Conv", []string{"se.pool", w, bias}, []string{"se.reduce"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Relu", []string{"se.reduce"}, []string{"se.relu"})
	w = initRand(b, "se.expand.weight", 505, 0.5, 8, 2, 1, 1)
	bias = initRand(b, "se.expand.bias", 506, 0.1, 8)
	b.Node("Conv", []string{"se.relu", w, bias}, []string{"se.expand"}, AttrInts("kernel_shape", 1, 1))
	b.Node("HardSigmoid", []string{"se.expand"}, []string{"se.gate"},
		AttrFloat("alpha", 1.0/6), AttrFloat("beta", 0.5))
	b.Node("Mul", []string{"trunk", "se.gate"}, []string{"y"})
	b.Output("y", Float, 1, 8, 8, 8)
	return b.Model()
}

// ConcatModel concatenates two convolution branches of unequal width on the
// channel axis, x[1,4,8,8] → y[1,4,8,8]:
//
//	a = Relu(Conv 4→6, 3x3, pad 1)
//	c = Relu(Conv 4→2, 1x1)
//	y = Conv 8→4, 1x1 (Concat(a, c, axis=1))
func ConcatModel() *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 4, 8, 8)
	w := initRand(b, "a.weight", 601, 0.3, 6, 4, 3, 3)
	bias := initRand(b, "a.bias", 602, 0.1, 6)
	b.Node("Conv", []string{"x", w, bias}, []string{"a.conv"},
		AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
	b.Node("Relu", []string{"a.conv"}, []string{"a"})
	w = initRand(b, "c.weight", 603, 0.5, 2, 4, 1, 1)
	bias = initRand(b, "c.bias", 604, 0.1, 2)
	b.Node("Conv", []string{"x", w, bias}, []string{"c.conv"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Relu", []string{"c.conv"}, []string{"c"})
	b.Node("Concat", []string{"a", "c"}, []string{"cat"}, AttrInt("axis", 1))
	w = initRand(b, "out.weight", 605, 0.35, 4, 8, 1, 1)
	bias = initRand(b, "out.bias", 606, 0.1, 4)
	b.Node("Conv", []string{"cat", w, bias}, []string{"y"}, AttrInts("kernel_shape", 1, 1))
	b.Output("y", Float, 1, 4, 8, 8)
	return b.Model()
}

// Float16Weights keeps a Gemm's weight and bias as float16 initializers
// that are Cast to float32, x[N,8] → y[N,4]:
//
//	y = x·Cast(fc.weight)ᵀ + Cast(fc.bias)   fc.weight FLOAT16 [4,8]
func Float16Weights() *onnx.ModelProto {
	b := New(CannedOpset)
	b.InputDyn("x", Float, "N", 8)
	w := b.InitTensor(Float16Tensor("fc.weight", []int64{4, 8}, Rand(701, 32, 0.3)))
	bias := b.InitTensor(Float16Tensor("fc.bias", []int64{4}, Rand(702, 4, 0.1)))
	b.Node("Cast", []string{w}, []string{"fc.weight.f32"}, AttrInt("to", int64(Float)))
	b.Node("Cast", []string{bias}, []string{"fc.bias.f32"}, AttrInt("to", int64(Float)))
	b.Node("Gemm", []string{"x", "fc.weight.f32", "fc.bias.f32"}, []string{"y"}, AttrInt("transB", 1))
	b.OutputDyn("y", Float, "N", 4)
	return b.Model()
}

// Float64Weights keeps a MatMul weight as a float64 initializer that is
// Cast to float32, next to an int64 Reshape shape and a float32 bias,
// x[N,2,4] → y[N,4]:
//
//	y = Reshape(x, [-1,8])·Cast(fc.weight) + fc.bias   fc.weight DOUBLE [8,4]
func Float64Weights() *onnx.ModelProto {
	b := New(CannedOpset)
	b.InputDyn("x", Float, "N", 2, 4)
	shape := b.InitInt64("flatten.shape", []int64{2}, []int64{-1, 8})
	b.Node("Reshape", []string{"x", shape}, []string{"flat"})
	w64 := make([]float64, 32)
	for i, v := range Rand(801, 32, 0.3) {
		w64[i] = float64(v)
	}
	w := b.InitTensor(Float64Tensor("fc.weight", []int64{8, 4}, w64))
	bias := initRand(b, "fc.bias", 802, 0.1, 4)
	b.Node("Cast", []string{w}, []string{"fc.weight.f32"}, AttrInt("to", int64(Float)))
	b.Node("MatMul", []string{"flat", "fc.weight.f32"}, []string{"fc.matmul"})
	b.Node("Add", []string{"fc.matmul", bias}, []string{"y"})
	b.OutputDyn("y", Float, "N", 4)
	return b.Model()
}

// initRand adds a float32 initializer of the given shape filled with
// Rand(seed, n, scale).
func initRand(b *Builder, name string, seed int64, scale float32, shape ...int64) string {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return b.Init(name, shape, Rand(seed, int(n), scale))
}

// bn adds BatchNormalization(in) → out with per-channel parameters drawn
// from seed, stored as float_data; the variance stays in [0.5, 1.5).
func bn(b *Builder, out, in string, seed int64, c int) {
	param := func(suffix string, vals []float32) string {
		return b.InitTensor(&onnx.TensorProto{
			Name:      proto.String(out + "." + suffix),
			DataType:  proto.Int32(int32(Float)),
			Dims:      []int64{int64(c)},
			FloatData: vals,
		})
	}
	scale := param("weight", shift(Rand(seed, c, 0.2), 1))
	bias := param("bias", Rand(seed+1000, c, 0.1))
	mean := param("running_mean", Rand(seed+2000, c, 0.1))
	variance := param("running_var", shift(Rand(seed+3000, c, 0.5), 1))
	b.Node("BatchNormalization", []string{in, scale, bias, mean, variance}, []string{out},
		AttrFloat("epsilon", 1e-5))
}

// shift adds d to every element of v in place and returns v.
func shift(v []float32, d float32) []float32 {
	for i := range v {
		v[i] += d
	}
	return v
}
