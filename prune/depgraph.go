package prune

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
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
	consts    map[string][]int64   // small integer constants, from the engine
	folded    map[string]*shapeVal // shape computations (depgraph_fold.go)
	evaluated map[string]bool      // consts a node computed at compile time
	claims    map[claimKey]bool
	shuffles  map[*onnx.NodeProto]*shuffle // by first Reshape
	notes     map[*onnx.NodeProto]any      // Coupler.Note

	uf       []int // union-find over atoms
	blocked  []string
	rootAtom []bool
	spaceUF  []int
	coupled  []*Coupled
	macs     int64 // engine MACs and FLOPs at InputShapes
	flops    int64
}

// WithRegistry uses reg instead of DefaultRegistry() (BuildDepGraph,
// NewStructured, ApplyStructured).
func WithRegistry(reg *Registry) Option {
	return named("WithRegistry", func(c *config) error { c.reg = reg; return nil })
}

// WithInputShapes binds the model's input shapes by name for the analysis
// (and the FLOPs count). Without it a symbolic batch dimension is 1 and any
// other symbolic dimension is an error.
func WithInputShapes(s map[string][]int64) Option {
	return named("WithInputShapes", func(c *config) error { c.shapes = s; return nil })
}

// BuildDepGraph analyses m: it infers shapes (with the engine), runs every
// node's rule in graph order, and forms the groups. m is not changed.
func BuildDepGraph(m *onnxio.Model, opts ...Option) (*DepGraph, error) {
	c := config{}
	if err := c.apply(opts, forGraph, "BuildDepGraph"); err != nil {
		return nil, err
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
		notes: map[*onnx.NodeProto]any{},
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
	if err := d.inferShapes(shapes); err != nil {
		return nil, err
	}
	cp := &Coupler{d: d}
	for _, n := range order {
		if !isDefaultDomain(n) {
			cp.BlockInputs(n, fmt.Sprintf("read by %s of domain %s, which no rule covers", n.GetOpType(), n.GetDomain()))
			continue
		}
		r := d.reg.rules[n.GetOpType()]
		if r == nil {
			cp.BlockInputs(n, fmt.Sprintf("read by %s %q, which no rule covers", n.GetOpType(), d.labels[n]))
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

// inferShapes compiles the model with the engine at the bound input shapes
// and takes from its report every value's shape and every small integer
// constant (stored or folded at compile time); then it traces which input
// dimensions each folded element was computed from (depgraph_fold.go). A
// model the engine cannot compile has no shapes to analyse: that is an
// error (ErrShapes) naming what failed.
func (d *DepGraph) inferShapes(in map[string][]int64) error {
	d.shapes = map[string][]int{}
	d.consts = map[string][]int64{}
	d.evaluated = map[string]bool{}
	var eopts []engine.Option
	for name, s := range in {
		eopts = append(eopts, engine.WithInputShape(name, toInts(s)...))
	}
	plan, err := engine.Compile(d.Model, eopts...)
	if err != nil {
		return fmt.Errorf("%w at input shapes %s: %w", ErrShapes, formatShapes(in), err)
	}
	r := plan.Report()
	d.macs, d.flops = r.MACs, r.FLOPs
	for _, v := range r.Values {
		d.shapes[v.Name] = v.Shape
		if v.Ints != nil && len(v.Ints) <= maxFoldElems {
			d.consts[v.Name] = v.Ints
			d.evaluated[v.Name] = v.Folded
		}
	}
	for name, p := range d.params {
		if d.shapes[name] == nil {
			d.shapes[name] = toInts(p.Shape())
		}
	}
	d.traceFolds()
	return nil
}

// formatShapes prints input shapes as the CLI takes them: x=1,3,224,224.
func formatShapes(in map[string][]int64) string {
	names := slices.Sorted(maps.Keys(in))
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(name + "=")
		for j, d := range in[name] {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString(strconv.FormatInt(d, 10))
		}
	}
	return b.String()
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
