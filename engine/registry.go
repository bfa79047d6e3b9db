package engine

import (
	"fmt"
	"sort"

	"github.com/edgeprune/edgeprune/internal/shapes"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// kernel is a compiled node: forward writes the outputs from the inputs.
// Inputs are read-only; outputs are caller-owned storage of the planned
// shapes, not zeroed. A backward(x, in, out, dOut, dIn) can sit beside forward
// on the same struct, which keeps the attributes and shapes it needs.
type kernel interface {
	forward(x *exec, in, out []*data)
}

// exec is what a kernel may use while running: the thread budget and a
// scratch buffer of at least the size its built asked for.
type exec struct {
	threads int
	scratch []float32
	serial  bool // every node on the calling goroutine (adapt.go)
}

// built is what an op builder returns for one node.
type built struct {
	k   kernel
	out []outSpec
	// alias >= 0: output 0 shares the storage of input alias (a view with a
	// new shape); k may be nil then.
	alias int
	// konst: outputs known at compile time without running anything (Shape,
	// Constant); when set, k is not used.
	konst []*data
	// scratch is the number of float32s of scratch the kernel needs.
	scratch int
	flops   int64
	macs    int64
	// sub holds the compiled branches of control-flow ops (If).
	sub []*program
	// fused, when set, is a step that replaces the node and the steps the
	// fusion popped (fuse_block.go): its inputs, label and op instead of the
	// node's.
	fused *fusedStep
}

// fusedStep is what a fusion across steps gives the step it builds.
type fusedStep struct {
	in       []int
	name, op string
}

// outSpec is the type and shape of one node output.
type outSpec struct {
	dt    onnxio.DataType
	shape []int
}

// buildCtx is what an op builder sees of one node.
type buildCtx struct {
	node  *onnx.NodeProto
	index int // the node's index in its graph (onnxio.NodeLabel)
	opset int64
	in    []*value // nil for an omitted optional input
	nOut  int      // number of outputs the node names
	attrs map[string]*onnx.AttributeProto
	c     *compiler
	scope *scope
}

// floatInputs checks that the present inputs in slots (all inputs when none
// are named) are floating point, as the op's kernel reads them from data.f:
// a model that breaks the op's type constraint gets an error here, not an
// empty slice at run time.
func (b *buildCtx) floatInputs(slots ...int) error {
	if len(slots) == 0 {
		for i := range b.in {
			slots = append(slots, i)
		}
	}
	for _, i := range slots {
		if i < len(b.in) && b.in[i] != nil && b.in[i].isInt() {
			return invalid("%s input %d (%s) is %v: it must be floating point", b.node.GetOpType(), i, b.in[i].name, b.in[i].dt)
		}
	}
	return nil
}

// opBuilder parses a node's attributes and inputs, infers its output types
// and shapes and returns its kernel. It must not run anything heavy.
type opBuilder func(b *buildCtx) (*built, error)

// registry maps op types of the default ONNX domain to their builders. It
// is built in code by newRegistry; registering an op twice panics.
type registry map[string]opBuilder

func (r registry) add(op string, f opBuilder) {
	if _, dup := r[op]; dup {
		panic("engine: op registered twice: " + op)
	}
	r[op] = f
}

// ops is the registry of every implemented op (set in init: builders refer
// back to the compiler, which reads ops).
var ops registry

func init() { ops = newRegistry() }

func newRegistry() registry {
	r := registry{}
	registerElementwise(r)
	registerUnary(r)
	r.add("Conv", buildConv)
	r.add("ConvTranspose", buildConvTranspose)
	r.add("Gemm", buildGemm)
	r.add("MatMul", buildMatMul)
	r.add("Softmax", buildSoftmax(false))
	r.add("LogSoftmax", buildSoftmax(true))
	r.add("BatchNormalization", buildBatchNorm)
	r.add("InstanceNormalization", buildInstanceNorm)
	r.add("LRN", buildLRN)
	r.add("LayerNormalization", buildLayerNorm)
	r.add("MaxPool", buildPool(poolMax))
	r.add("AveragePool", buildPool(poolAvg))
	r.add("GlobalAveragePool", buildGlobalPool(poolAvg))
	r.add("GlobalMaxPool", buildGlobalPool(poolMax))
	r.add("Flatten", buildFlatten)
	r.add("Reshape", buildReshape)
	r.add("Squeeze", buildSqueeze)
	r.add("Unsqueeze", buildUnsqueeze)
	r.add("Identity", buildIdentity)
	r.add("Dropout", buildDropout)
	r.add("Shape", buildShape)
	r.add("Transpose", buildTranspose)
	r.add("Concat", buildConcat)
	r.add("Split", buildSplit)
	r.add("Slice", buildSlice)
	r.add("Gather", buildGather)
	r.add("Cast", buildCast)
	r.add("Constant", buildConstant)
	r.add("ConstantOfShape", buildConstantOfShape)
	r.add("Expand", buildExpand)
	r.add("Tile", buildTile)
	r.add("Pad", buildPad)
	r.add("Resize", buildResize)
	r.add("ReduceMean", buildReduce(reduceMean))
	r.add("ReduceSum", buildReduce(reduceSum))
	r.add("ReduceMax", buildReduce(reduceMax))
	r.add("If", buildIf)
	r.add("LSTM", buildLSTM)
	r.add("GRU", buildGRU)
	return r
}

// SupportedOps returns the op types the engine implements, sorted.
func SupportedOps() []string {
	out := make([]string, 0, len(ops))
	for k := range ops {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Supports reports whether the engine implements op (default ONNX domain).
func Supports(op string) bool { _, ok := ops[op]; return ok }

// --- attribute and input helpers used by builders ---

func (b *buildCtx) attrInt(name string, def int64) int64 {
	if a, ok := b.attrs[name]; ok {
		return a.GetI()
	}
	return def
}

func (b *buildCtx) attrFloat(name string, def float32) float32 {
	if a, ok := b.attrs[name]; ok {
		return a.GetF()
	}
	return def
}

func (b *buildCtx) attrInts(name string) ([]int64, bool) {
	a, ok := b.attrs[name]
	if !ok {
		return nil, false
	}
	return a.GetInts(), true
}

func (b *buildCtx) attrString(name, def string) string {
	if a, ok := b.attrs[name]; ok {
		return string(a.GetS())
	}
	return def
}

func (b *buildCtx) has(name string) bool { _, ok := b.attrs[name]; return ok }

// input returns input i, or nil if it is absent or omitted.
func (b *buildCtx) input(i int) *value {
	if i < len(b.in) {
		return b.in[i]
	}
	return nil
}

// need checks the node has at least n inputs present among the first n.
func (b *buildCtx) need(n int) error {
	for i := 0; i < n; i++ {
		if b.input(i) == nil {
			return invalid("input %d is missing", i)
		}
	}
	return nil
}

// constInts returns the int64 values of input i, which must be known at
// compile time. ok is false when the input is absent.
func (b *buildCtx) constInts(i int) (vals []int64, ok bool, err error) {
	v := b.input(i)
	if v == nil {
		return nil, false, nil
	}
	if v.konst == nil {
		return nil, true, notImpl("input %d (%s) must be known at compile time", i, v.name)
	}
	if v.isInt() {
		return v.konst.i, true, nil
	}
	out := make([]int64, len(v.konst.f))
	for j, f := range v.konst.f {
		out[j] = int64(f)
	}
	return out, true, nil
}

// constFloats returns the float values of input i known at compile time.
func (b *buildCtx) constFloats(i int) (vals []float32, ok bool, err error) {
	v := b.input(i)
	if v == nil {
		return nil, false, nil
	}
	if v.konst == nil {
		return nil, true, notImpl("input %d (%s) must be known at compile time", i, v.name)
	}
	if !v.isInt() {
		return v.konst.f, true, nil
	}
	out := make([]float32, len(v.konst.i))
	for j, x := range v.konst.i {
		out[j] = float32(x)
	}
	return out, true, nil
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	a, err := shapes.NormAxis(axis, rank)
	if err != nil {
		return 0, invalid("%v", err)
	}
	return a, nil
}

func one(dt onnxio.DataType, shape []int) []outSpec { return []outSpec{{dt, shape}} }

func ints(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }
