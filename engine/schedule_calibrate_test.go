package engine

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// fakeMeasure is a plan whose node j takes t1[j] µs on one goroutine and
// tn[j] on more, plus extra(choice) µs on the whole run; it counts the
// plans it was asked to time.
type fakeMeasure struct {
	t1, tn []float64
	extra  func(choice []int) float64
	calls  int
}

func (f *fakeMeasure) measure(choice []int) ([]time.Duration, time.Duration, error) {
	f.calls++
	nodes := make([]time.Duration, len(choice))
	var total float64
	for j, t := range choice {
		us := f.t1[j]
		if t > 1 {
			us = f.tn[j]
		}
		nodes[j] = time.Duration(us * 1e3)
		total += us
	}
	if f.extra != nil {
		total += f.extra(choice)
	}
	return nodes, time.Duration(total * 1e3), nil
}

func TestCalibrateKeepsLosersOnOne(t *testing.T) {
	f := &fakeMeasure{
		//     faster  slower  model 1  within margin  If branch (untimed)
		t1: []float64{100, 100, 10, 100, 0},
		tn: []float64{55, 130, 5, 97, 0},
	}
	r, err := calibrate([]int{2, 2, 1, 2, 2}, 2, 3, f.measure)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 1, 1, 2, 2}; !slices.Equal(r.choice, want) {
		t.Errorf("choice %v, want %v (N only where it is faster; the cost model's 1 stays)", r.choice, want)
	}
	if r.chosen >= r.one || r.chosen >= r.model {
		t.Errorf("whole model: chosen %v, one %v, model %v: the choice should be the fastest", r.chosen, r.one, r.model)
	}
	// 3 rounds of 2 plans (per node), 3 of 5 candidates: the uniform
	// ones, the cost model's, the per-node best, and N,1,1,1 (penalty 10 µs).
	if f.calls != 21 {
		t.Errorf("%d plans timed, want 21", f.calls)
	}
}

func TestCalibrateFallsBackToOne(t *testing.T) {
	// Node 0 is faster on 2 goroutines by itself, but any plan with a
	// node on 2 costs more on the whole run (the other core's cache
	// handing the data back): the whole-model check keeps one goroutine.
	f := &fakeMeasure{t1: []float64{100, 100}, tn: []float64{60, 60},
		extra: func(c []int) float64 {
			if slices.Max(c) > 1 {
				return 200
			}
			return 0
		}}
	r, err := calibrate([]int{2, 2}, 2, 2, f.measure)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.choice, []int{1, 1}) {
		t.Errorf("choice %v, want [1 1]: the plan on one goroutine was the fastest", r.choice)
	}
	// 2 threads 2% faster on the whole model: within keepMargin, one stays.
	f = &fakeMeasure{t1: []float64{100, 100}, tn: []float64{98, 98}}
	if r, err = calibrate([]int{2, 2}, 2, 2, f.measure); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.choice, []int{1, 1}) {
		t.Errorf("choice %v, want [1 1]: 2%% is within keepMargin", r.choice)
	}
}

// switchCost charges us µs for every change between 1 and N along a plan
// (the data changes cores, the helper parks and wakes).
func switchCost(us float64) func([]int) float64 {
	return func(c []int) float64 {
		n := 0
		for j := 1; j < len(c); j++ {
			if c[j] != c[j-1] {
				n++
			}
		}
		return us * float64(n)
	}
}

func TestCalibrateSwitchPenalty(t *testing.T) {
	// Every change between 1 and N along the plan costs 40 µs (the data
	// changes cores, the helper parks and wakes). The per-node best
	// (N,1,N,1,1) pays two: 480 µs; all on N 465, all on one 500; the
	// fastest, N,N,N,1,1 (445), is the plan of a 30 µs penalty.
	f := &fakeMeasure{t1: []float64{100, 100, 100, 100, 100}, tn: []float64{50, 105, 50, 130, 130},
		extra: switchCost(40)}
	r, err := calibrate([]int{2, 2, 2, 2, 2}, 2, 1, f.measure)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 2, 2, 1, 1}; !slices.Equal(r.choice, want) {
		t.Errorf("choice %v, want %v", r.choice, want)
	}
	if r.chosen != 445*time.Microsecond {
		t.Errorf("chosen plan's time %v, want 445µs", r.chosen)
	}
}

func TestCalibrateAllOnN(t *testing.T) {
	// The cost model keeps the small middle node on one goroutine, but
	// its data then changes cores twice (40 µs each): every node on N is
	// the fastest plan, and one the per-node plans cannot give (they keep
	// the cost model's 1s).
	f := &fakeMeasure{t1: []float64{100, 10, 100}, tn: []float64{55, 9, 55},
		extra: switchCost(40)}
	r, err := calibrate([]int{2, 1, 2}, 2, 1, f.measure)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 2, 2}; !slices.Equal(r.choice, want) {
		t.Errorf("choice %v, want %v", r.choice, want)
	}
	if r.chosen != 119*time.Microsecond || r.model != 200*time.Microsecond {
		t.Errorf("chosen %v, model %v: want 119µs and 200µs", r.chosen, r.model)
	}
	// When the cost model already has every node on N, that plan is not
	// timed twice.
	f = &fakeMeasure{t1: []float64{100, 100}, tn: []float64{60, 60}}
	if r, err = calibrate([]int{2, 2}, 2, 1, f.measure); err != nil {
		t.Fatal(err)
	}
	if len(r.cands) != 2 {
		t.Errorf("%d candidates %v, want 2 (one goroutine, the cost model's = all on N)", len(r.cands), r.cands)
	}
}

func TestSwitchPlan(t *testing.T) {
	us := func(xs ...float64) []time.Duration {
		d := make([]time.Duration, len(xs))
		for i, x := range xs {
			d[i] = time.Duration(x * 1e3)
		}
		return d
	}
	model := []int{2, 1, 2, 2, 2, 2}
	t1 := us(100, 5, 100, 100, 0, 100)
	tn := us(60, 5, 110, 60, 0, 120)
	for _, c := range []struct {
		pen  float64
		want []int
	}{
		{0, []int{2, 1, 1, 2, 2, 1}},    // each node its faster; the untimed If keeps 2
		{15, []int{2, 1, 2, 2, 2, 1}},   // a 10 µs loss on node 2 beats two changes
		{1000, []int{2, 1, 2, 2, 2, 2}}, // uniform: N sums 350 against 400
	} {
		if got := switchPlan(model, t1, tn, time.Duration(c.pen*1e3)); !slices.Equal(got, c.want) {
			t.Errorf("penalty %v µs: %v, want %v", c.pen, got, c.want)
		}
	}
}

func TestCalibrateThreads(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.OCR(t, "det"))
	if err != nil {
		t.Fatal(err)
	}
	forceParallel(t) // the cost model gives every node 2
	ctx := context.Background()
	shape := WithInputShape(m.Info().Inputs[0].Name, 1, 3, 96, 128)
	p1, err := Compile(m, shape, WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	in := RandomInputs(p1)
	ref, err := p1.Run(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(m, shape, WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.CalibrateThreads(ctx, in, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	nodes := p.Report().Nodes
	if len(c.Nodes) != len(nodes) || c.Threads != 2 {
		t.Fatalf("choice of %d nodes at %d threads, plan has %d at 2", len(c.Nodes), c.Threads, len(nodes))
	}
	for i, n := range nodes {
		if c.Nodes[i].Name != n.Name || c.Nodes[i].Threads != n.Threads || n.Threads < 1 || n.Threads > 2 {
			t.Fatalf("node %d: choice %+v, plan %s with %d threads", i, c.Nodes[i], n.Name, n.Threads)
		}
	}
	out, err := p.Run(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range ref {
		if !slices.Equal(r.Data().([]float32), out[name].Data().([]float32)) {
			t.Errorf("output %s differs from 1 thread's after calibration", name)
		}
	}

	// Saved and applied to a fresh plan of the same model and threads.
	path := filepath.Join(t.TempDir(), "threads", "k.json")
	if err := SaveThreadChoice(path, c); err != nil {
		t.Fatal(err)
	}
	c2, err := LoadThreadChoice(path)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Compile(m, shape, WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.ApplyThreadChoice(c2); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.NodeThreads(), p.NodeThreads()) {
		t.Errorf("applied choice %v, calibrated %v", q.NodeThreads(), p.NodeThreads())
	}
	// Refused on a plan it was not measured on.
	bad := c2
	bad.Nodes = slices.Clone(c2.Nodes)
	bad.Nodes[3].Name += "x"
	if err := q.ApplyThreadChoice(bad); !errors.Is(err, ErrThreadChoiceOtherPlan) {
		t.Errorf("renamed node: %v, want ErrThreadChoiceOtherPlan", err)
	}
	q3, err := Compile(m, shape, WithThreads(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := q3.ApplyThreadChoice(c2); !errors.Is(err, ErrThreadChoiceOtherPlan) {
		t.Errorf("3-thread plan: %v, want ErrThreadChoiceOtherPlan", err)
	}
	if err := q.SetNodeThreads(make([]int, len(nodes))); err == nil {
		t.Error("SetNodeThreads with 0 threads: no error")
	}
}
