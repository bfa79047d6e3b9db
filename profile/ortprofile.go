package profile

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/edgeprune/edgeprune/engine"
)

// ORTRun is one ONNX Runtime profiling file (enable_profiling; written by
// tools/ort/profile.js): each node's median kernel time with its shapes,
// and the median whole-run time.
type ORTRun struct {
	File  string
	Nodes []ORTNode
	RunMS float64 // median model_run
	Runs  int
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

// ReadORTProfile parses ORT's profiling JSON.
func ReadORTProfile(name string, r io.Reader) (*ORTRun, error) {
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
			runs = append(runs, e.Dur/1000)
			spans = append(spans, span{e.Ts, e.Ts + e.Dur})
		case e.Cat == "Node" && strings.HasSuffix(e.Name, "_kernel_time"):
			nodes = append(nodes, e)
		}
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
			costs[n] = ortCost(e)
		}
		ri := -1
		for i, sp := range spans {
			if e.Ts >= sp.lo && e.Ts <= sp.hi {
				ri = i
				break
			}
		}
		d := e.Dur
		if ri >= 0 && ri == prevRun && e.Ts > prevEnd {
			d += e.Ts - prevEnd
		}
		prevEnd, prevRun = e.Ts+e.Dur, ri
		times[n] = append(times[n], d/1000)
	}
	if len(runs) == 0 || len(order) == 0 {
		return nil, fmt.Errorf("%w: %s: no model_run or node events (was enable_profiling on?)", ErrInvalid, name)
	}
	run.RunMS, run.Runs = median(runs), len(runs)
	for _, n := range order {
		run.Nodes = append(run.Nodes, ORTNode{Name: n, Cost: costs[n], MS: median(times[n])})
	}
	return run, nil
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[(len(s)-1)/2]
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

// ortCost turns an ORT node event into the engine's NodeCost vocabulary
// (FLOPs: a multiply-add counts 2; fused and NCHWc ops by their base op).
func ortCost(e ortEvent) engine.NodeCost {
	op := e.Args.OpName
	switch op {
	case "FusedConv", "NhwcFusedConv":
		op = "Conv"
	case "FusedGemm":
		op = "Gemm"
	case "FusedMatMul":
		op = "MatMul"
	case "ReorderInput", "ReorderOutput":
		op = "Transpose"
	}
	n := engine.NodeCost{Name: e.Name, Op: op, Inputs: shapes(e.Args.In), Outputs: shapes(e.Args.Out)}
	var outN int64
	if len(n.Outputs) > 0 {
		outN = numel(n.Outputs[0])
	}
	switch op {
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
// and bandwidth as the roofs (only the efficiencies are identified).
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
		over = append(over, r.RunMS-sum)
		meas = append(meas, r.RunMS)
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
	c.FitRun(sums, nodes, outs, meas)
	return c
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
		meas = append(meas, runs[i].RunMS)
	}
	return Stats(pred, meas), pred
}
