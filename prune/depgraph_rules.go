package prune

import (
	"fmt"
	"slices"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// Rule is how one op type carries channels: Couple follows them through a
// node during analysis, Rewrite fixes the node's shape-carrying attributes
// and constants when channels are physically removed (the coupled parameter
// axes themselves are sliced for it, from what Couple recorded). Rules are
// stateless. The semantics followed are the ONNX operator specification,
// https://onnx.ai/onnx/operators/.
type Rule interface {
	// Couple is called once per node, in topological order, when the
	// spaces of the node's inputs are known (c.In). It derives the spaces
	// of the outputs and links their channels to the inputs' (Derive,
	// Link), starts new spaces (NewRoot), records the parameter axes that
	// follow a space (Couple), and blocks what it cannot follow (Block).
	// An input space a rule neither follows nor blocks must not exist: the
	// rule is then wrong.
	Couple(c *Coupler, n *onnx.NodeProto)
	// Rewrite updates n's attributes and shape constants after channels
	// are removed (a depthwise Conv's group, a Reshape target, Split
	// sizes). Most rules have nothing to do, and none rewrites an input
	// whose channels all stay (a shape computed at run time stays so).
	Rewrite(r *Rewriter, n *onnx.NodeProto) error
}

// Registry maps op types (default domain) to rules.
type Registry struct{ rules map[string]Rule }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{rules: map[string]Rule{}} }

// Register adds the rule for op. Registering an op twice panics.
func (r *Registry) Register(op string, rule Rule) {
	if _, dup := r.rules[op]; dup {
		panic("prune: rule for " + op + " registered twice")
	}
	if rule == nil {
		panic("prune: nil rule for " + op)
	}
	r.rules[op] = rule
}

// Rule returns the rule for op, or nil.
func (r *Registry) Rule(op string) Rule { return r.rules[op] }

// Ops lists the registered op types, sorted.
func (r *Registry) Ops() []string {
	var out []string
	for op := range r.rules {
		out = append(out, op)
	}
	slices.Sort(out)
	return out
}

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
	r.Register("Size", refuseRule{why: "its element count is read by Size at run time"})
	r.Register("LRN", refuseRule{why: "LRN normalizes across channels"})
	r.Register("LayerNormalization", refuseRule{why: "LayerNormalization normalizes across the channel axis"})
	return r
}

// Coupler is what rules see of the graph under analysis.
type Coupler struct{ d *DepGraph }

// In returns the space of input slot of n, or nil.
func (c *Coupler) In(n *onnx.NodeProto, slot int) *Space {
	if slot >= len(n.GetInput()) || n.GetInput()[slot] == "" {
		return nil
	}
	return c.d.spaceOf[n.GetInput()[slot]]
}

// Shape returns the inferred shape of a value, or nil if unknown.
func (c *Coupler) Shape(name string) []int { return c.d.shapes[name] }

// Param returns the constant (initializer or Constant node, through
// Identity) read by input slot of n, or nil.
func (c *Coupler) Param(n *onnx.NodeProto, slot int) *onnxio.Param {
	if slot >= len(n.GetInput()) || n.GetInput()[slot] == "" {
		return nil
	}
	return c.d.constParam(n.GetInput()[slot])
}

// Ints returns the values of an integer constant input, or of a shape
// computation folded at analysis time (Computed), or false.
func (c *Coupler) Ints(n *onnx.NodeProto, slot int) ([]int64, bool) {
	if p := c.Param(n, slot); p != nil {
		v, err := onnxio.Int64s(p.Tensor)
		return v, err == nil
	}
	if slot < len(n.GetInput()) {
		if f := c.d.folded[n.GetInput()[slot]]; f != nil {
			return slices.Clone(f.v), true
		}
	}
	return nil, false
}

// Floats returns the values of a float constant input, or false.
func (c *Coupler) Floats(n *onnx.NodeProto, slot int) ([]float32, bool) {
	p := c.Param(n, slot)
	if p == nil {
		return nil, false
	}
	v, _, err := p.Float32()
	return v, err == nil
}

// Label is n's name in reports.
func (c *Coupler) Label(n *onnx.NodeProto) string { return c.d.labels[n] }

// Opset is the model's default-domain opset.
func (c *Coupler) Opset() int64 { return c.d.Model.Opset() }

// NewRoot starts a space of fresh, prunable channels: output slot of n,
// whose channels n makes (a Conv's output channels).
func (c *Coupler) NewRoot(n *onnx.NodeProto, slot, axis, size int) *Space {
	return c.d.newSpace(n.GetOutput()[slot], axis, size, c.d.labels[n])
}

// Derive makes the space of output slot of n, whose channels must be
// linked to input channels (Link) or blocked.
func (c *Coupler) Derive(n *onnx.NodeProto, slot, axis, size int) *Space {
	return c.d.newSpace(n.GetOutput()[slot], axis, size, "")
}

// Link joins channel ai of a with channel bi of b: they are removed
// together.
func (c *Coupler) Link(a *Space, ai int, b *Space, bi int) {
	if ai < 0 || ai >= a.Size || bi < 0 || bi >= b.Size {
		panic(fmt.Sprintf("prune: Link %s[%d] with %s[%d] out of range", a.Value, ai, b.Value, bi))
	}
	union(c.d.uf, a.base+ai, b.base+bi)
	union(c.d.spaceUF, a.id, b.id)
}

// LinkAll links channel i of a with channel i of b for every i; the sizes
// must be equal.
func (c *Coupler) LinkAll(a, b *Space) {
	if a.Size != b.Size {
		panic(fmt.Sprintf("prune: LinkAll %s (%d) with %s (%d)", a.Value, a.Size, b.Value, b.Size))
	}
	for i := range a.Size {
		c.Link(a, i, b, i)
	}
}

// Couple records that axis of the constant read by slot of n follows the
// channels of s. It blocks s when the input is not a constant or its axis
// does not have s.Size entries.
func (c *Coupler) Couple(n *onnx.NodeProto, slot, axis int, s *Space, kind SliceKind) {
	p := c.Param(n, slot)
	switch {
	case p == nil:
		c.Block(s, fmt.Sprintf("input %d of %s %q is not a constant", slot, n.GetOpType(), c.Label(n)))
		return
	case !p.DataType().IsFloat():
		c.Block(s, fmt.Sprintf("input %d of %s %q is %v, not float", slot, n.GetOpType(), c.Label(n), p.DataType()))
		return
	case axis < 0 || axis >= len(p.Shape()) || int(p.Shape()[axis]) != s.Size:
		c.Block(s, fmt.Sprintf("input %d of %s %q has shape %v, not %d along axis %d", slot, n.GetOpType(), c.Label(n), p.Shape(), s.Size, axis))
		return
	}
	c.d.coupled = append(c.d.coupled, &Coupled{Param: p, Node: c.Label(n), Op: n.GetOpType(), Slot: slot, Axis: axis, Space: s, Kind: kind, node: n})
}

// coupleFirst is Couple for an axis that follows the first channels of s
// only (index i goes when channel i does): a grouped Conv's weight columns,
// whose other input channels are linked to these.
func (c *Coupler) coupleFirst(n *onnx.NodeProto, slot, axis int, s *Space, kind SliceKind) {
	p := c.Param(n, slot)
	if p == nil || axis >= len(p.Shape()) || int(p.Shape()[axis]) > s.Size {
		c.Block(s, fmt.Sprintf("input %d of %s %q does not follow the channels", slot, n.GetOpType(), c.Label(n)))
		return
	}
	full := *s
	full.Size = int(p.Shape()[axis])
	c.Couple(n, slot, axis, &full, kind)
	if k := len(c.d.coupled) - 1; k >= 0 && c.d.coupled[k].Space == &full {
		c.d.coupled[k].Space = s
	} else {
		c.Block(s, fmt.Sprintf("input %d of %s %q does not follow the channels", slot, n.GetOpType(), c.Label(n)))
	}
}

// Block makes every channel of s unprunable, for the reason given.
func (c *Coupler) Block(s *Space, why string) {
	if s == nil {
		return
	}
	for i := range s.Size {
		c.BlockAt(s, i, why)
	}
}

// BlockAt makes channel i of s unprunable.
func (c *Coupler) BlockAt(s *Space, i int, why string) {
	if c.d.blocked[s.base+i] == "" {
		c.d.blocked[s.base+i] = why
	}
}

// blockInputs blocks the space of every input of n.
func (c *Coupler) blockInputs(n *onnx.NodeProto, why string) {
	for slot := range n.GetInput() {
		c.Block(c.In(n, slot), why)
	}
}

// blockOthers blocks the spaces of every input slot but those given.
func (c *Coupler) blockOthers(n *onnx.NodeProto, why string, keep ...int) {
	for slot := range n.GetInput() {
		if !slices.Contains(keep, slot) {
			c.Block(c.In(n, slot), why)
		}
	}
}

// passThrough gives output 0 of n the channels of s along axis.
func (c *Coupler) passThrough(n *onnx.NodeProto, s *Space, axis int) *Space {
	if len(n.GetOutput()) == 0 || n.GetOutput()[0] == "" {
		return nil
	}
	out := c.Derive(n, 0, axis, s.Size)
	c.LinkAll(s, out)
	return out
}

// ---- rules ----

// refuseRule blocks every input space.
type refuseRule struct{ why string }

func (r refuseRule) Couple(c *Coupler, n *onnx.NodeProto) {
	c.blockInputs(n, fmt.Sprintf("%s (%q)", r.why, c.Label(n)))
}
func (refuseRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// unaryRule: elementwise ops of one activation (extra inputs, such as
// Clip's bounds, are scalars).
type unaryRule struct{}

func (unaryRule) Couple(c *Coupler, n *onnx.NodeProto) {
	c.blockOthers(n, fmt.Sprintf("%s %q reads channels in a bound or parameter input", n.GetOpType(), c.Label(n)), 0)
	if s := c.In(n, 0); s != nil {
		c.passThrough(n, s, s.Axis)
	}
}
func (unaryRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// castRule passes channels through casts between float types.
type castRule struct{}

func (castRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	if s == nil {
		return
	}
	if !castsToFloat(n) {
		c.Block(s, fmt.Sprintf("Cast %q to a non-float type", c.Label(n)))
		return
	}
	c.passThrough(n, s, s.Axis)
}
func (castRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// poolRule: pooling keeps channels apart (axis 1 of NC…).
type poolRule struct{}

func (poolRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	if s == nil {
		return
	}
	if s.Axis != 1 {
		c.Block(s, fmt.Sprintf("%s %q pools over the pruned axis %d", n.GetOpType(), c.Label(n), s.Axis))
		return
	}
	if len(n.GetOutput()) > 1 && n.GetOutput()[1] != "" {
		c.Block(s, fmt.Sprintf("%s %q returns indices", n.GetOpType(), c.Label(n)))
		return
	}
	c.passThrough(n, s, 1)
}
func (poolRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// normRule: BatchNormalization and InstanceNormalization, per-channel
// parameters along axis 1.
type normRule struct{ params []SliceKind }

func (r normRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("%s %q reads channels as parameters", n.GetOpType(), c.Label(n)), 0)
	if s == nil {
		return
	}
	if s.Axis != 1 {
		c.Block(s, fmt.Sprintf("%s %q normalizes axis 1, the channels are on axis %d", n.GetOpType(), c.Label(n), s.Axis))
		return
	}
	for _, o := range n.GetOutput()[1:] {
		if o != "" {
			c.Block(s, fmt.Sprintf("%s %q in training mode", n.GetOpType(), c.Label(n)))
			return
		}
	}
	out := c.passThrough(n, s, 1)
	for i, k := range r.params {
		c.Couple(n, i+1, 0, out, k)
	}
}
func (normRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// convRule: Conv. group 1 starts a space (output channels: weight axis 0,
// bias) and consumes its input's (weight axis 1). A depthwise Conv (one
// input channel per group) passes channels through, each input channel to
// its multiplier output channels, and its group count follows. A grouped
// Conv (several input channels per group) starts a space too, and prunes
// evenly: output channel j of every group is one unit, and input channel j
// of every group another (weight column j), so the group count stays.
type convRule struct{}

func (convRule) Couple(c *Coupler, n *onnx.NodeProto) {
	in := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("Conv %q reads channels as weights", c.Label(n)), 0)
	w := c.Param(n, 1)
	if w == nil || len(w.Shape()) < 3 {
		c.Block(in, fmt.Sprintf("Conv %q has no constant weight", c.Label(n)))
		return
	}
	group := int(attrInt(n, "group", 1))
	cout, cinG := int(w.Shape()[0]), int(w.Shape()[1])
	if in != nil && in.Axis != 1 {
		c.Block(in, fmt.Sprintf("Conv %q: channels on axis %d", c.Label(n), in.Axis))
		in = nil
	}
	switch {
	case group == 1:
		if in != nil {
			c.Couple(n, 1, 1, in, KindWeight)
		}
		out := c.NewRoot(n, 0, 1, cout)
		c.Couple(n, 1, 0, out, KindWeight)
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			c.Couple(n, 2, 0, out, KindBias)
		}
	case cinG == 1 && in != nil && in.Size == group && cout%group == 0:
		out := c.Derive(n, 0, 1, cout)
		m := cout / group
		for ch := range group {
			for j := range m {
				c.Link(in, ch, out, ch*m+j)
			}
		}
		c.Couple(n, 1, 0, out, KindWeight)
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			c.Couple(n, 2, 0, out, KindBias)
		}
	case cout%group == 0 && (in == nil || in.Size == group*cinG):
		// Grouped: channel j of every group is one unit, on both sides,
		// so every group keeps the same channels and group stays.
		if in != nil {
			for i := 1; i < group; i++ {
				for j := range cinG {
					c.Link(in, j, in, i*cinG+j)
				}
			}
			c.coupleFirst(n, 1, 1, in, KindWeight)
		}
		out := c.NewRoot(n, 0, 1, cout)
		coutG := cout / group
		for i := 1; i < group; i++ {
			for j := range coutG {
				c.Link(out, j, out, i*coutG+j)
			}
		}
		c.Couple(n, 1, 0, out, KindWeight)
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			c.Couple(n, 2, 0, out, KindBias)
		}
		c.d.grouped[n] = true
	default:
		c.Block(in, fmt.Sprintf("grouped Conv %q (group %d, %d input channels per group) does not divide its channels", c.Label(n), group, cinG))
	}
}

func (convRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	if attrInt(n, "group", 1) == 1 || r.d.grouped[n] {
		return nil
	}
	in := r.In(n, 0)
	if in == nil {
		return nil
	}
	r.SetAttrInt(n, "group", int64(r.Kept(in)))
	return nil
}

// convTransposeRule: ConvTranspose's weight is [C_in, C_out/group, k…].
type convTransposeRule struct{}

func (convTransposeRule) Couple(c *Coupler, n *onnx.NodeProto) {
	in := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("ConvTranspose %q reads channels as weights", c.Label(n)), 0)
	w := c.Param(n, 1)
	if w == nil || len(w.Shape()) < 3 {
		c.Block(in, fmt.Sprintf("ConvTranspose %q has no constant weight", c.Label(n)))
		return
	}
	if _, ok := attrInts(n, "output_shape"); ok {
		c.Block(in, fmt.Sprintf("ConvTranspose %q has an output_shape", c.Label(n)))
		return
	}
	group := int(attrInt(n, "group", 1))
	cin, coutG := int(w.Shape()[0]), int(w.Shape()[1])
	if in != nil && in.Axis != 1 {
		c.Block(in, fmt.Sprintf("ConvTranspose %q: channels on axis %d", c.Label(n), in.Axis))
		in = nil
	}
	switch {
	case group == 1:
		if in != nil {
			c.Couple(n, 1, 0, in, KindWeight)
		}
		out := c.NewRoot(n, 0, 1, coutG)
		c.Couple(n, 1, 1, out, KindWeight)
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			c.Couple(n, 2, 0, out, KindBias)
		}
	case coutG == 1 && in != nil && in.Size == group && cin == group:
		out := c.passThrough(n, in, 1)
		c.Couple(n, 1, 0, in, KindWeight)
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			c.Couple(n, 2, 0, out, KindBias)
		}
	default:
		c.Block(in, fmt.Sprintf("grouped ConvTranspose %q (group %d) is not remapped", c.Label(n), group))
	}
}

func (convTransposeRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	return convRule{}.Rewrite(r, n)
}

// gemmRule: Y = αA'B' + βC with constant B starts a space of N features
// (axis 1 of Y) and consumes A's features (axis 1 of A, transA = 0).
type gemmRule struct{}

func (gemmRule) Couple(c *Coupler, n *onnx.NodeProto) {
	in := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("Gemm %q reads channels as weights or bias", c.Label(n)), 0)
	w := c.Param(n, 1)
	if w == nil || len(w.Shape()) != 2 {
		c.Block(in, fmt.Sprintf("Gemm %q has no constant weight", c.Label(n)))
		return
	}
	transB := attrInt(n, "transB", 0) != 0
	kAxis, nAxis := 0, 1
	if transB {
		kAxis, nAxis = 1, 0
	}
	if in != nil {
		if attrInt(n, "transA", 0) != 0 || in.Axis != 1 {
			c.Block(in, fmt.Sprintf("Gemm %q reads its input transposed", c.Label(n)))
		} else {
			c.Couple(n, 1, kAxis, in, KindWeight)
		}
	}
	out := c.NewRoot(n, 0, 1, int(w.Shape()[nAxis]))
	c.Couple(n, 1, nAxis, out, KindWeight)
	if b := c.Param(n, 2); b != nil {
		if sh := b.Shape(); len(sh) > 0 && int(sh[len(sh)-1]) == out.Size && out.Size > 1 {
			c.Couple(n, 2, len(sh)-1, out, KindBias)
		}
	} else if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
		c.Block(out, fmt.Sprintf("Gemm %q has a computed bias", c.Label(n)))
	}
}
func (gemmRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// matMulRule: A·B with a constant 2-D B [K,N] starts a space of N features
// on Y's last axis and consumes A's last axis.
type matMulRule struct{}

func (matMulRule) Couple(c *Coupler, n *onnx.NodeProto) {
	in := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("MatMul %q reads channels as its right operand", c.Label(n)), 0)
	w := c.Param(n, 1)
	if w == nil || len(w.Shape()) != 2 {
		c.Block(in, fmt.Sprintf("MatMul %q has no constant 2-D right operand", c.Label(n)))
		return
	}
	ash, ysh := c.Shape(n.GetInput()[0]), c.Shape(n.GetOutput()[0])
	if ash == nil || ysh == nil || len(ash) < 1 {
		c.Block(in, fmt.Sprintf("MatMul %q: shapes unknown", c.Label(n)))
		return
	}
	if in != nil {
		if in.Axis != len(ash)-1 || len(ash) == 1 {
			c.Block(in, fmt.Sprintf("MatMul %q: channels on axis %d are not its reduction axis", c.Label(n), in.Axis))
		} else {
			c.Couple(n, 1, 0, in, KindWeight)
		}
	}
	if len(ysh) == 0 {
		return
	}
	out := c.NewRoot(n, 0, len(ysh)-1, int(w.Shape()[1]))
	c.Couple(n, 1, 1, out, KindWeight)
}
func (matMulRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// elementwiseRule: broadcasting ops of several operands. Every operand
// with channels must have them on the same output axis; constants with the
// full channel dimension follow them (kind), size-1 dimensions broadcast.
type elementwiseRule struct{ kind SliceKind }

func (r elementwiseRule) Couple(c *Coupler, n *onnx.NodeProto) {
	var ins []int
	for slot := range n.GetInput() {
		if c.In(n, slot) != nil {
			ins = append(ins, slot)
		}
	}
	if len(ins) == 0 {
		return
	}
	ysh := c.Shape(n.GetOutput()[0])
	why := func(s string) string { return fmt.Sprintf("%s %q: %s", n.GetOpType(), c.Label(n), s) }
	if ysh == nil {
		c.blockInputs(n, why("shapes unknown"))
		return
	}
	rank := len(ysh)
	axis, size := -1, 0
	for _, slot := range ins {
		s := c.In(n, slot)
		sh := c.Shape(n.GetInput()[slot])
		if sh == nil {
			c.blockInputs(n, why("shapes unknown"))
			return
		}
		a := s.Axis + rank - len(sh)
		if axis >= 0 && (a != axis || s.Size != size) {
			c.blockInputs(n, why("operands carry channels on different axes"))
			return
		}
		axis, size = a, s.Size
	}
	if ysh[axis] != size {
		c.blockInputs(n, why("channels broadcast"))
		return
	}
	out := c.Derive(n, 0, axis, size)
	for _, slot := range ins {
		c.LinkAll(c.In(n, slot), out)
	}
	for slot, name := range n.GetInput() {
		if name == "" || slices.Contains(ins, slot) {
			continue
		}
		sh := c.Shape(name)
		if sh == nil {
			c.Block(out, why("shape of "+name+" unknown"))
			continue
		}
		a := axis - (rank - len(sh))
		if a < 0 || sh[a] == 1 {
			continue // broadcast along the channels
		}
		if c.Param(n, slot) != nil {
			c.Couple(n, slot, a, out, r.kind)
			continue
		}
		c.Block(out, why(name+" has these channels but cannot be pruned"))
	}
}
func (elementwiseRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// concatRule: along the channel axis output channels are the inputs'
// channels at their offsets; along another axis every input carries the
// same channels.
type concatRule struct{}

func (concatRule) Couple(c *Coupler, n *onnx.NodeProto) {
	ysh := c.Shape(n.GetOutput()[0])
	var any *Space
	for slot := range n.GetInput() {
		if s := c.In(n, slot); s != nil {
			any = s
		}
	}
	if any == nil {
		return
	}
	why := func(s string) string { return fmt.Sprintf("Concat %q: %s", c.Label(n), s) }
	if ysh == nil {
		c.blockInputs(n, why("shapes unknown"))
		return
	}
	axis := int(attrInt(n, "axis", 0))
	if axis < 0 {
		axis += len(ysh)
	}
	if any.Axis != axis {
		for slot := range n.GetInput() {
			if s := c.In(n, slot); s == nil || s.Axis != any.Axis || s.Size != any.Size {
				c.blockInputs(n, why("inputs carry different channels"))
				return
			}
		}
		out := c.passThrough(n, any, any.Axis)
		for slot := range n.GetInput() {
			c.LinkAll(c.In(n, slot), out)
		}
		return
	}
	out := c.Derive(n, 0, axis, ysh[axis])
	off := 0
	for slot, name := range n.GetInput() {
		sh := c.Shape(name)
		if sh == nil || axis >= len(sh) {
			c.Block(out, why("shape of "+name+" unknown"))
			c.blockInputs(n, why("shape of "+name+" unknown"))
			return
		}
		s := c.In(n, slot)
		switch {
		case s == nil:
			for i := range sh[axis] {
				c.BlockAt(out, off+i, why(name+" has no prunable channels"))
			}
		case s.Axis != axis:
			c.Block(s, why("input channels on another axis"))
			for i := range sh[axis] {
				c.BlockAt(out, off+i, why("input channels on another axis"))
			}
		default:
			for i := range s.Size {
				c.Link(s, i, out, off+i)
			}
		}
		off += sh[axis]
	}
}
func (concatRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// splitSizes returns Split's sizes along axis (from the input or the
// attribute, or equal parts), or false.
func splitSizes(c *Coupler, n *onnx.NodeProto, dim int) ([]int64, bool) {
	if len(n.GetInput()) > 1 && n.GetInput()[1] != "" {
		return c.Ints(n, 1)
	}
	if v, ok := attrInts(n, "split"); ok {
		return v, true
	}
	k := len(n.GetOutput())
	if k == 0 || dim%k != 0 {
		return nil, false
	}
	out := make([]int64, k)
	for i := range out {
		out[i] = int64(dim / k)
	}
	return out, true
}

// splitRule: along the channel axis output i takes the channels in its
// range; the sizes are rewritten. Along other axes channels pass through.
type splitRule struct{}

func (splitRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("Split %q reads channels as sizes", c.Label(n)), 0)
	if s == nil {
		return
	}
	sh := c.Shape(n.GetInput()[0])
	if sh == nil {
		c.Block(s, fmt.Sprintf("Split %q: shape unknown", c.Label(n)))
		return
	}
	axis := int(attrInt(n, "axis", 0))
	if axis < 0 {
		axis += len(sh)
	}
	if axis != s.Axis {
		for i, o := range n.GetOutput() {
			if o != "" {
				out := c.Derive(n, i, s.Axis, s.Size)
				c.LinkAll(s, out)
			}
		}
		return
	}
	sizes, ok := splitSizes(c, n, s.Size)
	if !ok || len(sizes) != len(n.GetOutput()) {
		c.Block(s, fmt.Sprintf("Split %q: sizes unknown", c.Label(n)))
		return
	}
	for i := range sizes {
		c.Claim(n, 1, i)
	}
	off := 0
	for i, o := range n.GetOutput() {
		if o != "" {
			out := c.Derive(n, i, axis, int(sizes[i]))
			for j := range out.Size {
				c.Link(s, off+j, out, j)
			}
		}
		off += int(sizes[i])
	}
	if off != s.Size {
		c.Block(s, fmt.Sprintf("Split %q: sizes %v do not add up to %d", c.Label(n), sizes, s.Size))
	}
}

func (splitRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	s := r.In(n, 0)
	if s == nil || r.Kept(s) == s.Size {
		return nil
	}
	var sizes []int64
	for _, o := range n.GetOutput() {
		out := r.Space(o)
		if out == nil || out.Axis != s.Axis {
			return nil // split along another axis
		}
		sizes = append(sizes, int64(r.Kept(out)))
	}
	if r.Opset() >= 13 {
		return r.SetInputInts(n, 1, sizes)
	}
	r.SetAttrInts(n, "split", sizes)
	return nil
}

// sliceParams returns Slice's starts, ends, axes and steps (constants), or
// false.
func sliceParams(c *Coupler, n *onnx.NodeProto, rank int) (starts, ends, axes, steps []int64, ok bool) {
	if c.Opset() < 10 {
		starts, _ = attrInts(n, "starts")
		ends, _ = attrInts(n, "ends")
		axes, _ = attrInts(n, "axes")
	} else {
		var ok1, ok2 bool
		starts, ok1 = c.Ints(n, 1)
		ends, ok2 = c.Ints(n, 2)
		if !ok1 || !ok2 {
			return nil, nil, nil, nil, false
		}
		if len(n.GetInput()) > 3 && n.GetInput()[3] != "" {
			if axes, ok = c.Ints(n, 3); !ok {
				return nil, nil, nil, nil, false
			}
		}
		if len(n.GetInput()) > 4 && n.GetInput()[4] != "" {
			if steps, ok = c.Ints(n, 4); !ok {
				return nil, nil, nil, nil, false
			}
		}
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if len(starts) != len(ends) || len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
		return nil, nil, nil, nil, false
	}
	for i := range axes {
		if axes[i] < 0 {
			axes[i] += int64(rank)
		}
	}
	return starts, ends, axes, steps, true
}

// clampRange resolves a Slice start/end (step 1) on a dimension.
func clampRange(start, end int64, dim int) (int, int) {
	d := int64(dim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	start = min(max(start, 0), d)
	end = min(max(end, 0), d)
	return int(start), int(max(end, start))
}

// sliceRule: a Slice with constant bounds and step 1 on the channel axis
// keeps a window of channels (its bounds are rewritten); on other axes
// channels pass through.
type sliceRule struct{}

func (sliceRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("Slice %q reads channels as bounds", c.Label(n)), 0)
	if s == nil {
		return
	}
	sh := c.Shape(n.GetInput()[0])
	starts, ends, axes, steps, ok := sliceParams(c, n, len(sh))
	if sh == nil || !ok {
		c.Block(s, fmt.Sprintf("Slice %q: bounds computed at run time", c.Label(n)))
		return
	}
	k := slices.Index(axes, int64(s.Axis))
	if k < 0 {
		c.passThrough(n, s, s.Axis)
		return
	}
	if steps != nil && steps[k] != 1 {
		c.Block(s, fmt.Sprintf("Slice %q: step %d on the channel axis", c.Label(n), steps[k]))
		return
	}
	lo, hi := clampRange(starts[k], ends[k], s.Size)
	if c.Opset() >= 10 {
		c.Claim(n, 1, k)
		c.Claim(n, 2, k)
	}
	out := c.Derive(n, 0, s.Axis, hi-lo)
	for j := range out.Size {
		c.Link(s, lo+j, out, j)
	}
}

func (sliceRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	s := r.In(n, 0)
	out := r.Space(n.GetOutput()[0])
	if s == nil || out == nil || r.Kept(s) == s.Size {
		return nil
	}
	c := &Coupler{d: r.d}
	starts, ends, axes, _, ok := sliceParams(c, n, len(r.d.shapes[n.GetInput()[0]]))
	if !ok {
		return nil
	}
	k := slices.Index(axes, int64(s.Axis))
	if k < 0 {
		return nil
	}
	lo, hi := clampRange(starts[k], ends[k], s.Size)
	keep := r.Keep(s)
	newLo := 0
	for i := range lo {
		if keep[i] {
			newLo++
		}
	}
	newHi := newLo
	for i := lo; i < hi; i++ {
		if keep[i] {
			newHi++
		}
	}
	starts, ends = slices.Clone(starts), slices.Clone(ends)
	starts[k], ends[k] = int64(newLo), int64(newHi)
	if r.Opset() < 10 {
		r.SetAttrInts(n, "starts", starts)
		r.SetAttrInts(n, "ends", ends)
		return nil
	}
	if err := r.SetInputInts(n, 1, starts); err != nil {
		return err
	}
	return r.SetInputInts(n, 2, ends)
}

// transposeRule moves the channel axis.
type transposeRule struct{}

func (transposeRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	if s == nil {
		return
	}
	perm, ok := attrInts(n, "perm")
	sh := c.Shape(n.GetInput()[0])
	if !ok {
		if sh == nil {
			c.Block(s, fmt.Sprintf("Transpose %q: rank unknown", c.Label(n)))
			return
		}
		for i := range sh {
			perm = append(perm, int64(len(sh)-1-i))
		}
	}
	k := slices.Index(perm, int64(s.Axis))
	if k < 0 {
		c.Block(s, fmt.Sprintf("Transpose %q: bad perm %v", c.Label(n), perm))
		return
	}
	c.passThrough(n, s, k)
}
func (transposeRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// flattenRule: channel c of [d0…, C, inner…] becomes its block of inner
// features, for every outer index, in the flattened axis 1.
type flattenRule struct{}

func (flattenRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	if s == nil {
		return
	}
	sh := c.Shape(n.GetInput()[0])
	if sh == nil {
		c.Block(s, fmt.Sprintf("Flatten %q: shape unknown", c.Label(n)))
		return
	}
	ax := int(attrInt(n, "axis", 1))
	if ax < 0 {
		ax += len(sh)
	}
	if s.Axis < ax {
		c.Block(s, fmt.Sprintf("Flatten %q merges the channel axis into its first output axis", c.Label(n)))
		return
	}
	mergeChannels(c, n, s, 1, prod(sh[ax:s.Axis]), prod(sh[s.Axis+1:]))
}
func (flattenRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// mergeChannels gives output 0 of n a space along axis of
// outer·C·inner features, feature (o·C + c)·inner + r being channel c.
func mergeChannels(c *Coupler, n *onnx.NodeProto, s *Space, axis, outer, inner int) *Space {
	out := c.Derive(n, 0, axis, outer*s.Size*inner)
	for o := range outer {
		for ch := range s.Size {
			for r := range inner {
				c.Link(s, ch, out, (o*s.Size+ch)*inner+r)
			}
		}
	}
	return out
}

// reshapeRule: a constant target (stored, or computed from Shape and
// folded at analysis time) that keeps the channel axis (its size is
// rewritten), or merges it with the axes after it (Flatten). Splitting the
// channel axis is refused unless it starts a channel shuffle
// (depgraph_shuffle.go).
type reshapeRule struct{}

// reshapeMap finds where channel axis a of x lands in y: the output axis,
// and the features per channel along it (1: kept as is).
func reshapeMap(x, y []int, a int) (axis, inner int, ok bool) {
	pre, rest := prod(x[:a]), prod(x[a+1:])
	p := 1
	for k := range y {
		if p > pre && p > 0 {
			break
		}
		if p == pre {
			if y[k] == x[a] && prod(y[k+1:]) == rest {
				return k, 1, true
			}
			if x[a] > 0 && y[k]%x[a] == 0 && prod(y[k+1:])*(y[k]/x[a]) == rest {
				return k, y[k] / x[a], true
			}
		}
		p *= y[k]
	}
	return 0, 0, false
}

func (reshapeRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("Reshape %q reads channels as its target", c.Label(n)), 0)
	if s == nil {
		return
	}
	if _, ok := c.Ints(n, 1); !ok {
		c.Block(s, fmt.Sprintf("Reshape %q: target shape computed at run time", c.Label(n)))
		return
	}
	x, y := c.Shape(n.GetInput()[0]), c.Shape(n.GetOutput()[0])
	if x == nil || y == nil {
		c.Block(s, fmt.Sprintf("Reshape %q: shapes unknown", c.Label(n)))
		return
	}
	k, inner, ok := reshapeMap(x, y, s.Axis)
	if !ok {
		if !shuffleAt(c, n, s, x, y) {
			c.Block(s, fmt.Sprintf("Reshape %q %v → %v splits or mixes the channel axis %d (and is not a channel shuffle)", c.Label(n), x, y, s.Axis))
		}
		return
	}
	if t, _ := c.Ints(n, 1); k < len(t) && !keepsDim(n, t[k]) {
		c.Claim(n, 1, k)
	}
	if inner == 1 {
		c.passThrough(n, s, k)
		return
	}
	mergeChannels(c, n, s, k, 1, inner)
}

// keepsDim reports whether Reshape target entry v is inferred (-1) or
// copied from the input (0 without allowzero).
func keepsDim(n *onnx.NodeProto, v int64) bool {
	return v == -1 || (v == 0 && attrInt(n, "allowzero", 0) == 0)
}

func (reshapeRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	if sh := r.d.shuffles[n]; sh != nil {
		return r.rewriteShuffle(sh)
	}
	s := r.In(n, 0)
	out := r.Space(n.GetOutput()[0])
	if s == nil || out == nil || r.Kept(s) == s.Size {
		return nil
	}
	t, ok := (&Coupler{d: r.d}).Ints(n, 1)
	if !ok || out.Axis >= len(t) || keepsDim(n, t[out.Axis]) {
		return nil
	}
	t[out.Axis] = int64(r.Kept(out))
	return r.setTarget(n, t)
}

// resizeRule: Resize/Upsample with scale 1 (or the same size) on the
// channel axis.
type resizeRule struct{}

func (resizeRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("%s %q reads channels as sizes", n.GetOpType(), c.Label(n)), 0)
	if s == nil {
		return
	}
	x, y := c.Shape(n.GetInput()[0]), c.Shape(n.GetOutput()[0])
	if x == nil || y == nil || len(x) != len(y) || y[s.Axis] != x[s.Axis] {
		c.Block(s, fmt.Sprintf("%s %q resizes the channel axis", n.GetOpType(), c.Label(n)))
		return
	}
	if n.GetOpType() == "Resize" && len(n.GetInput()) > 3 && n.GetInput()[3] != "" {
		if _, ok := c.Ints(n, 3); !ok {
			c.Block(s, fmt.Sprintf("Resize %q: sizes computed at run time", c.Label(n)))
			return
		}
		c.Claim(n, 3, s.Axis)
	}
	c.passThrough(n, s, s.Axis)
}

func (resizeRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	s := r.In(n, 0)
	if s == nil || r.Kept(s) == s.Size || n.GetOpType() != "Resize" || len(n.GetInput()) < 4 || n.GetInput()[3] == "" {
		return nil
	}
	sizes, ok := (&Coupler{d: r.d}).Ints(n, 3)
	if !ok || s.Axis >= len(sizes) {
		return nil
	}
	sizes = slices.Clone(sizes)
	sizes[s.Axis] = int64(r.Kept(s))
	return r.SetInputInts(n, 3, sizes)
}

// padRule: Pad with no padding on the channel axis.
type padRule struct{}

func (padRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("Pad %q reads channels as pads", c.Label(n)), 0)
	if s == nil {
		return
	}
	x, y := c.Shape(n.GetInput()[0]), c.Shape(n.GetOutput()[0])
	if x == nil || y == nil || len(x) != len(y) || y[s.Axis] != x[s.Axis] {
		c.Block(s, fmt.Sprintf("Pad %q pads the channel axis", c.Label(n)))
		return
	}
	c.passThrough(n, s, s.Axis)
}
func (padRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// reduceRule: reductions over other axes keep the channels (moving them
// when keepdims is 0); over the channel axis they mix them.
type reduceRule struct{}

func (reduceRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.blockOthers(n, fmt.Sprintf("%s %q reads channels as axes", n.GetOpType(), c.Label(n)), 0)
	if s == nil {
		return
	}
	x := c.Shape(n.GetInput()[0])
	axes, ok := attrInts(n, "axes")
	if !ok && len(n.GetInput()) > 1 && n.GetInput()[1] != "" {
		if axes, ok = c.Ints(n, 1); !ok {
			c.Block(s, fmt.Sprintf("%s %q: axes computed at run time", n.GetOpType(), c.Label(n)))
			return
		}
	}
	if x == nil {
		c.Block(s, fmt.Sprintf("%s %q: shape unknown", n.GetOpType(), c.Label(n)))
		return
	}
	if len(axes) == 0 && attrInt(n, "noop_with_empty_axes", 0) == 0 {
		c.Block(s, fmt.Sprintf("%s %q reduces over every axis, channels included", n.GetOpType(), c.Label(n)))
		return
	}
	keep := attrInt(n, "keepdims", 1) != 0
	axis := s.Axis
	for _, a := range axes {
		if a < 0 {
			a += int64(len(x))
		}
		if int(a) == s.Axis {
			c.Block(s, fmt.Sprintf("%s %q reduces over the channel axis", n.GetOpType(), c.Label(n)))
			return
		}
		if !keep && int(a) < s.Axis {
			axis--
		}
	}
	c.passThrough(n, s, axis)
}
func (reduceRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

// softmaxRule: Softmax normalizes along axis (opset ≥ 13), or over the
// axes from axis on (older opsets): channels there are mixed.
type softmaxRule struct{}

func (softmaxRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	if s == nil {
		return
	}
	x := c.Shape(n.GetInput()[0])
	def := int64(-1)
	if c.Opset() < 13 {
		def = 1
	}
	a := int(attrInt(n, "axis", def))
	if x == nil {
		c.Block(s, fmt.Sprintf("%s %q: shape unknown", n.GetOpType(), c.Label(n)))
		return
	}
	if a < 0 {
		a += len(x)
	}
	if s.Axis == a || (c.Opset() < 13 && s.Axis >= a) {
		c.Block(s, fmt.Sprintf("%s %q normalizes over the channel axis", n.GetOpType(), c.Label(n)))
		return
	}
	c.passThrough(n, s, s.Axis)
}
func (softmaxRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }
