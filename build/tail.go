package build

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
	"gorgonia.org/tensor"
)

// The sensitivity pass reuses cached activations: pruning one dependency
// group changes no node before the first node it touches, so the values
// that cross that point (the cut) are the original's. For each group the
// original's head (the nodes before the cut) runs once per calibration
// batch, and each of the group's levels runs only its tail (the nodes from
// the cut on) from those values.

// firstChanged is the index of the first node of pruned that differs from
// orig's node at the same index (its proto, or the dims of an initializer
// it reads), or len(nodes) when none does. Structured pruning keeps the
// node list and its order; a different node count gives 0.
func firstChanged(orig, pruned *onnx.GraphProto) int {
	on, pn := orig.GetNode(), pruned.GetNode()
	if len(on) != len(pn) {
		return 0
	}
	odims, pdims := initDims(orig), initDims(pruned)
	for i := range on {
		if !proto.Equal(on[i], pn[i]) {
			return i
		}
		for _, in := range pn[i].GetInput() {
			if !slices.Equal(odims[in], pdims[in]) {
				return i
			}
		}
	}
	return len(on)
}

func initDims(g *onnx.GraphProto) map[string][]int64 {
	d := map[string][]int64{}
	for _, t := range g.GetInitializer() {
		d[t.GetName()] = t.GetDims()
	}
	return d
}

// cutGraph splits g before node k. It returns the names of the values
// produced before k (by nodes or as graph inputs) that nodes from k on or
// the graph outputs read, in a fixed order, and ok=false when the split is
// not possible: the node list is not topologically sorted, a node has a
// subgraph, or a graph output comes from before k.
func cutGraph(g *onnx.GraphProto, k int) (cut []string, ok bool) {
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	defined := map[string]bool{"": true}
	for n := range inits {
		defined[n] = true
	}
	for _, vi := range g.GetInput() {
		defined[vi.GetName()] = true
	}
	before := map[string]bool{}
	for _, vi := range g.GetInput() {
		if !inits[vi.GetName()] {
			before[vi.GetName()] = true
		}
	}
	seen := map[string]bool{}
	for i, n := range g.GetNode() {
		if len(onnxio.Subgraphs(n)) > 0 {
			return nil, false
		}
		for _, in := range n.GetInput() {
			if !defined[in] {
				return nil, false // not topologically sorted
			}
			if i >= k && before[in] && !seen[in] {
				seen[in] = true
				cut = append(cut, in)
			}
		}
		for _, o := range n.GetOutput() {
			defined[o] = true
			if i < k && o != "" {
				before[o] = true
			}
		}
	}
	for _, o := range g.GetOutput() {
		if before[o.GetName()] {
			return nil, false
		}
	}
	return cut, true
}

// subModel is a model of nodes[lo:hi] of m's graph with the given inputs
// (element types from types) and outputs (names; types are not needed by
// the engine), keeping only the initializers those nodes read. Constant
// nodes before lo whose values are inputs are moved in, so that values the
// engine needs at compile time (shapes) stay constant.
func subModel(m *onnxio.Model, lo, hi int, inputs []string, types map[string]onnxio.DataType, outputs []string) (*onnxio.Model, []string, error) {
	g := m.Graph()
	nodes := slices.Clone(g.GetNode()[lo:hi])
	var ins []string
	consts := map[string]*onnx.NodeProto{}
	for _, n := range g.GetNode()[:lo] {
		if n.GetOpType() == "Constant" && len(n.GetOutput()) == 1 {
			consts[n.GetOutput()[0]] = n
		}
	}
	var moved []*onnx.NodeProto
	for _, in := range inputs {
		if c, ok := consts[in]; ok {
			moved = append(moved, c)
			continue
		}
		ins = append(ins, in)
	}
	nodes = append(moved, nodes...)
	read := map[string]bool{}
	for _, n := range nodes {
		for _, in := range n.GetInput() {
			read[in] = true
		}
	}
	sg := &onnx.GraphProto{Name: proto.String(g.GetName() + "_part"), Node: nodes}
	for _, t := range g.GetInitializer() {
		if read[t.GetName()] {
			sg.Initializer = append(sg.Initializer, t)
		}
	}
	for _, in := range ins {
		sg.Input = append(sg.Input, &onnx.ValueInfoProto{Name: proto.String(in), Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{
			TensorType: &onnx.TypeProto_Tensor{ElemType: proto.Int32(int32(types[in]))}}}})
	}
	for _, o := range outputs {
		sg.Output = append(sg.Output, &onnx.ValueInfoProto{Name: proto.String(o)})
	}
	mp := &onnx.ModelProto{IrVersion: m.Proto.IrVersion, OpsetImport: m.Proto.GetOpsetImport(), Graph: sg}
	sm, err := onnxio.FromProto(mp)
	return sm, ins, err
}

// tails evaluates the levels of one group on the calibration data from
// the original's cached values at the cut.
type tails struct {
	ctx     context.Context
	orig    *onnxio.Model
	batches []engine.Batch
	threads int
	types   map[string]onnxio.DataType // of every value of the original
	outName string                     // the graph's first output

	// The original's values at the last cut, per batch (cutValues): the
	// next cut at or after it runs the original's nodes from there, not
	// from the graph inputs. fromInputs turns that off (tests: the plain
	// path the cache must match).
	at         int // node index of the cut held, -1 for none
	atCut      []string
	atVals     []map[string]*tensor.Dense
	fromInputs bool
	headNodes  int // the original's nodes run for the heads (tests)

	// sequential runs the levels one after the other on all the threads,
	// not side by side (sideBySide; tests: the path it must match).
	sequential bool
}

func newTails(ctx context.Context, orig *onnxio.Model, batches []engine.Batch, threads int) (*tails, error) {
	if len(batches) == 0 {
		return nil, fmt.Errorf("build: no calibration batches")
	}
	var opts []engine.Option
	for n, t := range batches[0].Inputs {
		opts = append(opts, engine.WithInputShape(n, t.Shape()...))
	}
	p, err := engine.Compile(orig, append(opts, engine.WithThreads(threads))...)
	if err != nil {
		return nil, err
	}
	t := &tails{ctx: ctx, orig: orig, batches: batches, threads: threads, types: map[string]onnxio.DataType{}, outName: p.Outputs()[0].Name, at: -1, fromInputs: plainSensitivity, sequential: plainSensitivity}
	for _, v := range p.Report().Values {
		t.types[v.Name] = v.DType
	}
	for _, v := range p.Inputs() {
		t.types[v.Name] = v.DType
	}
	return t, nil
}

// run returns, for each model in levels (pruned variants of the original
// differing from it from node k on), the first output per calibration
// sample. ok is false when the graph cannot be split at k (the caller
// then runs whole models).
func (t *tails) run(k int, levels []*onnxio.Model) (out [][][]float32, ok bool, err error) {
	cut, ok := cutGraph(t.orig.Graph(), k)
	if !ok {
		return nil, false, nil
	}
	for _, c := range cut {
		if _, known := t.types[c]; !known {
			return nil, false, nil
		}
	}
	vals, err := t.cutValues(k, cut)
	if err != nil {
		return nil, false, err
	}
	tailModels := make([]*onnxio.Model, len(levels))
	var tailIn []string
	for i, lm := range levels {
		if tailModels[i], tailIn, err = subModel(lm, k, len(lm.Graph().GetNode()), cut, t.types, []string{t.outName}); err != nil {
			return nil, false, err
		}
	}
	// The feed of each batch: the cut's values, the non-float ones
	// (shapes and indices) as compile-time values.
	feeds := make([]map[string]*tensor.Dense, len(t.batches))
	var konst []string
	for _, n := range tailIn {
		if t.types[n] != onnxio.DataType(onnx.TensorProto_FLOAT) {
			konst = append(konst, n)
		}
	}
	for bi := range t.batches {
		feeds[bi] = map[string]*tensor.Dense{}
		for _, n := range tailIn {
			feeds[bi][n] = vals[bi][n]
		}
	}
	// One item per level and batch, batch-major. Run side by side
	// (sideBySide), each on its share of the threads; else one after the
	// other on all of them.
	workers, threads := 1, t.threads
	if !t.sequential && t.threads > 1 {
		workers = min(t.threads, len(levels)*len(t.batches))
		threads = max(1, t.threads/workers)
	}
	res := make([][][][]float32, len(levels)) // per level, per batch: the samples' outputs
	plans := make([]planCache, len(levels))
	for i := range levels {
		res[i] = make([][][]float32, len(t.batches))
	}
	item := func(j int) error {
		i, bi := j%len(levels), j/len(levels)
		p, in, err := plans[i].get(tailModels[i], feeds[bi], konst, threads)
		if err == nil {
			var r map[string]*tensor.Dense
			if r, err = p.Run(t.ctx, in); err == nil {
				res[i][bi], err = samples(r[t.outName], t.outName)
			}
		}
		if err != nil {
			return fmt.Errorf("build: level %d from node %d: %w", i, k, err)
		}
		return t.ctx.Err()
	}
	if err := sideBySide(workers, len(levels)*len(t.batches), item); err != nil {
		return nil, false, err
	}
	out = make([][][]float32, len(levels))
	for i := range levels {
		for _, b := range res[i] {
			out[i] = append(out[i], b...)
		}
	}
	return out, true, nil
}

// cutValues returns, per calibration batch, the original's values of cut
// (the values produced before node k that nodes from k on read, as
// cutGraph gives them; Constant outputs may be absent: subModel moves those
// nodes in). It runs the original's nodes from the cut it holds, when that
// is at or before k, else from the graph inputs, and then holds cut k:
// the sensitivity pass visits the groups and the layers in node order, so
// the original's nodes run about once per pass instead of once per group.
// Each node computes what it computes in the whole original, from the same
// inputs, so the values are the ones a run from the graph inputs gives.
func (t *tails) cutValues(k int, cut []string) ([]map[string]*tensor.Dense, error) {
	g := t.orig.Graph()
	src, srcVals := 0, make([]map[string]*tensor.Dense, len(t.batches))
	var srcNames []string
	if t.atVals != nil && t.at <= k && !t.fromInputs {
		src, srcVals, srcNames = t.at, t.atVals, t.atCut
	} else {
		for i, b := range t.batches {
			srcVals[i] = b.Inputs
		}
		inits := map[string]bool{}
		for _, in := range g.GetInitializer() {
			inits[in.GetName()] = true
		}
		for _, vi := range g.GetInput() {
			if !inits[vi.GetName()] {
				srcNames = append(srcNames, vi.GetName())
			}
		}
	}
	produced, read := map[string]bool{}, map[string]bool{}
	for _, n := range g.GetNode()[src:k] {
		for _, o := range n.GetOutput() {
			produced[o] = true
		}
		for _, in := range n.GetInput() {
			read[in] = true
		}
	}
	var segOut, segIn []string
	for _, c := range cut {
		if produced[c] {
			segOut = append(segOut, c)
		}
	}
	for _, c := range srcNames {
		if read[c] {
			segIn = append(segIn, c)
		}
	}
	out := make([]map[string]*tensor.Dense, len(t.batches))
	var seg *onnxio.Model
	var feedNames []string
	if len(segOut) > 0 {
		var err error
		if seg, feedNames, err = subModel(t.orig, src, k, segIn, t.types, segOut); err != nil {
			return nil, err
		}
		t.headNodes += (k - src) * len(t.batches)
	}
	// The batches side by side, as the tails (run).
	workers, threads := 1, t.threads
	if !t.sequential && t.threads > 1 && seg != nil {
		workers = min(t.threads, len(t.batches))
		threads = max(1, t.threads/workers)
	}
	plans := &planCache{}
	err := sideBySide(workers, len(t.batches), func(i int) error {
		vals := map[string]*tensor.Dense{}
		for _, c := range cut {
			if x, ok := srcVals[i][c]; ok {
				vals[c] = x
			}
		}
		if seg != nil {
			feed := map[string]*tensor.Dense{}
			var konst []string
			for _, n := range feedNames {
				x, ok := srcVals[i][n]
				if !ok {
					return fmt.Errorf("build: the original's value %q at node %d is not held", n, src)
				}
				feed[n] = x
				if src > 0 && t.types[n] != onnxio.DataType(onnx.TensorProto_FLOAT) {
					konst = append(konst, n) // as the tails take them
				}
			}
			res, err := runCached(t.ctx, seg, feed, konst, plans, threads)
			if err != nil {
				return fmt.Errorf("build: the original from node %d to node %d: %w", src, k, err)
			}
			for n, x := range res {
				vals[n] = x
			}
		}
		out[i] = vals
		return t.ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	t.at, t.atCut, t.atVals = k, cut, out
	return out, nil
}

// sideBySide runs item(0), …, item(n−1) on workers goroutines (in the
// caller's when workers is 1), each taking the next item as it finishes
// one, and returns the first error (items not yet started are then skipped).
// Running two tail models side by side on one thread each keeps both cores
// busy where the engine's two threads on one model leave them waiting on
// each other (small nodes, the barrier after each node); the engine's
// results do not depend on the thread count (each output element is
// reduced by one thread in a fixed order), so the values are the same:
// TestSensitivityShortcutsKeepTable and TestTailsHeldCutMatchesPlain
// compare them with the sequential path's bit for bit.
func sideBySide(workers, n int, item func(int) error) error {
	if workers <= 1 {
		for j := range n {
			if err := item(j); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1)) - 1
				if j >= n {
					return
				}
				if err := item(j); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(n)) // start no more
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// samples splits y (batch first) into one float slice per sample.
func samples(y *tensor.Dense, name string) ([][]float32, error) {
	f, isF := y.Data().([]float32)
	if !isF {
		return nil, fmt.Errorf("build: output %q is not float scores", name)
	}
	n := 1
	if s := y.Shape(); len(s) > 0 {
		n = s[0]
	}
	per := len(f) / max(n, 1)
	out := make([][]float32, n)
	for j := range out {
		out[j] = slices.Clone(f[j*per : (j+1)*per])
	}
	return out, nil
}

// planCache holds one model's plans by input shapes (and compile-time
// values); get may be called from several goroutines.
type planCache struct {
	mu    sync.Mutex
	plans map[string]*engine.Program
}

// get returns m's plan for inputs (compiled for their shapes and, for the
// names in konst, their values) and the inputs to run it on.
func (c *planCache) get(m *onnxio.Model, inputs map[string]*tensor.Dense, konst []string, threads int) (*engine.Program, map[string]*tensor.Dense, error) {
	var opts []engine.Option
	key := ""
	run := map[string]*tensor.Dense{}
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		x := inputs[n]
		if slices.Contains(konst, n) {
			opts = append(opts, engine.WithInputValue(n, x))
			key += fmt.Sprint(n, "=", x.Data())
			continue
		}
		opts = append(opts, engine.WithInputShape(n, x.Shape()...))
		key += fmt.Sprint(n, x.Shape())
		run[n] = x
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plans == nil {
		c.plans = map[string]*engine.Program{}
	}
	p := c.plans[key]
	if p == nil {
		var err error
		if p, err = engine.Compile(m, append(opts, engine.WithThreads(threads))...); err != nil {
			return nil, nil, err
		}
		c.plans[key] = p
	}
	return p, run, nil
}

// runCached runs m on inputs with a plan compiled for their shapes (and,
// for the names in konst, their values), kept in plans.
func runCached(ctx context.Context, m *onnxio.Model, inputs map[string]*tensor.Dense, konst []string, plans *planCache, threads int) (map[string]*tensor.Dense, error) {
	p, run, err := plans.get(m, inputs, konst, threads)
	if err != nil {
		return nil, err
	}
	return p.Run(ctx, run)
}
