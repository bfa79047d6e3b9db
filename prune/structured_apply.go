package prune

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// ApplyStructured carries out plan on m, in place, shrunk:
// every coupled parameter axis loses the removed channels, the rules
// rewrite group counts and shape constants, and value_info follows; the
// model is smaller and faster. MaskStructured zeroes the same channels at the
// original shapes instead — producers' weights and biases, consumers' input
// slices, per-channel scales and shifts — so that both models compute the
// same function: the test oracle of structured pruning. Parameters shared
// with other nodes (or read through Identity) are copied before they are
// changed. It fills in the plan's Layers and Totals. On another model than
// the one planned, opts configure the analysis (WithRegistry; the input
// shapes are the plan's).
func ApplyStructured(m *onnxio.Model, plan *StructuredPlan, opts ...Option) error {
	return applyStructured(m, plan, false, opts)
}

// MaskStructured is ApplyStructured that zeroes the plan's channels at the
// original shapes instead of removing them (see ApplyStructured).
func MaskStructured(m *onnxio.Model, plan *StructuredPlan, opts ...Option) error {
	return applyStructured(m, plan, true, opts)
}

func applyStructured(m *onnxio.Model, plan *StructuredPlan, masked bool, opts []Option) error {
	d := plan.dg
	if d == nil || plan.model != m {
		var err error
		if d, err = BuildDepGraph(m, append(slices.Clone(opts), WithInputShapes(plan.InputShapes))...); err != nil {
			return err
		}
	}
	removed := map[*Group][]bool{}
	for _, gp := range plan.Groups {
		if len(gp.Pruned) == 0 {
			continue
		}
		g := matchGroup(d, gp)
		if g == nil {
			return fmt.Errorf("%w: group %d (roots %v, %d units) is not in the model", ErrPlan, gp.ID, gp.Roots, gp.Units)
		}
		rm := make([]bool, g.Units)
		for _, u := range gp.Pruned {
			if u < 0 || u >= g.Units || g.Fixed[u] {
				return fmt.Errorf("%w: group %d: unit %d cannot be pruned", ErrPlan, gp.ID, u)
			}
			rm[u] = true
		}
		removed[g] = rm
	}
	before := layerShapes(d)
	paramsBefore := countParams(m)
	r := &Rewriter{d: d, keep: map[*Space][]bool{}, masked: masked, names: allNames(m.Graph()),
		drop: map[*onnx.NodeProto]bool{}, goneVals: map[string]bool{}}
	for _, s := range d.Spaces {
		k := make([]bool, s.Size)
		rm := removed[s.group]
		for i := range k {
			k[i] = rm == nil || !rm[s.group.unitOf[s.base+i]]
		}
		r.keep[s] = k
	}
	if err := r.params(); err != nil {
		return err
	}
	if !masked {
		for _, n := range d.nodes {
			if rule := d.reg.rules[n.GetOpType()]; rule != nil && isDefaultDomain(n) {
				if err := rule.Rewrite(r, n); err != nil {
					return fmt.Errorf("prune: rewriting %s %q: %w", n.GetOpType(), d.labels[n], err)
				}
			}
		}
		r.dropNodes()
		r.valueInfo()
	}
	removeUnused(m.Graph())
	plan.Masked = masked
	plan.Layers = layerPlans(d, m, before)
	t := &plan.Totals
	t.ParamsBefore, t.ParamsAfter = paramsBefore, countParams(m)
	t.MACsBefore, t.FLOPsBefore, t.MACsAfter, t.FLOPsAfter = d.macs, d.flops, -1, -1
	var eopts []engine.Option
	for name, s := range d.InputShapes {
		eopts = append(eopts, engine.WithInputShape(name, toInts(s)...))
	}
	if p, err := engine.Compile(m, eopts...); err != nil {
		t.FLOPsSource = "unavailable after pruning: " + err.Error()
	} else {
		rep := p.Report()
		t.MACsAfter, t.FLOPsAfter = rep.MACs, rep.FLOPs
		t.FLOPsSource = "engine"
	}
	plan.sumGroups()
	return nil
}

// matchGroup finds the group of d a plan's group describes: same roots and
// unit count (by ID first).
func matchGroup(d *DepGraph, gp GroupPlan) *Group {
	ok := func(g *Group) bool { return slices.Equal(g.Roots, gp.Roots) && g.Units == gp.Units }
	if gp.ID >= 0 && gp.ID < len(d.Groups) && ok(d.Groups[gp.ID]) {
		return d.Groups[gp.ID]
	}
	for _, g := range d.Groups {
		if ok(g) && len(g.Roots) > 0 {
			return g
		}
	}
	return nil
}

// Rewriter is what rules see when channels are removed.
type Rewriter struct {
	d      *DepGraph
	keep   map[*Space][]bool
	masked bool
	names  map[string]bool
	// drop lists nodes a rule replaced (a channel shuffle's Transpose and
	// Reshape), goneVals the values that no longer exist.
	drop     map[*onnx.NodeProto]bool
	goneVals map[string]bool
}

// gone records values that no longer exist (their value_info goes).
func (r *Rewriter) gone(names ...string) {
	for _, v := range names {
		r.goneVals[v] = true
	}
}

// dropNodes removes the nodes in r.drop and the value_info of gone values.
func (r *Rewriter) dropNodes() {
	g := r.d.graph
	g.Node = slices.DeleteFunc(g.Node, func(n *onnx.NodeProto) bool { return r.drop[n] })
	g.ValueInfo = slices.DeleteFunc(g.ValueInfo, func(v *onnx.ValueInfoProto) bool { return r.goneVals[v.GetName()] })
}

// SetReshapeTarget points a Reshape's target at a constant t. An entry computed at
// run time from the batch dimension alone, equal to the input's, becomes 0
// (copied from the input): the rewritten model keeps a dynamic batch.
func (r *Rewriter) SetReshapeTarget(n *onnx.NodeProto, t []int64) error {
	t = slices.Clone(t)
	if f := r.d.folded[n.GetInput()[1]]; f != nil && len(t) > 0 && len(f.dep[0]) > 0 && AttrInt(n, "allowzero", 0) == 0 {
		batch := true
		for _, d := range f.dep[0] {
			batch = batch && d.axis == 0
		}
		if x := r.d.shapes[n.GetInput()[0]]; batch && len(x) > 0 && int64(x[0]) == t[0] {
			t[0] = 0
		}
	}
	return r.SetInputInts(n, 1, t)
}

// In returns the space of input slot of n, or nil.
func (r *Rewriter) In(n *onnx.NodeProto, slot int) *Space {
	if slot >= len(n.GetInput()) {
		return nil
	}
	return r.d.spaceOf[n.GetInput()[slot]]
}

// Space returns the space of a value, or nil.
func (r *Rewriter) Space(value string) *Space { return r.d.spaceOf[value] }

// Keep says which channels of s stay.
func (r *Rewriter) Keep(s *Space) []bool { return r.keep[s] }

// Kept is the number of channels of s that stay.
func (r *Rewriter) Kept(s *Space) int {
	n := 0
	for _, k := range r.keep[s] {
		if k {
			n++
		}
	}
	return n
}

// Shape is the shape of a value at the analysis' input shapes (before
// pruning), or nil.
func (r *Rewriter) Shape(name string) []int { return r.d.shapes[name] }

// Note returns what n's rule kept with Coupler.Note, or nil.
func (r *Rewriter) Note(n *onnx.NodeProto) any { return r.d.notes[n] }

// Opset is the model's default-domain opset.
func (r *Rewriter) Opset() int64 { return r.d.Model.Opset() }

// SetAttrInt sets (or adds) an int attribute.
func (r *Rewriter) SetAttrInt(n *onnx.NodeProto, name string, v int64) {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			a.I = proto.Int64(v)
			return
		}
	}
	n.Attribute = append(n.Attribute, &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_INT.Enum(), I: proto.Int64(v)})
}

// SetAttrInts sets (or adds) an ints attribute.
func (r *Rewriter) SetAttrInts(n *onnx.NodeProto, name string, v []int64) {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			a.Ints = slices.Clone(v)
			return
		}
	}
	n.Attribute = append(n.Attribute, &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_INTS.Enum(), Ints: slices.Clone(v)})
}

// SetInputInts points input slot of n at a new int64 initializer holding v
// (a private copy: other readers of the old constant are unaffected).
func (r *Rewriter) SetInputInts(n *onnx.NodeProto, slot int, v []int64) error {
	for len(n.Input) <= slot {
		n.Input = append(n.Input, "")
	}
	base := n.Input[slot]
	if base == "" {
		base = r.d.labels[n] + "_" + strconv.Itoa(slot)
	}
	name := r.fresh(base)
	t := &onnx.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnx.TensorProto_INT64)), Dims: []int64{int64(len(v))}, Int64Data: slices.Clone(v)}
	r.d.graph.Initializer = append(r.d.graph.Initializer, t)
	n.Input[slot] = name
	return nil
}

// fresh returns an unused value name derived from base.
func (r *Rewriter) fresh(base string) string {
	for i := 0; ; i++ {
		name := base + "_pruned"
		if i > 0 {
			name += strconv.Itoa(i)
		}
		if !r.names[name] {
			r.names[name] = true
			return name
		}
	}
}

// params slices (or zeroes) every coupled parameter axis.
func (r *Rewriter) params() error {
	type key struct {
		n    *onnx.NodeProto
		slot int
	}
	type job struct {
		p     *onnxio.Param
		axes  map[int][]bool
		kinds []SliceKind
	}
	jobs := map[key]*job{}
	var order []key
	for _, c := range r.d.coupled {
		k := key{c.node, c.Slot}
		j := jobs[k]
		if j == nil {
			j = &job{p: c.Param, axes: map[int][]bool{}}
			jobs[k] = j
			order = append(order, k)
		}
		keep := r.keep[c.Space][:c.Param.Shape()[c.Axis]]
		if prev, ok := j.axes[c.Axis]; ok {
			keep = slices.Clone(keep)
			for i := range keep {
				keep[i] = keep[i] && prev[i]
			}
		}
		j.axes[c.Axis] = keep
		j.kinds = append(j.kinds, c.Kind)
	}
	// Compute every new tensor from the original data first.
	type result struct {
		k     key
		data  []float32
		shape []int64
	}
	var results []result
	for _, k := range order {
		j := jobs[k]
		changed := false
		for _, keep := range j.axes {
			if slices.Contains(keep, false) {
				changed = true
			}
		}
		if !changed {
			continue
		}
		if r.masked && !slices.ContainsFunc(j.kinds, SliceKind.zeroed) {
			continue
		}
		w, _, err := j.p.Float32()
		if err != nil {
			return err
		}
		shape := slices.Clone(j.p.Shape())
		var data []float32
		if r.masked {
			data = zeroAxes(w, shape, j.axes)
		} else {
			data, shape = gatherAxes(w, shape, j.axes)
		}
		results = append(results, result{k, data, shape})
	}
	for _, res := range results {
		j := jobs[res.k]
		n, slot := res.k.n, res.k.slot
		p := j.p
		// A weight read only here is rewritten where it lives: an initializer
		// stays one, and a Constant node's value stays in its node (paddle2onnx
		// exports such as PP-OCR keep their layout). Shared ones get a private
		// initializer.
		if (p.Where == onnxio.Initializer || p.Where == onnxio.ConstantNode) && n.GetInput()[slot] == p.Name && len(p.Uses) == 1 {
			if err := p.SetFloat32(res.data, res.shape); err != nil {
				return err
			}
			continue
		}
		t := proto.Clone(p.Tensor).(*onnx.TensorProto)
		t.Name = proto.String(r.fresh(n.GetInput()[slot]))
		t.ExternalData, t.DataLocation = nil, nil
		if err := onnxio.SetFloat32s(t, res.data, res.shape); err != nil {
			return err
		}
		r.d.graph.Initializer = append(r.d.graph.Initializer, t)
		n.Input[slot] = t.GetName()
	}
	return nil
}

// gatherAxes keeps, along each axis in keep, the indices marked true.
func gatherAxes(w []float32, shape []int64, keep map[int][]bool) ([]float32, []int64) {
	rank := len(shape)
	idx := make([][]int, rank)
	out := slices.Clone(shape)
	for a := range rank {
		k, ok := keep[a]
		for i := range int(shape[a]) {
			if !ok || k[i] {
				idx[a] = append(idx[a], i)
			}
		}
		out[a] = int64(len(idx[a]))
	}
	stride := make([]int, rank)
	s := 1
	for a := rank - 1; a >= 0; a-- {
		stride[a] = s
		s *= int(shape[a])
	}
	n := 1
	for _, d := range out {
		n *= int(d)
	}
	dst := make([]float32, 0, n)
	if rank == 0 {
		return append(dst, w...), out
	}
	var rec func(a, off int)
	rec = func(a, off int) {
		if a == rank-1 {
			for _, i := range idx[a] {
				dst = append(dst, w[off+i])
			}
			return
		}
		for _, i := range idx[a] {
			rec(a+1, off+i*stride[a])
		}
	}
	rec(0, 0)
	return dst, out
}

// zeroAxes returns a copy of w with every element zeroed whose index along
// an axis in keep is marked false.
func zeroAxes(w []float32, shape []int64, keep map[int][]bool) []float32 {
	dst := slices.Clone(w)
	for a, k := range keep {
		inner := prod(toInts(shape[a+1:]))
		dim := int(shape[a])
		for i := range dst {
			if !k[(i/inner)%dim] {
				dst[i] = 0
			}
		}
	}
	return dst
}

// valueInfo sets the channel dimension of every pruned value's
// value_info.
func (r *Rewriter) valueInfo() {
	g := r.d.graph
	for _, vis := range [][]*onnx.ValueInfoProto{g.GetValueInfo(), g.GetOutput()} {
		for _, vi := range vis {
			s := r.d.spaceOf[vi.GetName()]
			if s == nil {
				continue
			}
			sh := vi.GetType().GetTensorType().GetShape()
			if sh == nil || s.Axis >= len(sh.GetDim()) {
				continue
			}
			sh.Dim[s.Axis] = &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: int64(r.Kept(s))}}
		}
	}
}

// allNames lists every value and initializer name in g and its subgraphs.
func allNames(g *onnx.GraphProto) map[string]bool {
	names := map[string]bool{}
	var walk func(g *onnx.GraphProto, depth int)
	walk = func(g *onnx.GraphProto, depth int) {
		if g == nil || depth > 64 {
			return
		}
		for _, t := range g.GetInitializer() {
			names[t.GetName()] = true
		}
		for _, v := range append(append(slices.Clone(g.GetInput()), g.GetOutput()...), g.GetValueInfo()...) {
			names[v.GetName()] = true
		}
		for _, n := range g.GetNode() {
			for _, o := range n.GetOutput() {
				names[o] = true
			}
			for _, sg := range onnxio.Subgraphs(n) {
				walk(sg, depth+1)
			}
		}
	}
	walk(g, 0)
	return names
}

// readNames lists what g's nodes and subgraphs read and its outputs return.
func readNames(g *onnx.GraphProto) map[string]bool {
	used := map[string]bool{}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			used[in] = true
		}
		subgraphReads(n, used)
	}
	for _, o := range g.GetOutput() {
		used[o.GetName()] = true
	}
	return used
}

// removeUnused drops the main graph's initializers, Constant and Identity
// nodes that nothing reads any more (left by private copies), and shape
// computations whose folded results were written as constants (foldOps).
func removeUnused(g *onnx.GraphProto) {
	for {
		used := readNames(g)
		var nodes []*onnx.NodeProto
		for _, n := range g.GetNode() {
			dead := foldOps[n.GetOpType()] && isDefaultDomain(n) && len(n.GetOutput()) == 1 && !used[n.GetOutput()[0]]
			if !dead {
				nodes = append(nodes, n)
			}
		}
		changed := len(nodes) != len(g.GetNode())
		g.Node = nodes
		used = readNames(g)
		var inits []*onnx.TensorProto
		gone := map[string]bool{}
		for _, t := range g.GetInitializer() {
			if used[t.GetName()] {
				inits = append(inits, t)
			} else {
				gone[t.GetName()] = true
			}
		}
		if len(gone) > 0 {
			changed = true
			g.Initializer = inits
			var ins []*onnx.ValueInfoProto
			for _, v := range g.GetInput() {
				if !gone[v.GetName()] {
					ins = append(ins, v)
				}
			}
			g.Input = ins
		}
		if !changed {
			return
		}
	}
}

// countParams counts the elements of the float tensors stored in m.
func countParams(m *onnxio.Model) int64 {
	var n int64
	for _, p := range m.Params() {
		if p.DataType().IsFloat() {
			n += p.NumElements()
		}
	}
	return n
}

type layerBefore struct {
	node   *onnx.NodeProto
	weight string
	shape  []int64
}

// layerShapes records the weight shapes of the Conv/Gemm/MatMul layers.
func layerShapes(d *DepGraph) []layerBefore {
	var out []layerBefore
	for _, n := range d.nodes {
		switch n.GetOpType() {
		case "Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU": // LSTM/GRU: W, rows gates·hidden
		default:
			continue
		}
		if p := d.constParam(inputName(n, 1)); p != nil {
			out = append(out, layerBefore{n, p.ID, slices.Clone(p.Shape())})
		}
	}
	return out
}

func inputName(n *onnx.NodeProto, slot int) string {
	if slot < len(n.GetInput()) {
		return n.GetInput()[slot]
	}
	return ""
}

// layerPlans reports every layer's weight shape before and after.
func layerPlans(d *DepGraph, m *onnxio.Model, before []layerBefore) []LayerPlan {
	params := map[string]*onnxio.Param{}
	for _, p := range m.Params() {
		if p.GraphPath == "" {
			params[p.Name] = p
		}
	}
	out := []LayerPlan{}
	for _, b := range before {
		name := inputName(b.node, 1)
		for params[name] == nil {
			pn := d.producer[name]
			if pn == nil || pn.GetOpType() != "Identity" {
				break
			}
			name = pn.GetInput()[0]
		}
		after := b.shape
		if p := params[name]; p != nil {
			after = slices.Clone(p.Shape())
		}
		lp := LayerPlan{Node: d.labels[b.node], Op: b.node.GetOpType(), Weight: b.weight, ShapeBefore: b.shape, ShapeAfter: after}
		out0, in0 := weightAxesOf(b.node, len(b.shape))
		if out0 >= 0 && in0 >= 0 && out0 < len(b.shape) && in0 < len(b.shape) && len(after) == len(b.shape) {
			lp.OutBefore, lp.OutAfter = b.shape[out0], after[out0]
			lp.InBefore, lp.InAfter = b.shape[in0], after[in0]
		}
		out = append(out, lp)
	}
	return out
}

// weightAxesOf returns the output and input channel axes of a layer's
// weight, or -1.
func weightAxesOf(n *onnx.NodeProto, rank int) (int, int) {
	out, in, why := weightAxes(n, 1, rank)
	if why != "" {
		return -1, -1
	}
	return out, in
}
