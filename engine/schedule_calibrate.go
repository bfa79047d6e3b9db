package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"gorgonia.org/tensor"
)

// The cost model (schedule.go) predicts a node's time from its size; what
// it cannot see is where the node's data is. A node that runs on two
// cores reads the half of its input that the other core wrote (or the
// whole of it, when its producer ran on that core alone), and on a machine
// whose cores hand a cache line over in hundreds of nanoseconds that
// traffic costs more than the second core saves: on the 2-vCPU EPYC of
// docs/benchmarks.md ("Threads", session 7) every element-wise node, Resize
// and Concat of PP-OCR det and most of mobilenet_v2's 1×1 projections ran
// slower on 2 goroutines than on one. CalibrateThreads measures instead of
// predicting: it times every node with the plan on one goroutine and on
// the cost model's choice, keeps per node the faster, and checks the
// result on the whole model, so that a calibrated plan is not slower than
// its 1-thread plan where it was measured. The choice only moves work
// between goroutines: outputs are bitwise the same (TestThreadsBitwise).

// ThreadChoice is a plan's per-node thread counts as CalibrateThreads
// measured them, in the form edgeprune caches: the nodes are named so that
// a choice is applied only to the plan it was measured on.
type ThreadChoice struct {
	CPU     string       `json:"cpu"`
	GOARCH  string       `json:"goarch"`
	Threads int          `json:"threads"` // the plan's threads
	Nodes   []NodeThread `json:"nodes"`   // Report().Nodes order
	// Medians of the whole model's time in the final check, in ms: on one
	// goroutine, on the cost model's choice, and on this choice.
	OneMS    float64 `json:"one_ms"`
	ModelMS  float64 `json:"model_ms"`
	ChosenMS float64 `json:"chosen_ms"`
	// Candidates are every plan timed on the whole model, the 1-thread
	// plan and the cost model's first, then every node on N when that is
	// not the cost model's.
	Candidates []ThreadCandidate `json:"candidates,omitempty"`
	// ConvPaths, when the record's Conv paths were measured, is that
	// measurement (CalibrateConvPaths).
	ConvPaths *ConvPathReport `json:"conv_paths,omitempty"`
}

// ThreadCandidate is one plan CalibrateThreads timed on the whole model.
type ThreadCandidate struct {
	// PenaltyUS is the switch penalty the plan was derived with (µs; the
	// smallest that gives it), -1 for the uniform and cost-model plans.
	PenaltyUS float64 `json:"penalty_us"`
	OnN       int     `json:"nodes_on_n"` // nodes on more than one goroutine
	MS        float64 `json:"ms"`         // median of the whole model
}

// NodeThread is one node's entry in a ThreadChoice.
type NodeThread struct {
	Name    string `json:"name"`
	Op      string `json:"op"`
	Threads int    `json:"threads"`
	// Path is a Conv's path (ConvPaths) in the plan measured; "" for
	// other nodes and Convs whose path is not chosen (sparse, weights
	// computed at run time). WithTuneRecord compiles each Conv on it.
	Path string `json:"path,omitempty"`
}

// NodeThreads returns every node's thread count, in Report().Nodes order.
func (p *Program) NodeThreads() []int {
	out := make([]int, p.nsteps)
	p.eachStep(func(s *step) { out[s.id] = s.threads })
	return out
}

// SetNodeThreads sets every node's thread count (Report().Nodes order),
// each in [1, the plan's threads]; an If node keeps the plan's threads
// (its branch's nodes choose). It must not be called while the plan runs.
func (p *Program) SetNodeThreads(n []int) error {
	if len(n) != p.nsteps {
		return fmt.Errorf("engine: SetNodeThreads: %d counts for %d nodes", len(n), p.nsteps)
	}
	for i, t := range n {
		if t < 1 || t > p.threads {
			return fmt.Errorf("engine: SetNodeThreads: node %d: %d threads, must be in [1, %d]", i, t, p.threads)
		}
	}
	p.eachStep(func(s *step) {
		if s.sub == nil {
			s.threads = n[s.id]
		}
	})
	p.resetAdapt()
	return nil
}

func (p *Program) eachStep(f func(s *step)) {
	var walk func(pr *program)
	walk = func(pr *program) {
		for i := range pr.steps {
			f(&pr.steps[i])
			for _, sub := range pr.steps[i].sub {
				walk(sub)
			}
		}
	}
	walk(p.main)
}

// ErrThreadChoiceOtherPlan: a ThreadChoice (tune record) measured on
// another plan (other nodes, another thread count, other Conv paths) or
// another machine.
var ErrThreadChoiceOtherPlan = errors.New("engine: tune record measured on another plan or machine")

// checkMachine reports a record measured on another machine, or for a
// plan of other threads than threads.
func (c *ThreadChoice) checkMachine(threads int) error {
	if c.CPU != cpuModel() || c.GOARCH != runtime.GOARCH {
		return fmt.Errorf("%w: measured on %s %s, this is %s %s", ErrThreadChoiceOtherPlan, c.CPU, c.GOARCH, cpuModel(), runtime.GOARCH)
	}
	if c.Threads != threads {
		return fmt.Errorf("%w: measured at %d threads, the plan has %d", ErrThreadChoiceOtherPlan, c.Threads, threads)
	}
	return nil
}

// ApplyThreadChoice sets the plan's per-node threads to c's, after checking
// that c was measured on this machine for a plan with the same nodes
// (names and ops), threads and Conv paths (a plan compiled with
// WithTuneRecord(c) has them; Compile calls this).
func (p *Program) ApplyThreadChoice(c ThreadChoice) error {
	if err := c.checkMachine(p.threads); err != nil {
		return err
	}
	if len(c.Nodes) != p.nsteps {
		return fmt.Errorf("%w: %d nodes, the plan has %d (the model or its compilation changed)", ErrThreadChoiceOtherPlan, len(c.Nodes), p.nsteps)
	}
	n := make([]int, p.nsteps)
	var err error
	p.eachStep(func(s *step) {
		e := c.Nodes[s.id]
		if err == nil && (e.Name != s.name || e.Op != s.op) {
			err = fmt.Errorf("%w: node %d is %s %q, the record has %s %q", ErrThreadChoiceOtherPlan, s.id, s.op, s.name, e.Op, e.Name)
		}
		if ck, ok := s.k.(*convKernel); ok && err == nil && e.Path != "" && ck.path() != e.Path {
			err = fmt.Errorf("%w: Conv %q runs on path %q, the record has %q (compile with WithTuneRecord; a path the node cannot take is not used)", ErrThreadChoiceOtherPlan, s.name, ck.path(), e.Path)
		}
		n[s.id] = e.Threads
	})
	if err != nil {
		return err
	}
	return p.SetNodeThreads(n)
}

// CalibrateThreads measures on inputs which nodes pay for running on more
// than one goroutine, sets the plan's per-node threads to the measured
// choice and returns it. Choosing per node alone is not enough: where a
// node on one goroutine sits between nodes on N, its input comes from both
// cores and its output goes back to both, and the helper may have parked
// in between (measured on PP-OCR det: such a mixed plan ran 20% slower
// than both uniform ones). So it times every node in the plan on one
// goroutine and on the cost model's choice (alternated rounds of runs
// timed runs, per-node medians), derives from these one plan per switch
// penalty (switchPenalties: the fastest per-node plan that pays the
// penalty for every change between 1 and N along the run), and times these
// plans, the 1-thread plan, the cost model's and the plan of every node on
// N (which the cost model's may not be: on a machine whose cores hand data
// over cheaply, a small node between two nodes on N is faster on N too)
// on the whole model,
// keeping the fastest median (the 1-thread plan unless another is at least
// keepMargin faster). It takes about (2 + candidates)·rounds·runs
// runs of the model. A plan of one thread is returned unchanged.
func (p *Program) CalibrateThreads(ctx context.Context, inputs map[string]*tensor.Dense, rounds, runs int) (ThreadChoice, error) {
	if rounds < 1 || runs < 1 {
		return ThreadChoice{}, fmt.Errorf("engine: CalibrateThreads: rounds %d, runs %d: must be ≥ 1", rounds, runs)
	}
	c := ThreadChoice{CPU: cpuModel(), GOARCH: runtime.GOARCH, Threads: p.threads}
	if p.threads > 1 {
		measure := func(n []int) ([]time.Duration, time.Duration, error) {
			if err := p.SetNodeThreads(n); err != nil {
				return nil, 0, err
			}
			return p.NodeTimes(ctx, inputs, 1, runs, 0.5)
		}
		model := p.NodeThreads()
		r, err := calibrate(model, p.threads, rounds, measure)
		if err != nil {
			p.SetNodeThreads(model)
			return ThreadChoice{}, err
		}
		if err := p.SetNodeThreads(r.choice); err != nil {
			return ThreadChoice{}, err
		}
		c.OneMS, c.ModelMS, c.ChosenMS = ms(r.one), ms(r.model), ms(r.chosen)
		for i, pl := range r.cands {
			tc := ThreadCandidate{PenaltyUS: r.penalty[i], MS: ms(r.times[i])}
			for _, t := range pl {
				if t > 1 {
					tc.OnN++
				}
			}
			c.Candidates = append(c.Candidates, tc)
		}
	}
	c.Nodes = p.recordNodes()
	return c, nil
}

// recordNodes is every node of the plan as a tune record holds it: name,
// op, threads and Conv path.
func (p *Program) recordNodes() []NodeThread {
	var out []NodeThread
	p.eachStep(func(s *step) {
		nt := NodeThread{Name: s.name, Op: s.op, Threads: s.threads}
		if ck, ok := s.k.(*convKernel); ok {
			nt.Path = ck.path()
		}
		out = append(out, nt)
	})
	return out
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// switchPenalties are the costs, in µs, charged per change between one
// goroutine and N along a plan's steps when the candidate plans are
// derived from the per-node times (switchPlan); the whole-model timing
// picks among them. 0 is the per-node best; a penalty above any node's
// saving gives a uniform plan.
var switchPenalties = []float64{0, 10, 30, 100, 300, 1000}

// keepMargin is how much faster than the 1-thread plan, on the whole
// model, another plan must be to be kept: less is within the noise of a
// loaded machine, and one goroutine leaves the other core to the rest of
// it.
const keepMargin = 0.03

// calibration is calibrate's result: the choice and the whole model's
// median times on one goroutine, the cost model's choice and the choice.
type calibration struct {
	choice             []int
	one, model, chosen time.Duration
	// Every plan timed on the whole model, the penalty it came from (-1
	// for the uniform ones and the cost model's) and its median.
	cands   [][]int
	penalty []float64
	times   []time.Duration
}

// calibrate is CalibrateThreads' decision, apart from the clock: measure
// runs the plan with the given per-node threads and returns each node's
// time and the whole run's. model is the cost model's choice in a plan of
// threads goroutines; the per-node plans keep the nodes it keeps on one
// goroutine there, and the plan of every node on threads is a candidate
// of its own.
func calibrate(model []int, threads, rounds int, measure func([]int) ([]time.Duration, time.Duration, error)) (calibration, error) {
	one := make([]int, len(model))
	all := make([]int, len(model))
	for i := range one {
		one[i], all[i] = 1, threads
	}
	// Per node and per plan, the median over rounds of each round's
	// median; plans alternate so that a change of load hits all alike.
	medians := func(plans ...[]int) ([][]time.Duration, []time.Duration, error) {
		node := make([][][]time.Duration, len(plans)) // plan, node, round
		total := make([][]time.Duration, len(plans))
		for i := range plans {
			node[i] = make([][]time.Duration, len(model))
		}
		for range rounds {
			for i, pl := range plans {
				t, tot, err := measure(pl)
				if err != nil {
					return nil, nil, err
				}
				for j := range model {
					node[i][j] = append(node[i][j], t[j])
				}
				total[i] = append(total[i], tot)
			}
		}
		nm := make([][]time.Duration, len(plans))
		tm := make([]time.Duration, len(plans))
		for i := range plans {
			nm[i] = make([]time.Duration, len(model))
			for j := range model {
				nm[i][j] = median(node[i][j])
			}
			tm[i] = median(total[i])
		}
		return nm, tm, nil
	}
	nm, _, err := medians(one, model)
	if err != nil {
		return calibration{}, err
	}
	// The candidates: the uniform plan on one goroutine, the cost model's,
	// the uniform plan on N, then one per penalty.
	cands := [][]int{one, slices.Clone(model)}
	penalty := []float64{-1, -1}
	if !slices.Equal(all, model) {
		cands = append(cands, all)
		penalty = append(penalty, -1)
	}
	for _, pen := range switchPenalties {
		c := switchPlan(model, nm[0], nm[1], time.Duration(pen*1e3))
		if !slices.ContainsFunc(cands, func(x []int) bool { return slices.Equal(x, c) }) {
			cands = append(cands, c)
			penalty = append(penalty, pen)
		}
	}
	_, tm, err := medians(cands...)
	if err != nil {
		return calibration{}, err
	}
	// The fastest median; the 1-thread plan unless another beats it by
	// keepMargin.
	best := 0
	for i := range cands {
		if float64(tm[i]) < float64(tm[0])*(1-keepMargin) && tm[i] < tm[best] {
			best = i
		}
	}
	return calibration{choice: cands[best], one: tm[0], model: tm[1], chosen: tm[best],
		cands: cands, penalty: penalty, times: tm}, nil
}

// switchPlan is the plan that minimises, over the steps in order, the sum
// of each node's time — t1 on one goroutine, tn on model's N — plus pen
// for every change between 1 and N (a dynamic programme over the two
// states). Nodes the cost model keeps on one goroutine, and nodes not
// timed (an If branch's), keep the model's choice and do not count as a
// change: they are short, and run in whichever state is around them.
func switchPlan(model []int, t1, tn []time.Duration, pen time.Duration) []int {
	type state struct {
		cost time.Duration
		ones []int // the free nodes put on one goroutine so far
	}
	// st[0]: the last free node on one goroutine, st[1]: on N. The first
	// free node starts either way at no charge.
	var st [2]state
	first := true
	for j := range model {
		if model[j] <= 1 || t1[j] == 0 && tn[j] == 0 {
			continue
		}
		var next [2]state
		for s, t := range [2]time.Duration{t1[j], tn[j]} {
			prev := s
			if !first && st[1-s].cost+pen < st[s].cost {
				prev = 1 - s
			}
			c := st[prev].cost + t
			if prev != s {
				c += pen
			}
			ones := st[prev].ones
			if s == 0 {
				ones = append(slices.Clone(ones), j)
			}
			next[s] = state{c, ones}
		}
		st, first = next, false
	}
	end := st[0]
	if st[1].cost < st[0].cost {
		end = st[1]
	}
	plan := slices.Clone(model)
	for _, j := range end.ones {
		plan[j] = 1
	}
	return plan
}

func median(xs []time.Duration) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// ThreadChoicePath is where edgeprune caches the thread choice of a plan
// identified by key (a hash of the model, its input shapes and threads):
// edgeprune/threads/KEY.json under the user cache directory.
func ThreadChoicePath(key string) (string, error) {
	return userCachePath("thread choice", "threads", key+".json")
}

// LoadThreadChoice reads a ThreadChoice file (apply it with
// ApplyThreadChoice, which checks that it fits the plan).
func LoadThreadChoice(path string) (ThreadChoice, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ThreadChoice{}, err
	}
	var c ThreadChoice
	if err := json.Unmarshal(b, &c); err != nil {
		return ThreadChoice{}, fmt.Errorf("engine: %s: %w (delete it or run edgeprune tune --model again)", path, err)
	}
	return c, nil
}

// SaveThreadChoice writes c to path atomically, creating its directory.
func SaveThreadChoice(path string, c ThreadChoice) error {
	return saveJSON(path, "thread choice", c)
}
