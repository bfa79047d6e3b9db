package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"gorgonia.org/tensor"
)

// Program is a compiled model for fixed input shapes. Run may be called from
// several goroutines at once; each call uses its own activation arena.
type Program struct {
	values  []*value
	main    *program
	inputs  []int
	outputs []int
	threads int
	nsteps  int
	// adapt chooses per run between the per-node threads and one
	// goroutine (adapt.go); nil when off or when no node runs on more
	// than one.
	adapt   *adaptor
	adaptOn bool

	// Activation arenas: offsets[id] is a value's offset in the float32 or
	// int64 arena, -1 when it lives elsewhere (constant, input, view).
	offsets       []int
	fsize, isize  int
	scratch       int
	folded        int
	pool          sync.Pool
	aliasOfInputs []int          // view values whose root is a graph input
	mainNames     map[string]int // the main graph's value names → ids
}

// NodeCost is the cost of one node that runs.
type NodeCost struct {
	Name    string
	Op      string
	Inputs  [][]int // input shapes (nil for an omitted optional input)
	Outputs [][]int // output shapes
	FLOPs   int64   // floating-point operations (a multiply-add counts 2)
	MACs    int64   // multiply-accumulates in Conv, Gemm, MatMul
	// Kernel is "sparse" plus the weight's pattern (csr, block=RxC, N:M)
	// when the node runs its weight on the sparse kernels, else empty;
	// Density is then the weight's fraction of nonzeros.
	Kernel  string  `json:",omitempty"`
	Density float64 `json:",omitempty"`
	// Threads is how many goroutines the node may use: the plan's
	// threads, or 1 where the scheduler's cost model predicts that a
	// second one would not pay for its hand-over (schedule.go).
	Threads int
	// Path is a dense Conv's path (ConvPaths: im2col, implicit, linear,
	// swapped, swtaps, dwflat, dwrows), else empty.
	Path string `json:",omitempty"`
}

// Report summarises a plan for device budgets.
type Report struct {
	Nodes []NodeCost
	// PeakActivationBytes is the memory the plan's activations take at
	// their peak: the planned arena (values reuse the slots of dead ones)
	// plus kernel scratch (im2col). Inputs and weights are not counted.
	PeakActivationBytes int64
	ArenaBytes          int64
	ScratchBytes        int64
	FLOPs, MACs         int64
	// WeightBytes is the memory the plan holds for constants (weights
	// and folded values): dense, packed and sparse copies, each counted
	// once. SparseWeightBytes is the part held as sparse matrices.
	WeightBytes, SparseWeightBytes int64
	// FoldedNodes is the number of nodes computed at compile time or turned
	// into views (Reshape, Flatten, Squeeze ...), which cost nothing at run time.
	FoldedNodes int
	// Values is every named value of the main graph, in the order compiled
	// (inputs, initializers, then node outputs topologically): the shapes
	// inferred at the bound input shapes, and the constants known at compile
	// time. Values of nodes fused into a neighbour are listed too.
	Values []Value
}

// MaxReportedInts bounds the integer constants whose elements a Report
// lists (Value.Ints): shape computations are small.
const MaxReportedInts = 1 << 10

// Value is what compiling learned about one named value of a plan: its
// element type and shape at the bound input shapes, for plan inputs and
// outputs (Program.Inputs, Program.Outputs) and every value in Report.Values.
type Value struct {
	Name  string
	DType onnxio.DataType
	Shape []int
	// Const: the value is known at compile time — stored in the model
	// (initializer, Constant node) or Folded from such values by the nodes
	// the engine evaluates at compile time (Shape, Gather, Concat, ...).
	Const, Folded bool
	// Ints are the elements of an integer constant with at most
	// MaxReportedInts of them (nil otherwise).
	Ints []int64
}

const arenaAlign = 16 // float32/int64 elements: 64 or 128 bytes

func newPlan(c *compiler, inputs []int, g *onnx.GraphProto, cfg *config) (*Program, error) {
	p := &Program{values: c.values, main: c.main, inputs: inputs, outputs: c.main.outputs, threads: cfg.threads,
		scratch: c.scratch, folded: c.folded}
	end := len(c.main.steps)
	for _, id := range p.outputs {
		r := id
		if a := c.values[id].alias; a >= 0 {
			r = a
		}
		c.lastUse[r] = end
	}
	// Number steps across programs.
	var number func(pr *program)
	number = func(pr *program) {
		for i := range pr.steps {
			pr.steps[i].id = p.nsteps
			p.nsteps++
			for _, s := range pr.steps[i].sub {
				number(s)
			}
		}
	}
	number(p.main)
	scheduleThreads(p.main, c.values, cfg.threads, activeTunables(cfg.threads))
	p.adaptOn = cfg.adapt
	p.resetAdapt()
	p.offsets = make([]int, len(c.values))
	var fItems, iItems []arenaItem
	for id, v := range c.values {
		p.offsets[id] = -1
		if v.alias >= 0 {
			if c.values[v.alias].input {
				p.aliasOfInputs = append(p.aliasOfInputs, id)
			}
			continue
		}
		if v.konst != nil || v.input || v.elided {
			continue
		}
		e, ok := c.lastUse[id]
		if !ok || e < v.producer {
			e = v.producer
		}
		it := arenaItem{id, v.producer, e, (numel(v.shape) + arenaAlign - 1) / arenaAlign * arenaAlign}
		if v.isInt() {
			iItems = append(iItems, it)
		} else {
			fItems = append(fItems, it)
		}
	}
	place := func(items []arenaItem) int {
		sort.SliceStable(items, func(a, b int) bool { return items[a].birth < items[b].birth })
		return placeBestFit(items, func(it arenaItem, off int) { p.offsets[it.id] = off })
	}
	p.fsize = place(fItems)
	p.isize = place(iItems)
	if c.train == nil { // backward reads the weights (trainable.go)
		p.releasePackedWeights()
	}
	return p, nil
}

// releasePackedWeights drops the plan's decoded copy of every constant read
// only as the weights of Convs that packed them at compile time (they read
// the packed copy, W or Wᵀ), so the plan does not hold the weights twice.
func (p *Program) releasePackedWeights() {
	packedOnly := map[int]bool{}
	var walk func(pr *program)
	walk = func(pr *program) {
		for _, s := range pr.steps {
			ck, ok := s.k.(*convKernel)
			ok = ok && (ck.packed != nil || ck.swapped != nil || ck.swt != nil)
			if sk, isSp := s.k.(sparseKernel); isSp {
				ws, _ := sk.sparseWeights()
				ok = ok || ws != nil
			}
			for j, id := range s.in {
				if id < 0 || p.values[id].konst == nil {
					continue
				}
				ok := ok && j == 1
				if prev, seen := packedOnly[id]; !seen || prev {
					packedOnly[id] = ok
				}
			}
			for _, sub := range s.sub {
				walk(sub)
			}
		}
	}
	walk(p.main)
	for _, id := range p.outputs {
		packedOnly[id] = false
	}
	for id, ok := range packedOnly {
		if ok {
			p.values[id].konst.f, p.values[id].konst.sp = nil, nil
		}
	}
}

// Inputs describes the plan's inputs with their bound shapes.
func (p *Program) Inputs() []Value { return p.infos(p.inputs) }

// Threads is the number of threads p runs on (WithThreads).
func (p *Program) Threads() int { return p.threads }

// Outputs describes the plan's outputs with their inferred shapes.
func (p *Program) Outputs() []Value { return p.infos(p.outputs) }

func (p *Program) infos(ids []int) []Value {
	out := make([]Value, len(ids))
	for i, id := range ids {
		v := p.values[id]
		out[i] = Value{Name: v.name, DType: v.dt, Shape: cloneInts(v.shape)}
	}
	return out
}

// Report returns the plan's memory and compute report.
func (p *Program) Report() Report {
	r := Report{ArenaBytes: int64(p.fsize)*4 + int64(p.isize)*8, ScratchBytes: int64(p.scratch) * 4, FoldedNodes: p.folded}
	r.PeakActivationBytes = r.ArenaBytes + r.ScratchBytes
	var walk func(pr *program)
	walk = func(pr *program) {
		for _, s := range pr.steps {
			nc := NodeCost{Name: s.name, Op: s.op, FLOPs: s.flops, MACs: s.macs, Threads: s.threads}
			nc.Kernel, nc.Density = sparseNodeInfo(s.k)
			if ck, ok := s.k.(*convKernel); ok {
				nc.Path = ck.path()
			}
			for _, id := range s.in {
				var shape []int
				if id >= 0 {
					shape = cloneInts(p.values[id].shape)
				}
				nc.Inputs = append(nc.Inputs, shape)
			}
			for _, id := range s.out {
				nc.Outputs = append(nc.Outputs, cloneInts(p.values[id].shape))
			}
			r.Nodes = append(r.Nodes, nc)
			r.FLOPs += s.flops
			r.MACs += s.macs
			for _, sub := range s.sub {
				walk(sub)
			}
		}
	}
	walk(p.main)
	r.WeightBytes, r.SparseWeightBytes = p.weightBytes()
	ids := make([]int, 0, len(p.mainNames))
	for _, id := range p.mainNames {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		v := p.values[id]
		vr := Value{Name: v.name, DType: v.dt, Shape: cloneInts(v.shape), Const: v.konst != nil, Folded: v.folded}
		if v.konst != nil && v.isInt() && len(v.konst.i) <= MaxReportedInts {
			vr.Ints = append([]int64{}, v.konst.i...)
		}
		r.Values = append(r.Values, vr)
	}
	return r
}

// workspace is the per-Run state: the arenas and every value's storage.
type workspace struct {
	f       []float32
	i       []int64
	scratch []float32
	vals    []*data
	args    [][2][]*data // per step id: inputs, outputs
}

func (p *Program) newWorkspace() *workspace {
	w := &workspace{f: make([]float32, p.fsize), i: make([]int64, p.isize), scratch: make([]float32, p.scratch)}
	w.vals = make([]*data, len(p.values))
	for id, v := range p.values {
		switch {
		case v.konst != nil:
			w.vals[id] = v.konst
		case p.offsets[id] >= 0:
			n, off := numel(v.shape), p.offsets[id]
			if v.isInt() {
				w.vals[id] = &data{shape: v.shape, i: w.i[off : off+n : off+n]}
			} else {
				w.vals[id] = &data{shape: v.shape, f: w.f[off : off+n : off+n]}
			}
		case v.input || v.alias >= 0 || v.elided:
			w.vals[id] = &data{shape: v.shape}
		}
	}
	for id, v := range p.values {
		if v.alias >= 0 && v.konst == nil {
			r := w.vals[v.alias]
			w.vals[id].f, w.vals[id].i = r.f, r.i
		}
	}
	w.args = make([][2][]*data, p.nsteps)
	var walk func(pr *program)
	walk = func(pr *program) {
		for _, s := range pr.steps {
			in := make([]*data, len(s.in))
			for j, id := range s.in {
				if id >= 0 {
					in[j] = w.vals[id]
				}
			}
			out := make([]*data, len(s.out))
			for j, id := range s.out {
				out[j] = w.vals[id]
			}
			w.args[s.id] = [2][]*data{in, out}
			for _, sub := range s.sub {
				walk(sub)
			}
		}
	}
	walk(p.main)
	return w
}

// runProgram runs the steps of pr, checking ctx between nodes.
func (w *workspace) runProgram(ctx context.Context, x *exec, pr *program) error {
	for i := range pr.steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		s := &pr.steps[i]
		a := w.args[s.id]
		x.threads = s.threads
		if x.serial {
			x.threads = 1
		}
		if s.sub != nil {
			if err := s.k.(*ifKernel).run(ctx, w, x, a[0], a[1]); err != nil {
				return err
			}
			continue
		}
		s.k.forward(x, a[0], a[1])
	}
	return nil
}

// Run runs the plan on inputs (by name; every plan input is required, with
// exactly its bound shape) and returns every output by name. Float inputs
// are float32 (float64 is converted), integer inputs int64 or int32, bool
// inputs bool. Outputs are float32, int64 (every integer type) or bool, in
// fresh memory.
func (p *Program) Run(ctx context.Context, inputs map[string]*tensor.Dense) (map[string]*tensor.Dense, error) {
	w, _ := p.pool.Get().(*workspace)
	if w == nil {
		w = p.newWorkspace()
	}
	defer p.pool.Put(w)
	if err := p.readInputs(inputs, func(id int, d *data) {
		w.vals[id].f, w.vals[id].i = d.f, d.i
	}); err != nil {
		return nil, err
	}
	for _, id := range p.aliasOfInputs {
		r := w.vals[p.values[id].alias]
		w.vals[id].f, w.vals[id].i = r.f, r.i
	}
	x := &exec{threads: p.threads, scratch: w.scratch}
	if a := p.adapt; a != nil {
		arm, t0 := a.begin()
		x.serial = arm == armSerial
		if err := w.runProgram(ctx, x, p.main); err != nil {
			a.cancel(arm)
			return nil, err
		}
		a.end(arm, t0)
	} else if err := w.runProgram(ctx, x, p.main); err != nil {
		return nil, err
	}
	out := make(map[string]*tensor.Dense, len(p.outputs))
	for _, id := range p.outputs {
		out[p.values[id].name] = toDense(p.values[id], w.vals[id])
	}
	return out, nil
}

// readInputs checks inputs against the model's (every one given, no
// other name, types and shapes as compiled) and hands each one's flat data
// to set, for Run and Trainable.Forward.
func (p *Program) readInputs(inputs map[string]*tensor.Dense, set func(id int, d *data)) error {
	for _, id := range p.inputs {
		v := p.values[id]
		t, ok := inputs[v.name]
		if !ok || t == nil {
			return fmt.Errorf("%w: input %q missing", ErrInput, v.name)
		}
		d, err := fromDense(v, t)
		if err != nil {
			return err
		}
		set(id, d)
	}
	if len(inputs) != len(p.inputs) {
		for name := range inputs {
			found := false
			for _, id := range p.inputs {
				found = found || p.values[id].name == name
			}
			if !found {
				return fmt.Errorf("%w: %q is not an input of the model", ErrInput, name)
			}
		}
	}
	return nil
}

func fromDense(v *value, t *tensor.Dense) (*data, error) {
	shape := []int(t.Shape())
	if t.Shape().IsScalar() {
		shape = nil
	}
	if !sameShape(shape, v.shape) && !(len(v.shape) == 0 && numel(shape) == 1) {
		return nil, fmt.Errorf("%w: input %q has shape %v, the plan was compiled for %v", ErrInput, v.name, shape, v.shape)
	}
	d := &data{shape: v.shape}
	switch raw := t.Data().(type) {
	case []float32:
		if v.isInt() {
			break
		}
		d.f = raw
		return d, nil
	case float32:
		if !v.isInt() {
			d.f = []float32{raw}
			return d, nil
		}
	case []float64:
		if !v.isInt() {
			d.f = make([]float32, len(raw))
			for i, x := range raw {
				d.f[i] = float32(x)
			}
			return d, nil
		}
	case []int64:
		if v.isInt() {
			d.i = raw
			return d, nil
		}
	case []int32:
		if v.isInt() {
			d.i = make([]int64, len(raw))
			for i, x := range raw {
				d.i[i] = int64(x)
			}
			return d, nil
		}
	case []bool:
		if v.isInt() {
			d.i = make([]int64, len(raw))
			for i, x := range raw {
				if x {
					d.i[i] = 1
				}
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w: input %q: %v tensor given, the model takes %v", ErrInput, v.name, t.Dtype(), v.dt)
}

func toDense(v *value, d *data) *tensor.Dense {
	shape := cloneInts(v.shape)
	opts := []tensor.ConsOpt{}
	switch {
	case v.dt == onnxio.Bool:
		b := make([]bool, len(d.i))
		for i, x := range d.i {
			b[i] = x != 0
		}
		opts = append(opts, tensor.WithBacking(b))
	case v.isInt():
		opts = append(opts, tensor.WithBacking(append([]int64{}, d.i...)))
	default:
		opts = append(opts, tensor.WithBacking(append([]float32{}, d.f...)))
	}
	if len(shape) > 0 {
		opts = append(opts, tensor.WithShape(shape...))
	} else {
		opts = append(opts, tensor.WithShape())
	}
	return tensor.New(opts...)
}
