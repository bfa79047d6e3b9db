package prune

import (
	"fmt"
	"slices"
	"strings"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// Structured pruning: the dependency graph.
//
// A channel space is the channels of one value along one axis (a Conv
// output's axis 1, a Gemm output's features, a Flatten output's features).
// Every channel of every space is an atom; the per-op rules (depgraph_rules.go)
// join atoms that must be removed together — a Conv output channel, the same
// channel after BatchNormalization and Relu, the matching channel of the
// other operand of a residual Add, its block of features after Flatten — and
// record which parameter axes follow which space (the Conv's weight rows, the
// next Conv's weight columns, the BatchNormalization parameters). A unit is a
// set of joined atoms: the thing that is pruned. A group is a set of spaces
// joined by the rules: its units are pruned under one ratio, and it is the
// unit of the report. This is Torch-Pruning's DepGraph (Fang et al., CVPR
// 2023) on the ONNX graph instead of PyTorch modules.
//
// Atoms a rule cannot follow are blocked, with a reason: a value that is a
// graph output, whose channel count a Shape carries somewhere no rule
// rewrites (depgraph_fold.go), that a reduction over the channel axis or an
// op without a rule consumes. A unit with a blocked atom is fixed; a group
// whose units are all fixed is refused, and the report says why.

// Space is the channels of one value along one axis.
type Space struct {
	Value string `json:"value"`
	Axis  int    `json:"axis"`
	Size  int    `json:"size"`
	// Root is the node whose output channels the space is (a Conv, Gemm,
	// MatMul or ConvTranspose with constant weights), "" for spaces derived
	// from other spaces.
	Root string `json:"root,omitempty"`

	base  int // first atom
	id    int
	group *Group
}

// SliceKind says what a coupled parameter axis is, which decides whether it
// counts for importance and whether the masked model zeroes it.
type SliceKind int

const (
	// KindWeight: a Conv/Gemm/MatMul weight axis (scored, zeroed).
	KindWeight SliceKind = iota
	// KindBias: a bias (zeroed, not scored).
	KindBias
	// KindScale: a per-channel multiplier: BatchNormalization scale, a
	// per-channel Mul constant, PRelu slopes (scored by bn when it is a
	// BatchNormalization scale; zeroed).
	KindScale
	// KindShift: a per-channel additive constant (zeroed).
	KindShift
	// KindStat: BatchNormalization running mean and variance (neither
	// scored nor zeroed: a zero variance is fine, but untouched is clearer).
	KindStat
	// KindDivisor: a per-channel divisor or exponent (never zeroed).
	KindDivisor
)

var kindNames = [...]string{"weight", "bias", "scale", "shift", "stat", "divisor"}

func (k SliceKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// zeroed reports whether the masked model zeroes slices of this kind.
func (k SliceKind) zeroed() bool { return k <= KindShift }

// Coupled is one axis of a constant node input whose indices are the
// channels of a space: index i of the axis goes when channel i does. The
// axis may be shorter than the space (a grouped Conv's weight columns
// follow the first group's input channels, the others linked to them).
type Coupled struct {
	Param *onnxio.Param // the tensor (resolved through Identity)
	Node  string        // label of the node reading it
	Op    string
	Slot  int // input slot of the node
	Axis  int
	Space *Space
	Kind  SliceKind

	node *onnx.NodeProto
}

// Group is a set of channel spaces that prune together.
type Group struct {
	ID int
	// Roots are the labels of the nodes whose output channels start the
	// group, in graph order.
	Roots  []string
	Spaces []*Space
	// Coupled lists every parameter axis that follows the group's channels.
	Coupled []*Coupled
	// Units is the number of units; Fixed[u] says unit u cannot be pruned
	// and FixedWhy[u] why.
	Units    int
	Fixed    []bool
	FixedWhy []string
	// Reason is why no unit can be pruned, "" when some can.
	Reason string

	unitOf map[int]int // atom → unit
}

// Prunable is the number of units that may be pruned.
func (g *Group) Prunable() int {
	n := 0
	for _, f := range g.Fixed {
		if !f {
			n++
		}
	}
	return n
}

// UnitOf returns the unit of channel i of space s (which must be in g).
func (g *Group) UnitOf(s *Space, i int) int { return g.unitOf[s.base+i] }

// DepGraph is the dependency graph of a model's main graph.
type DepGraph struct {
	Model  *onnxio.Model
	Spaces []*Space
	Groups []*Group
	// Shapes are the value shapes the analysis used (batch 1 unless given).
	InputShapes map[string][]int64

	reg       *Registry
	graph     *onnx.GraphProto
	nodes     []*onnx.NodeProto
	labels    map[*onnx.NodeProto]string
	producer  map[string]*onnx.NodeProto
	consumers map[string][]use
	params    map[string]*onnxio.Param // main-graph params by value name
	allParams []*onnxio.Param          // every param, subgraphs included (m.Params())
	shapes    map[string][]int
	spaceOf   map[string]*Space
	outputs   map[string]bool
	subUses   map[string]bool      // values read inside subgraphs
	folded    map[string]*shapeVal // shape computations (depgraph_fold.go)
	claims    map[claimKey]bool
	shuffles  map[*onnx.NodeProto]*shuffle // by first Reshape
	grouped   map[*onnx.NodeProto]bool     // grouped Convs whose group stays

	uf       []int // union-find over atoms
	blocked  []string
	rootAtom []bool
	spaceUF  []int
	coupled  []*Coupled
	macs     int64 // engine MACs, -1 when the engine could not compile
	flops    int64
	engErr   error
}

// DepOption configures BuildDepGraph.
type DepOption func(*depConfig)

type depConfig struct {
	reg    *Registry
	shapes map[string][]int64
}

// WithRegistry uses reg instead of DefaultRegistry().
func WithRegistry(reg *Registry) DepOption { return func(c *depConfig) { c.reg = reg } }

// WithInputShapes binds the model's input shapes by name for the analysis
// (and the FLOPs count). Without it a symbolic batch dimension is 1 and any
// other symbolic dimension is an error.
func WithInputShapes(s map[string][]int64) DepOption {
	return func(c *depConfig) { c.shapes = s }
}

// BuildDepGraph analyses m: it infers shapes (with the engine), runs every
// node's rule in graph order, and forms the groups. m is not changed.
func BuildDepGraph(m *onnxio.Model, opts ...DepOption) (*DepGraph, error) {
	c := depConfig{}
	for _, o := range opts {
		o(&c)
	}
	if c.reg == nil {
		c.reg = DefaultRegistry()
	}
	g := m.Graph()
	if g == nil {
		return nil, fmt.Errorf("%w: model has no graph", ErrInvalid)
	}
	d := &DepGraph{
		Model: m, reg: c.reg, graph: g,
		labels: map[*onnx.NodeProto]string{}, producer: map[string]*onnx.NodeProto{},
		consumers: map[string][]use{}, params: map[string]*onnxio.Param{},
		spaceOf: map[string]*Space{}, outputs: map[string]bool{}, subUses: map[string]bool{},
		folded: map[string]*shapeVal{}, claims: map[claimKey]bool{}, shuffles: map[*onnx.NodeProto]*shuffle{},
		grouped: map[*onnx.NodeProto]bool{},
	}
	shapes, err := inputShapes(m, c.shapes)
	if err != nil {
		return nil, err
	}
	d.InputShapes = shapes
	d.allParams = m.Params()
	for _, p := range d.allParams {
		if p.GraphPath == "" {
			d.params[p.Name] = p
		}
	}
	order, err := topoNodes(g)
	if err != nil {
		return nil, err
	}
	d.nodes = order
	for i, n := range g.GetNode() {
		d.labels[n] = onnxio.NodeLabel(n, i)
	}
	for _, n := range order {
		for _, o := range n.GetOutput() {
			if o != "" {
				d.producer[o] = n
			}
		}
		for slot, in := range n.GetInput() {
			if in != "" {
				d.consumers[in] = append(d.consumers[in], use{n, slot})
			}
		}
		subgraphReads(n, d.subUses)
	}
	for _, o := range g.GetOutput() {
		d.outputs[o.GetName()] = true
	}
	d.inferShapes(shapes)
	cp := &Coupler{d: d}
	for _, n := range order {
		if !isDefaultDomain(n) {
			cp.blockInputs(n, fmt.Sprintf("read by %s of domain %s, which no rule covers", n.GetOpType(), n.GetDomain()))
			continue
		}
		r := d.reg.rules[n.GetOpType()]
		if r == nil {
			cp.blockInputs(n, fmt.Sprintf("read by %s %q, which no rule covers", n.GetOpType(), d.labels[n]))
			continue
		}
		if err := coupleSafely(r, cp, n, d.labels[n]); err != nil {
			return nil, err
		}
	}
	d.checkShapeReads(cp)
	d.coupleSubgraphReads(cp)
	for _, s := range d.Spaces {
		if d.outputs[s.Value] {
			cp.Block(s, fmt.Sprintf("%s is a graph output", s.Value))
		}
	}
	d.formGroups()
	return d, nil
}

// inputShapes binds every graph input's shape: given ones, else the model's
// with a symbolic batch of 1.
func inputShapes(m *onnxio.Model, given map[string][]int64) (map[string][]int64, error) {
	out := map[string][]int64{}
	inits := map[string]bool{}
	for _, t := range m.Graph().GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, in := range m.Graph().GetInput() {
		if inits[in.GetName()] {
			continue
		}
		if s, ok := given[in.GetName()]; ok {
			out[in.GetName()] = slices.Clone(s)
			continue
		}
		s, err := onnxio.ValueInfoOf(in).DefaultShape()
		if err != nil {
			return nil, fmt.Errorf("%w: %v: give the input shape (--input-shape %s=…)", ErrInvalid, err, in.GetName())
		}
		out[in.GetName()] = s
	}
	for name := range given {
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("%w: input shape given for %q, which is not a model input", ErrInvalid, name)
		}
	}
	return out, nil
}

// inferShapes fills d.shapes from the engine's compiled plan (node output
// shapes), value_info, and the view ops the engine folds away.
func (d *DepGraph) inferShapes(in map[string][]int64) {
	d.shapes = map[string][]int{}
	for name, s := range in {
		d.shapes[name] = toInts(s)
	}
	for _, vi := range append(slices.Clone(d.graph.GetValueInfo()), d.graph.GetOutput()...) {
		v := onnxio.ValueInfoOf(vi)
		if v.Shape == nil {
			continue
		}
		s := make([]int, len(v.Shape))
		ok := true
		for i, dim := range v.Shape {
			if dim.Value <= 0 {
				ok = false
			}
			s[i] = int(dim.Value)
		}
		if ok {
			d.shapes[v.Name] = s
		}
	}
	for name, p := range d.params {
		d.shapes[name] = toInts(p.Shape())
	}
	d.macs, d.flops = -1, -1
	var eopts []engine.Option
	for name, s := range in {
		eopts = append(eopts, engine.WithInputShape(name, toInts(s)...))
	}
	plan, err := engine.Compile(d.Model, eopts...)
	if err != nil {
		d.engErr = err
	} else {
		r := plan.Report()
		d.macs, d.flops = r.MACs, r.FLOPs
		byName := map[string]*onnx.NodeProto{}
		for n, l := range d.labels {
			byName[l] = n
		}
		for _, nc := range r.Nodes {
			n := byName[nc.Name]
			if n == nil || !shapePreservingFusion(nc.Op) {
				continue
			}
			for i, s := range nc.Outputs {
				if i < len(n.GetOutput()) {
					d.shapes[n.GetOutput()[i]] = s
				}
			}
		}
	}
	// What the engine does not report — views it folds, nodes it fuses —
	// follows from the inputs for the ops that need no more. Shape
	// computations are folded on the way (depgraph_fold.go).
	for _, n := range d.nodes {
		if f := d.fold(n); f != nil {
			d.folded[n.GetOutput()[0]] = f
		}
		if len(n.GetOutput()) == 0 || d.shapes[n.GetOutput()[0]] != nil || len(n.GetInput()) == 0 {
			continue
		}
		x := d.shapes[n.GetInput()[0]]
		if x == nil {
			continue
		}
		out := n.GetOutput()[0]
		switch op := n.GetOpType(); {
		case sameShapeOps[op]:
			d.shapes[out] = slices.Clone(x)
		case broadcastOps[op]:
			y := slices.Clone(x)
			for _, in := range n.GetInput()[1:] {
				if y = broadcastShape(y, d.shapes[in]); y == nil {
					break
				}
			}
			if y != nil {
				d.shapes[out] = y
			}
		case op == "Flatten":
			ax := int(attrInt(n, "axis", 1))
			if ax < 0 {
				ax += len(x)
			}
			if ax >= 0 && ax <= len(x) {
				d.shapes[out] = []int{prod(x[:ax]), prod(x[ax:])}
			}
		case op == "Reshape":
			if len(n.GetInput()) < 2 {
				continue
			}
			t := d.intVal(n.GetInput()[1])
			if t == nil {
				continue
			}
			if s := reshapeOut(x, t.v, attrInt(n, "allowzero", 0) != 0); s != nil {
				d.shapes[out] = s
			}
		}
	}
}

// sameShapeOps have an output of their first input's shape.
var sameShapeOps = map[string]bool{
	"Identity": true, "Dropout": true, "Relu": true, "LeakyRelu": true, "Elu": true, "Selu": true, "Celu": true,
	"Gelu": true, "Sigmoid": true, "HardSigmoid": true, "HardSwish": true, "Tanh": true, "Softplus": true,
	"Softsign": true, "Mish": true, "Erf": true, "Abs": true, "Neg": true, "Exp": true, "Clip": true, "Floor": true,
	"Ceil": true, "Round": true, "Sign": true, "Sqrt": true, "Reciprocal": true, "Log": true, "Cast": true,
	"BatchNormalization": true, "InstanceNormalization": true, "Softmax": true, "LogSoftmax": true, "PRelu": true,
}

// broadcastOps have the broadcast shape of their inputs.
var broadcastOps = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Max": true,
	"Min": true, "Sum": true, "Mean": true}

// shapePreservingFusion reports whether an engine node of op type op
// ("Conv", or fused "Conv+Relu") has the shape of its first part's output.
func shapePreservingFusion(op string) bool {
	parts := strings.Split(op, "+")
	for _, p := range parts[1:] {
		if !sameShapeOps[p] && !broadcastOps[p] {
			return false
		}
	}
	return true
}

// broadcastShape is the multidirectional broadcast of a and b, or nil.
func broadcastShape(a, b []int) []int {
	if a == nil || b == nil {
		return nil
	}
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if k := i - (n - len(a)); k >= 0 {
			da = a[k]
		}
		if k := i - (n - len(b)); k >= 0 {
			db = b[k]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil
		}
	}
	return out
}

// reshapeOut is Reshape's output shape, or nil if the target is invalid.
func reshapeOut(x []int, target []int64, allowZero bool) []int {
	out := make([]int, len(target))
	neg := -1
	known := 1
	for i, t := range target {
		switch {
		case t == 0 && !allowZero:
			if i >= len(x) {
				return nil
			}
			out[i] = x[i]
		case t == -1:
			if neg >= 0 {
				return nil
			}
			neg = i
			continue
		case t < 0:
			return nil
		default:
			out[i] = int(t)
		}
		known *= out[i]
	}
	if neg >= 0 {
		if known == 0 || prod(x)%known != 0 {
			return nil
		}
		out[neg] = prod(x) / known
	} else if known != prod(x) {
		return nil
	}
	return out
}

// subgraphReads adds to into the names that n's subgraphs take from the
// graphs around them.
func subgraphReads(n *onnx.NodeProto, into map[string]bool) {
	for _, sg := range onnxio.Subgraphs(n) {
		for _, name := range onnxio.OuterReads(sg) {
			into[name] = true
		}
	}
}

// topoNodes returns g's nodes in a topological order (the file order when it
// already is one, as ONNX requires).
func topoNodes(g *onnx.GraphProto) ([]*onnx.NodeProto, error) {
	avail := map[string]bool{"": true}
	for _, in := range g.GetInput() {
		avail[in.GetName()] = true
	}
	for _, t := range g.GetInitializer() {
		avail[t.GetName()] = true
	}
	var out []*onnx.NodeProto
	rest := slices.Clone(g.GetNode())
	for len(rest) > 0 {
		var next []*onnx.NodeProto
		for _, n := range rest {
			ready := true
			for _, in := range n.GetInput() {
				if !avail[in] {
					ready = false
					break
				}
			}
			if !ready {
				next = append(next, n)
				continue
			}
			out = append(out, n)
			for _, o := range n.GetOutput() {
				avail[o] = true
			}
		}
		if len(next) == len(rest) {
			return nil, fmt.Errorf("%w: the graph has a cycle or reads undefined values (node %q)", ErrInvalid, next[0].GetName())
		}
		rest = next
	}
	return out, nil
}

// constParam returns the parameter a value is, following Identity nodes, or
// nil.
func (d *DepGraph) constParam(name string) *onnxio.Param {
	for range maxPassThrough + 1 {
		if p := d.params[name]; p != nil {
			return p
		}
		n := d.producer[name]
		if n == nil || n.GetOpType() != "Identity" || len(n.GetInput()) != 1 {
			return nil
		}
		name = n.GetInput()[0]
	}
	return nil
}

func (d *DepGraph) newSpace(value string, axis, size int, root string) *Space {
	s := &Space{Value: value, Axis: axis, Size: size, Root: root, base: len(d.uf), id: len(d.Spaces)}
	for i := range size {
		d.uf = append(d.uf, s.base+i)
		d.blocked = append(d.blocked, "")
		d.rootAtom = append(d.rootAtom, root != "")
	}
	d.spaceUF = append(d.spaceUF, s.id)
	d.Spaces = append(d.Spaces, s)
	d.spaceOf[value] = s
	return s
}

func find(uf []int, x int) int {
	for uf[x] != x {
		uf[x] = uf[uf[x]]
		x = uf[x]
	}
	return x
}

func union(uf []int, a, b int) {
	ra, rb := find(uf, a), find(uf, b)
	if ra == rb {
		return
	}
	if ra < rb {
		uf[rb] = ra
	} else {
		uf[ra] = rb
	}
}

// formGroups groups the spaces and numbers the units.
func (d *DepGraph) formGroups() {
	bySpace := map[int]*Group{}
	for _, s := range d.Spaces {
		r := find(d.spaceUF, s.id)
		g := bySpace[r]
		if g == nil {
			g = &Group{ID: len(d.Groups), unitOf: map[int]int{}}
			bySpace[r] = g
			d.Groups = append(d.Groups, g)
		}
		g.Spaces = append(g.Spaces, s)
		s.group = g
		if s.Root != "" {
			g.Roots = append(g.Roots, s.Root)
		}
	}
	for _, g := range d.Groups {
		unitOfComp := map[int]int{}
		hasRoot := []bool{}
		for _, s := range g.Spaces {
			for i := range s.Size {
				a := s.base + i
				c := find(d.uf, a)
				u, ok := unitOfComp[c]
				if !ok {
					u = g.Units
					unitOfComp[c] = u
					g.Units++
					g.Fixed = append(g.Fixed, false)
					g.FixedWhy = append(g.FixedWhy, "")
					hasRoot = append(hasRoot, false)
				}
				g.unitOf[a] = u
				if d.rootAtom[a] {
					hasRoot[u] = true
				}
				if why := d.blocked[a]; why != "" && !g.Fixed[u] {
					g.Fixed[u], g.FixedWhy[u] = true, why
				}
			}
		}
		for u := range g.Units {
			if !hasRoot[u] && !g.Fixed[u] {
				g.Fixed[u], g.FixedWhy[u] = true, "no layer produces these channels"
			}
		}
		if g.Prunable() == 0 {
			if g.Units == 0 {
				g.Reason = "no channels"
			} else {
				g.Reason = g.FixedWhy[0]
			}
		}
	}
	for _, c := range d.coupled {
		g := d.GroupOf(c.Space)
		g.Coupled = append(g.Coupled, c)
	}
}

// GroupOf returns the group holding s.
func (d *DepGraph) GroupOf(s *Space) *Group { return s.group }

// Label returns the report label of n: its name, or "<Op>#<index>".
func (d *DepGraph) Label(n *onnx.NodeProto) string { return d.labels[n] }

// String summarises the groups, one line each.
func (d *DepGraph) String() string {
	var b strings.Builder
	for _, g := range d.Groups {
		fmt.Fprintf(&b, "group %d: roots %v, %d spaces, %d units (%d prunable)", g.ID, g.Roots, len(g.Spaces), g.Units, g.Prunable())
		if g.Reason != "" {
			fmt.Fprintf(&b, ": not pruned: %s", g.Reason)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func toInts(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

func prod(s []int) int {
	p := 1
	for _, v := range s {
		p *= v
	}
	return p
}

func attrInt(n *onnx.NodeProto, name string, def int64) int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return def
}

func attrInts(n *onnx.NodeProto, name string) ([]int64, bool) {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetInts(), true
		}
	}
	return nil, false
}

// coupleSafely runs a rule and turns a broken contract inside it (a Link out
// of range on a model whose shapes disagree) into an error naming the node:
// the model came from input, so it must not crash the process.
func coupleSafely(r Rule, cp *Coupler, n *onnx.NodeProto, label string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: node %s %q: shapes disagree: %v", onnxio.ErrMalformed, n.GetOpType(), label, v)
		}
	}()
	r.Couple(cp, n)
	return nil
}
