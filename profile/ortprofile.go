package profile

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
)

// ORTRun is one ONNX Runtime profiling file (enable_profiling; written by
// tools/ort/profile.js): each node's median kernel time with its shapes,
// and the median whole-run time.
type ORTRun struct {
	File  string
	Nodes []ORTNode
	RunMS float64 // model_run with the profiler on, at the statistic
	Runs  int
	// Model is the ONNX file ORT ran, when known (tools/ort/profile_rounds.js
	// lists it): its graph names each node's fused activation.
	Model string
	// LatencyMS is the same model's latency in a session without the
	// profiler (what a user ships), at the statistic; 0 when not measured.
	// LatencyWallMS is the wall-clock figure beside it (LatencyMS is the
	// process's CPU time when it was measured).
	LatencyMS     float64
	LatencyWallMS float64
}

// Target is what the cost model predicts for r: its latency without the
// profiler when it was measured, else model_run with the profiler on.
func (r *ORTRun) Target() float64 {
	if r.LatencyMS > 0 {
		return r.LatencyMS
	}
	return r.RunMS
}

// ORTReadOptions say how ReadORTProfileWith reads a profile.
type ORTReadOptions struct {
	// SkipRuns drops the first runs (the warm-up runs the profile holds).
	SkipRuns int
	// Quantile is the statistic of node and run times over the runs: 0.5
	// the median (the default, and ReadORTProfile's), 0 the fastest.
	Quantile float64
	// Graph maps the model's tensor names to the op type producing them
	// (ORTGraph): ORT names a fused node after its last output, so the
	// graph tells a clipped convolution from a plain one.
	Graph map[string]string
	// Gaps adds to each node the time since the previous node of its run
	// ended (what ORT spends between kernels, the profiler's record
	// included); without it a node is its kernel's time.
	Gaps bool
}

// ORTNode is one node of an ORT profile.
type ORTNode struct {
	Name string
	Cost engine.NodeCost // op, shapes and FLOPs as the engine would count them
	MS   float64         // median kernel time
}

type ortEvent struct {
	Cat  string  `json:"cat"`
	Name string  `json:"name"`
	Ts   float64 `json:"ts"`  // µs
	Dur  float64 `json:"dur"` // µs
	Args struct {
		OpName string               `json:"op_name"`
		In     []map[string][]int64 `json:"input_type_shape"`
		Out    []map[string][]int64 `json:"output_type_shape"`
	} `json:"args"`
}

// maxORTEvents bounds a profile (a run of a large model has ~1,000 nodes).
const maxORTEvents = 5_000_000

// ReadORTProfile parses ORT's profiling JSON: each node's median kernel
// time plus the gap since the previous kernel, the median model_run.
func ReadORTProfile(name string, r io.Reader) (*ORTRun, error) {
	return ReadORTProfileWith(name, r, ORTReadOptions{Quantile: 0.5, Gaps: true})
}

// ReadORTProfileWith parses ORT's profiling JSON as o says.
func ReadORTProfileWith(name string, r io.Reader, o ORTReadOptions) (*ORTRun, error) {
	var evs []ortEvent
	if err := json.NewDecoder(io.LimitReader(r, 1<<30)).Decode(&evs); err != nil {
		return nil, fmt.Errorf("%w: %s: not an ONNX Runtime profile (a JSON list of trace events): %v", ErrInvalid, name, err)
	}
	if len(evs) > maxORTEvents {
		return nil, fmt.Errorf("%w: %s: %d events, more than %d", ErrInvalid, name, len(evs), maxORTEvents)
	}
	run := &ORTRun{File: name}
	times := map[string][]float64{}
	var order []string
	costs := map[string]engine.NodeCost{}
	var runs []float64
	type span struct{ lo, hi float64 }
	var spans []span
	var nodes []ortEvent
	for _, e := range evs {
		switch {
		case e.Cat == "Session" && e.Name == "model_run":
			spans = append(spans, span{e.Ts, e.Ts + e.Dur})
		case e.Cat == "Node" && strings.HasSuffix(e.Name, "_kernel_time"):
			nodes = append(nodes, e)
		}
	}
	slices.SortStableFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	if o.SkipRuns > 0 && len(spans) > o.SkipRuns {
		skipTo := spans[o.SkipRuns].lo
		spans = spans[o.SkipRuns:]
		nodes = slices.DeleteFunc(nodes, func(e ortEvent) bool { return e.Ts < skipTo })
	}
	for _, sp := range spans {
		runs = append(runs, (sp.hi-sp.lo)/1000)
	}
	// A node's time is its kernel's plus the gap since the previous node of
	// the same run ended: what ORT spends between kernels (dispatch, output
	// allocation, the profiler's own record) belongs to the node it
	// prepares. The first node of a run has no gap (session overhead).
	slices.SortStableFunc(nodes, func(a, b ortEvent) int { return cmp.Compare(a.Ts, b.Ts) })
	prevEnd, prevRun := 0.0, -1
	for _, e := range nodes {
		n := strings.TrimSuffix(e.Name, "_kernel_time")
		if _, ok := times[n]; !ok {
			order = append(order, n)
			costs[n] = ortCost(e, o.Graph)
		}
		ri := -1
		for i, sp := range spans {
			if e.Ts >= sp.lo && e.Ts <= sp.hi {
				ri = i
				break
			}
		}
		d := e.Dur
		if o.Gaps && ri >= 0 && ri == prevRun && e.Ts > prevEnd {
			d += e.Ts - prevEnd
		}
		prevEnd, prevRun = e.Ts+e.Dur, ri
		times[n] = append(times[n], d/1000)
	}
	if len(runs) == 0 || len(order) == 0 {
		return nil, fmt.Errorf("%w: %s: no model_run or node events (was enable_profiling on?)", ErrInvalid, name)
	}
	run.RunMS, run.Runs = Quantile(runs, o.Quantile), len(runs)
	for _, n := range order {
		run.Nodes = append(run.Nodes, ORTNode{Name: n, Cost: costs[n], MS: Quantile(times[n], o.Quantile)})
	}
	return run, nil
}

// Quantile is x's q-quantile (0 the smallest, 0.5 the median: the lower
// middle of an even count), x unsorted; 0 for none.
func Quantile(x []float64, q float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	if q == 0.5 {
		return s[(len(s)-1)/2]
	}
	return s[int(q*float64(len(s)-1)+0.5)]
}

func shapes(l []map[string][]int64) [][]int {
	var out [][]int
	for _, m := range l {
		for _, dims := range m {
			s := make([]int, len(dims))
			for i, d := range dims {
				s[i] = int(d)
			}
			out = append(out, s)
		}
	}
	return out
}

// ORTGraph maps each tensor of m's main graph to the op type of the node
// producing it (ReadORTProfileWith's Graph).
func ORTGraph(m *onnxio.Model) map[string]string {
	g := map[string]string{}
	for _, n := range m.Proto.GetGraph().GetNode() {
		for _, o := range n.GetOutput() {
			g[o] = n.GetOpType()
		}
	}
	return g
}

// ortFusedOp is the op ORT fused last into a node, from the node's name:
// ORT names a node its graph transformers made (Conv with its activation
// and a residual Add, the NCHWc layout) after the tensor it writes, plus
// "_nchwc". The graph of the model ORT ran (graph, tensor → producing op)
// says which op wrote that tensor; without it, the tensor names that
// torch's exporter writes ("/layer1/layer1.0/relu/Relu_output_0") do. ""
// when neither tells.
func ortFusedOp(name string, graph map[string]string) string {
	t := strings.TrimSuffix(strings.TrimSuffix(name, "_kernel_time"), "_nchwc")
	if graph != nil {
		if op, ok := graph[t]; ok {
			return op
		}
	}
	base := t[strings.LastIndexByte(t, '/')+1:]
	if op, _, ok := strings.Cut(base, "_output_"); ok && op != "" {
		return op
	}
	return ""
}

// ortCost turns an ORT node event into the engine's NodeCost vocabulary
// (FLOPs: a multiply-add counts 2; fused and NCHWc ops by their base op).
// A convolution's Op carries what ORT fused into it, as the engine's
// "Conv+Relu" does: the activation (from the node's name, graph as in
// ortFusedOp) and "+Sum" for a residual Add (a fourth input). With a nil
// graph and no fusion in the name, a convolution is plain "Conv".
func ortCost(e ortEvent, graph map[string]string) engine.NodeCost {
	op := e.Args.OpName
	switch op {
	case "FusedConv", "NhwcFusedConv":
		op = "Conv"
	case "FusedGemm":
		op = "Gemm"
	case "FusedMatMul":
		op = "MatMul"
	case "ReorderInput", "ReorderOutput":
		op = "Transpose+" + op // data movement, keyed apart from a Transpose
	}
	in := shapes(e.Args.In)
	if op == "Conv" && graph != nil {
		if f := ortFusedOp(e.Name, graph); f != "" && f != "Conv" && f != "Add" {
			op += "+" + f
		}
		if len(in) >= 4 {
			op += "+Sum"
		}
	}
	n := engine.NodeCost{Name: e.Name, Op: op, Inputs: in, Outputs: shapes(e.Args.Out)}
	var outN int64
	if len(n.Outputs) > 0 {
		outN = numel(n.Outputs[0])
	}
	base, _, _ := strings.Cut(op, "+")
	switch base {
	case "Conv":
		if len(n.Inputs) >= 2 && len(n.Inputs[1]) >= 2 {
			k := numel(n.Inputs[1][1:])
			n.MACs = outN * k
			n.FLOPs = 2 * n.MACs
		}
	case "Gemm", "MatMul":
		if len(n.Inputs) >= 1 && len(n.Inputs[0]) >= 1 {
			k := int64(n.Inputs[0][len(n.Inputs[0])-1])
			n.MACs = outN * k
			n.FLOPs = 2 * n.MACs
		}
	default:
		n.FLOPs = outN
	}
	return n
}

// ORTSamples are the node samples of an ORT run.
func (r *ORTRun) Samples() []NodeSample {
	var out []NodeSample
	for _, n := range r.Nodes {
		out = append(out, SampleOf(n.Cost, n.MS))
	}
	return out
}

// PredictORT predicts an ORT run's whole time with c.
func PredictORT(c *Coeffs, r *ORTRun) float64 {
	s := r.Samples()
	return c.PredictRun(PredictNodes(c, s), len(s), OutElems(s))
}

// FitORT fits the cost model to ORT runs with the profile's datasheet peak
// and bandwidth as the roofs (only the efficiencies are identified): the
// per-node model on the profiled node times, then the whole-run terms
// (Coeffs.FitRun: a scale, a cost per node and per output element, a cost
// per run) on each run's Target — its latency without the profiler where
// it was measured, so that those terms also take out what the profiler
// adds per node.
func (p *Profile) FitORT(runs []*ORTRun) *Coeffs {
	ds := p.datasheetCoeffs()
	var samples []NodeSample
	var over, meas []float64
	for _, r := range runs {
		s := r.Samples()
		sum := 0.0
		for _, x := range s {
			sum += x.MS
		}
		for i := range s {
			s[i].PlanMS = sum
		}
		samples = append(samples, s...)
		over = append(over, r.Target()-sum)
		meas = append(meas, r.Target())
	}
	c := Fit(ds.PeakGFLOPS, ds.BandwidthGBs, samples, over)
	var sums []float64
	var nodes []int
	var outs []int64
	for _, r := range runs {
		s := r.Samples()
		sums = append(sums, PredictNodes(c, s))
		nodes = append(nodes, len(s))
		outs = append(outs, OutElems(s))
	}
	c.fitRunORT(sums, nodes, outs, meas)
	return c
}

// fitRunORT is FitRun with one more term: ProfilerUS, a cost per node
// taken off (the profiler's own share of each recorded kernel time, when
// the targets are latencies without it). Non-negative least squares on the
// relative error, as FitRun; a per-node cost and a per-node deduction
// never both (their columns are the same but for the sign).
func (c *Coeffs) fitRunORT(nodeSums []float64, nodes []int, outs []int64, measured []float64) {
	var rows [][]float64
	for i := range measured {
		if measured[i] > 0 {
			n := float64(nodes[i]) / measured[i]
			rows = append(rows, []float64{nodeSums[i] / measured[i], n, -n, float64(outs[i]) / 1e6 / measured[i], 1 / measured[i]})
		}
	}
	if len(rows) < 5 {
		c.FitRun(nodeSums, nodes, outs, measured)
		return
	}
	x, _ := nnlsOnes(rows)
	if x[0] > 0 {
		c.RunScale = x[0]
		c.DispatchUS = x[1] * 1000
		c.ProfilerUS = x[2] * 1000
		c.DispatchNSPerOut = x[3]
		c.GraphOverheadUS = x[4] * 1000
	}
}

// OpNamesOnly is r as read without the model's graph: every convolution
// plain "Conv", as ORT's op names have it (what mapping the nodes back to
// the graph gains is the difference).
func (r *ORTRun) OpNamesOnly() *ORTRun {
	c := *r
	c.Nodes = slices.Clone(r.Nodes)
	for i := range c.Nodes {
		if strings.HasPrefix(c.Nodes[i].Cost.Op, "Conv+") {
			c.Nodes[i].Cost.Op = "Conv"
		}
	}
	return &c
}

// FLOPs is the sum of the run's nodes' FLOPs (as the engine counts them).
func (r *ORTRun) FLOPs() int64 {
	var f int64
	for _, n := range r.Nodes {
		f += n.Cost.FLOPs
	}
	return f
}

// ValidateORT fits on all runs but one and predicts the one left out, for
// each run (leave-one-out): the predictor's error on variants it was not
// fitted on.
func (p *Profile) ValidateORT(runs []*ORTRun) (ErrorStats, []float64) {
	var pred, meas []float64
	for i := range runs {
		rest := append(slices.Clone(runs[:i]), runs[i+1:]...)
		if len(rest) == 0 {
			break
		}
		c := p.FitORT(rest)
		pred = append(pred, PredictORT(c, runs[i]))
		meas = append(meas, runs[i].Target())
	}
	return Stats(pred, meas), pred
}
