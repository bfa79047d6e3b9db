package engine

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"gorgonia.org/tensor"
)

// Reverse mode over the compiled plan.
//
// CompileTrainable compiles a model as Compile does, with three differences:
// trainable parameters are run-time values (bound like inputs to
// Param.Value) instead of folded constants, nothing is fused, and the
// values the backward pass reads are kept alive to the end of the forward
// pass by the same memory planner (the tape). Backward walks the steps in
// reverse and calls each kernel's backward (gradKernel), which adds the
// gradients of its inputs; gradient buffers have their own arena, planned
// over the reverse order with reuse. If branches are flattened into the
// step list: backward walks back through the branch the forward took
// (parameters stored in branches included), the other's steps are skipped.

// BNMode says how BatchNormalization behaves in a Trainable.
type BNMode int

const (
	// BNFrozen: inference mode, the running statistics normalise and stay
	// as they are (scale and bias still get gradients).
	BNFrozen BNMode = iota
	// BNTrain: training mode as torch's model.train(): batch statistics
	// (biased variance) normalise, and Forward updates the running
	// statistics with the node's ONNX momentum (0.9 == torch's 0.1),
	// unbiased variance.
	BNTrain
)

// WithTrainable selects which float parameters get gradients, by onnxio
// parameter ID (default: every float parameter read by a differentiable
// input of its op). Others stay compile-time constants.
func WithTrainable(f func(id string) bool) Option {
	return func(c *config) error {
		if f == nil {
			return fmt.Errorf("engine: WithTrainable(nil)")
		}
		c.trainable = f
		return nil
	}
}

// WithFrozen freezes the parameters whose ID matches the regular expression
// re (Go syntax): a convenience over WithTrainable (the last of the two
// given wins).
func WithFrozen(re string) Option {
	return func(c *config) error {
		r, err := regexp.Compile(re)
		if err != nil {
			return fmt.Errorf("engine: WithFrozen(%q): %v", re, err)
		}
		c.trainable = func(id string) bool { return !r.MatchString(id) }
		return nil
	}
}

// WithBatchNorm sets the BatchNormalization mode of a Trainable (default
// BNFrozen).
func WithBatchNorm(m BNMode) Option {
	return func(c *config) error {
		if m != BNFrozen && m != BNTrain {
			return fmt.Errorf("engine: WithBatchNorm(%d): want BNFrozen or BNTrain", m)
		}
		c.bn = m
		return nil
	}
}

// WithKeepValues names intermediate values to keep after Forward (returned
// with the outputs, readable with Value, and seedable in Backward).
func WithKeepValues(names ...string) Option {
	return func(c *config) error {
		c.keep = append(c.keep, names...)
		return nil
	}
}

// Param is one trainable parameter of a Trainable.
type Param struct {
	ID    string    // onnxio parameter ID (the IDs prune and pack use)
	Shape []int     // the stored tensor's shape
	Value []float32 // the live weights (the caller may update them in place)
	Grad  []float32 // accumulated by Backward; zeroed by ZeroGrad

	src *onnxio.Param
	vid int // value id in the plan
}

// trainSpec is what the compiler needs to know when it compiles for
// training.
type trainSpec struct {
	byTensor map[*onnx.TensorProto]*Param
	params   []*Param // in the order bound
	bn       BNMode
}

// bindParam turns value id (just created from tensor t) into a run-time
// value when t is a trainable parameter. A nil spec does nothing.
func (s *trainSpec) bindParam(c *compiler, id int, t *onnx.TensorProto) {
	if s == nil || t == nil {
		return
	}
	p, ok := s.byTensor[t]
	if !ok || p.vid >= 0 {
		return
	}
	v := c.values[id]
	p.Value = append([]float32(nil), v.konst.f...)
	p.Grad = make([]float32, len(p.Value))
	p.Shape = cloneInts(v.shape)
	p.vid = id
	v.konst = nil
	v.input = true // bound like an input, to p.Value
	s.params = append(s.params, p)
}

// constantTensor returns the `value` tensor of a Constant node, or nil.
func constantTensor(n *onnx.NodeProto) *onnx.TensorProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == "value" {
			return a.GetT()
		}
	}
	return nil
}

// gradKernel is a kernel with a backward pass. backward adds to dIn[j] the
// gradient of the loss with respect to input j, given the gradients dOut of
// the outputs; dIn[j] is nil when that gradient is not wanted, dOut[j] nil
// when it is zero (at least one is not). in and out hold what forward read
// and wrote (those tapeNeeds keeps). backward must not read dIn.
type gradKernel interface {
	kernel
	backward(x *exec, in, out, dOut, dIn []*data)
}

// tapeNeeder says which inputs and outputs (bit j) backward reads, so the
// planner keeps only those; kernels without it keep all of them.
type tapeNeeder interface {
	tapeNeeds() (in, out uint64)
}

// gradScratcher is a gradKernel that needs scratch in backward.
type gradScratcher interface {
	gradScratch(threads int) int
}

// diffSlots is the table of ops with a backward: which inputs are
// differentiable (every other input gets no gradient and must not need
// one). An op not listed has no backward. Views (Reshape, Flatten, ...)
// pass the gradient through their shared storage.
var diffSlots = map[string]func(j int) bool{
	"Conv": slotsAll, "ConvTranspose": slotsAll, "Gemm": slotsAll, "MatMul": slotsAll,
	"BatchNormalization": slotsUpTo(2),
	"Relu":               slotFirst, "LeakyRelu": slotFirst, "Clip": slotFirst, "Sigmoid": slotFirst, "Tanh": slotFirst,
	"HardSigmoid": slotFirst, "HardSwish": slotFirst, "Softmax": slotFirst, "LogSoftmax": slotFirst, "ReduceSum": slotFirst,
	"Add": slotsAll, "Sub": slotsAll, "Mul": slotsAll, "Div": slotsAll,
	"MaxPool": slotFirst, "AveragePool": slotFirst, "GlobalAveragePool": slotFirst, "ReduceMean": slotFirst,
	"Flatten": slotFirst, "Reshape": slotFirst, "Transpose": slotFirst, "Concat": slotsAll, "Split": slotFirst,
	"Slice": slotFirst, "Gather": slotFirst, "Identity": slotFirst, "Dropout": slotFirst,
	"Squeeze": slotFirst, "Unsqueeze": slotFirst, "Resize": slotFirst,
}

func slotsAll(int) bool    { return true }
func slotFirst(j int) bool { return j == 0 }
func slotsUpTo(n int) func(int) bool {
	return func(j int) bool { return j <= n }
}

// GradOps returns the op types that have a backward, sorted.
func GradOps() []string {
	out := make([]string, 0, len(diffSlots))
	for k := range diffSlots {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// HasBackward reports whether op (default ONNX domain) has a backward.
func HasBackward(op string) bool { _, ok := diffSlots[op]; return ok }

// Trainable is a model compiled for training: Forward records what
// Backward needs, Backward accumulates gradients into Params. A Trainable
// is not safe for concurrent use; Replica gives one per goroutine.
type Trainable struct {
	model   *onnxio.Model
	opts    []Option
	plan    *Program
	params  []*Param
	primary bool

	ws     *workspace
	inBufs map[int][]float32 // owned copies of the float inputs

	vals    []*value
	reqGrad []bool
	paramOf map[int]*Param // value id (param or a view of one) -> param
	keep    []int
	// steps is every step in forward order, If branches flattened: a
	// branch's steps, then the If itself (which copies the branch's
	// outputs). conds[i] lists the branches step i runs inside.
	steps []*step
	conds [][]ifCond

	// gradient arena
	gsize   int
	goff    []int // per root value id, offset in the grad arena, -1 if none
	gbuf    []float32
	gvals   []*data // per value id: its gradient storage (roots and views)
	births  [][]int // per step index: grad roots to zero before its backward
	early   []int   // grad roots alive from the start (outputs, kept values)
	dIns    [][]*data
	dOuts   [][]*data
	bwOn    []bool // per step: runs in backward
	scratch []float32

	fwdArena, tapeArena int // float32 elements, without and with the tape
	bns                 []*bnTrainKernel
	recorded            bool
}

// TrainReport is the memory report of a Trainable.
type TrainReport struct {
	// ForwardArenaBytes is the activation arena a forward-only plan of the
	// same graph would take; TapeArenaBytes the arena with the values kept
	// for backward (the tape), which is what Forward uses.
	ForwardArenaBytes, TapeArenaBytes int64
	// GradArenaBytes holds the activations' gradients (planned with reuse
	// over the reverse order); parameter gradients are in Param.Grad.
	GradArenaBytes int64
	ScratchBytes   int64
	Params         int // trainable parameters
	ParamElements  int64
}

// Report returns the Trainable's memory report.
func (t *Trainable) Report() TrainReport {
	r := TrainReport{ForwardArenaBytes: int64(t.fwdArena) * 4, TapeArenaBytes: int64(t.tapeArena) * 4,
		GradArenaBytes: int64(t.gsize) * 4, ScratchBytes: int64(max(len(t.scratch), t.plan.scratch)) * 4, Params: len(t.params)}
	for _, p := range t.params {
		r.ParamElements += int64(len(p.Value))
	}
	return r
}

// CompileTrainable compiles m for training (see Trainable). Every op on a
// path from a trainable parameter must have a backward: otherwise it fails,
// naming the op and node, before anything runs.
func CompileTrainable(m *onnxio.Model, opts ...Option) (*Trainable, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.record != nil {
		return nil, fmt.Errorf("engine: CompileTrainable: WithTuneRecord is for inference plans (training takes the rule-based Conv paths)")
	}
	g, err := supportedGraph(m)
	if err != nil {
		return nil, err
	}
	spec := &trainSpec{byTensor: map[*onnx.TensorProto]*Param{}, bn: cfg.bn}
	for _, p := range m.Params() {
		if !p.DataType().IsFloat() || len(p.Uses) == 0 || (cfg.trainable != nil && !cfg.trainable(p.ID)) {
			continue
		}
		if err := refuseRecurrentParam(g, p); err != nil {
			return nil, err
		}
		ok := true
		for _, u := range p.Uses {
			if op := u.Node.GetOpType(); op == "Shape" || op == "Size" {
				continue // reads only the shape, which training does not change
			}
			f := diffSlots[u.Node.GetOpType()]
			ok = ok && f != nil && f(u.Input) && (u.Node.GetDomain() == "" || u.Node.GetDomain() == "ai.onnx")
		}
		if ok {
			spec.byTensor[p.Tensor] = &Param{ID: p.ID, src: p, vid: -1}
		}
	}
	c, sc, inputs, err := compileMain(m, g, cfg, spec)
	if err != nil {
		return nil, err
	}
	t := &Trainable{model: m, opts: opts, params: spec.params, primary: true, paramOf: map[int]*Param{}}
	for _, p := range t.params {
		t.paramOf[p.vid] = p
	}
	for id, v := range c.values {
		if v.alias >= 0 {
			if p, ok := t.paramOf[v.alias]; ok {
				t.paramOf[id] = p
			}
		}
	}
	for _, name := range cfg.keep {
		id, ok := sc.lookup(name)
		if !ok {
			return nil, fmt.Errorf("%w: WithKeepValues: %q is not a value of the main graph", ErrInput, name)
		}
		if c.values[id].isInt() {
			return nil, fmt.Errorf("%w: WithKeepValues: %q is %v, not floating point", ErrInput, name, c.values[id].dt)
		}
		t.keep = append(t.keep, id)
	}
	if err := t.analyse(c); err != nil {
		return nil, err
	}
	// Forward-only plan, for the report, then the plan with the tape.
	saved := map[int]int{}
	for k, v := range c.lastUse {
		saved[k] = v
	}
	fp, err := newPlan(c, inputs, g, cfg)
	if err != nil {
		return nil, err
	}
	t.fwdArena = fp.fsize
	c.lastUse = saved
	t.extendTape(c)
	p, err := newPlan(c, inputs, g, cfg)
	if err != nil {
		return nil, err
	}
	t.plan, t.tapeArena = p, p.fsize
	t.planGrads()
	t.ws = p.newWorkspace()
	t.inBufs = map[int][]float32{}
	for _, p := range t.params {
		t.ws.vals[p.vid].f = p.Value
	}
	t.bindViews()
	t.bindGrads()
	return t, nil
}

func (t *Trainable) root(id int) int {
	if r := t.vals[id].alias; r >= 0 {
		return r
	}
	return id
}

// ifCond is one enclosing If branch of a flattened step: the step ran only
// if the If (flattened index at) took prog.
type ifCond struct {
	at   int
	prog *program
}

// flatten appends the steps of pr to t.steps in the order they run.
func (t *Trainable) flatten(pr *program, conds []ifCond) {
	for i := range pr.steps {
		s := &pr.steps[i]
		if s.sub != nil {
			at := -1 // the If's own index, known once its branches are in
			start := len(t.steps)
			for _, sp := range s.sub {
				t.flatten(sp, append(append([]ifCond(nil), conds...), ifCond{-1, sp}))
			}
			at = len(t.steps)
			for j := start; j < at; j++ {
				t.conds[j][len(conds)].at = at // this If's entry in its steps' conditions
			}
		}
		t.steps = append(t.steps, s)
		t.conds = append(t.conds, conds)
	}
}

// branchOutputs returns the outputs of an If step's compiled branches.
func branchOutputs(s *step) [][]int {
	var out [][]int
	for _, sp := range s.sub {
		out = append(out, sp.outputs)
	}
	return out
}

// analyse marks the values that need a gradient and checks every step on
// their path has a backward.
func (t *Trainable) analyse(c *compiler) error {
	t.vals = c.values
	t.flatten(c.main, nil)
	t.reqGrad = make([]bool, len(c.values))
	for _, p := range t.params {
		t.reqGrad[p.vid] = true
	}
	rg := func(id int) bool { return id >= 0 && t.reqGrad[t.root(id)] }
	for _, s := range t.steps {
		if s.sub != nil {
			// If: an output needs a gradient when a branch's does; the
			// condition passes none.
			for _, outs := range branchOutputs(s) {
				for j, id := range outs {
					if rg(id) && s.out[j] >= 0 && !c.values[s.out[j]].isInt() {
						t.reqGrad[s.out[j]] = true
					}
				}
			}
			continue
		}
		slots := diffSlots[s.op]
		need := false
		for j, id := range s.in {
			if rg(id) {
				if slots == nil || !slots(j) {
					if slots == nil {
						return &NodeError{Node: s.name, Op: s.op, Err: notImpl("op %s has no backward (ops with one: %s)", s.op, strings.Join(GradOps(), ", "))}
					}
					return &NodeError{Node: s.name, Op: s.op, Err: notImpl("input %d (%s) of %s has no gradient", j, c.values[id].name, s.op)}
				}
				need = true
			}
		}
		if !need {
			continue
		}
		if _, ok := s.k.(gradKernel); !ok {
			return &NodeError{Node: s.name, Op: s.op, Err: notImpl("op %s has no backward for this form (%T)", s.op, s.k)}
		}
		for _, id := range s.out {
			if id >= 0 && !c.values[id].isInt() {
				t.reqGrad[id] = true
			}
		}
	}
	return nil
}

// extendTape keeps what each backward reads alive to the end of the
// forward pass.
func (t *Trainable) extendTape(c *compiler) {
	end := len(t.steps)
	keep := func(id int) {
		if id < 0 {
			return
		}
		r := t.root(id)
		c.lastUse[r] = end
	}
	for _, id := range t.keep {
		keep(id)
	}
	for _, s := range t.steps {
		if !t.stepOn(s) {
			continue
		}
		if s.sub != nil {
			keep(s.in[0]) // the condition says which branch to walk back
			continue
		}
		inMask, outMask := ^uint64(0), ^uint64(0)
		if tn, ok := s.k.(tapeNeeder); ok {
			inMask, outMask = tn.tapeNeeds()
		}
		for j, id := range s.in {
			if inMask&(1<<uint(j)) != 0 {
				keep(id)
			}
		}
		for j, id := range s.out {
			if outMask&(1<<uint(j)) != 0 {
				keep(id)
			}
		}
	}
}

// stepOn reports whether step s runs in backward: some differentiable
// input needs a gradient.
func (t *Trainable) stepOn(s *step) bool {
	if s.sub != nil {
		for _, id := range s.out {
			if id >= 0 && t.reqGrad[id] {
				return true
			}
		}
		return false
	}
	slots := diffSlots[s.op]
	if slots == nil {
		return false
	}
	for j, id := range s.in {
		if id >= 0 && slots(j) && t.reqGrad[t.root(id)] {
			return true
		}
	}
	return false
}

// gradIns lists the values whose gradients the backward of s adds to: its
// differentiable inputs, or for an If its branches' outputs (every branch,
// in order).
func (t *Trainable) gradIns(s *step) []int {
	if s.sub != nil {
		var ids []int
		for _, outs := range branchOutputs(s) {
			ids = append(ids, outs...)
		}
		return ids
	}
	slots := diffSlots[s.op]
	var ids []int
	for j, id := range s.in {
		if id >= 0 && slots(j) {
			ids = append(ids, id)
		}
	}
	return ids
}

// planGrads places the activations' gradient buffers: a root value's
// buffer lives from the backward of its last reader (or the start, for
// outputs and kept values) to the backward of its producer.
func (t *Trainable) planGrads() {
	n := len(t.steps)
	vals := t.plan.values
	t.goff = make([]int, len(vals))
	birth := map[int]int{} // root -> backward time it is first written
	death := map[int]int{}
	t.bwOn = make([]bool, n)
	for i, s := range t.steps {
		t.bwOn[i] = t.stepOn(s)
		for _, id := range s.out {
			if id >= 0 && t.reqGrad[id] {
				death[id] = n - 1 - i
			}
		}
		if !t.bwOn[i] {
			continue
		}
		for _, id := range t.gradIns(s) {
			if id < 0 {
				continue
			}
			r := t.root(id)
			if !t.reqGrad[r] || t.paramOf[r] != nil {
				continue
			}
			bt := n - 1 - i
			if b, ok := birth[r]; !ok || bt < b {
				birth[r] = bt
			}
		}
	}
	seedable := append(append([]int{}, t.plan.outputs...), t.keep...)
	for _, id := range seedable {
		r := t.root(id)
		if t.reqGrad[r] && t.paramOf[r] == nil {
			birth[r] = -1
		}
	}
	var items []arenaItem
	for r, b := range birth {
		d, ok := death[r]
		if !ok {
			continue // a graph input: no producer
		}
		items = append(items, arenaItem{r, b, d, (numel(vals[r].shape) + arenaAlign - 1) / arenaAlign * arenaAlign})
	}
	sort.Slice(items, func(a, b int) bool {
		if items[a].birth != items[b].birth {
			return items[a].birth < items[b].birth
		}
		return items[a].id < items[b].id
	})
	for i := range t.goff {
		t.goff[i] = -1
	}
	t.births = make([][]int, n)
	t.gsize = placeBestFit(items, func(it arenaItem, off int) {
		t.goff[it.id] = off
		if it.birth < 0 {
			t.early = append(t.early, it.id)
		} else {
			i := n - 1 - it.birth
			t.births[i] = append(t.births[i], it.id)
		}
	})
	sc := 0
	for i, st := range t.steps {
		if gs, ok := st.k.(gradScratcher); ok && t.bwOn[i] {
			sc = max(sc, gs.gradScratch(t.plan.threads))
		}
	}
	t.scratch = make([]float32, sc)
}

// bindGrads allocates the gradient arena and every step's gradient
// arguments.
func (t *Trainable) bindGrads() {
	vals := t.plan.values
	t.gbuf = make([]float32, t.gsize)
	t.gvals = make([]*data, len(vals))
	for id, v := range vals {
		r := t.root(id)
		if p := t.paramOf[r]; p != nil {
			t.gvals[id] = &data{shape: v.shape, f: p.Grad}
			continue
		}
		if off := t.goff[r]; off >= 0 {
			n := numel(v.shape)
			t.gvals[id] = &data{shape: v.shape, f: t.gbuf[off : off+n : off+n]}
		}
	}
	t.dIns = make([][]*data, len(t.steps))
	t.dOuts = make([][]*data, len(t.steps))
	for i := range t.steps {
		if !t.bwOn[i] {
			continue
		}
		s := t.steps[i]
		var din []*data
		if s.sub != nil {
			for _, id := range t.gradIns(s) {
				var d *data
				if t.reqGrad[t.root(id)] {
					d = t.gvals[id]
				}
				din = append(din, d)
			}
		} else {
			slots := diffSlots[s.op]
			din = make([]*data, len(s.in))
			for j, id := range s.in {
				if id >= 0 && slots(j) && t.reqGrad[t.root(id)] {
					din[j] = t.gvals[id]
				}
			}
		}
		dout := make([]*data, len(s.out))
		for j, id := range s.out {
			if id >= 0 {
				dout[j] = t.gvals[id]
			}
		}
		t.dIns[i], t.dOuts[i] = din, dout
	}
	for _, st := range t.steps {
		if k, ok := st.k.(*bnTrainKernel); ok {
			t.bns = append(t.bns, k)
		}
	}
}

// bindViews points views of parameters at the parameters' storage.
func (t *Trainable) bindViews() {
	for _, id := range t.plan.aliasOfInputs {
		r := t.ws.vals[t.plan.values[id].alias]
		t.ws.vals[id].f, t.ws.vals[id].i = r.f, r.i
	}
}

// Params returns the trainable parameters in a stable order (the model's).
func (t *Trainable) Params() []*Param { return t.params }

// ZeroGrad zeroes every Param.Grad.
func (t *Trainable) ZeroGrad() {
	for _, p := range t.params {
		clear(p.Grad)
	}
}

// Inputs describes the inputs Forward takes.
func (t *Trainable) Inputs() []Value { return t.plan.Inputs() }

// Outputs describes the graph outputs Forward returns.
func (t *Trainable) Outputs() []Value { return t.plan.Outputs() }

// Forward runs the model on inputs (as Program.Run takes them) and records
// the tape for one Backward. It returns the graph outputs and the kept
// values, in fresh memory.
func (t *Trainable) Forward(ctx context.Context, inputs map[string]*tensor.Dense) (_ map[string]*tensor.Dense, err error) {
	defer t.breakSync(&err)
	p := t.plan
	t.recorded = false
	// Float inputs are copied into the Trainable's own buffers: the caller
	// may reuse its batch before Backward.
	if err := p.readInputs(inputs, func(id int, d *data) {
		if d.f != nil {
			buf := t.inBufs[id]
			if buf == nil {
				buf = make([]float32, len(d.f))
				t.inBufs[id] = buf
			}
			copy(buf, d.f)
			d.f = buf
		}
		t.ws.vals[id].f, t.ws.vals[id].i = d.f, d.i
	}); err != nil {
		return nil, err
	}
	t.bindViews()
	for _, k := range t.bns {
		k.update = t.primary
	}
	x := &exec{threads: p.threads, scratch: t.ws.scratch}
	if err := t.ws.runProgram(ctx, x, p.main); err != nil {
		return nil, err
	}
	out := make(map[string]*tensor.Dense, len(p.outputs)+len(t.keep))
	for _, id := range append(append([]int{}, p.outputs...), t.keep...) {
		out[p.values[id].name] = toDense(p.values[id], t.ws.vals[id])
	}
	t.recorded = true
	return out, nil
}

// Value returns a kept value (or a graph output) after Forward: its data
// (the Trainable's own storage, valid until the next Forward) and shape.
func (t *Trainable) Value(name string) ([]float32, []int, bool) {
	for _, id := range append(append([]int{}, t.plan.outputs...), t.keep...) {
		if v := t.plan.values[id]; v.name == name && !v.isInt() {
			return t.ws.vals[id].f, cloneInts(v.shape), true
		}
	}
	return nil, nil, false
}

// Backward propagates seeds (dLoss/dValue for graph outputs or kept values,
// flat, of the value's shape) through the tape of the last Forward and adds
// the gradients to every Param.Grad. One Backward per Forward.
func (t *Trainable) Backward(ctx context.Context, seeds map[string][]float32) (err error) {
	defer t.breakSync(&err)
	if !t.recorded {
		return fmt.Errorf("%w: Backward without a Forward before it", ErrInput)
	}
	if len(seeds) == 0 {
		return fmt.Errorf("%w: Backward: no seed", ErrInput)
	}
	for _, r := range t.early {
		clear(t.gvals[r].f)
	}
	for name, g := range seeds {
		id := -1
		for _, o := range append(append([]int{}, t.plan.outputs...), t.keep...) {
			if t.plan.values[o].name == name {
				id = o
			}
		}
		if id < 0 {
			return fmt.Errorf("%w: seed %q is neither a graph output nor a kept value", ErrInput, name)
		}
		v := t.plan.values[id]
		if len(g) != numel(v.shape) {
			return fmt.Errorf("%w: seed %q has %d elements, the value has shape %v", ErrInput, name, len(g), v.shape)
		}
		gd := t.gvals[id]
		if gd == nil {
			continue // does not depend on any trainable parameter
		}
		vecAdd(gd.f, gd.f, g) // a view of a parameter: straight into its Grad
	}
	t.recorded = false
	x := &exec{threads: t.plan.threads, scratch: t.scratch}
	taken := map[int]int{}
	for i := len(t.steps) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, r := range t.births[i] {
			clear(t.gvals[r].f)
		}
		if !t.bwOn[i] {
			continue
		}
		dout := t.dOuts[i]
		seeded := false
		for _, d := range dout {
			seeded = seeded || d != nil
		}
		if !seeded {
			continue
		}
		if !t.ran(i, taken) {
			continue
		}
		s := t.steps[i]
		if s.sub != nil {
			// The If copied its branch's outputs: their gradients are the outputs'.
			b := t.branch(i, taken)
			din := t.dIns[i][b*len(s.out) : (b+1)*len(s.out)]
			for j, d := range dout {
				if d != nil && din[j] != nil {
					vecAdd(din[j].f, din[j].f, d.f)
				}
			}
			continue
		}
		a := t.ws.args[s.id]
		s.k.(gradKernel).backward(x, a[0], a[1], dout, t.dIns[i])
	}
	return nil
}

// branch returns which of the compiled branches (index into step.sub) the
// If at flattened index i took in the last Forward, caching it in taken.
func (t *Trainable) branch(i int, taken map[int]int) int {
	if b, ok := taken[i]; ok {
		return b
	}
	s := t.steps[i]
	k := s.k.(*ifKernel)
	take := k.fixed
	if take < 0 {
		c := t.ws.vals[s.in[0]]
		if c.i != nil {
			take = int(b2i(c.i[0] != 0))
		} else {
			take = int(b2i(c.f[0] != 0))
		}
	}
	prog := k.els
	if take == 1 {
		prog = k.then
	}
	b := 0
	for j, sp := range s.sub {
		if sp == prog {
			b = j
		}
	}
	taken[i] = b
	return b
}

// ran reports whether flattened step i ran in the last Forward: every If
// branch it sits in was taken.
func (t *Trainable) ran(i int, taken map[int]int) bool {
	for _, c := range t.conds[i] {
		if t.steps[c.at].sub[t.branch(c.at, taken)] != c.prog {
			return false
		}
	}
	return true
}

// Replica returns a Trainable for another goroutine: it shares the
// parameters' values (and BatchNormalization's running statistics) with t
// and has its own gradients, tape and buffers. Only t (the primary)
// updates the running statistics in BNTrain mode, from its own batches,
// as torch's DistributedDataParallel broadcasts rank 0's buffers.
func (t *Trainable) Replica() (*Trainable, error) {
	r, err := CompileTrainable(t.model, t.opts...)
	if err != nil {
		return nil, err
	}
	r.primary = false
	for i, p := range r.params {
		p.Value = t.params[i].Value
		r.ws.vals[p.vid].f = p.Value
	}
	r.bindViews()
	for i, k := range r.bns {
		k.runMean, k.runVar = t.bns[i].runMean, t.bns[i].runVar
	}
	return r, nil
}

// WriteBack stores the parameters' values and, in BNTrain mode, the
// running statistics into m's own tensors (m must be the model the
// Trainable was compiled from, or a copy of it), each in its own data type.
// Everything else is left as it is.
func (t *Trainable) WriteBack(m *onnxio.Model) error {
	byID := map[string]*onnxio.Param{}
	for _, p := range m.Params() {
		byID[p.ID] = p
	}
	for _, p := range t.params {
		mp := byID[p.ID]
		if mp == nil {
			return fmt.Errorf("%w: WriteBack: the model has no parameter %q", ErrInput, p.ID)
		}
		if err := mp.SetFloat32(p.Value, mp.Shape()); err != nil {
			return err
		}
	}
	for _, k := range t.bns {
		for _, st := range []struct {
			id string
			v  []float32
		}{{k.meanID, k.runMean}, {k.varID, k.runVar}} {
			mp := byID[st.id]
			if mp == nil {
				return fmt.Errorf("%w: WriteBack: the model has no running statistic %q", ErrInput, st.id)
			}
			if err := mp.SetFloat32(st.v, mp.Shape()); err != nil {
				return err
			}
		}
	}
	return nil
}

// RunningStats returns, in BNTrain mode, the running mean and variance of
// every BatchNormalization by the IDs of their tensors (live storage).
func (t *Trainable) RunningStats() map[string][]float32 {
	out := map[string][]float32{}
	for _, k := range t.bns {
		out[k.meanID], out[k.varID] = k.runMean, k.runVar
	}
	return out
}
