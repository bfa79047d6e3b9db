package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// The rules that pick a Conv's path (rulePath) compare panel fills and
// costs whose weights were measured on one machine (AMD Zen 5, AVX-512);
// another microarchitecture, or another thread count, may rank the paths
// otherwise. CalibrateConvPaths measures instead: it compiles the model
// once with the rules' paths and once per path with every Conv that can
// take it on it, times every node of these plans at the plan's threads in
// alternated rounds, and keeps per Conv the fastest of its paths when it
// beats the rules' by pathMargin. A path changes the sums' rounding only
// (op_conv_path.go), never which nodes run.

// ConvPathReport is what CalibrateConvPaths measured.
type ConvPathReport struct {
	Rounds int `json:"rounds"`
	Runs   int `json:"runs"`
	// Medians of the whole model, in ms, with the rules' paths and with
	// the per-node choice; Kept says the choice was kept (it was not
	// slower), else the record holds the rules' paths.
	RuleMS   float64        `json:"rule_ms"`
	ChosenMS float64        `json:"chosen_ms"`
	Kept     bool           `json:"kept"`
	Nodes    []ConvPathNode `json:"nodes"`
}

// ConvPathNode is one Conv in a ConvPathReport: the rules' path, the one
// chosen, and the median time of the node on every path it was timed on,
// in µs (with, on every path, the nodes that another path fuses into it:
// a residual Add the linear path leaves apart).
type ConvPathNode struct {
	Name   string             `json:"name"`
	Rule   string             `json:"rule"`
	Chosen string             `json:"chosen"`
	US     map[string]float64 `json:"us"`
}

// pathMargin is how much faster than the rules' path another path must be,
// on a node's median, to be chosen: less is within the noise of a node's
// time on a loaded machine.
const pathMargin = 0.05

// pathMinSave is the least time, per run, another path must save on a
// node to be chosen: below it (nodes of a few µs, where a path's gain is
// a few hundred ns) the choice would follow the noise and buy nothing.
const pathMinSave = 2 * time.Microsecond

// withAllPaths asks every Conv for path p (those that cannot take it keep
// the rules').
func withAllPaths(p string) Option {
	return func(c *config) error { c.pathsAll = p; return nil }
}

// withPaths asks the Convs named in paths for their path.
func withPaths(paths map[string]string) Option {
	return func(c *config) error { c.convPaths = paths; return nil }
}

// CalibrateConvPaths compiles m with opts (which fix the plan: shapes,
// threads, sparsity) and measures on inputs (nil: RandomInputs) which path
// each Conv runs fastest on, as the package comment above says: rounds
// alternated rounds of runs timed runs of every plan. It returns the plan
// compiled with the choice (or with the rules' paths, when the choice was
// not faster on the whole model) and the measurement. The plan's per-node
// threads are the cost model's; CalibrateThreads may then measure them on
// it. A tune record made from that plan (CalibrateThreads' ThreadChoice)
// holds every Conv's path, for WithTuneRecord. It holds every plan it
// times at once (up to one per path and the rules', each with its packed
// weights): on a device short of memory, measure the threads alone.
func CalibrateConvPaths(ctx context.Context, m *onnxio.Model, opts []Option, inputs map[string]*tensor.Dense, rounds, runs int) (*Program, ConvPathReport, error) {
	rep := ConvPathReport{Rounds: rounds, Runs: runs}
	if rounds < 1 || runs < 1 {
		return nil, rep, fmt.Errorf("engine: CalibrateConvPaths: rounds %d, runs %d: must be ≥ 1", rounds, runs)
	}
	opts = slices.Clip(opts)
	rule, err := Compile(m, opts...)
	if err != nil {
		return nil, rep, err
	}
	if inputs == nil {
		inputs = RandomInputs(rule)
	}
	ruleSteps := rule.pathSteps()
	plans := []*Program{rule}
	forced := []string{""}
	for _, p := range ConvPaths {
		v, err := Compile(m, append(opts, withAllPaths(p))...)
		if err != nil {
			return nil, rep, err
		}
		vs := v.pathSteps()
		// Only a plan where some Conv left the rules' path for p is timed.
		if slices.ContainsFunc(vs, func(s pathStep) bool {
			i := slices.IndexFunc(ruleSteps, func(r pathStep) bool { return r.name == s.name })
			return s.path == p && i >= 0 && ruleSteps[i].path != p
		}) {
			plans = append(plans, v)
			forced = append(forced, p)
		}
	}
	// Every node of every plan, alternated rounds; per node the median
	// over rounds of each round's median.
	samples := make([][][]time.Duration, len(plans))
	for range rounds {
		for i, p := range plans {
			t, _, err := p.NodeTimes(ctx, inputs, 1, runs, 0.5)
			if err != nil {
				return nil, rep, err
			}
			if samples[i] == nil {
				samples[i] = make([][]time.Duration, len(t))
			}
			for j := range t {
				samples[i][j] = append(samples[i][j], t[j])
			}
		}
	}
	timed := make([][]pathStep, len(plans))
	for i, p := range plans {
		timed[i] = p.pathSteps()
		for j := range timed[i] {
			timed[i][j].t = median(samples[i][j])
		}
	}
	choice, nodes := choosePaths(timed, forced)
	rep.Nodes = nodes
	chosen, err := Compile(m, append(opts, withPaths(choice))...)
	if err != nil {
		return nil, rep, err
	}
	// The whole model, the rules' plan and the choice alternated.
	var tr, tc []time.Duration
	for range rounds {
		for i, p := range []*Program{rule, chosen} {
			_, tot, err := p.NodeTimes(ctx, inputs, 1, runs, 0.5)
			if err != nil {
				return nil, rep, err
			}
			if i == 0 {
				tr = append(tr, tot)
			} else {
				tc = append(tc, tot)
			}
		}
	}
	rep.RuleMS, rep.ChosenMS = ms(median(tr)), ms(median(tc))
	rep.Kept = median(tc) <= median(tr)
	if !rep.Kept {
		return rule, rep, nil
	}
	return chosen, rep, nil
}

// pathStep is one node of a plan as choosePaths sees it: its name, its
// Conv path ("" for another node) and its time.
type pathStep struct {
	name, path string
	t          time.Duration
}

// pathSteps lists the plan's nodes in Report().Nodes order.
func (p *Program) pathSteps() []pathStep {
	out := make([]pathStep, p.nsteps)
	p.eachStep(func(s *step) {
		out[s.id].name = s.name
		if ck, ok := s.k.(*convKernel); ok {
			out[s.id].path = ck.path()
		}
	})
	return out
}

// choosePaths is CalibrateConvPaths' decision, apart from the clock.
// plans[0] is the rules' plan, plans[i] the plan that asked every Conv for
// forced[i]. A node's time on a plan includes the nodes after it that are
// not in every plan (fused into it on another path: a path's fusion is
// part of its cost). Per Conv of plans[0] with a path, the candidates are
// the rules' path (timed on plans[0]) and forced[i] where plans[i] ran it
// there; the fastest is chosen if it beats the rules' by pathMargin and
// pathMinSave. It
// returns the chosen path of every such Conv and what it compared.
func choosePaths(plans [][]pathStep, forced []string) (map[string]string, []ConvPathNode) {
	common := map[string]int{}
	for _, pl := range plans {
		for _, s := range pl {
			common[s.name]++
		}
	}
	units := make([]map[string]time.Duration, len(plans))
	paths := make([]map[string]string, len(plans))
	for i, pl := range plans {
		units[i], paths[i] = map[string]time.Duration{}, map[string]string{}
		last := ""
		for _, s := range pl {
			if common[s.name] == len(plans) {
				last = s.name
				units[i][last] += s.t
				paths[i][last] = s.path
			} else if last != "" {
				units[i][last] += s.t
			}
		}
	}
	choice := map[string]string{}
	var nodes []ConvPathNode
	for _, s := range plans[0] {
		if s.path == "" || common[s.name] != len(plans) {
			continue
		}
		n := ConvPathNode{Name: s.name, Rule: s.path, Chosen: s.path, US: map[string]float64{s.path: us(units[0][s.name])}}
		best, bt := s.path, units[0][s.name]
		for i := 1; i < len(plans); i++ {
			if forced[i] == s.path || paths[i][s.name] != forced[i] {
				continue
			}
			t := units[i][s.name]
			n.US[forced[i]] = us(t)
			if t < bt {
				best, bt = forced[i], t
			}
		}
		if t0 := units[0][s.name]; best != s.path && float64(bt) <= float64(t0)*(1-pathMargin) && t0-bt >= pathMinSave {
			n.Chosen = best
		}
		choice[s.name] = n.Chosen
		nodes = append(nodes, n)
	}
	return choice, nodes
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
