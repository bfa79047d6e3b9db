package build

import (
	"context"
	"math"
	"slices"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
)

type evaluator struct {
	ctx     context.Context
	p       *profile.Profile
	co      *profile.Coeffs
	space   *Space
	threads int
	shapes  []engine.Option // Options.Shapes
}

type evaluated struct {
	choice []int
	m      *onnxio.Model
	plan   *engine.Program
	est    *profile.Estimate
	met    Metrics
}

// metricsModel builds the model of choice and predicts its costs.
func (e *evaluator) metricsModel(choice []int) (*evaluated, error) {
	m, _, err := e.space.Model(choice)
	if err != nil {
		return nil, err
	}
	plan, err := engine.Compile(m, append(slices.Clone(e.shapes), engine.WithThreads(e.p.Run.Threads))...)
	if err != nil {
		return nil, err
	}
	est := profile.PredictWith(e.co, m, plan)
	data, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	met := Metrics{LatencyMS: est.LatencyMS, ByClassMS: map[string]float64{}, RAMBytes: est.RAMBytes, WeightBytes: est.WeightBytes,
		PeakActivationBytes: est.PeakActivationBytes, FileBytes: int64(len(data)), FLOPs: est.FLOPs}
	for c, ms := range est.ByClassMS {
		met.ByClassMS[string(c)] = ms
	}
	for _, prm := range m.Params() {
		met.Params += prm.NumElements()
	}
	if err := e.space.unstructuredMetrics(choice, m, plan, &met); err != nil { // unstructured.go
		return nil, err
	}
	return &evaluated{choice: choice, m: m, plan: plan, est: est, met: met}, nil
}

// violation is how far each budget is exceeded, relative to the budget
// (0 when met); the latency budget counts at margin × budget.
func (b budgets) violation(m Metrics) (lat, ram, act, file float64) {
	rel := func(v, budget float64) float64 {
		if budget <= 0 || v <= budget {
			return 0
		}
		return (v - budget) / budget
	}
	return rel(m.LatencyMS, b.latency*b.margin), rel(float64(m.RAMBytes), b.ram), rel(float64(m.PeakActivationBytes), b.act), rel(float64(m.FileBytes), b.file)
}

func (b budgets) met(m Metrics) bool {
	l, r, a, f := b.violation(m)
	return l == 0 && r == 0 && a == 0 && f == 0
}

// metExceptLatency: every budget but latency's is met (the latency is
// then judged by measurement).
func (b budgets) metExceptLatency(m Metrics) bool {
	_, r, a, f := b.violation(m)
	return r == 0 && a == 0 && f == 0
}

// solve picks one option per group minimising the summed damage with the
// additive costs under the budgets (Lagrangian relaxation: each group
// picks argmin damage + s·Σ_k w_k·Δcost_k over the budgets the dense
// model exceeds, with w_k = 1/budget_k; s is found by bisection), then
// checks the exact model and tightens the additive targets by the ratio
// of exact to additive until it fits (≤ 5 rounds), then repairs greedily
// (NetAdapt-style: the step with the least damage per unit of violation
// removed) if it still does not. It returns the best it reached.
func (e *evaluator) solve(groups []GroupResult, dense *evaluated, b budgets) ([]int, *evaluated, int, error) {
	if b.met(dense.met) {
		return dense.choice, dense, 0, nil
	}
	lat0, ram0, act0, file0 := b.violation(dense.met)
	// Scaled targets for the additive sums (tightened each round).
	scale := [4]float64{1, 1, 1, 1}
	var best *evaluated
	rounds := 0
	for rounds = 1; rounds <= 5; rounds++ {
		pick := func(s float64) ([]int, [4]float64) {
			choice := make([]int, len(groups))
			var sum [4]float64
			for g, gr := range groups {
				bestC, bestL := 0, math.Inf(1)
				for l, o := range gr.Options {
					c := o.Damage
					if lat0 > 0 {
						c += s * o.DeltaMS / (b.latency * b.margin)
					}
					if ram0 > 0 {
						c += s * float64(o.DeltaRAM) / b.ram
					}
					if file0 > 0 {
						c += s * float64(o.DeltaFile) / b.file
					}
					if act0 > 0 {
						c += s * float64(o.DeltaRAM) / b.act // activations shrink with the channels too
					}
					if c < bestL-1e-15 {
						bestC, bestL = l, c
					}
				}
				choice[g] = bestC
				o := gr.Options[bestC]
				sum[0] += o.DeltaMS
				sum[1] += float64(o.DeltaRAM)
				sum[3] += float64(o.DeltaFile)
			}
			return choice, sum
		}
		fits := func(sum [4]float64) bool {
			ok := true
			if lat0 > 0 {
				ok = ok && dense.met.LatencyMS+sum[0] <= b.latency*b.margin*scale[0]
			}
			if ram0 > 0 {
				ok = ok && float64(dense.met.RAMBytes)+sum[1] <= b.ram*scale[1]
			}
			if file0 > 0 {
				ok = ok && float64(dense.met.FileBytes)+sum[3] <= b.file*scale[3]
			}
			return ok
		}
		lo, hi := 0.0, 1e-6
		for {
			if _, sum := pick(hi); fits(sum) || hi > 1e12 {
				break
			}
			lo, hi = hi, hi*4
		}
		for i := 0; i < 60; i++ {
			mid := (lo + hi) / 2
			if _, sum := pick(mid); fits(sum) {
				hi = mid
			} else {
				lo = mid
			}
		}
		choice, _ := pick(hi)
		ev, err := e.metricsModel(choice)
		if err != nil {
			return nil, nil, rounds, err
		}
		best = ev
		if b.met(ev.met) {
			return choice, ev, rounds, nil
		}
		l, r, _, f := b.violation(ev.met)
		scale[0] /= 1 + l
		scale[1] /= 1 + r
		scale[3] /= 1 + f
	}
	// Greedy repair: one level further on the group with the least damage
	// per relative violation removed, at most len(groups) steps.
	cur := best
	for step := 0; step < 2*len(groups) && !b.met(cur.met); step++ {
		l0, r0, a0, f0 := b.violation(cur.met)
		v0 := l0 + r0 + a0 + f0
		bestG, bestRate := -1, math.Inf(1)
		for g, gr := range groups {
			c := cur.choice[g]
			if c+1 >= len(gr.Options) {
				continue
			}
			o, n := gr.Options[c], gr.Options[c+1]
			gain := -(n.DeltaMS - o.DeltaMS) / math.Max(b.latency*b.margin, 1e-9)
			if b.latency == 0 {
				gain = -float64(n.DeltaFile-o.DeltaFile) / math.Max(b.file, 1)
			}
			if gain <= 0 {
				continue
			}
			if rate := (n.Damage - o.Damage) / gain; rate < bestRate {
				bestG, bestRate = g, rate
			}
		}
		if bestG < 0 {
			break
		}
		choice := append([]int{}, cur.choice...)
		choice[bestG]++
		ev, err := e.metricsModel(choice)
		if err != nil {
			return nil, nil, rounds, err
		}
		l, r, a, f := b.violation(ev.met)
		if l+r+a+f >= v0 {
			break
		}
		cur = ev
	}
	return cur.choice, cur, rounds, nil
}

// layers lists each weight layer of the chosen model with its predicted time.
func (e *evaluator) layers(ev *evaluated) []LayerRow {
	p := e.space.Plan(ev.choice)
	m, err := e.space.Original()
	if err != nil {
		return nil
	}
	if err := pruneApply(m, p); err != nil {
		return nil
	}
	ms := map[string]float64{}
	fl := map[string]int64{}
	for _, n := range ev.est.Nodes {
		ms[n.Name] = n.MS
		fl[n.Name] = n.FLOPs
	}
	var rows []LayerRow
	for _, l := range p.Layers {
		params := int64(1)
		for _, d := range l.ShapeAfter {
			params *= d
		}
		rows = append(rows, LayerRow{Node: l.Node, Op: l.Op, OutBefore: l.OutBefore, OutAfter: l.OutAfter, InBefore: l.InBefore, InAfter: l.InAfter,
			Params: params, FLOPs: fl[l.Node], MS: ms[l.Node]})
	}
	return e.space.unstructuredLayers(rows, ev.choice, ev.m) // unstructured.go
}
