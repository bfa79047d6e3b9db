package onnxbuild

import onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"

// Models whose shapes are computed at run time, as torch and paddle2onnx
// export them, and a grouped convolution: the structured pruning rules fold
// the shape computations and remap the groups.

// ShuffleExported is a stem and two ShuffleNet v2 basic units as
// torch.onnx exports them (dynamic batch "N"; value_info for the
// shuffle's input and 5-D values), x[N,8,8,8] → y[N,4,8,8]:
//
//	v  = Relu(Conv 8→8 (x))
//	per unit:
//	  c      = Gather(Shape(v), 1); h = Unsqueeze(Cast(Div(c, 2)))
//	  x1, x2 = Slice(v, 0:h), Slice(v, h:c)            (torch.chunk)
//	  b      = Relu(Conv 4→4 (DWConv 3x3 (Relu(Conv 4→4 (x2)))))
//	  t      = Concat(x1, b)
//	  s      = Shape(t); n, ch, hh, ww = s[0], s[1], s[2], s[3]
//	  v      = Reshape(Transpose(Reshape(t, [n, 2, ch/2, hh, ww]), 0 2 1 3 4), [n, -1, hh, ww])
//	y = Conv 8→4 (v)
func ShuffleExported() *onnx.ModelProto {
	b := New(CannedOpset)
	b.InputDyn("x", Float, "N", 8, 8, 8)
	w := initRand(b, "stem.weight", 1301, 0.3, 8, 8, 1, 1)
	bias := initRand(b, "stem.bias", 1302, 0.1, 8)
	b.Node("Conv", []string{"x", w, bias}, []string{"stem"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Relu", []string{"stem"}, []string{"v0"})
	i64 := func(name string, v ...int64) string { return b.InitInt64(name, []int64{int64(len(v))}, v) }
	scalar := func(name string, v int64) string { return b.InitInt64(name, []int64{}, []int64{v}) }
	zero, one, two, three := scalar("k0", 0), scalar("k1", 1), scalar("k2", 2), scalar("k3", 3)
	ax0, ch := i64("axes0", 0), i64("axis1", 1)
	begin, groups, minus := i64("begin", 0), i64("groups", 2), i64("minus1", -1)
	unsq := func(in, out string) string {
		b.Node("Unsqueeze", []string{in, ax0}, []string{out})
		return out
	}
	v := "v0"
	for u, seed := range []int64{1310, 1320} {
		p := func(s string) string { return "u" + string(rune('0'+u)) + "." + s }
		b.Node("Shape", []string{v}, []string{p("shape")})
		b.Node("Gather", []string{p("shape"), one}, []string{p("c")}, AttrInt("axis", 0))
		b.Node("Div", []string{p("c"), two}, []string{p("half")})
		b.Node("Cast", []string{p("half")}, []string{p("half64")}, AttrInt("to", int64(onnx.TensorProto_INT64)))
		h := unsq(p("half64"), p("h"))
		c := unsq(p("c"), p("c1"))
		b.Node("Slice", []string{v, begin, h, ch}, []string{p("x1")})
		b.Node("Slice", []string{v, h, c, ch}, []string{p("x2")})
		w := initRand(b, p("b1.weight"), seed+1, 0.4, 4, 4, 1, 1)
		bias := initRand(b, p("b1.bias"), seed+2, 0.1, 4)
		b.Node("Conv", []string{p("x2"), w, bias}, []string{p("b1")}, AttrInts("kernel_shape", 1, 1))
		b.Node("Relu", []string{p("b1")}, []string{p("b1r")})
		w = initRand(b, p("dw.weight"), seed+3, 0.3, 4, 1, 3, 3)
		bias = initRand(b, p("dw.bias"), seed+4, 0.1, 4)
		b.Node("Conv", []string{p("b1r"), w, bias}, []string{p("dw")}, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1), AttrInt("group", 4))
		w = initRand(b, p("b3.weight"), seed+5, 0.4, 4, 4, 1, 1)
		bias = initRand(b, p("b3.bias"), seed+6, 0.1, 4)
		b.Node("Conv", []string{p("dw"), w, bias}, []string{p("b3")}, AttrInts("kernel_shape", 1, 1))
		b.Node("Relu", []string{p("b3")}, []string{p("b")})
		b.Node("Concat", []string{p("x1"), p("b")}, []string{p("t")}, AttrInt("axis", 1))
		b.Node("Shape", []string{p("t")}, []string{p("ts")})
		dims := make([]string, 4)
		for i, k := range []string{zero, one, two, three} {
			b.Node("Gather", []string{p("ts"), k}, []string{p("d" + string(rune('0'+i)))}, AttrInt("axis", 0))
			dims[i] = unsq(p("d"+string(rune('0'+i))), p("u"+string(rune('0'+i))))
		}
		b.Node("Div", []string{p("d1"), two}, []string{p("cg")})
		cg := unsq(p("cg"), p("cg1"))
		b.Node("Concat", []string{dims[0], groups, cg, dims[2], dims[3]}, []string{p("target1")}, AttrInt("axis", 0))
		b.Node("Reshape", []string{p("t"), p("target1")}, []string{p("r")})
		b.Node("Transpose", []string{p("r")}, []string{p("rt")}, AttrInts("perm", 0, 2, 1, 3, 4))
		b.graph.ValueInfo = append(b.graph.ValueInfo, valueInfo(p("r"), Float, []any{"N", 2, 4, 8, 8}),
			valueInfo(p("rt"), Float, []any{"N", 4, 2, 8, 8}), valueInfo(p("t"), Float, []any{"N", 8, 8, 8}))
		b.Node("Concat", []string{dims[0], minus, dims[2], dims[3]}, []string{p("target2")}, AttrInt("axis", 0))
		v = p("out")
		b.Node("Reshape", []string{p("rt"), p("target2")}, []string{v})
	}
	w = initRand(b, "head.weight", 1391, 0.3, 4, 8, 1, 1)
	bias = initRand(b, "head.bias", 1392, 0.1, 4)
	b.Node("Conv", []string{v, w, bias}, []string{"y"}, AttrInts("kernel_shape", 1, 1))
	b.OutputDyn("y", Float, "N", 4, 8, 8)
	return b.Model()
}

// RuntimeFlatten flattens into a classifier with a target computed at run
// time, as paddle2onnx exports PP-OCR cls, x[1,3,8,8] → y[1,5]:
//
//	g = GlobalAveragePool(Relu(Conv 3→8 (x)))
//	y = Reshape(g, Concat(Slice(Cast(Shape(g), int32), 0:1) as int64, [-1]))·W[8,5]
func RuntimeFlatten() *onnx.ModelProto {
	b := New(9)
	b.Input("x", Float, 1, 3, 8, 8)
	w := initRand(b, "conv.weight", 1401, 0.3, 8, 3, 3, 3)
	bias := initRand(b, "conv.bias", 1402, 0.1, 8)
	b.Node("Conv", []string{"x", w, bias}, []string{"conv"}, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
	b.Node("Relu", []string{"conv"}, []string{"relu"})
	b.Node("GlobalAveragePool", []string{"relu"}, []string{"g"})
	b.Node("Shape", []string{"g"}, []string{"shape"})
	b.Node("Cast", []string{"shape"}, []string{"shape32"}, AttrInt("to", int64(onnx.TensorProto_INT32)))
	b.Node("Slice", []string{"shape32"}, []string{"batch32"}, AttrInts("axes", 0), AttrInts("starts", 0), AttrInts("ends", 1))
	b.Node("Cast", []string{"batch32"}, []string{"batch"}, AttrInt("to", int64(onnx.TensorProto_INT64)))
	rest := b.InitInt64("rest", []int64{1}, []int64{-1})
	b.Node("Concat", []string{"batch", rest}, []string{"target"}, AttrInt("axis", 0))
	b.Node("Reshape", []string{"g", "target"}, []string{"flat"})
	w = initRand(b, "fc.weight", 1403, 0.3, 8, 5)
	b.Node("MatMul", []string{"flat", w}, []string{"y"})
	b.Output("y", Float, 1, 5)
	return b.Model()
}

// GroupedConv has grouped convolutions with several channels per group,
// x[1,4,8,8] → y[1,4,8,8]:
//
//	a = Relu(Conv 4→8 (x))
//	b = Relu(BN(Conv 8→12, 3x3, group 4 (a)))        (2 in, 3 out per group)
//	c = Conv 12→6, group 2 (b)                        (6 in, 3 out per group)
//	y = Conv 6→4 (c)
func GroupedConv() *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 4, 8, 8)
	w := initRand(b, "a.weight", 1501, 0.4, 8, 4, 1, 1)
	bias := initRand(b, "a.bias", 1502, 0.1, 8)
	b.Node("Conv", []string{"x", w, bias}, []string{"a0"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Relu", []string{"a0"}, []string{"a"})
	w = initRand(b, "g1.weight", 1503, 0.3, 12, 2, 3, 3)
	b.Node("Conv", []string{"a", w}, []string{"g1"}, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1), AttrInt("group", 4))
	bn(b, "g1.bn", "g1", 1504, 12)
	b.Node("Relu", []string{"g1.bn"}, []string{"b"})
	w = initRand(b, "g2.weight", 1505, 0.3, 6, 6, 1, 1)
	bias = initRand(b, "g2.bias", 1506, 0.1, 6)
	b.Node("Conv", []string{"b", w, bias}, []string{"c"}, AttrInts("kernel_shape", 1, 1), AttrInt("group", 2))
	w = initRand(b, "out.weight", 1507, 0.3, 4, 6, 1, 1)
	bias = initRand(b, "out.bias", 1508, 0.1, 4)
	b.Node("Conv", []string{"c", w, bias}, []string{"y"}, AttrInts("kernel_shape", 1, 1))
	b.Output("y", Float, 1, 4, 8, 8)
	return b.Model()
}

// IfHeads chooses between two heads in If branches that read the main
// graph's features, x[1,3,8,8] → y[1,4]:
//
//	t = Relu(Conv 3→8 (x))
//	then: y = ReduceMean(Conv 8→4 (t), axes 2 3)      (weight: branch initializer)
//	else: y = ReduceMax(Conv 8→4 (t), axes 2 3)       (weight: branch Constant node)
//	cond = ReduceSum(x) > 0                            (true for inputs in [0, 1))
func IfHeads() *onnx.ModelProto { return ifHeads(0) }

// IfHeadsElse is IfHeads with cond = ReduceSum(x) > 1e6: the else branch
// runs.
func IfHeadsElse() *onnx.ModelProto { return ifHeads(1e6) }

func ifHeads(threshold float32) *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 3, 8, 8)
	w := initRand(b, "stem.weight", 1601, 0.4, 8, 3, 3, 3)
	bias := initRand(b, "stem.bias", 1602, 0.1, 8)
	b.Node("Conv", []string{"x", w, bias}, []string{"stem"}, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
	b.Node("Relu", []string{"stem"}, []string{"t"})
	b.Node("ReduceSum", []string{"x"}, []string{"sum"}, AttrInt("keepdims", 0))
	th := b.ConstTensor(Float32Tensor("threshold", nil, []float32{threshold}))
	b.Node("Greater", []string{"sum", th}, []string{"cond"})

	then := b.Sub("then_branch")
	w = initRand(then, "then.weight", 1603, 0.3, 4, 8, 1, 1)
	then.Node("Conv", []string{"t", w}, []string{"then.conv"}, AttrInts("kernel_shape", 1, 1))
	then.Node("ReduceMean", []string{"then.conv"}, []string{"then.out"}, AttrInts("axes", 2, 3), AttrInt("keepdims", 0))
	then.Output("then.out", Float, 1, 4)

	els := b.Sub("else_branch")
	w = els.Const("else.weight", []int64{4, 8, 1, 1}, Rand(1604, 32, 0.3))
	els.Node("Conv", []string{"t", w}, []string{"else.conv"}, AttrInts("kernel_shape", 1, 1))
	els.Node("ReduceMax", []string{"else.conv"}, []string{"else.out"}, AttrInts("axes", 2, 3), AttrInt("keepdims", 0))
	els.Output("else.out", Float, 1, 4)

	b.Node("If", []string{"cond"}, []string{"y"},
		AttrGraph("then_branch", then.Graph()), AttrGraph("else_branch", els.Graph()))
	b.Output("y", Float, 1, 4)
	return b.Model()
}

// SplitComputed splits the channels in halves with sizes computed at run
// time, x[1,4,8,8] → y[1,3,8,8]:
//
//	s    = Relu(Conv 4→8 (x)); c = Gather(Shape(s), 1); h = c / 2
//	a, b = Split(s, axis 1, Concat(Unsqueeze(h), Unsqueeze(c − h)))
//	y    = Conv 4→3 (a) + Conv 4→3 (b)
func SplitComputed() *onnx.ModelProto {
	b := New(CannedOpset)
	b.Input("x", Float, 1, 4, 8, 8)
	w := initRand(b, "stem.weight", 1701, 0.4, 8, 4, 1, 1)
	bias := initRand(b, "stem.bias", 1702, 0.1, 8)
	b.Node("Conv", []string{"x", w, bias}, []string{"stem"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Relu", []string{"stem"}, []string{"s"})
	one := b.InitInt64("k1", []int64{}, []int64{1})
	two := b.InitInt64("k2", []int64{}, []int64{2})
	ax0 := b.InitInt64("axes0", []int64{1}, []int64{0})
	b.Node("Shape", []string{"s"}, []string{"shape"})
	b.Node("Gather", []string{"shape", one}, []string{"c"}, AttrInt("axis", 0))
	b.Node("Div", []string{"c", two}, []string{"h"})
	b.Node("Sub", []string{"c", "h"}, []string{"rest"})
	b.Node("Unsqueeze", []string{"h", ax0}, []string{"h1"})
	b.Node("Unsqueeze", []string{"rest", ax0}, []string{"rest1"})
	b.Node("Concat", []string{"h1", "rest1"}, []string{"sizes"}, AttrInt("axis", 0))
	b.Node("Split", []string{"s", "sizes"}, []string{"a", "b"}, AttrInt("axis", 1))
	w = initRand(b, "a.weight", 1703, 0.4, 3, 4, 1, 1)
	b.Node("Conv", []string{"a", w}, []string{"ya"}, AttrInts("kernel_shape", 1, 1))
	w = initRand(b, "b.weight", 1704, 0.4, 3, 4, 1, 1)
	bias = initRand(b, "b.bias", 1705, 0.1, 3)
	b.Node("Conv", []string{"b", w, bias}, []string{"yb"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Add", []string{"ya", "yb"}, []string{"y"})
	b.Output("y", Float, 1, 3, 8, 8)
	return b.Model()
}
