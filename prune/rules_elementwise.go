package prune

import (
	"fmt"
	"slices"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// unaryRule: elementwise ops of one activation (extra inputs, such as
// Clip's bounds, are scalars).
type unaryRule struct{ NoRewrite }

func (unaryRule) Couple(c *Coupler, n *onnx.NodeProto) {
	c.BlockOthers(n, fmt.Sprintf("%s %q reads channels in a bound or parameter input", n.GetOpType(), c.Label(n)), 0)
	if s := c.In(n, 0); s != nil {
		c.PassThrough(n, s, s.Axis)
	}
}

// castRule passes channels through casts between float types.
type castRule struct{ NoRewrite }

func (castRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	if s == nil {
		return
	}
	if !castsToFloat(n) {
		c.Block(s, fmt.Sprintf("Cast %q to a non-float type", c.Label(n)))
		return
	}
	c.PassThrough(n, s, s.Axis)
}

// poolRule: pooling keeps channels apart (axis 1 of NC…).
type poolRule struct{ NoRewrite }

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
	c.PassThrough(n, s, 1)
}

// elementwiseRule: broadcasting ops of several operands. Every operand
// with channels must have them on the same output axis; constants with the
// full channel dimension follow them (kind), size-1 dimensions broadcast.
type elementwiseRule struct {
	NoRewrite
	kind SliceKind
}

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
		c.BlockInputs(n, why("shapes unknown"))
		return
	}
	rank := len(ysh)
	axis, size := -1, 0
	for _, slot := range ins {
		s := c.In(n, slot)
		sh := c.Shape(n.GetInput()[slot])
		if sh == nil {
			c.BlockInputs(n, why("shapes unknown"))
			return
		}
		a := s.Axis + rank - len(sh)
		if axis >= 0 && (a != axis || s.Size != size) {
			c.BlockInputs(n, why("operands carry channels on different axes"))
			return
		}
		axis, size = a, s.Size
	}
	if ysh[axis] != size {
		c.BlockInputs(n, why("channels broadcast"))
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

// reduceRule: reductions over other axes keep the channels (moving them
// when keepdims is 0); over the channel axis they mix them.
type reduceRule struct{ NoRewrite }

func (reduceRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("%s %q reads channels as axes", n.GetOpType(), c.Label(n)), 0)
	if s == nil {
		return
	}
	x := c.Shape(n.GetInput()[0])
	axes, ok := AttrInts(n, "axes")
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
	if len(axes) == 0 && AttrInt(n, "noop_with_empty_axes", 0) == 0 {
		c.Block(s, fmt.Sprintf("%s %q reduces over every axis, channels included", n.GetOpType(), c.Label(n)))
		return
	}
	keep := AttrInt(n, "keepdims", 1) != 0
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
	c.PassThrough(n, s, axis)
}

// softmaxRule: Softmax normalizes along axis (opset ≥ 13), or over the
// axes from axis on (older opsets): channels there are mixed.
type softmaxRule struct{ NoRewrite }

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
	a := int(AttrInt(n, "axis", def))
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
	c.PassThrough(n, s, s.Axis)
}
