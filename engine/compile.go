package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"github.com/edgeprune/edgeprune/sparse"
)

// step is one node of a program that runs at run time.
type step struct {
	id      int // index among all steps of the plan
	k       kernel
	in, out []int // value ids; -1 for an omitted optional input
	name    string
	op      string
	flops   int64
	macs    int64
	sub     []*program
	// threads is how many goroutines the node's kernel may use, chosen
	// per node by the cost model (schedule.go).
	threads int
}

// program is a list of steps: the main graph, or one branch of an If.
type program struct {
	steps   []step
	outputs []int // value ids of the graph's outputs
}

// scope resolves value names; subgraphs see their enclosing graphs' values.
type scope struct {
	parent *scope
	names  map[string]int
}

func (s *scope) lookup(name string) (int, bool) {
	for ; s != nil; s = s.parent {
		if id, ok := s.names[name]; ok {
			return id, true
		}
	}
	return 0, false
}

// compiler holds the state of one Compile call.
type compiler struct {
	opset   int64
	values  []*value
	main    *program
	lastUse map[int]int // value id -> last top-level step index reading it
	scratch int
	folded  int
	// uses counts the readers of every value name (node inputs, in
	// subgraphs too, and graph outputs), for fusion.
	uses map[string]int
	// train, when set, compiles for training (trainable.go): trainable
	// parameters become run-time values and nothing is fused.
	train *trainSpec
	// threads is the plan's thread count (WithThreads): fuse_block.go
	// fuses only 1-thread plans.
	threads int
	// sparse and sparseW: WithSparse and WithSparseWeights.
	sparse  SparseMode
	sparseW map[*onnx.TensorProto]*sparse.CSR
	// paths: the Conv paths asked for by node (WithTuneRecord), or for
	// every Conv (CalibrateConvPaths' variants); op_conv_path.go.
	paths    map[string]string
	pathsAll string
}

// now is the index of the top-level step being compiled: nested programs
// (If branches) run within the step of their If node.
func (c *compiler) now() int { return len(c.main.steps) }

func (c *compiler) newValue(v *value) int {
	v.alias = -1
	c.values = append(c.values, v)
	return len(c.values) - 1
}

func (c *compiler) use(id int) {
	if id < 0 {
		return
	}
	if r := c.values[id].alias; r >= 0 {
		id = r
	}
	if t := c.now(); c.lastUse[id] < t {
		c.lastUse[id] = t
	}
}

// constValue decodes a TensorProto into a compile-time value.
func constValue(t *onnx.TensorProto) (*value, error) {
	dt := onnxio.DataType(t.GetDataType())
	if !storable(dt) {
		return nil, notImpl("tensor %q: data type %v", t.GetName(), dt)
	}
	shape := ints(t.GetDims())
	if err := checkShape(shape); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	d := &data{shape: shape}
	var err error
	if isIntType(dt) {
		d.i, err = onnxio.Int64s(t)
	} else {
		d.f, _, err = onnxio.Float32s(t)
	}
	if err != nil {
		return nil, err
	}
	return &value{name: t.GetName(), dt: dt, shape: shape, konst: d, producer: -1}, nil
}

// unsupportedOps lists the op types in g and its subgraphs that the engine
// lacks.
func unsupportedOps(g *onnx.GraphProto, seen map[string]bool) {
	for _, n := range g.GetNode() {
		op := n.GetOpType()
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			op = d + ":" + op
		}
		if _, ok := ops[op]; !ok {
			seen[op] = true
		}
		for _, sg := range onnxio.Subgraphs(n) {
			unsupportedOps(sg, seen)
		}
	}
}

// topoOrder returns the nodes of g in a topological order, keeping the file
// order where it is already valid. Names defined outside g count as ready.
func topoOrder(g *onnx.GraphProto) ([]int, error) {
	nodes := g.GetNode()
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.GetOutput() {
			if o != "" {
				producer[o] = i
			}
		}
	}
	deps := make([][]int, len(nodes))
	indeg := make([]int, len(nodes))
	users := make([][]int, len(nodes))
	for i, n := range nodes {
		names := append([]string{}, n.GetInput()...)
		for _, sg := range onnxio.Subgraphs(n) {
			names = append(names, onnxio.OuterReads(sg)...)
		}
		seen := map[int]bool{}
		for _, name := range names {
			if p, ok := producer[name]; ok && p != i && !seen[p] {
				seen[p] = true
				deps[i] = append(deps[i], p)
				users[p] = append(users[p], i)
				indeg[i]++
			}
		}
	}
	order := make([]int, 0, len(nodes))
	ready := []int{}
	for i := range nodes {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, u := range users[i] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) != len(nodes) {
		return nil, invalid("graph %q has a cycle", g.GetName())
	}
	return order, nil
}

// compileGraph compiles g's nodes into prog, resolving names in sc.
func (c *compiler) compileGraph(g *onnx.GraphProto, sc *scope, prog *program) error {
	for _, t := range g.GetInitializer() {
		v, err := c.constValue(t)
		if err != nil {
			return err
		}
		id := c.newValue(v)
		c.train.bindParam(c, id, t)
		sc.names[t.GetName()] = id
	}
	if len(g.GetSparseInitializer()) > 0 {
		return notImpl("sparse initializers")
	}
	order, err := topoOrder(g)
	if err != nil {
		return err
	}
	for _, i := range order {
		n := g.GetNode()[i]
		if err := c.compileNode(n, i, sc, prog); err != nil {
			return &NodeError{Node: onnxio.NodeLabel(n, i), Op: n.GetOpType(), Err: err}
		}
	}
	for _, o := range g.GetOutput() {
		id, ok := sc.lookup(o.GetName())
		if !ok {
			return invalid("graph output %q is never produced", o.GetName())
		}
		prog.outputs = append(prog.outputs, id)
		c.use(id)
	}
	return nil
}

func (c *compiler) compileNode(n *onnx.NodeProto, index int, sc *scope, prog *program) error {
	b := &buildCtx{node: n, index: index, opset: c.opset, nOut: len(n.GetOutput()), attrs: map[string]*onnx.AttributeProto{}, c: c, scope: sc}
	for _, a := range n.GetAttribute() {
		b.attrs[a.GetName()] = a
	}
	inIDs := make([]int, len(n.GetInput()))
	allConst := true
	for j, name := range n.GetInput() {
		if name == "" {
			inIDs[j] = -1
			b.in = append(b.in, nil)
			continue
		}
		id, ok := sc.lookup(name)
		if !ok {
			return invalid("input %q is not defined before use", name)
		}
		inIDs[j] = id
		v := c.values[id]
		b.in = append(b.in, v)
		if v.konst == nil {
			allConst = false
		} else if !sparseSlot(n.GetOpType(), j) {
			v.konst.densify()
		}
	}
	builder := ops[n.GetOpType()]
	if d := n.GetDomain(); (d != "" && d != "ai.onnx") || builder == nil {
		return notImpl("op %s", n.GetOpType())
	}
	bt, err := builder(b)
	if err != nil {
		return err
	}
	if !allConst && c.train == nil {
		bt = c.fuse(n, b, bt, inIDs, prog)
	}
	if len(bt.out) < len(n.GetOutput()) {
		for j := len(bt.out); j < len(n.GetOutput()); j++ {
			if n.GetOutput()[j] != "" {
				return notImpl("output %d of %s", j, n.GetOpType())
			}
		}
	}
	outIDs := make([]int, len(n.GetOutput()))
	for j, name := range n.GetOutput() {
		if name == "" {
			outIDs[j] = -1
			continue
		}
		spec := bt.out[j]
		if err := checkShape(spec.shape); err != nil {
			return err
		}
		v := &value{name: name, dt: spec.dt, shape: spec.shape, producer: c.now()}
		switch {
		case bt.konst != nil:
			v.konst, v.producer = bt.konst[j], -1
			v.folded = n.GetOpType() != "Constant"
			v.konst.shape = spec.shape
		case j == 0 && bt.alias >= 0:
			src := c.values[inIDs[bt.alias]]
			if src.konst != nil {
				v.konst, v.producer = &data{shape: spec.shape, f: src.konst.f, i: src.konst.i}, -1
				v.folded = true
			}
		}
		id := c.newValue(v)
		if bt.konst != nil && n.GetOpType() == "Constant" {
			c.train.bindParam(c, id, constantTensor(n))
		}
		if v.konst == nil && j == 0 && bt.alias >= 0 {
			root := inIDs[bt.alias]
			if r := c.values[root].alias; r >= 0 {
				root = r
			}
			v.alias = root
			v.producer = -1
		}
		outIDs[j] = id
		sc.names[name] = id
	}
	if bt.konst != nil || (bt.alias >= 0 && bt.k == nil) {
		for _, id := range inIDs {
			c.use(id)
		}
		c.folded++
		return nil
	}
	if allConst && bt.sub == nil {
		// Everything this node reads is known: run it now.
		x := &exec{threads: 1, scratch: make([]float32, bt.scratch)}
		in := make([]*data, len(inIDs))
		for j, id := range inIDs {
			if id >= 0 {
				in[j] = c.values[id].konst
			}
		}
		out := make([]*data, len(outIDs))
		for j, id := range outIDs {
			if id >= 0 {
				v := c.values[id]
				v.konst = newData(v.dt, v.shape)
				v.producer, v.folded = -1, true
				out[j] = v.konst
			} else {
				out[j] = newData(bt.out[j].dt, bt.out[j].shape)
			}
		}
		bt.k.forward(x, in, out)
		c.folded++
		return nil
	}
	if bt.scratch > c.scratch {
		c.scratch = bt.scratch
	}
	name, op := onnxio.NodeLabel(n, index), n.GetOpType()
	if f := bt.fused; f != nil {
		inIDs, name, op = f.in, f.name, f.op
	}
	for _, id := range inIDs {
		c.use(id)
	}
	for j, id := range outIDs {
		if id < 0 {
			// An unnamed output still needs storage: give it a private value.
			outIDs[j] = c.newValue(&value{name: "", dt: bt.out[j].dt, shape: bt.out[j].shape, producer: c.now()})
		}
	}
	prog.steps = append(prog.steps, step{k: bt.k, in: inIDs, out: outIDs, name: name, op: op,
		flops: bt.flops, macs: bt.macs, sub: bt.sub})
	return nil
}

// compileSub compiles a subgraph (an If branch) into its own program that
// runs within the current top-level step.
func (c *compiler) compileSub(g *onnx.GraphProto, parent *scope) (*program, error) {
	if len(g.GetInput()) > 0 {
		return nil, notImpl("subgraph %q with inputs", g.GetName())
	}
	prog := &program{}
	if err := c.compileGraph(g, &scope{parent: parent, names: map[string]int{}}, prog); err != nil {
		return nil, fmt.Errorf("subgraph %q: %w", g.GetName(), err)
	}
	return prog, nil
}

// bindInputs creates the graph-input values, with shapes from opts or from
// the model (dynamic leading dimension bound to 1).
func (c *compiler) bindInputs(g *onnx.GraphProto, sc *scope, cfg *config) ([]int, error) {
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	var ids []int
	known := map[string]bool{}
	for _, vi := range g.GetInput() {
		if inits[vi.GetName()] {
			continue
		}
		info := onnxio.ValueInfoOf(vi)
		known[info.Name] = true
		if !storable(info.ElemType) {
			return nil, notImpl("input %q: data type %v", info.Name, info.ElemType)
		}
		if t, ok := cfg.values[info.Name]; ok {
			v := &value{name: info.Name, dt: info.ElemType, producer: -1, alias: -1}
			v.shape = cloneInts(t.Shape())
			if t.Shape().IsScalar() {
				v.shape = []int{}
			}
			d, err := fromDense(v, t)
			if err != nil {
				return nil, err
			}
			v.konst = d
			sc.names[info.Name] = c.newValue(v)
			continue
		}
		var shape []int
		if s, ok := cfg.shapes[info.Name]; ok {
			shape = cloneInts(s)
			if info.Shape != nil && len(info.Shape) != len(shape) {
				return nil, fmt.Errorf("%w: input %q: shape %v has rank %d, the model declares rank %d", ErrInput, info.Name, shape, len(shape), len(info.Shape))
			}
			for i, d := range info.Shape {
				if d.Value > 0 && int64(shape[i]) != d.Value {
					return nil, fmt.Errorf("%w: input %q: dimension %d is %d, the model fixes it at %d", ErrInput, info.Name, i, shape[i], d.Value)
				}
			}
		} else {
			def, err := info.DefaultShape()
			if err != nil {
				return nil, fmt.Errorf("%w: %v: give its shape (WithInputShape)", ErrInput, err)
			}
			for _, d := range def {
				shape = append(shape, int(d))
			}
		}
		if err := checkShape(shape); err != nil {
			return nil, fmt.Errorf("input %q: %w", info.Name, err)
		}
		id := c.newValue(&value{name: info.Name, dt: info.ElemType, shape: shape, input: true, producer: -1})
		sc.names[info.Name] = id
		ids = append(ids, id)
	}
	var unknown []string
	for name := range cfg.values {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	for name := range cfg.shapes {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("%w: shapes given for %s, which the model does not take as inputs", ErrInput, strings.Join(unknown, ", "))
	}
	return ids, nil
}

// Compile builds a plan for m: it checks every op is implemented, binds the
// input shapes, infers every shape, folds what is known at compile time and
// plans activation memory.
func Compile(m *onnxio.Model, opts ...Option) (*Program, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	g, err := supportedGraph(m)
	if err != nil {
		return nil, err
	}
	if cfg.record != nil {
		if err := cfg.record.checkMachine(cfg.threads); err != nil {
			return nil, err
		}
	}
	c, sc, inputs, err := compileMain(m, g, cfg, nil)
	if err != nil {
		return nil, err
	}
	p, err := newPlan(c, inputs, g, cfg)
	if err != nil {
		return nil, err
	}
	p.mainNames = sc.names
	if cfg.record != nil {
		if err := p.ApplyThreadChoice(*cfg.record); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// supportedGraph returns m's main graph, or an UnsupportedError listing
// every op (in any subgraph) the engine lacks, before anything is built.
func supportedGraph(m *onnxio.Model) (*onnx.GraphProto, error) {
	g := m.Graph()
	if g == nil {
		return nil, invalid("model has no graph")
	}
	missing := map[string]bool{}
	unsupportedOps(g, missing)
	if len(missing) > 0 {
		e := &UnsupportedError{}
		for op := range missing {
			e.Ops = append(e.Ops, op)
		}
		sort.Strings(e.Ops)
		return nil, e
	}
	return g, nil
}

// compileMain binds the inputs of g and compiles it: the common part of
// Compile and CompileTrainable (train, when not nil, says which parameters
// become run-time values with a backward).
func compileMain(m *onnxio.Model, g *onnx.GraphProto, cfg *config, train *trainSpec) (*compiler, *scope, []int, error) {
	opset := m.Opset()
	if opset == 0 {
		opset = 1
	}
	c := &compiler{opset: opset, main: &program{}, lastUse: map[int]int{}, uses: map[string]int{}, train: train,
		sparse: cfg.sparse, sparseW: cfg.sparseW, paths: cfg.convPaths, pathsAll: cfg.pathsAll, threads: cfg.threads}
	countUses(g, c.uses)
	sc := &scope{names: map[string]int{}}
	inputs, err := c.bindInputs(g, sc, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := c.compileGraph(g, sc, c.main); err != nil {
		return nil, nil, nil, err
	}
	return c, sc, inputs, nil
}
