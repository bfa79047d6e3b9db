package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	ob "github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// Gradient checks: every op with a backward, for every attribute form it
// supports, against central differences.
//
// Each case is a one-node model whose float inputs are initializers, so
// every one of them is a trainable parameter and gets a gradient. The loss
// is L = Σ_k Σ_j r_kj·y_kj over the float outputs with fixed random r ~ N(1, 1) (so the
// seed of output k is r_k); the analytic gradient is Param.Grad after one
// Backward, the numeric one (L(v+h) − L(v−h))/2h per element, L summed in
// float64 over the engine's float32 forward. Only the outputs that depend
// on the perturbed element change, bit for bit the rest cancel, so the
// rounding noise is ~1e-7·|y|/h per affected output; with h = 1e-2 the
// truncation error h²·f'''/6 is ~1e-5 for the smooth ops here. Inputs are
// drawn from a grid of odd multiples of 0.025, all distinct, so no
// perturbation crosses a kink (Relu at 0, Clip bounds, HardSwish ±3,
// HardSigmoid ±2.5, MaxPool ties). The check: max|num − ana| ≤ 1e-3 ·
// max|num| per tensor; TestGradCheckCatchesErrors shows a 0.5% error in
// one element is caught.

const (
	gcStep = 1e-2
	gcTol  = 1e-3
)

// gcIn is one input of a gradient-check node.
type gcIn struct {
	shape []int64
	ints  []int64                    // an int64 initializer (indices, shapes)
	gen   func(r *rand.Rand) float32 // values (default: the distinct grid)
	vals  []float32                  // fixed values (Resize scales)
	konst bool                       // a float input that gets no gradient (BN statistics)
}

type gcCase struct {
	name  string
	op    string
	opset int64
	ins   []gcIn
	attrs []*onnx.AttributeProto
	nOut  int
	bn    BNMode
}

func fin(shape ...int64) gcIn { return gcIn{shape: append([]int64{}, shape...)} }
func intsIn(v ...int64) gcIn  { return gcIn{shape: []int64{int64(len(v))}, ints: v} }
func posIn(shape ...int64) gcIn {
	return gcIn{shape: append([]int64{}, shape...), gen: func(r *rand.Rand) float32 { return 1 + r.Float32() }}
}
func statIn(shape ...int64) gcIn {
	return gcIn{shape: shape, konst: true, gen: func(r *rand.Rand) float32 { return 0.5 + r.Float32() }}
}
func none() gcIn { return gcIn{} }
func scalesIn(v ...float32) gcIn {
	return gcIn{shape: []int64{int64(len(v))}, konst: true, vals: v}
}
func scalarIn(v float32) gcIn {
	return gcIn{shape: []int64{}, konst: true, gen: func(*rand.Rand) float32 { return v }}
}

// gridValues returns n distinct values (2j+1)·0.025 in random order, j
// covering [−m, m) with 2m ≥ n.
func gridValues(r *rand.Rand, n int) []float32 {
	m := max(80, (n+1)/2)
	perm := r.Perm(2 * m)
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(2*(perm[i]-m)+1) * 0.025
	}
	return out
}

// build returns the model of c and the names of its outputs.
func (c *gcCase) build(r *rand.Rand) (*onnxio.Model, []string, error) {
	opset := c.opset
	if opset == 0 {
		opset = 13
	}
	b := ob.New(opset)
	var names []string
	for i, x := range c.ins {
		name := fmt.Sprintf("in%d", i)
		if x.shape == nil && x.ints == nil {
			names = append(names, "") // omitted optional input
			continue
		}
		n := 1
		for _, d := range x.shape {
			n *= int(d)
		}
		switch {
		case x.ints != nil:
			b.InitInt64(name, x.shape, x.ints)
		case x.vals != nil:
			b.Init(name, x.shape, x.vals)
		case x.gen != nil:
			v := make([]float32, n)
			for j := range v {
				v[j] = x.gen(r)
			}
			b.Init(name, x.shape, v)
		default:
			b.Init(name, x.shape, gridValues(r, n))
		}
		names = append(names, name)
	}
	nOut := max(c.nOut, 1)
	var outs []string
	for k := 0; k < nOut; k++ {
		outs = append(outs, fmt.Sprintf("y%d", k))
	}
	b.Node(c.op, names, outs, c.attrs...)
	for _, o := range outs {
		b.Output(o, ob.Float)
	}
	m, err := onnxio.Decode(ob.Marshal(b.Model()))
	return m, outs, err
}

// gcResult is, per parameter, the analytic and numeric gradients.
type gcResult struct {
	ids      []string
	ana, num map[string][]float64
}

func runGradCheck(c *gcCase) (*gcResult, error) {
	r := rand.New(rand.NewPCG(7, uint64(len(c.name))))
	m, outs, err := c.build(r)
	if err != nil {
		return nil, err
	}
	tr, err := CompileTrainable(m, WithThreads(1), WithBatchNorm(c.bn))
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if _, err := tr.Forward(ctx, nil); err != nil {
		return nil, err
	}
	seeds := map[string][]float32{}
	var floats []string
	for _, o := range tr.Outputs() {
		if o.DType == onnxio.Float {
			floats = append(floats, o.Name)
		}
	}
	outs = floats
	for _, o := range outs {
		y, _, ok := tr.Value(o)
		if !ok {
			return nil, fmt.Errorf("output %s missing", o)
		}
		s := make([]float32, len(y))
		for j := range s {
			s[j] = float32(1 + r.NormFloat64()) // mean 1: sums such as a bias's gradient do not cancel
		}
		seeds[o] = s
	}
	if err := tr.Backward(ctx, seeds); err != nil {
		return nil, err
	}
	loss := func() float64 {
		if _, err := tr.Forward(ctx, nil); err != nil {
			panic(err)
		}
		var l float64
		for _, o := range outs {
			y, _, _ := tr.Value(o)
			for j, v := range y {
				l += float64(seeds[o][j]) * float64(v)
			}
		}
		return l
	}
	res := &gcResult{ana: map[string][]float64{}, num: map[string][]float64{}}
	for _, p := range tr.Params() {
		res.ids = append(res.ids, p.ID)
		ana := make([]float64, len(p.Grad))
		for i, g := range p.Grad {
			ana[i] = float64(g)
		}
		num := make([]float64, len(p.Value))
		for i := range p.Value {
			v := p.Value[i]
			p.Value[i] = v + gcStep
			lp := loss()
			p.Value[i] = v - gcStep
			lm := loss()
			p.Value[i] = v
			num[i] = (lp - lm) / float64((v+gcStep)-(v-gcStep))
		}
		res.ana[p.ID], res.num[p.ID] = ana, num
	}
	return res, nil
}

// check returns the first tensor whose gradient is off, with its error.
func (res *gcResult) check() error {
	if len(res.ids) == 0 {
		return fmt.Errorf("no parameter got a gradient")
	}
	for _, id := range res.ids {
		ana, num := res.ana[id], res.num[id]
		var d, s float64
		for i := range num {
			d = math.Max(d, math.Abs(num[i]-ana[i]))
			s = math.Max(s, math.Abs(num[i]))
		}
		if d > gcTol*math.Max(s, 1e-3) {
			return fmt.Errorf("%s: max|numeric − analytic| = %.3g, %.3g of the scale %.3g", id, d, d/math.Max(s, 1e-3), s)
		}
	}
	return nil
}

func ai(name string, v int64) *onnx.AttributeProto     { return ob.AttrInt(name, v) }
func ais(name string, v ...int64) *onnx.AttributeProto { return ob.AttrInts(name, v...) }
func af(name string, v float32) *onnx.AttributeProto   { return ob.AttrFloat(name, v) }
func as(name string, v string) *onnx.AttributeProto    { return ob.AttrString(name, v) }

var gradCheckCases = []gcCase{
	// Gemm: every transposition, alpha/beta, each broadcast form of C.
	{name: "Gemm", op: "Gemm", ins: []gcIn{fin(3, 4), fin(4, 5), fin(5)}},
	{name: "Gemm/transA", op: "Gemm", ins: []gcIn{fin(4, 3), fin(4, 5), fin(3, 5)}, attrs: []*onnx.AttributeProto{ai("transA", 1)}},
	{name: "Gemm/transB/alpha/beta", op: "Gemm", ins: []gcIn{fin(3, 4), fin(5, 4), fin(3, 1)}, attrs: []*onnx.AttributeProto{ai("transB", 1), af("alpha", 0.7), af("beta", 1.3)}},
	{name: "Gemm/transA/transB/scalarC", op: "Gemm", ins: []gcIn{fin(4, 3), fin(5, 4), fin()}, attrs: []*onnx.AttributeProto{ai("transA", 1), ai("transB", 1), af("beta", -0.5)}},
	{name: "Gemm/gemv/rowC", op: "Gemm", ins: []gcIn{fin(2, 6), fin(6, 3), fin(1, 3)}},
	{name: "Gemm/noC", op: "Gemm", ins: []gcIn{fin(5, 4), fin(4, 3)}},
	// MatMul: plain, batch folded, batched, broadcast, 1-D operands.
	{name: "MatMul", op: "MatMul", ins: []gcIn{fin(3, 4), fin(4, 5)}},
	{name: "MatMul/fold", op: "MatMul", ins: []gcIn{fin(2, 3, 4), fin(4, 5)}},
	{name: "MatMul/batched", op: "MatMul", ins: []gcIn{fin(2, 3, 4), fin(2, 4, 2)}},
	{name: "MatMul/broadcastA", op: "MatMul", ins: []gcIn{fin(1, 3, 4), fin(2, 4, 2)}},
	{name: "MatMul/broadcastB", op: "MatMul", ins: []gcIn{fin(2, 3, 4), fin(1, 4, 2)}},
	{name: "MatMul/vecA", op: "MatMul", ins: []gcIn{fin(4), fin(4, 3)}},
	{name: "MatMul/vecB", op: "MatMul", ins: []gcIn{fin(2, 3, 4), fin(4)}},
	// Conv: padding, stride, dilation, groups, depthwise, pointwise, 1-D, auto_pad.
	{name: "Conv/3x3/pad", op: "Conv", ins: []gcIn{fin(2, 2, 5, 5), fin(3, 2, 3, 3), fin(3)}, attrs: []*onnx.AttributeProto{ais("pads", 1, 1, 1, 1)}},
	{name: "Conv/stride2/asympad", op: "Conv", ins: []gcIn{fin(1, 2, 6, 7), fin(2, 2, 3, 3), fin(2)}, attrs: []*onnx.AttributeProto{ais("strides", 2, 2), ais("pads", 0, 1, 2, 1)}},
	{name: "Conv/stride2x1", op: "Conv", ins: []gcIn{fin(1, 2, 6, 5), fin(2, 2, 2, 3)}, attrs: []*onnx.AttributeProto{ais("strides", 2, 1)}},
	{name: "Conv/dilation", op: "Conv", ins: []gcIn{fin(1, 2, 7, 7), fin(2, 2, 3, 3), fin(2)}, attrs: []*onnx.AttributeProto{ais("dilations", 2, 2), ais("pads", 1, 1, 1, 1)}},
	{name: "Conv/group2", op: "Conv", ins: []gcIn{fin(2, 4, 5, 5), fin(4, 2, 3, 3), fin(4)}, attrs: []*onnx.AttributeProto{ai("group", 2), ais("pads", 1, 1, 1, 1)}},
	{name: "Conv/depthwise", op: "Conv", ins: []gcIn{fin(2, 3, 5, 5), fin(3, 1, 3, 3), fin(3)}, attrs: []*onnx.AttributeProto{ai("group", 3), ais("pads", 1, 1, 1, 1)}},
	{name: "Conv/depthwise/stride2", op: "Conv", ins: []gcIn{fin(1, 3, 7, 7), fin(3, 1, 3, 3)}, attrs: []*onnx.AttributeProto{ai("group", 3), ais("strides", 2, 2), ais("pads", 1, 1, 1, 1)}},
	{name: "Conv/depthwise/stride3/dilation", op: "Conv", ins: []gcIn{fin(1, 2, 9, 9), fin(2, 1, 3, 3), fin(2)}, attrs: []*onnx.AttributeProto{ai("group", 2), ais("strides", 3, 3), ais("dilations", 2, 1), ais("pads", 2, 1, 2, 1)}},
	{name: "Conv/pointwise", op: "Conv", ins: []gcIn{fin(2, 3, 4, 4), fin(5, 3, 1, 1), fin(5)}},
	{name: "Conv/pointwise/group", op: "Conv", ins: []gcIn{fin(1, 4, 3, 3), fin(6, 2, 1, 1)}, attrs: []*onnx.AttributeProto{ai("group", 2)}},
	{name: "Conv/1d", op: "Conv", ins: []gcIn{fin(2, 2, 9), fin(3, 2, 3), fin(3)}, attrs: []*onnx.AttributeProto{ais("strides", 2), ais("pads", 1, 1)}},
	{name: "Conv/same_upper", op: "Conv", ins: []gcIn{fin(1, 2, 6, 6), fin(2, 2, 3, 3)}, attrs: []*onnx.AttributeProto{as("auto_pad", "SAME_UPPER"), ais("strides", 2, 2)}},
	// ConvTranspose: stride, padding, output padding, groups, the direct (kernel = stride) form.
	{name: "ConvTranspose/stride2/pad", op: "ConvTranspose", ins: []gcIn{fin(1, 2, 3, 3), fin(2, 3, 3, 3), fin(3)}, attrs: []*onnx.AttributeProto{ais("strides", 2, 2), ais("pads", 1, 1, 1, 1), ais("output_padding", 1, 1)}},
	{name: "ConvTranspose/group2/dilation", op: "ConvTranspose", ins: []gcIn{fin(2, 4, 3, 3), fin(4, 1, 2, 2)}, attrs: []*onnx.AttributeProto{ai("group", 2), ais("dilations", 2, 2)}},
	{name: "ConvTranspose/direct", op: "ConvTranspose", ins: []gcIn{fin(1, 3, 2, 3), fin(3, 2, 2, 2), fin(2)}, attrs: []*onnx.AttributeProto{ais("strides", 2, 2)}},
	// BatchNormalization, both modes.
	{name: "BatchNormalization/frozen", op: "BatchNormalization", ins: []gcIn{fin(2, 3, 2, 2), fin(3), fin(3), statIn(3), statIn(3)}},
	{name: "BatchNormalization/train", op: "BatchNormalization", ins: []gcIn{fin(3, 3, 2, 2), fin(3), fin(3), statIn(3), statIn(3)}, bn: BNTrain},
	{name: "BatchNormalization/train/2d", op: "BatchNormalization", ins: []gcIn{fin(5, 4), fin(4), fin(4), statIn(4), statIn(4)}, bn: BNTrain, attrs: []*onnx.AttributeProto{af("epsilon", 1e-3)}},
	// Activations.
	{name: "Relu", op: "Relu", ins: []gcIn{fin(3, 7)}},
	{name: "LeakyRelu", op: "LeakyRelu", ins: []gcIn{fin(3, 7)}, attrs: []*onnx.AttributeProto{af("alpha", 0.1)}},
	{name: "Clip/inputs", op: "Clip", ins: []gcIn{fin(4, 9), scalarIn(-0.5), scalarIn(1)}},
	{name: "Clip/minOnly", op: "Clip", ins: []gcIn{fin(4, 9), scalarIn(0)}},
	{name: "Clip/attrs", op: "Clip", opset: 6, ins: []gcIn{fin(4, 9)}, attrs: []*onnx.AttributeProto{af("min", 0), af("max", 1.5)}},
	{name: "Sigmoid", op: "Sigmoid", ins: []gcIn{fin(3, 7)}},
	{name: "Tanh", op: "Tanh", ins: []gcIn{fin(3, 7)}},
	{name: "HardSigmoid", op: "HardSigmoid", ins: []gcIn{fin(8, 30)}},
	{name: "HardSigmoid/alpha/beta", op: "HardSigmoid", ins: []gcIn{fin(8, 30)}, attrs: []*onnx.AttributeProto{af("alpha", 1.0/8), af("beta", 0.5)}},
	{name: "HardSwish", op: "HardSwish", opset: 14, ins: []gcIn{fin(8, 30)}},
	{name: "Softmax/last", op: "Softmax", ins: []gcIn{fin(3, 5)}},
	{name: "Softmax/axis1", op: "Softmax", ins: []gcIn{fin(2, 3, 4)}, attrs: []*onnx.AttributeProto{ai("axis", 1)}},
	{name: "Softmax/opset11", op: "Softmax", opset: 11, ins: []gcIn{fin(2, 3, 2)}, attrs: []*onnx.AttributeProto{ai("axis", 1)}},
	{name: "LogSoftmax", op: "LogSoftmax", ins: []gcIn{fin(3, 5)}},
	// Elementwise arithmetic with broadcasting.
	{name: "Add", op: "Add", ins: []gcIn{fin(2, 3), fin(2, 3)}},
	{name: "Add/broadcast", op: "Add", ins: []gcIn{fin(2, 3, 4), fin(3, 1)}},
	{name: "Sub/both", op: "Sub", ins: []gcIn{fin(2, 1, 4), fin(1, 3, 1)}},
	{name: "Sub/scalar", op: "Sub", ins: []gcIn{fin(2, 3), fin()}},
	{name: "Mul", op: "Mul", ins: []gcIn{fin(2, 3), fin(2, 3)}},
	{name: "Mul/broadcast", op: "Mul", ins: []gcIn{fin(2, 3, 4), fin(3, 1)}},
	{name: "Mul/scalar", op: "Mul", ins: []gcIn{fin(), fin(3, 4)}},
	{name: "Div", op: "Div", ins: []gcIn{fin(2, 3), posIn(2, 3)}},
	{name: "Div/broadcast", op: "Div", ins: []gcIn{fin(2, 3, 4), posIn(4)}},
	{name: "Div/scalar", op: "Div", ins: []gcIn{fin(2, 3), posIn()}},
	// Pooling.
	{name: "MaxPool/2x2", op: "MaxPool", ins: []gcIn{fin(2, 2, 4, 4)}, attrs: []*onnx.AttributeProto{ais("kernel_shape", 2, 2), ais("strides", 2, 2)}},
	{name: "MaxPool/3x3/stride2/pad", op: "MaxPool", ins: []gcIn{fin(1, 2, 5, 5)}, attrs: []*onnx.AttributeProto{ais("kernel_shape", 3, 3), ais("strides", 2, 2), ais("pads", 1, 1, 1, 1)}},
	{name: "MaxPool/ceil", op: "MaxPool", ins: []gcIn{fin(1, 2, 6, 6)}, attrs: []*onnx.AttributeProto{ais("kernel_shape", 3, 3), ais("strides", 2, 2), ai("ceil_mode", 1)}},
	{name: "MaxPool/dilation", op: "MaxPool", ins: []gcIn{fin(1, 1, 6, 6)}, attrs: []*onnx.AttributeProto{ais("kernel_shape", 2, 2), ais("dilations", 2, 2)}},
	{name: "AveragePool/pad", op: "AveragePool", ins: []gcIn{fin(1, 2, 5, 5)}, attrs: []*onnx.AttributeProto{ais("kernel_shape", 3, 3), ais("strides", 2, 2), ais("pads", 1, 1, 1, 1)}},
	{name: "AveragePool/count_include_pad", op: "AveragePool", ins: []gcIn{fin(1, 2, 5, 5)}, attrs: []*onnx.AttributeProto{ais("kernel_shape", 3, 3), ais("strides", 2, 2), ais("pads", 1, 1, 1, 1), ai("count_include_pad", 1)}},
	{name: "AveragePool/ceil", op: "AveragePool", ins: []gcIn{fin(1, 1, 6, 6)}, attrs: []*onnx.AttributeProto{ais("kernel_shape", 2, 2), ais("strides", 2, 2), ai("ceil_mode", 1), ais("pads", 0, 0, 1, 1)}},
	{name: "GlobalAveragePool", op: "GlobalAveragePool", ins: []gcIn{fin(2, 3, 3, 2)}},
	{name: "ReduceMean/keepdims", op: "ReduceMean", ins: []gcIn{fin(2, 3, 2, 2)}, attrs: []*onnx.AttributeProto{ais("axes", 2, 3)}},
	{name: "ReduceMean/axis1", op: "ReduceMean", ins: []gcIn{fin(2, 3, 4)}, attrs: []*onnx.AttributeProto{ais("axes", 1), ai("keepdims", 0)}},
	{name: "ReduceMean/all", op: "ReduceMean", ins: []gcIn{fin(2, 3)}},
	{name: "ReduceMean/opset18", op: "ReduceMean", opset: 18, ins: []gcIn{fin(2, 3, 4), intsIn(-1)}},
	{name: "ReduceSum", op: "ReduceSum", ins: []gcIn{fin(2, 3, 4), intsIn(0, 2)}},
	// Resize (scales as a constant input).
	{name: "Resize/nearest", op: "Resize", ins: []gcIn{fin(1, 2, 3, 3), none(), scalesIn(1, 1, 2, 1.5)}},
	{name: "Resize/linear", op: "Resize", ins: []gcIn{fin(1, 2, 3, 4), none(), scalesIn(1, 1, 2, 0.75)}, attrs: []*onnx.AttributeProto{as("mode", "linear")}},
	{name: "Resize/linear/align_corners", op: "Resize", ins: []gcIn{fin(2, 3, 4), none(), scalesIn(1, 1, 1.5)}, attrs: []*onnx.AttributeProto{as("mode", "linear"), as("coordinate_transformation_mode", "align_corners")}},
	// Shape and data movement.
	{name: "Flatten", op: "Flatten", ins: []gcIn{fin(2, 3, 2)}},
	{name: "Reshape", op: "Reshape", ins: []gcIn{fin(2, 3, 2), intsIn(3, -1)}},
	{name: "Identity", op: "Identity", ins: []gcIn{fin(2, 3)}},
	{name: "Dropout", op: "Dropout", ins: []gcIn{fin(2, 3)}},
	{name: "Dropout/mask", op: "Dropout", ins: []gcIn{fin(2, 3)}, nOut: 2},
	{name: "Squeeze", op: "Squeeze", ins: []gcIn{fin(2, 1, 3), intsIn(1)}},
	{name: "Unsqueeze", op: "Unsqueeze", ins: []gcIn{fin(2, 3), intsIn(0)}},
	{name: "Transpose", op: "Transpose", ins: []gcIn{fin(2, 3, 4)}, attrs: []*onnx.AttributeProto{ais("perm", 1, 2, 0)}},
	{name: "Transpose/default", op: "Transpose", ins: []gcIn{fin(2, 3)}},
	{name: "Concat/axis1", op: "Concat", ins: []gcIn{fin(2, 1, 3), fin(2, 2, 3), fin(2, 3, 3)}, attrs: []*onnx.AttributeProto{ai("axis", 1)}},
	{name: "Concat/axis-1", op: "Concat", ins: []gcIn{fin(2, 2), fin(2, 3)}, attrs: []*onnx.AttributeProto{ai("axis", -1)}},
	{name: "Split/sizes", op: "Split", ins: []gcIn{fin(2, 5, 2), intsIn(2, 3)}, attrs: []*onnx.AttributeProto{ai("axis", 1)}, nOut: 2},
	{name: "Split/equal", op: "Split", ins: []gcIn{fin(6, 2)}, nOut: 3},
	{name: "Slice", op: "Slice", ins: []gcIn{fin(4, 5), intsIn(1, 0), intsIn(3, 5), intsIn(0, 1), intsIn(1, 2)}},
	{name: "Slice/negative", op: "Slice", ins: []gcIn{fin(3, 6), intsIn(-1), intsIn(-100), intsIn(1), intsIn(-2)}},
	{name: "Gather/axis0", op: "Gather", ins: []gcIn{fin(4, 3), gcIn{shape: []int64{2, 2}, ints: []int64{0, 3, 3, -1}}}},
	{name: "Gather/axis1", op: "Gather", ins: []gcIn{fin(2, 4, 2), intsIn(1, 1, 2)}, attrs: []*onnx.AttributeProto{ai("axis", 1)}},
}

func TestGradCheck(t *testing.T) {
	covered := map[string]bool{}
	for i := range gradCheckCases {
		c := &gradCheckCases[i]
		covered[c.op] = true
		t.Run(c.name, func(t *testing.T) {
			res, err := runGradCheck(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := res.check(); err != nil {
				t.Error(err)
			}
		})
	}
	for _, op := range GradOps() {
		if !covered[op] {
			t.Errorf("op %s has a backward and no gradient check", op)
		}
	}
}

// A gradient off by 0.5% of its scale in one element is caught, and so is
// a wrong backward (the kernel's gradient scaled).
func TestGradCheckCatchesErrors(t *testing.T) {
	for _, name := range []string{"Conv/group2", "BatchNormalization/train", "Softmax/axis1", "MaxPool/ceil", "Div/broadcast"} {
		var c *gcCase
		for i := range gradCheckCases {
			if gradCheckCases[i].name == name {
				c = &gradCheckCases[i]
			}
		}
		res, err := runGradCheck(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.check(); err != nil {
			t.Fatalf("%s: the unmodified check fails: %v", name, err)
		}
		id := res.ids[0]
		ana := res.ana[id]
		var s float64
		at := 0
		for i, v := range res.num[id] {
			if math.Abs(v) > s {
				s, at = math.Abs(v), i
			}
		}
		ana[at] += 0.005 * s
		if res.check() == nil {
			t.Errorf("%s: a gradient off by 0.5%% of its scale at one element passes", name)
		}
		ana[at] -= 0.005 * s
		for i := range ana {
			ana[i] *= 1.01
		}
		if res.check() == nil {
			t.Errorf("%s: a gradient scaled by 1.01 passes", name)
		}
	}
}
