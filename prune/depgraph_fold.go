package prune

import (
	"fmt"
	"slices"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// Shape computations folded at analysis time.
//
// Exporters compute Reshape targets and Slice bounds at run time: torch's
// channel shuffle reads Shape → Gather → Div → Unsqueeze → Concat into its
// Reshape targets, torch.chunk computes its Slice ends from Shape, and
// paddle2onnx builds a flatten target from Shape → Slice → Concat. The
// analysis binds the input shapes, so these small integer subgraphs are
// constants: foldShapes evaluates them (a pure function of the shapes and
// the constants), rules read them as constants through Coupler.Ints, and a
// rule that rewrites such an input replaces it with an initializer
// (Rewriter.SetInputInts), leaving the shape subgraph dead.
//
// Every folded element remembers the dimensions (value, axis) it was
// computed from. A channel dimension — an axis that carries a space — may
// reach only node inputs whose rule claims that element (Coupler.Claim):
// the rule writes it from the channels it keeps. Anywhere else (a Reshape of
// an unpruned value, Expand, a graph output, a subgraph) the value would be
// stale after pruning, so checkShapeReads blocks the space, as a Shape the
// analysis cannot fold does. Elements computed only from other dimensions
// (the batch, the spatial size) stay computed at run time when no rule
// rewrites them; a rewritten input is written whole as a constant at the
// bound shapes, except that a Reshape target's batch entry becomes 0 (copy
// the input's), so the batch stays dynamic.

// dimRef is dimension axis of value, read by a Shape node.
type dimRef struct {
	value string
	axis  int
}

// shapeVal is a folded integer tensor and, per element, the dimensions it
// was computed from.
type shapeVal struct {
	shape []int
	v     []int64
	dep   [][]dimRef
}

// maxFoldElems bounds the tensors folded: shape computations are tiny.
const maxFoldElems = 64

// foldOps are the op types foldShapes evaluates on integer tensors; a dead
// node of one of them is removed after pruning (see removeUnused).
var foldOps = map[string]bool{
	"Shape": true, "Identity": true, "Cast": true, "Gather": true, "Unsqueeze": true, "Squeeze": true,
	"Concat": true, "Add": true, "Sub": true, "Mul": true, "Div": true, "Slice": true, "Constant": true,
}

// intVal returns value name as a folded integer tensor: folded, or an
// integer constant (dependencies nil).
func (d *DepGraph) intVal(name string) *shapeVal {
	if f := d.folded[name]; f != nil {
		return f
	}
	p := d.constParam(name)
	if p == nil || !p.DataType().IsInteger() || p.NumElements() > maxFoldElems {
		return nil
	}
	v, err := onnxio.Int64s(p.Tensor)
	if err != nil {
		return nil
	}
	return &shapeVal{shape: toInts(p.Shape()), v: v, dep: make([][]dimRef, len(v))}
}

// computed reports whether a value is a folded shape computation (not a
// stored constant).
func (d *DepGraph) computed(name string) bool {
	return d.folded[name] != nil && d.constParam(name) == nil
}

// fold evaluates n when it is a shape computation whose inputs are known:
// it returns n's single output, or nil.
func (d *DepGraph) fold(n *onnx.NodeProto) *shapeVal {
	if !isDefaultDomain(n) || !foldOps[n.GetOpType()] || len(n.GetOutput()) != 1 {
		return nil
	}
	var ins []*shapeVal
	for i, name := range n.GetInput() {
		if name == "" {
			ins = append(ins, nil)
			continue
		}
		if n.GetOpType() == "Shape" && i == 0 {
			continue
		}
		v := d.intVal(name)
		if v == nil {
			return nil
		}
		ins = append(ins, v)
	}
	out := foldNode(n, ins, d.shapes, d.Model.Opset())
	if out == nil || len(out.v) > maxFoldElems || len(out.v) != prod(out.shape) {
		return nil
	}
	return out
}

// foldNode is the evaluation of one shape op (ins[i] for input i; for
// Shape, shapes holds its input's shape).
func foldNode(n *onnx.NodeProto, ins []*shapeVal, shapes map[string][]int, opset int64) *shapeVal {
	in := func(i int) *shapeVal {
		if i < len(ins) {
			return ins[i]
		}
		return nil
	}
	switch n.GetOpType() {
	case "Shape":
		x := shapes[n.GetInput()[0]]
		if x == nil {
			return nil
		}
		lo, hi := clampRange(attrInt(n, "start", 0), attrInt(n, "end", int64(len(x))), len(x))
		out := &shapeVal{shape: []int{hi - lo}}
		for a := lo; a < hi; a++ {
			out.v = append(out.v, int64(x[a]))
			out.dep = append(out.dep, []dimRef{{n.GetInput()[0], a}})
		}
		return out
	case "Constant":
		for _, a := range n.GetAttribute() {
			switch a.GetName() {
			case "value_int":
				return &shapeVal{shape: []int{}, v: []int64{a.GetI()}, dep: make([][]dimRef, 1)}
			case "value_ints":
				return &shapeVal{shape: []int{len(a.GetInts())}, v: slices.Clone(a.GetInts()), dep: make([][]dimRef, len(a.GetInts()))}
			}
		}
		return nil // tensor values are parameters (intVal)
	case "Identity":
		return in(0)
	case "Cast":
		if !onnxio.DataType(attrInt(n, "to", 0)).IsInteger() {
			return nil
		}
		return in(0)
	case "Gather":
		x, idx := in(0), in(1)
		if x == nil || idx == nil || len(x.shape) != 1 || attrInt(n, "axis", 0) != 0 {
			return nil
		}
		out := &shapeVal{shape: slices.Clone(idx.shape)}
		for _, i := range idx.v {
			if i < 0 {
				i += int64(len(x.v))
			}
			if i < 0 || i >= int64(len(x.v)) {
				return nil
			}
			out.v = append(out.v, x.v[i])
			out.dep = append(out.dep, x.dep[i])
		}
		return out
	case "Unsqueeze", "Squeeze":
		x := in(0)
		if x == nil {
			return nil
		}
		axes, ok := attrInts(n, "axes")
		if opset >= 13 {
			ok = in(1) != nil
			if ok {
				axes = in(1).v
			}
		}
		var shape []int
		if n.GetOpType() == "Unsqueeze" {
			if !ok {
				return nil
			}
			r := len(x.shape) + len(axes)
			norm := make([]bool, r)
			for _, a := range axes {
				if a < 0 {
					a += int64(r)
				}
				if a < 0 || a >= int64(r) {
					return nil
				}
				norm[a] = true
			}
			k := 0
			for a := range r {
				if norm[a] {
					shape = append(shape, 1)
				} else if k < len(x.shape) {
					shape = append(shape, x.shape[k])
					k++
				}
			}
		} else {
			for a, dim := range x.shape {
				drop := !ok && dim == 1
				for _, b := range axes {
					if b == int64(a) || b+int64(len(x.shape)) == int64(a) {
						drop = true
					}
				}
				if !drop {
					shape = append(shape, dim)
				}
			}
		}
		return &shapeVal{shape: append([]int{}, shape...), v: x.v, dep: x.dep}
	case "Concat":
		out := &shapeVal{shape: []int{0}}
		for _, x := range ins {
			if x == nil || len(x.shape) != 1 {
				return nil
			}
			out.v = append(out.v, x.v...)
			out.dep = append(out.dep, x.dep...)
			out.shape[0] += x.shape[0]
		}
		return out
	case "Add", "Sub", "Mul", "Div":
		a, b := in(0), in(1)
		if a == nil || b == nil {
			return nil
		}
		shape := broadcastShape(a.shape, b.shape)
		if shape == nil || (len(a.v) != 1 && len(b.v) != 1 && !slices.Equal(a.shape, b.shape)) {
			return nil
		}
		out := &shapeVal{shape: shape}
		for i := range prod(shape) {
			ia, ib := min(i, len(a.v)-1), min(i, len(b.v)-1)
			x, y := a.v[ia], b.v[ib]
			var v int64
			switch n.GetOpType() {
			case "Add":
				v = x + y
			case "Sub":
				v = x - y
			case "Mul":
				v = x * y
			case "Div":
				if y == 0 {
					return nil
				}
				v = x / y
			}
			out.v = append(out.v, v)
			out.dep = append(out.dep, append(slices.Clone(a.dep[ia]), b.dep[ib]...))
		}
		return out
	case "Slice":
		x := in(0)
		if x == nil || len(x.shape) != 1 {
			return nil
		}
		var starts, ends, steps []int64
		if opset < 10 {
			starts, _ = attrInts(n, "starts")
			ends, _ = attrInts(n, "ends")
		} else {
			if in(1) == nil || in(2) == nil {
				return nil
			}
			starts, ends = in(1).v, in(2).v
			if s := in(4); s != nil {
				steps = s.v
			}
		}
		if len(starts) != 1 || len(ends) != 1 || (steps != nil && (len(steps) != 1 || steps[0] != 1)) {
			return nil
		}
		lo, hi := clampRange(starts[0], ends[0], len(x.v))
		return &shapeVal{shape: []int{hi - lo}, v: x.v[lo:hi], dep: x.dep[lo:hi]}
	}
	return nil
}

// claimKey is one element of one node input.
type claimKey struct {
	n          *onnx.NodeProto
	slot, elem int
}

// Claim records that n's rule rewrites element elem of its input slot (a
// folded shape computation) from the channels it keeps, so a channel
// dimension may reach it.
func (c *Coupler) Claim(n *onnx.NodeProto, slot int, elems ...int) {
	for _, e := range elems {
		c.d.claims[claimKey{n, slot, e}] = true
	}
}

// Computed reports whether input slot of n is a shape computation folded
// at analysis time (not a stored constant).
func (c *Coupler) Computed(n *onnx.NodeProto, slot int) bool {
	return slot < len(n.GetInput()) && c.d.computed(n.GetInput()[slot])
}

// checkShapeReads blocks every space whose channel count a folded shape
// computation carries to a place no rule rewrites (see the comment at the
// top of this file).
func (d *DepGraph) checkShapeReads(c *Coupler) {
	block := func(f *shapeVal, elem int, where string) {
		for _, r := range f.dep[elem] {
			if s := d.spaceOf[r.value]; s != nil && s.Axis == r.axis {
				c.Block(s, fmt.Sprintf("its channel count is read by Shape at run time and reaches %s", where))
			}
		}
	}
	for _, n := range d.nodes {
		folded := len(n.GetOutput()) == 1 && d.folded[n.GetOutput()[0]] != nil
		for slot, in := range n.GetInput() {
			f := d.folded[in]
			if f == nil || folded {
				continue
			}
			for e := range f.v {
				if !d.claims[claimKey{n, slot, e}] {
					block(f, e, fmt.Sprintf("input %d of %s %q, which no rule rewrites", slot, n.GetOpType(), d.labels[n]))
				}
			}
		}
		for _, o := range n.GetOutput() {
			f := d.folded[o]
			if f == nil || !(d.outputs[o] || d.subUses[o]) {
				continue
			}
			for e := range f.v {
				block(f, e, "a graph output or subgraph ("+o+")")
			}
		}
	}
}

// shapeRule: Shape is folded when its input's shape is known (its
// consumers are then checked by checkShapeReads); otherwise the channel
// count is read at run time.
type shapeRule struct{}

func (shapeRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	if s != nil && c.d.folded[n.GetOutput()[0]] == nil {
		c.Block(s, fmt.Sprintf("its channel count is read by Shape %q at run time (shape unknown)", c.Label(n)))
	}
}
func (shapeRule) Rewrite(*Rewriter, *onnx.NodeProto) error { return nil }
