package profile

import (
	"math"
	"slices"

	"github.com/edgeprune/edgeprune/engine"
)

// NodeSample is one node's measured time with its features.
type NodeSample struct {
	Class    OpClass
	FLOPs    int64
	Bytes    int64
	Channels int
	MS       float64
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
		f := features(n)
		out = append(out, NodeSample{Class: f.class, FLOPs: f.flops, Bytes: f.bytes, Channels: f.channels, MS: ms[i]})
	}
	return out
}

// Fit fits each op class's efficiency, overhead and (for convolutions)
// channel alignment to the node samples by least squares on the relative
// error, with peak GFLOP/s and bandwidth fixed from the microbenchmarks
// (only their product with the efficiency is identified). runOverheadMS are
// measured whole-run times minus the sum of their nodes; their median is
// the graph overhead.
//
// Besides the efficiency, each class fits a bandwidth factor (0.25× to 16×
// the copy microbenchmark): the activations of most nodes stay in cache.
// The graph overhead is the smallest run overhead (a shared machine only
// ever adds to it).
//
// For each class and alignment, a grid over the efficiency (log-spaced,
// 0.2% to 300% of peak) is searched and the overhead solved in closed
// form: with m_i = max(F_i/(P·e), B_i/bw), minimising Σ((o + m_i − t_i)/t_i)²
// gives o = Σ (t_i − m_i)/t_i² / Σ 1/t_i², clamped at 0.
func Fit(peakGFLOPS, bandwidthGBs float64, samples []NodeSample, runOverheadMS []float64) *Coeffs {
	c := &Coeffs{PeakGFLOPS: peakGFLOPS, BandwidthGBs: bandwidthGBs, Ops: DefaultOps()}
	if len(runOverheadMS) > 0 {
		o := slices.Clone(runOverheadMS)
		slices.Sort(o)
		c.GraphOverheadUS = math.Max(0, o[0]*1000)
	}
	byClass := map[OpClass][]NodeSample{}
	for _, s := range samples {
		byClass[s.Class] = append(byClass[s.Class], s)
	}
	for class, ss := range byClass {
		aligns := []int{1}
		if class == ConvKxK || class == Conv1x1 || class == ConvDW {
			aligns = []int{1, 4, 8, 16}
		}
		best, bestErr := &OpCoeff{}, math.Inf(1)
		for _, a := range aligns {
			for i := 0; i <= 120; i++ {
				for k := 0; k <= 24; k++ {
					e := 0.002 * math.Pow(1500, float64(i)/120) // 0.002 … 3
					bwf := 0.25 * math.Pow(64, float64(k)/24)   // 0.25 … 16
					oc := &OpCoeff{Eff: e, Align: a, BW: bwf}
					tmp := &Coeffs{PeakGFLOPS: peakGFLOPS, BandwidthGBs: bandwidthGBs, Ops: map[string]*OpCoeff{string(class): oc}}
					var num, den float64
					m := make([]float64, len(ss))
					for j, s := range ss {
						m[j], _ = nodeMS(nodeFeatures{class: class, flops: s.FLOPs, bytes: s.Bytes, channels: s.Channels}, tmp)
						w := 1 / (s.MS * s.MS)
						num += (s.MS - m[j]) * w
						den += w
					}
					o := math.Max(0, num/den)
					var err float64
					for j, s := range ss {
						r := (o + m[j] - s.MS) / s.MS
						err += r * r
					}
					if err < bestErr*0.999 { // prefer the smaller alignment on ties
						bestErr = err
						best = &OpCoeff{Eff: e, OverheadUS: o * 1000, Align: a, BW: bwf}
					}
				}
			}
		}
		if best.Align == 1 {
			best.Align = 0
		}
		c.Ops[string(class)] = best
	}
	return c
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
	s := stats(pred, meas)
	return ErrorStats{N: len(pred), MAPE: s.mape, RMSPE: s.rmspe, Within10Pct: s.within10}
}
