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

// NoRewrite is the Rewrite of a rule whose op has no attribute or shape
// constant that depends on the channel count: embed it.
//
//	type myRule struct{ prune.NoRewrite }
type NoRewrite struct{}

// Rewrite does nothing.
func (NoRewrite) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }

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
	return c.d.ints(n, slot)
}

// Ints is Coupler.Ints for rewriting: the integers input slot of n holds,
// stored or folded at analysis time (a copy).
func (r *Rewriter) Ints(n *onnx.NodeProto, slot int) ([]int64, bool) {
	return r.d.ints(n, slot)
}

func (d *DepGraph) ints(n *onnx.NodeProto, slot int) ([]int64, bool) {
	if p := (&Coupler{d: d}).Param(n, slot); p != nil {
		v, err := onnxio.Int64s(p.Tensor)
		return v, err == nil
	}
	if slot < len(n.GetInput()) {
		if f := d.folded[n.GetInput()[slot]]; f != nil {
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

// CoupleFirst is Couple for an axis that follows the first channels of s
// only (index i goes when channel i does): a grouped Conv's weight columns,
// whose other input channels are linked to these.
func (c *Coupler) CoupleFirst(n *onnx.NodeProto, slot, axis int, s *Space, kind SliceKind) {
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

// BlockInputs blocks the space of every input of n.
func (c *Coupler) BlockInputs(n *onnx.NodeProto, why string) {
	for slot := range n.GetInput() {
		c.Block(c.In(n, slot), why)
	}
}

// BlockOthers blocks the spaces of every input slot but those given.
func (c *Coupler) BlockOthers(n *onnx.NodeProto, why string, keep ...int) {
	for slot := range n.GetInput() {
		if !slices.Contains(keep, slot) {
			c.Block(c.In(n, slot), why)
		}
	}
}

// PassThrough gives output 0 of n the channels of s along axis.
func (c *Coupler) PassThrough(n *onnx.NodeProto, s *Space, axis int) *Space {
	if len(n.GetOutput()) == 0 || n.GetOutput()[0] == "" {
		return nil
	}
	out := c.Derive(n, 0, axis, s.Size)
	c.LinkAll(s, out)
	return out
}

// MergeChannels gives output 0 of n a space along axis of
// outer·C·inner features, feature (o·C + c)·inner + r being channel c.
func (c *Coupler) MergeChannels(n *onnx.NodeProto, s *Space, axis, outer, inner int) *Space {
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

// Note keeps v for n's rule to read back in Rewrite (Rewriter.Note): what
// the analysis decided about the node, such as a grouped Conv whose group
// count follows its channels.
func (c *Coupler) Note(n *onnx.NodeProto, v any) { c.d.notes[n] = v }

// AttrInt returns n's int attribute name, or def.
func AttrInt(n *onnx.NodeProto, name string, def int64) int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return def
}

// AttrInts returns n's ints attribute name, and whether n has it.
func AttrInts(n *onnx.NodeProto, name string) ([]int64, bool) {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetInts(), true
		}
	}
	return nil, false
}
