package engine

import (
	"context"
	"slices"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// runAdaptor feeds a n runs whose times cost gives per arm (a fake clock)
// and returns how many took each arm.
func runAdaptor(a *adaptor, n int, cost [2]int64) (runs [2]int) {
	var now int64
	a.clock = func() int64 { return now }
	for range n {
		arm, t0 := a.begin()
		now += cost[arm]
		a.end(arm, t0)
		runs[arm]++
	}
	return runs
}

// The adaptor stays on the faster arm, explores the other rarely when
// nothing changes, and follows a change of either arm within a bounded
// number of runs.
func TestAdaptorSwitches(t *testing.T) {
	a := newAdaptor()
	fast := [2]int64{10e6, 18e6} // the plan's 2 threads: 1.8× faster
	runAdaptor(a, 200, fast)
	if a.arm != armPlan {
		t.Fatalf("plan 1.8× faster: arm %d after 200 runs", a.arm)
	}
	// Steady: the serial arm explored in ≤ 1% of the runs.
	if r := runAdaptor(a, 4000, fast); r[armSerial] > 40 || a.arm != armPlan {
		t.Errorf("steady, plan faster: %d of 4000 runs serial, arm %d; want ≤ 40, plan", r[armSerial], a.arm)
	}
	// The hand-off turns slow: 2 threads now 1.1× slower than one. The
	// change is seen from the plan's own times (no need to wait for the
	// next scheduled exploration).
	slow := [2]int64{19.8e6, 18e6}
	if r := runAdaptor(a, adaptWindow+adaptBurst+1, slow); a.arm != armSerial {
		t.Fatalf("plan slower than serial: arm %d after %v runs", a.arm, r)
	}
	if r := runAdaptor(a, 2000, slow); a.arm != armSerial || r[armPlan] > 2000/10 {
		t.Errorf("steady, serial faster: %d of 2000 runs on the plan, arm %d", r[armPlan], a.arm)
	}
	// Back to fast: found by the serial arm's explorations.
	if r := runAdaptor(a, maxGapSerial+2*adaptBurst, fast); a.arm != armPlan {
		t.Fatalf("plan faster again: arm %d after %v runs", a.arm, r)
	}
	// Equal arms within the margin: no switching back and forth.
	sw := a.switches
	runAdaptor(a, 2000, [2]int64{10e6, 9.9e6})
	if a.switches != sw {
		t.Errorf("arms within %.0f%%: %d switches", 100*adaptMargin, a.switches-sw)
	}
}

// A switch made on a passing slowdown (load on the other core) is taken
// back within a few runs, not after the budget's long gap.
func TestAdaptorWrongSwitch(t *testing.T) {
	a := newAdaptor()
	fast := [2]int64{10e6, 18e6}
	runAdaptor(a, 1000, fast)
	for i := 0; i < 2*(adaptWindow+adaptBurst) && a.arm == armPlan; i++ {
		runAdaptor(a, 1, [2]int64{30e6, 18e6}) // until it switches
	}
	if a.arm != armSerial {
		t.Fatalf("plan 30 ms, serial 18: arm %d", a.arm)
	}
	if r := runAdaptor(a, minGap+2*adaptBurst, fast); a.arm != armPlan {
		t.Errorf("plan fast again: arm %d after %v runs, want back on the plan", a.arm, r)
	}
}

// An arm that is faster in two of three runs and no faster on average
// (9, 9 and 12 ms against a steady 10) is not switched to: every run of a
// burst must beat the current arm's median. An arm faster in every run is.
func TestAdaptorNoise(t *testing.T) {
	for _, tc := range []struct {
		serial []int64 // the serial arm's run times, in turn
		want   int     // the arm after the runs
	}{
		{[]int64{9e6, 9e6, 12e6}, armPlan},
		{[]int64{9.6e6, 9.0e6, 9.5e6}, armSerial},
	} {
		a := newAdaptor()
		var now int64
		a.clock = func() int64 { return now }
		k := 0
		for range 3000 {
			arm, t0 := a.begin()
			if arm == armPlan {
				now += 10e6
			} else {
				now += tc.serial[k%len(tc.serial)]
				k++
			}
			a.end(arm, t0)
		}
		if a.arm != tc.want || tc.want == armPlan && a.switches != 0 {
			t.Errorf("plan 10 ms, serial %v ms in turn: arm %d after %d switches, want arm %d", tc.serial, a.arm, a.switches, tc.want)
		}
	}
}

// A run that fails (cancelled) leaves no burst waiting for it.
func TestAdaptorCancel(t *testing.T) {
	a := newAdaptor()
	runAdaptor(a, adaptFirst, [2]int64{10, 20})
	arm, _ := a.begin()
	if arm != armSerial {
		t.Fatalf("after %d runs: arm %d, want an exploration", adaptFirst, arm)
	}
	a.cancel(arm)
	if a.inBurst != 0 {
		t.Errorf("cancelled exploration still counted: inBurst %d", a.inBurst)
	}
	runAdaptor(a, 100, [2]int64{10, 20})
	if a.explored == 0 || a.arm != armPlan {
		t.Errorf("after a cancel: explored %d, arm %d", a.explored, a.arm)
	}
}

// A real plan whose parallel regions are made to cost more than they save
// (a slow hand-off, injected through a fake clock that charges each region
// the pool counts) runs serial, and back on its 2 threads when they pay
// again; every output is bitwise the 1-thread plan's.
func TestAdaptBitwise(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.OCR(t, "det"))
	if err != nil {
		t.Fatal(err)
	}
	forceParallel(t) // every node on 2 threads
	old := poolStatsOn
	poolStatsOn = true // the fake clock counts regions
	defer func() { poolStatsOn = old }()
	ctx := context.Background()
	shape := WithInputShape(m.Info().Inputs[0].Name, 1, 3, 96, 128)
	p1, err := Compile(m, shape, WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	if p1.AdaptStats().On {
		t.Error("a 1-thread plan adapts")
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
	if !p.AdaptStats().On {
		t.Fatal("a 2-thread plan does not adapt")
	}
	var tick, perRegion int64
	p.adapt.clock = func() int64 {
		tick += 1e6 // 1 ms of work per run
		return tick + ReadPoolStats().Regions*perRegion
	}
	run := func(n int) (serial int) {
		for range n {
			s := p.AdaptStats().Serial
			out, err := p.Run(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if s {
				serial++
			}
			for name, r := range ref {
				if !slices.Equal(r.Data().([]float32), out[name].Data().([]float32)) {
					t.Fatalf("output %s differs from 1 thread's (serial %v)", name, s)
				}
			}
		}
		return serial
	}
	r0 := ReadPoolStats().Regions
	run(1)
	regions := ReadPoolStats().Regions - r0 // per run on 2 threads
	t.Logf("%d regions a run", regions)
	if regions == 0 {
		t.Fatal("no parallel region in a 2-thread run")
	}
	unit := int64(1e6) / (3 * regions) // a third of the run's time in all regions
	perRegion = -unit                  // each region saves: 2 threads 1.5× faster
	run(60)
	if st := p.AdaptStats(); st.Serial || st.Explored == 0 {
		t.Fatalf("regions pay: %+v, want the plan, explored", st)
	}
	perRegion = unit // a slow hand-off: each region costs, 2 threads 1.33× slower
	run(2 * (adaptWindow + adaptBurst))
	if st := p.AdaptStats(); !st.Serial {
		t.Fatalf("slow hand-off: %+v, want serial", st)
	}
	// Serial runs hand out no region (the fake clock would see them).
	r0 = ReadPoolStats().Regions
	if p.adapt.mu.Lock(); p.adapt.next > 1 {
		p.adapt.mu.Unlock()
		run(1)
	} else {
		p.adapt.mu.Unlock()
	}
	if r := ReadPoolStats().Regions - r0; r != 0 && p.AdaptStats().Serial {
		t.Errorf("a serial run handed out %d regions", r)
	}
	perRegion = -unit
	run(maxGapSerial + 4*adaptBurst)
	if st := p.AdaptStats(); st.Serial || st.Switches < 2 {
		t.Fatalf("regions pay again: %+v, want the plan after 2 switches", st)
	}
	// Off: no adaptor, the plan's threads every run.
	q, err := Compile(m, shape, WithThreads(2), WithAdaptiveThreads(false))
	if err != nil {
		t.Fatal(err)
	}
	if q.AdaptStats().On {
		t.Error("WithAdaptiveThreads(false): adapts")
	}
}
