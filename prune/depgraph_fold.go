package prune

import (
	"fmt"
	"slices"

	"github.com/edgeprune/edgeprune/internal/shapes"
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

// foldOps are the op types of shape computations; a dead node of one of
// them is removed after pruning (see removeUnused).
var foldOps = map[string]bool{
	"Shape": true, "Identity": true, "Cast": true, "Gather": true, "Unsqueeze": true, "Squeeze": true,
	"Concat": true, "Add": true, "Sub": true, "Mul": true, "Div": true, "Slice": true, "Constant": true,
}

// elementwiseOps are the integer ops whose output element i combines the
// inputs' elements at i, broadcast.
var elementwiseOps = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "Mod": true, "Max": true, "Min": true}

// intVal returns value name as a folded integer tensor: folded, or an
// integer constant (dependencies nil).
func (d *DepGraph) intVal(name string) *shapeVal {
	if f := d.folded[name]; f != nil {
		return f
	}
	v, ok := d.consts[name]
	if !ok {
		return nil
	}
	return &shapeVal{shape: d.shapes[name], v: v, dep: make([][]dimRef, len(v))}
}

// computed reports whether a value is a folded shape computation (not a
// stored constant).
func (d *DepGraph) computed(name string) bool {
	return d.folded[name] != nil && d.constParam(name) == nil
}

// traceFolds fills d.folded: for every node output that the engine
// computed at compile time as a small integer tensor (its values are in
// d.consts, from engine.Report.Values), which input dimensions each
// element was computed from. The values themselves are the engine's: this
// only traces where each element comes from, using the index rules of
// package shapes (ShapeRange, SliceRange, BroadcastIndex).
func (d *DepGraph) traceFolds() {
	for _, n := range d.nodes {
		if len(n.GetOutput()) != 1 || !d.evaluated[n.GetOutput()[0]] {
			continue
		}
		out := n.GetOutput()[0]
		v, ok := d.consts[out]
		if !ok {
			continue
		}
		f := &shapeVal{shape: d.shapes[out], v: v}
		f.dep = d.trace(n, len(v))
		d.folded[out] = f
	}
}

// trace returns, for each of the n elements of node's folded output, the
// dimensions it was computed from. Ops whose element mapping is not traced
// here get, conservatively, every dimension any input element read.
func (d *DepGraph) trace(node *onnx.NodeProto, n int) [][]dimRef {
	dep := make([][]dimRef, n)
	in := func(i int) *shapeVal {
		if i < len(node.GetInput()) && node.GetInput()[i] != "" {
			return d.intVal(node.GetInput()[i])
		}
		return nil
	}
	ints := func(i int, attr string) ([]int64, bool) {
		if d.Model.Opset() < 10 && attr != "" {
			return AttrInts(node, attr)
		}
		if x := in(i); x != nil {
			return x.v, true
		}
		return nil, false
	}
	traced := false
	switch node.GetOpType() {
	case "Constant":
		return dep
	case "Shape":
		name := node.GetInput()[0]
		var end *int64
		if slices.ContainsFunc(node.GetAttribute(), func(a *onnx.AttributeProto) bool { return a.GetName() == "end" }) {
			v := AttrInt(node, "end", 0)
			end = &v
		}
		lo, hi := shapes.ShapeRange(len(d.shapes[name]), AttrInt(node, "start", 0), end)
		if hi-lo == n {
			for a := lo; a < hi; a++ {
				dep[a-lo] = []dimRef{{name, a}}
			}
			traced = true
		}
	case "Identity", "Cast", "Squeeze", "Unsqueeze", "Reshape", "Flatten":
		if x := in(0); x != nil && len(x.dep) == n {
			copy(dep, x.dep)
			traced = true
		}
	case "Gather":
		x, idx := in(0), in(1)
		if x != nil && idx != nil && len(x.shape) == 1 && AttrInt(node, "axis", 0) == 0 && len(idx.v) == n {
			traced = true
			for i, j := range idx.v {
				if j < 0 {
					j += int64(len(x.v))
				}
				if j < 0 || j >= int64(len(x.dep)) {
					traced = false
					break
				}
				dep[i] = x.dep[j]
			}
		}
	case "Concat":
		var all [][]dimRef
		traced = true
		for i := range node.GetInput() {
			x := in(i)
			if x == nil || len(x.shape) != 1 {
				traced = false
				break
			}
			all = append(all, x.dep...)
		}
		traced = traced && len(all) == n
		if traced {
			copy(dep, all)
		}
	case "Slice":
		x := in(0)
		starts, ok1 := ints(1, "starts")
		ends, ok2 := ints(2, "ends")
		steps := []int64{1}
		if s := in(4); s != nil && d.Model.Opset() >= 10 {
			steps = s.v
		}
		if x != nil && ok1 && ok2 && len(x.shape) == 1 && len(starts) == 1 && len(ends) == 1 && len(steps) == 1 {
			first, count, err := shapes.SliceRange(starts[0], ends[0], steps[0], len(x.dep))
			if err == nil && count == n {
				for i := range n {
					dep[i] = x.dep[first+i*int(steps[0])]
				}
				traced = true
			}
		}
	default:
		if elementwiseOps[node.GetOpType()] {
			out := d.shapes[node.GetOutput()[0]]
			traced = true
			for k := range node.GetInput() {
				x := in(k)
				if x == nil || len(x.dep) != shapes.Numel(x.shape) {
					traced = false
					break
				}
				for i := range n {
					dep[i] = append(dep[i], x.dep[shapes.BroadcastIndex(out, x.shape, i)]...)
				}
			}
		}
	}
	if traced {
		return dep
	}
	// Conservative: every element read every dimension the inputs read.
	var all []dimRef
	for _, name := range node.GetInput() {
		if f := d.folded[name]; f != nil {
			for _, e := range f.dep {
				all = append(all, e...)
			}
		}
		if node.GetOpType() == "Shape" || node.GetOpType() == "Size" {
			for a := range d.shapes[name] {
				all = append(all, dimRef{name, a})
			}
		}
	}
	for i := range dep {
		dep[i] = slices.Clone(all)
	}
	return dep
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

// Folded reports whether value name is an integer tensor the analysis knows
// at the bound input shapes: a small constant, or a shape computation the
// engine folded.
func (c *Coupler) Folded(name string) bool { return c.d.intVal(name) != nil }

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
