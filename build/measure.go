package build

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
	"gorgonia.org/tensor"
)

// timer measures models on this machine against the original. The
// machine's speed drifts between minutes by more than a budget's margin
// (docs/profiles.md), so a model is never judged by a lone timing: it is
// timed interleaved with the original (Interleaved). A budget given as a
// fraction of the original's latency judges that ratio itself
// (Metrics.MeasuredRatio); an absolute budget judges the ratio times the
// original's reference measurement, taken once when the timer starts,
// which is itself one reading at one minute.
type timer struct {
	ctx    context.Context
	p      *profile.Profile
	shapes []engine.Option
	orig   *engine.Program
	ref    Metrics // the original, measured first
}

// measureRounds is how many interleaved rounds a comparison takes.
const measureRounds = 4

func newTimer(ctx context.Context, m *onnxio.Model, p *profile.Profile, shapes []engine.Option) (*timer, error) {
	t := &timer{ctx: ctx, p: p, shapes: shapes}
	var err error
	if t.orig, err = t.compile(m); err != nil {
		return nil, err
	}
	d, err := Interleaved(ctx, []*engine.Program{t.orig}, p.Run.Warmup, p.Run.Runs, 2, t.stat())
	if err != nil {
		return nil, err
	}
	t.ref.MeasuredMS, t.ref.MeasuredStatistic = float64(d.Times[0])/1e6, d.statistic(t.stat())
	return t, nil
}

func (t *timer) compile(m *onnxio.Model) (*engine.Program, error) {
	return engine.Compile(m, append(slices.Clone(t.shapes), engine.WithThreads(t.p.Run.Threads))...)
}

// stat is the profile's latency statistic that Measure gives: p50 (also
// for mean), min or p90 (also for p99).
func (t *timer) stat() string {
	if l := t.p.Budgets.LatencyMS; l != nil {
		switch l.Statistic {
		case "p50", "mean":
			return "p50"
		case "min":
			return "min"
		}
	}
	return "p90"
}

// measure times m interleaved with the original and sets met's measured
// latency: the ratio to the original in the same run times the original's
// reference time.
func (t *timer) measure(m *onnxio.Model, met *Metrics) error {
	met.ratioRounds = nil
	return t.measureMore(m, met, measureRounds)
}

// measureMore times m in rounds more interleaved rounds with the original
// and pools them with the rounds met already holds (none after measure's
// reset): the measured ratio is then the median over all of them, the
// times the medians of the last run.
func (t *timer) measureMore(m *onnxio.Model, met *Metrics, rounds int) error {
	plan, err := t.compile(m)
	if err != nil {
		return err
	}
	d, err := Interleaved(t.ctx, []*engine.Program{t.orig, plan}, t.p.Run.Warmup, t.p.Run.Runs, rounds, t.stat())
	if err != nil {
		return err
	}
	met.ratioRounds = append(slices.Clone(met.ratioRounds), d.RoundRatios[1]...)
	sorted := slices.Clone(met.ratioRounds)
	slices.Sort(sorted)
	met.MeasuredStatistic = d.statistic(t.stat())
	met.MeasuredRatio = medianF(sorted)
	met.MeasuredMS = met.MeasuredRatio * t.ref.MeasuredMS
	met.SameRunMS, met.OriginalSameRunMS = float64(d.Times[1])/1e6, float64(d.Times[0])/1e6
	return nil
}

// takeLatency sets m's measured latency (the fields timer.measure sets)
// from another measurement of the same model.
func (m *Metrics) takeLatency(from Metrics) {
	m.MeasuredMS, m.MeasuredStatistic, m.MeasuredRatio = from.MeasuredMS, from.MeasuredStatistic, from.MeasuredRatio
	m.SameRunMS, m.OriginalSameRunMS = from.SameRunMS, from.OriginalSameRunMS
	m.ratioRounds = slices.Clone(from.ratioRounds)
}

// Durations are Interleaved's result: per program, the median over rounds
// of its statistic, and of its ratio to the first program's in the same
// round (RoundRatios: each round's, in the order of the rounds). CPU says
// the runs were timed by the thread's CPU time.
type Durations struct {
	Times       []time.Duration
	Ratios      []float64
	RoundRatios [][]float64
	CPU         bool
}

// statistic names what d measured: stat, and the clock when it was the
// thread's CPU time.
func (d *Durations) statistic(stat string) string {
	if d.CPU {
		return stat + " (thread CPU time)"
	}
	return stat
}

// minMeasureTime is the least time one timing of one program spans.
const minMeasureTime = 200 * time.Millisecond

// runsFor gives the runs that span minMeasureTime at per (at least runs, at
// most 20,000).
func runsFor(per time.Duration, runs int) int {
	if per <= 0 {
		return 20000
	}
	return max(runs, min(20000, int(minMeasureTime/per)+1))
}

// Interleaved times the programs (on their engine.RandomInputs) in rounds:
// each round times every program once, starting with a different one each
// round, so the machine's drift and other load hit them alike. A timing
// is warmup runs, then at least runs and at least minMeasureTime, and its
// statistic is stat ("p50", "p90" or "min"). A slow program beside a fast
// one stays comparable: ratios are per round. When every program runs on
// one thread and the OS tells a thread's CPU time, the runs are timed by
// it (profile.MeasureRuns, as calibrate times them): what a run takes on
// an idle core, however often a shared machine preempted it; by the clock
// a build on a loaded machine read the original at 40× its time.
//
// A program's ratio is the median over rounds of its ratio to the first
// program within each round, not the ratio of the two medians over
// rounds: within a round the timings are taken back to back, so a change
// of the machine's speed between rounds scales both and cancels in that
// round's ratio, whereas the ratio of medians can pair the first
// program's time from a fast round with this one's from a slow round. The
// median over rounds then discards a round in which a burst of load hit
// only one of the two.
func Interleaved(ctx context.Context, progs []*engine.Program, warmup, runs, rounds int, stat string) (*Durations, error) {
	if len(progs) == 0 || rounds < 1 || runs < 1 {
		return nil, fmt.Errorf("build: Interleaved: %d programs, %d rounds, %d runs", len(progs), rounds, runs)
	}
	ins := make([]map[string]*tensor.Dense, len(progs))
	n := make([]int, len(progs))
	for i, p := range progs {
		ins[i] = engine.RandomInputs(p)
		t, err := engine.Measure(ctx, p, ins[i], warmup, 1)
		if err != nil {
			return nil, err
		}
		n[i] = runsFor(t.Median, runs)
	}
	cpu := true
	for _, p := range progs {
		cpu = cpu && p.Threads() == 1
	}
	times := make([][]time.Duration, len(progs))
	for r := 0; r < rounds; r++ {
		got := make([]time.Duration, len(progs))
		for k := range progs {
			i := (k + r) % len(progs)
			rt, err := profile.MeasureRuns(ctx, progs[i], ins[i], progs[i].Threads(), min(warmup, 2), n[i])
			if err != nil {
				return nil, err
			}
			ms := rt.Wall
			if cpu && len(rt.CPU) == len(rt.Wall) {
				ms = rt.CPU
			} else {
				cpu = false
			}
			got[i] = runStatistic(ms, stat)
		}
		for i := range progs {
			times[i] = append(times[i], got[i])
		}
	}
	d := summarize(times)
	d.CPU = cpu
	return d, nil
}

// runStatistic is stat of the sorted run times ms (milliseconds): "p50" the
// median, "min", else the 90th percentile (engine.Measure's picks).
func runStatistic(ms []float64, stat string) time.Duration {
	var v float64
	switch stat {
	case "p50":
		v = ms[(len(ms)-1)/2]
	case "min":
		v = ms[0]
	default:
		v = ms[min(len(ms)-1, int(math.Ceil(0.9*float64(len(ms))))-1)]
	}
	return time.Duration(v * 1e6)
}

// summarize gives, from times[program][round], each program's median time
// over rounds and the median over rounds of its ratio to program 0's time
// in the same round.
func summarize(times [][]time.Duration) *Durations {
	d := &Durations{}
	for i := range times {
		ratios := make([]float64, len(times[i]))
		for r, t := range times[i] {
			ratios[r] = float64(t) / float64(max(times[0][r], 1))
		}
		d.RoundRatios = append(d.RoundRatios, slices.Clone(ratios))
		sorted := slices.Clone(times[i])
		slices.Sort(sorted)
		slices.Sort(ratios)
		d.Times = append(d.Times, median(sorted))
		d.Ratios = append(d.Ratios, medianF(ratios))
	}
	return d
}

func median(s []time.Duration) time.Duration {
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianF(s []float64) float64 {
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// roundTimer times a model more rounds (timer.measureMore).
type roundTimer interface {
	measureMore(m *onnxio.Model, met *Metrics, rounds int) error
}

// verifyLatency times the chosen model for the verdict: measureRounds
// rounds pooled with the rounds the candidate search timed the same
// structure at (searched, nil when it was not timed there: the structure,
// not the fine-tuned weights, sets a dense model's time), and when their
// median is over the budget, measureRounds more — the verdict is the median
// over every round (the budget row says how many). A model the search kept
// near the budget, judged on 4 fresh rounds alone, fails it by chance as
// often as it passes; by its time at another minute it can fail it by the
// machine's drift, which more rounds of the same minute do not undo.
func verifyLatency(tm roundTimer, lim latencyLimit, m *onnxio.Model, searched *Metrics, met *Metrics, logf func(string, ...any)) error {
	met.ratioRounds = nil
	if searched != nil {
		met.ratioRounds = slices.Clone(searched.ratioRounds)
	}
	n := len(met.ratioRounds)
	if err := tm.measureMore(m, met, measureRounds); err != nil {
		return err
	}
	if n > 0 {
		logf("      measured %s: the median over %d rounds, %d of them from the search", lim.format(lim.measured(*met)), len(met.ratioRounds), n)
	}
	if v := lim.measured(*met); lim.budget > 0 && v > lim.budget {
		logf("      measured %s > %s over %d rounds: timing %d rounds more", lim.format(v), lim.format(lim.budget), len(met.ratioRounds), measureRounds)
		return tm.measureMore(m, met, measureRounds)
	}
	return nil
}
