package build

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestInterleaved checks the ratios are per program against the first: the
// first's is exactly 1 and the second's positive. How close the same model
// timed twice comes to 1 depends on the machine's load (it read 0.142
// under a load of 13 on 2 cores), so the ratios' arithmetic is tested on
// given timings instead (TestSummarize).
func TestInterleaved(t *testing.T) {
	m, err := onnxio.ReadFile("../testdata/demo/demonet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	var progs []*engine.Program
	for range 2 {
		p, err := engine.Compile(m, engine.WithThreads(1))
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, p)
	}
	d, err := Interleaved(context.Background(), progs, 1, 5, 3, "p50")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Times) != 2 || len(d.Ratios) != 2 || d.Ratios[0] != 1 || d.Times[0] <= 0 {
		t.Fatalf("got %+v, want two times > 0 and ratios starting at exactly 1", d)
	}
	if !(d.Ratios[1] > 0) || d.Times[1] <= 0 {
		t.Errorf("the same model against itself: ratio %.3f, time %v, want both > 0", d.Ratios[1], d.Times[1])
	}
	if _, err := Interleaved(context.Background(), nil, 1, 5, 3, "p50"); err == nil {
		t.Error("no programs: want an error")
	}
	// One thread on Linux: timed by the thread's CPU time, and named so;
	// a program on two threads makes the whole comparison wall-clock.
	if runtime.GOOS == "linux" && (!d.CPU || d.statistic("p50") != "p50 (thread CPU time)") {
		t.Errorf("1-thread programs on linux: CPU %v, statistic %q; want thread CPU time", d.CPU, d.statistic("p50"))
	}
	p2, err := engine.Compile(m, engine.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Interleaved(context.Background(), []*engine.Program{progs[0], p2}, 1, 5, 2, "p90")
	if err != nil {
		t.Fatal(err)
	}
	if d2.CPU || d2.statistic("p90") != "p90" {
		t.Errorf("a 2-thread program: CPU %v, statistic %q; want the wall clock", d2.CPU, d2.statistic("p90"))
	}
}

// TestRunStatistic: the picks of engine.Measure on sorted run times.
func TestRunStatistic(t *testing.T) {
	ms := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for stat, want := range map[string]time.Duration{"p50": 5 * time.Millisecond, "min": time.Millisecond, "p90": 9 * time.Millisecond} {
		if got := runStatistic(ms, stat); got != want {
			t.Errorf("%s of 1..10 ms: %v, want %v", stat, got, want)
		}
	}
}

// TestSummarize: the ratio is the median over rounds of the per-round
// ratio, which a change of the machine's speed between rounds does not
// move, where the ratio of the two medians would. Given timings: the
// machine runs at 1×, 2× and 3× slowdown in rounds 1–3; the model takes
// half the original's time in every round, and a burst in round 4 hits the
// model alone.
func TestSummarize(t *testing.T) {
	ms := func(x ...float64) []time.Duration {
		var d []time.Duration
		for _, v := range x {
			d = append(d, time.Duration(v*float64(time.Millisecond)))
		}
		return d
	}
	d := summarize([][]time.Duration{ms(10, 20, 30, 20), ms(5, 10, 15, 60)})
	if d.Ratios[0] != 1 || math.Abs(d.Ratios[1]-0.5) > 1e-12 {
		t.Errorf("ratios %v, want 1 and 0.5 (the burst round discarded by the median)", d.Ratios)
	}
	if d.Times[0] != 20*time.Millisecond || d.Times[1] != 12500*time.Microsecond {
		t.Errorf("median times %v, want 20 ms and 12.5 ms", d.Times)
	}
	if !slices.Equal(d.RoundRatios[1], []float64{.5, .5, .5, 3}) || !slices.Equal(d.RoundRatios[0], []float64{1, 1, 1, 1}) {
		t.Errorf("round ratios %v, want each round's ratio in the order of the rounds", d.RoundRatios)
	}
	// The ratio of the medians, 12.5/20, is off by a quarter.
	if r := float64(d.Times[1]) / float64(d.Times[0]); math.Abs(r-0.625) > 1e-12 {
		t.Errorf("ratio of medians %g, want 0.625 (what the per-round ratio avoids)", r)
	}
}

// fakeRounds hands out given per-round ratios, measureRounds at a time.
type fakeRounds struct {
	next  [][]float64
	calls int
}

func (f *fakeRounds) measureMore(_ *onnxio.Model, met *Metrics, rounds int) error {
	rs := f.next[f.calls]
	f.calls++
	if len(rs) != rounds {
		return fmt.Errorf("asked for %d rounds, have %d", rounds, len(rs))
	}
	met.ratioRounds = append(met.ratioRounds, rs...)
	s := slices.Clone(met.ratioRounds)
	slices.Sort(s)
	met.MeasuredRatio = medianF(s)
	return nil
}

// TestVerifyLatency: the verdict's median pools the search's rounds of the
// same structure with 4 fresh ones, and times 4 more only when that median
// is over the budget; without the search's rounds, the fresh ones alone.
func TestVerifyLatency(t *testing.T) {
	lim := latencyLimit{budget: .5, fraction: true}
	for _, tc := range []struct {
		name     string
		searched []float64
		fresh    [][]float64
		calls    int
		rounds   int
		ratio    float64
	}{
		// 4 fresh rounds alone read 0.51; with the search's 8 the median is 0.49.
		{"pooled with the search", []float64{.48, .47, .49, .48, .49, .48, .5, .47}, [][]float64{{.51, .52, .5, .53}}, 1, 12, .49},
		{"over: 4 more", nil, [][]float64{{.51, .52, .5, .53}, {.47, .46, .48, .47}}, 2, 8, .49},
		{"within on 4", nil, [][]float64{{.41, .42, .4, .43}}, 1, 4, .415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRounds{next: tc.fresh}
			var searched *Metrics
			if tc.searched != nil {
				searched = &Metrics{ratioRounds: tc.searched}
			}
			met := Metrics{ratioRounds: []float64{9}} // a stale measurement: dropped
			if err := verifyLatency(f, lim, nil, searched, &met, t.Logf); err != nil {
				t.Fatal(err)
			}
			if f.calls != tc.calls || len(met.ratioRounds) != tc.rounds || math.Abs(met.MeasuredRatio-tc.ratio) > 1e-12 {
				t.Errorf("%d timings, %d rounds, median %.4g; want %d, %d, %.4g", f.calls, len(met.ratioRounds), met.MeasuredRatio, tc.calls, tc.rounds, tc.ratio)
			}
			if tc.searched != nil && !slices.Equal(searched.ratioRounds, tc.searched) {
				t.Error("the search's measurement was changed")
			}
		})
	}
}
