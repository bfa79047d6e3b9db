package profile

import (
	"math"
	"slices"

	"github.com/edgeprune/edgeprune/engine"
)

// NodeSample is one node's measured time with its features.
type NodeSample struct {
	Name     string  `json:"name,omitempty"`
	Op       string  `json:"op,omitempty"`
	Class    OpClass `json:"class"`
	FLOPs    int64   `json:"flops"`
	Bytes    int64   `json:"bytes"`
	Channels int     `json:"channels,omitempty"`
	// Element counts of the linear model's terms (nodeFeatures).
	Out int64   `json:"out"`
	In  int64   `json:"in"`
	In2 int64   `json:"in2,omitempty"`
	Col int64   `json:"col,omitempty"`
	MS  float64 `json:"ms"`
	// PlanMS is the sum of the node's plan (all its nodes' MS), when known.
	PlanMS float64 `json:"-"`
}

// weightMS is what a sample's error is divided by in the fit: its plan's
// total when known, so that a node weighs by its share of the run it is
// in (what the whole-run prediction needs); else its own time.
func (s NodeSample) weightMS() float64 {
	if s.PlanMS > 0 {
		return s.PlanMS
	}
	return s.MS
}

// SampleOf is node n of a plan's report with its measured time.
func SampleOf(n engine.NodeCost, ms float64) NodeSample {
	f := features(n)
	return NodeSample{Name: n.Name, Op: n.Op, Class: f.class, FLOPs: f.flops, Bytes: f.bytes, Channels: f.channels,
		Out: f.out, In: f.in, In2: f.in2, Col: f.col, MS: ms}
}

func (s NodeSample) features() nodeFeatures {
	return nodeFeatures{class: s.Class, op: s.Op, flops: s.FLOPs, bytes: s.Bytes, channels: s.Channels, out: s.Out, in: s.In, in2: s.In2, col: s.Col}
}

// Samples pairs the nodes of a plan's report with their measured times
// (engine.Program.NodeTimes). Nodes that took no time (folded, inside an If
// branch) are skipped.
func Samples(r engine.Report, ms []float64) []NodeSample {
	var out []NodeSample
	for i, n := range r.Nodes {
		if i >= len(ms) || ms[i] <= 0 {
			continue
		}
		out = append(out, SampleOf(n, ms[i]))
	}
	return out
}

// PredictNodes is the predicted sum of the nodes' times (their features;
// MS is ignored), before the whole-run scale and overhead.
func PredictNodes(c *Coeffs, nodes []NodeSample) float64 {
	var t float64
	for _, n := range nodes {
		ms, _ := nodeMS(n.features(), c)
		t += ms
	}
	return t
}

// PredictRun turns the sum of n nodes' predictions into a whole run's:
// RunScale · sum + n · (DispatchUS − ProfilerUS) + out · DispatchNSPerOut +
// GraphOverheadUS, out the nodes' output elements.
func (c *Coeffs) PredictRun(sum float64, n int, out int64) float64 {
	return sum*c.runScale() + float64(n)*(c.DispatchUS-c.ProfilerUS)/1000 + float64(out)*c.DispatchNSPerOut/1e6 + c.GraphOverheadUS/1000
}

// dispatchMS is what a node with out output elements costs between nodes
// (less what a profiler added to its recorded time).
func (c *Coeffs) dispatchMS(out int64) float64 {
	return (c.DispatchUS-c.ProfilerUS)/1000 + float64(out)*c.DispatchNSPerOut/1e6
}

// OutElems sums the nodes' output elements (PredictRun's out).
func OutElems(nodes []NodeSample) int64 {
	var n int64
	for _, s := range nodes {
		n += s.Out
	}
	return n
}

// Fit fits each op class's linear model to the node samples: per node
//
//	t = overhead + Σ_j ns_j · x_j,   x = (FLOPs, outputs, first input, second input, im2col elements)
//
// every coefficient ≥ 0, by least squares on each node's error relative to
// its plan's total (NodeSample.PlanMS; its own time when unknown), for each
// candidate alignment of a convolution's output channels (1, 4, 8, 16; the
// smallest wins ties). Each class is fitted on all its samples and each op
// (OpKey) again on its own.
// Non-negative least squares is solved exactly: the best of the subsets of
// terms whose unconstrained solution is non-negative (2⁶ small solves).
// Nothing about the engine's kernels is assumed, so the fit follows them
// when they change (implicit or im2col GEMM, depthwise taps): re-run
// calibrate. peakGFLOPS and bandwidthGBs are kept for reports and for
// classes without samples (datasheet roofline).
//
// runOverheadMS are measured whole-run times minus the sum of their nodes;
// the smallest ≥ 0 is the graph overhead until FitRun replaces it.
func Fit(peakGFLOPS, bandwidthGBs float64, samples []NodeSample, runOverheadMS []float64) *Coeffs {
	c := &Coeffs{PeakGFLOPS: peakGFLOPS, BandwidthGBs: bandwidthGBs, Ops: DefaultOps()}
	if len(runOverheadMS) > 0 {
		o := slices.Clone(runOverheadMS)
		slices.Sort(o)
		c.GraphOverheadUS = math.Max(0, o[0]*1000)
	}
	// Each class is fitted on all its samples, and where the op has its own
	// key (OpKey), again on the op's samples alone.
	byKey := map[string][]NodeSample{}
	for _, s := range samples {
		if s.MS > 0 {
			byKey[string(s.Class)] = append(byKey[string(s.Class)], s)
			if k := OpKey(s.Class, s.Op); k != string(s.Class) {
				byKey[k] = append(byKey[k], s)
			}
		}
	}
	for key, ss := range byKey {
		class := ss[0].Class
		aligns := []int{1}
		if class == ConvKxK || class == Conv1x1 || class == ConvDW {
			aligns = []int{1, 4, 8, 16}
		}
		var best *OpCoeff
		bestErr := math.Inf(1)
		for _, a := range aligns {
			rows := make([][]float64, len(ss))
			b := make([]float64, len(ss))
			for i, s := range ss {
				d := s.weightMS()
				x := s.features().terms(a)
				r := make([]float64, NumTerms+1)
				r[0] = 1 / d
				for j := range x {
					r[j+1] = x[j] / 1e6 / d // ns per element → ms
				}
				rows[i], b[i] = r, s.MS/d
			}
			coef, err := nnls(rows, b)
			if err < bestErr*0.999 {
				bestErr = err
				best = &OpCoeff{OverheadUS: coef[0] * 1000, Align: a, Terms: coef[1:]}
			}
		}
		if best.Align == 1 {
			best.Align = 0
		}
		c.Ops[key] = best
	}
	return c
}

// nnlsOnes minimises Σ_i (rows_i · x − 1)² over x ≥ 0 and returns x and the
// residual. The columns are scaled to unit norm first; the problem is tiny
// (≤ 6 columns), so every subset of columns is tried and the best one whose
// least-squares solution is non-negative kept: that is the NNLS optimum
// (at it, the free coefficients solve least squares on their support).
func nnlsOnes(rows [][]float64) ([]float64, float64) {
	b := make([]float64, len(rows))
	for i := range b {
		b[i] = 1
	}
	return nnls(rows, b)
}

// nnls minimises Σ_i (rows_i · x − b_i)² over x ≥ 0 (see nnlsOnes).
func nnls(rows [][]float64, b []float64) ([]float64, float64) {
	if len(rows) == 0 {
		return nil, 0
	}
	n := len(rows[0])
	scale := make([]float64, n)
	for _, r := range rows {
		for j, v := range r {
			scale[j] += v * v
		}
	}
	for j := range scale {
		scale[j] = math.Sqrt(scale[j])
	}
	bestX, bestErr := make([]float64, n), 0.0 // x = 0: residual Σ b²
	for _, v := range b {
		bestErr += v * v
	}
	for mask := 1; mask < 1<<n; mask++ {
		var cols []int
		for j := 0; j < n; j++ {
			if mask&(1<<j) != 0 && scale[j] > 0 {
				cols = append(cols, j)
			}
		}
		if len(cols) == 0 || len(cols) > len(rows) {
			continue
		}
		k := len(cols)
		// Normal equations on the scaled columns.
		a := make([][]float64, k)
		for p := range a {
			a[p] = make([]float64, k+1)
		}
		for i, r := range rows {
			for p, jp := range cols {
				vp := r[jp] / scale[jp]
				for q, jq := range cols {
					a[p][q] += vp * r[jq] / scale[jq]
				}
				a[p][k] += vp * b[i]
			}
		}
		y, ok := solve(a)
		if !ok {
			continue
		}
		x := make([]float64, n)
		neg := false
		for p, j := range cols {
			if y[p] < 0 {
				neg = true
				break
			}
			x[j] = y[p] / scale[j]
		}
		if neg {
			continue
		}
		var e float64
		for i, r := range rows {
			d := -b[i]
			for j, v := range r {
				d += v * x[j]
			}
			e += d * d
		}
		if e < bestErr {
			bestX, bestErr = x, e
		}
	}
	return bestX, bestErr
}

// solve solves the k×k system in a's first k columns with right-hand side
// a[·][k] by Gaussian elimination with partial pivoting.
func solve(a [][]float64) ([]float64, bool) {
	k := len(a)
	for p := 0; p < k; p++ {
		piv := p
		for r := p + 1; r < k; r++ {
			if math.Abs(a[r][p]) > math.Abs(a[piv][p]) {
				piv = r
			}
		}
		if math.Abs(a[piv][p]) < 1e-12 {
			return nil, false
		}
		a[p], a[piv] = a[piv], a[p]
		for r := p + 1; r < k; r++ {
			f := a[r][p] / a[p][p]
			for c := p; c <= k; c++ {
				a[r][c] -= f * a[p][c]
			}
		}
	}
	y := make([]float64, k)
	for p := k - 1; p >= 0; p-- {
		s := a[p][k]
		for c := p + 1; c < k; c++ {
			s -= a[p][c] * y[c]
		}
		y[p] = s / a[p][p]
	}
	return y, true
}

// FitRun fits the whole-run correction: measured ≈ RunScale · Σ predicted
// nodes + nodes · DispatchUS + out · DispatchNSPerOut + GraphOverheadUS, all
// ≥ 0, by least squares on the relative error over whole runs (nodeSums
// from PredictNodes, the runs' node counts and output elements, measured
// whole-run times). Timing nodes one by one misses what passes between
// them: dispatching the next node, allocating and touching its outputs,
// caches warmed by the neighbour — and a profiler's own cost per node
// (ORT's model_run with enable_profiling).
func (c *Coeffs) FitRun(nodeSums []float64, nodes []int, outs []int64, measured []float64) {
	var rows [][]float64
	for i := range measured {
		if measured[i] > 0 {
			rows = append(rows, []float64{nodeSums[i] / measured[i], float64(nodes[i]) / measured[i], float64(outs[i]) / 1e6 / measured[i], 1 / measured[i]})
		}
	}
	if len(rows) < 4 {
		return
	}
	x, _ := nnlsOnes(rows)
	if x[0] > 0 {
		c.RunScale = x[0]
		c.DispatchUS = x[1] * 1000
		c.DispatchNSPerOut = x[2]
		c.GraphOverheadUS = x[3] * 1000
	}
}

// Baselines are the simple predictors the cost model is compared with.
type Baselines struct {
	// FLOPsOnly: t = a·FLOPs.
	FLOPsOnlyMSPerGFLOP float64 `json:"flops_only_ms_per_gflop"`
	// TwoParam: t = FLOPs/F + nodes·c (devices.md §3).
	TwoParamGFLOPS float64 `json:"two_param_gflops"`
	TwoParamNodeUS float64 `json:"two_param_node_us"`
}

// FitBaselines fits both baselines by least squares on the relative error
// to whole-model times (flops, nodes, ms per model).
func FitBaselines(flops []int64, nodes []int, ms []float64) Baselines {
	var b Baselines
	// FLOPs only: minimise Σ((a·f − t)/t)² → a = Σ(f/t) / Σ(f²/t²).
	var num, den float64
	for i := range ms {
		f := float64(flops[i]) / 1e9
		num += f / ms[i]
		den += f * f / (ms[i] * ms[i])
	}
	if den > 0 {
		b.FLOPsOnlyMSPerGFLOP = num / den
	}
	// Two parameters: rows (f/t, n/t) · (x, y) ≈ 1.
	var s11, s12, s22, r1, r2 float64
	for i := range ms {
		x1 := float64(flops[i]) / 1e9 / ms[i]
		x2 := float64(nodes[i]) / ms[i]
		s11 += x1 * x1
		s12 += x1 * x2
		s22 += x2 * x2
		r1 += x1
		r2 += x2
	}
	if det := s11*s22 - s12*s12; det != 0 {
		x := (r1*s22 - r2*s12) / det // ms per GFLOP
		y := (s11*r2 - s12*r1) / det // ms per node
		if x > 0 {
			b.TwoParamGFLOPS = 1000 / x
		}
		b.TwoParamNodeUS = y * 1000
	}
	return b
}

// PredictFLOPsOnly and PredictTwoParam apply the baselines.
func (b Baselines) PredictFLOPsOnly(flops int64) float64 {
	return b.FLOPsOnlyMSPerGFLOP * float64(flops) / 1e9
}

func (b Baselines) PredictTwoParam(flops int64, nodes int) float64 {
	t := float64(nodes) * b.TwoParamNodeUS / 1000
	if b.TwoParamGFLOPS > 0 {
		t += float64(flops) / 1e9 / b.TwoParamGFLOPS * 1000
	}
	return t
}

// ErrorStats are nn-Meter's measures of a predictor over variants.
type ErrorStats struct {
	N           int     `json:"n"`
	MAPE        float64 `json:"mape"`
	RMSPE       float64 `json:"rmspe"`
	Within10Pct float64 `json:"within_10pct"`
}

// Stats compares predictions with measurements.
func Stats(pred, meas []float64) ErrorStats {
	s := ErrorStats{N: len(pred)}
	if len(pred) == 0 {
		return s
	}
	for i := range pred {
		e := (pred[i] - meas[i]) / meas[i]
		s.MAPE += math.Abs(e)
		s.RMSPE += e * e
		if math.Abs(e) <= 0.1 {
			s.Within10Pct++
		}
	}
	n := float64(len(pred))
	s.MAPE /= n
	s.RMSPE = math.Sqrt(s.RMSPE / n)
	s.Within10Pct /= n
	return s
}
