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
	// frac[g][l][j] is the fraction of unstructured layer j's weights
	// that group g at level l keeps, the other groups dense (recorded by
	// the sensitivity pass; joint.go). Missing entries are 1.
	frac [][][]float64
	// exact, when set, stands in for metricsModel in the solver (tests).
	exact func(choice []int) (*evaluated, error)
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
// additive costs under the budgets: the knapsack of the groups (plain, or
// joint when some are unstructured layers: joint.go), solved by solveKnap.
func (e *evaluator) solve(groups []GroupResult, dense *evaluated, b budgets) ([]int, *evaluated, int, error) {
	return e.solveKnap(e.knapsackOf(groups), dense, b)
}

// exactModel builds and costs the model of choice: metricsModel, or the
// evaluator's stand-in (tests on synthetic tables).
func (e *evaluator) exactModel(choice []int) (*evaluated, error) {
	if e.exact != nil {
		return e.exact(choice)
	}
	return e.metricsModel(choice)
}

// Cost indices of a knapsack's summed costs.
const (
	costMS = iota
	costRAM
	costAct
	costFile
)

// knapsack is the additive model a solve works on: the sensitivity
// table's damages and cost deltas (against the dense model), summed.
type knapsack struct {
	// pick returns the choice minimising Σ damage + Σ_k w_k·cost_k (the
	// Lagrangian relaxation at weights w).
	pick func(w [4]float64) []int
	// sum returns the choice's summed damage and cost deltas.
	sum func(choice []int) (float64, [4]float64)
	// moves lists the choices one step further (smaller) than choice.
	moves func(choice []int) [][]int
}

// plainKnapsack: one option per group, independently (structured groups).
func plainKnapsack(groups []GroupResult) knapsack {
	cost := func(o Option) [4]float64 {
		return [4]float64{o.DeltaMS, float64(o.DeltaRAM), float64(o.DeltaRAM), float64(o.DeltaFile)} // activations shrink with the channels too
	}
	return knapsack{
		pick: func(w [4]float64) []int {
			choice := make([]int, len(groups))
			for g, gr := range groups {
				bestC, bestL := 0, math.Inf(1)
				for l, o := range gr.Options {
					c := o.Damage + dot(w, cost(o))
					if c < bestL-1e-15 {
						bestC, bestL = l, c
					}
				}
				choice[g] = bestC
			}
			return choice
		},
		sum: func(choice []int) (float64, [4]float64) {
			var d float64
			var sum [4]float64
			for g, l := range choice {
				o := groups[g].Options[l]
				d += o.Damage
				sum = add(sum, cost(o), 1)
			}
			return d, sum
		},
		moves: stepMoves(groups),
	}
}

// stepMoves is a knapsack's moves over groups: each choice one option
// further in one group.
func stepMoves(groups []GroupResult) func(choice []int) [][]int {
	return func(choice []int) [][]int {
		var out [][]int
		for g, l := range choice {
			if l+1 < len(groups[g].Options) {
				n := slices.Clone(choice)
				n[g]++
				out = append(out, n)
			}
		}
		return out
	}
}

// priceDirections lists the price vectors a solve tries: all of price
// first, then each nonempty proper subset of its nonzero entries (the
// others at 0).
func priceDirections(price [4]float64) [][4]float64 {
	var on []int
	for i, p := range price {
		if p > 0 {
			on = append(on, i)
		}
	}
	out := [][4]float64{price}
	for mask := 1; mask < 1<<len(on)-1; mask++ {
		var d [4]float64
		for j, i := range on {
			if mask&(1<<j) != 0 {
				d[i] = price[i]
			}
		}
		out = append(out, d)
	}
	return out
}

func dot(a, b [4]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] + a[3]*b[3] }

func add(a, b [4]float64, f float64) [4]float64 {
	for i := range a {
		a[i] += f * b[i]
	}
	return a
}

// solveKnap solves knapsack k under the budgets (Lagrangian relaxation:
// the choice minimising damage + s·Σ_k Δcost_k/budget_k over the budgets
// the dense model exceeds, s found by bisection), then checks the exact
// model and tightens the additive targets by the ratio of exact to
// additive until it fits (≤ 5 rounds), then repairs greedily
// (NetAdapt-style: the step with the least damage per unit of violation
// removed) if it still does not. It returns the best it reached.
func (e *evaluator) solveKnap(k knapsack, dense *evaluated, b budgets) ([]int, *evaluated, int, error) {
	if b.met(dense.met) {
		return dense.choice, dense, 0, nil
	}
	lat0, ram0, act0, file0 := b.violation(dense.met)
	// Scaled targets for the additive sums (tightened each round).
	scale := [4]float64{1, 1, 1, 1}
	// The prices of the budgets the dense model exceeds (1/budget each);
	// a direction prices a subset of them.
	var price [4]float64
	if lat0 > 0 {
		price[costMS] = 1 / (b.latency * b.margin)
	}
	if ram0 > 0 {
		price[costRAM] = 1 / b.ram
	}
	if act0 > 0 {
		price[costAct] = 1 / b.act
	}
	if file0 > 0 {
		price[costFile] = 1 / b.file
	}
	directions := priceDirections(price)
	for i := range directions {
		directions[i][costAct] = price[costAct] // not checked by fits below: always priced
	}
	var best *evaluated
	rounds := 0
	for rounds = 1; rounds <= 5; rounds++ {
		fits := func(choice []int) bool {
			_, sum := k.sum(choice)
			ok := true
			if lat0 > 0 {
				ok = ok && dense.met.LatencyMS+sum[costMS] <= b.latency*b.margin*scale[0]
			}
			if ram0 > 0 {
				ok = ok && float64(dense.met.RAMBytes)+sum[costRAM] <= b.ram*scale[1]
			}
			if file0 > 0 {
				ok = ok && float64(dense.met.FileBytes)+sum[costFile] <= b.file*scale[3]
			}
			return ok
		}
		// One multiplier s over every exceeded budget, found by bisection,
		// pays for whichever budget is easier to meet beyond its need; so
		// each subset of the exceeded budgets is tried as the priced one
		// (the others must still fit) and the least additive damage kept.
		var choice []int
		bestD := math.Inf(1)
		for _, dir := range directions {
			weights := func(s float64) [4]float64 {
				var w [4]float64
				for i := range w {
					w[i] = s * dir[i]
				}
				return w
			}
			lo, hi := 0.0, 1e-6
			for {
				if fits(k.pick(weights(hi))) || hi > 1e12 {
					break
				}
				lo, hi = hi, hi*4
			}
			for i := 0; i < 60; i++ {
				mid := (lo + hi) / 2
				if fits(k.pick(weights(mid))) {
					hi = mid
				} else {
					lo = mid
				}
			}
			c := k.pick(weights(hi))
			if !fits(c) && choice != nil {
				continue
			}
			if d, _ := k.sum(c); d < bestD || choice == nil || (!fits(choice) && fits(c)) {
				choice, bestD = c, d
			}
		}
		ev, err := e.exactModel(choice)
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
	// Greedy repair: the move one step further with the least damage per
	// relative violation removed (by the additive model), while the exact
	// violation shrinks.
	cur := best
	for step := 0; step < 2*len(cur.choice) && !b.met(cur.met); step++ {
		l0, r0, a0, f0 := b.violation(cur.met)
		v0 := l0 + r0 + a0 + f0
		d0, c0 := k.sum(cur.choice)
		var bestMove []int
		bestRate := math.Inf(1)
		for _, n := range k.moves(cur.choice) {
			d1, c1 := k.sum(n)
			gain := -(c1[costMS] - c0[costMS]) / math.Max(b.latency*b.margin, 1e-9)
			if b.latency == 0 {
				gain = -(c1[costFile] - c0[costFile]) / math.Max(b.file, 1)
			}
			if gain <= 0 {
				continue
			}
			if rate := (d1 - d0) / gain; rate < bestRate {
				bestMove, bestRate = n, rate
			}
		}
		if bestMove == nil {
			break
		}
		ev, err := e.exactModel(bestMove)
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
