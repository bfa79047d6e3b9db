package engine

import (
	"os"
	"slices"
	"sync"
	"time"
)

// A plan's per-node threads (schedule.go, or a tune record) are chosen
// once, on the machine as it was then. On a VM the host may move the vCPUs
// while the plan runs: on the 2-vCPU EPYC of docs/benchmarks.md (Threads,
// sessions 10 and 11) the core-to-core round trip switches every few
// seconds to minutes between about 100 ns and 400–600 ns, and with it
// PP-OCR det's 2-thread run between 2.1× and 0.9–1.1× its 1-thread time,
// while the 1-thread time does not follow. No choice made once is right in
// both. So Run measures instead: an adaptor times every run (two clock
// reads) of the plan's choice ("plan") and, now and then, a short burst of
// runs with every node on the calling goroutine ("serial"), and runs on
// whichever was faster. Switching only moves work between goroutines: the
// outputs are bitwise the same (TestThreadsBitwise, TestAdaptBitwise).
//
// Exploring costs what the other arm is slower, burst runs at a time, so
// the runs between explorations are set from the two arms' last medians to
// spend at most adaptBudget of the time on it (on PP-OCR det, 2 threads
// twice as fast as one: a burst of 3 serial runs every 600 runs), within
// [minGap, maxGap] runs; where the arms are close (the slow placement) it
// explores often and at no cost. Waiting is not needed to see the current
// arm slow down: once its median of the last adaptWindow runs is no better
// than the other arm's last one, a burst runs at once. The plan's time can
// only be seen on the plan arm, so the serial arm's gap is capped lower
// (maxGapSerial): a return of the fast placement is found within that
// many runs.

// Arms of the adaptor.
const (
	armPlan   = 0 // each node on its chosen threads
	armSerial = 1 // every node on the calling goroutine
)

const (
	adaptWindow  = 7     // recent runs of the current arm whose median is compared
	adaptBurst   = 3     // runs of the other arm per exploration
	adaptMargin  = 0.03  // the other arm must be this much faster to switch
	adaptBudget  = 0.005 // of the run time spent exploring a slower arm
	adaptFirst   = 2     // runs before the first exploration (the first one not counted)
	minGap       = 8     // runs between explorations, the least
	maxGapPlan   = 1024  // the most, on the plan arm
	maxGapSerial = 256   // the most, on the serial arm
)

// adaptor chooses each run's arm from the run times it is given. It is
// safe for concurrent use; the clock is injected (tests use a fake one).
type adaptor struct {
	mu    sync.Mutex
	clock func() int64 // ns, monotonic

	arm     int     // the arm runs take between explorations
	hist    []int64 // the current arm's last run times (ring of adaptWindow)
	nh      int     // runs recorded in hist (mod len is the next slot)
	since   int     // runs of the current arm since the last decision
	other   int64   // the other arm's median when last measured (0: never)
	burst   []int64 // the other arm's times in the running exploration
	inBurst int     // runs of the burst handed out and not yet recorded
	next    int     // runs of arm until the next exploration
	warm    bool    // the first run is done (and not counted)

	switches int // arm changes, ever (tests, Program.AdaptStats)
	explored int // exploration runs, ever
}

var monoEpoch = time.Now()

func monoNow() int64 { return int64(time.Since(monoEpoch)) }

func newAdaptor() *adaptor {
	return &adaptor{clock: monoNow, hist: make([]int64, adaptWindow), next: adaptFirst}
}

// begin returns the arm the next run takes and the clock's reading.
func (a *adaptor) begin() (arm int, t0 int64) {
	a.mu.Lock()
	arm = a.arm
	if a.next <= 0 && a.inBurst+len(a.burst) < adaptBurst {
		arm = 1 - a.arm
		a.inBurst++
		a.explored++
	}
	a.mu.Unlock()
	return arm, a.clock()
}

// end records a run begun with begin.
func (a *adaptor) end(arm int, t0 int64) {
	d := a.clock() - t0
	a.mu.Lock()
	defer a.mu.Unlock()
	if arm != a.arm {
		if a.inBurst == 0 {
			return // a burst decided while this run ran
		}
		a.inBurst--
		a.burst = append(a.burst, d)
		if len(a.burst) == adaptBurst {
			a.decide()
		}
		return
	}
	a.next--
	if !a.warm {
		a.warm = true // the plan's first run sets up its workspace and workers
		return
	}
	a.hist[a.nh%adaptWindow] = d
	a.nh++
	a.since++
	if a.next > 0 && a.other > 0 && a.since >= adaptWindow &&
		float64(medianNs(a.hist)) > (1-adaptMargin)*float64(a.other) {
		a.next = 0 // no better than the other arm was: look at it now
	}
}

// cancel forgets a run begun with begin that did not finish.
func (a *adaptor) cancel(arm int) {
	a.mu.Lock()
	if arm != a.arm && a.inBurst > 0 {
		a.inBurst--
	}
	a.mu.Unlock()
}

// decide ends an exploration: switch when every run of the burst beat
// the current arm's median by adaptMargin (not just the burst's median: on
// a noisy machine two lucky runs of an arm no faster on average would
// switch, and each wrong switch costs minGap runs before it is taken
// back); then set the runs to the next one.
func (a *adaptor) decide() {
	arm := a.arm
	other := medianNs(a.burst)
	cur := medianNs(a.hist[:min(a.nh, adaptWindow)])
	if a.nh == 0 || float64(slices.Max(a.burst)) < (1-adaptMargin)*float64(cur) {
		a.arm = 1 - a.arm
		a.switches++
		copy(a.hist, a.burst)
		a.nh = len(a.burst)
		other, cur = cur, other
	}
	a.other = other
	a.since = 0
	a.next = exploreGap(a.arm, cur, other)
	if a.arm != arm {
		// A switch is confirmed soon: one burst on a loaded machine
		// can mislead, and the budget's gap would keep a wrong arm long.
		a.next = minGap
	}
	a.burst = a.burst[:0]
}

// exploreGap is the runs between explorations on arm, whose runs take
// cur, of the other arm, whose runs take other: adaptBudget of the time
// spent on a slower other arm, within [minGap, maxGap].
func exploreGap(arm int, cur, other int64) int {
	hi := maxGapPlan
	if arm == armSerial {
		hi = maxGapSerial
	}
	if other <= cur || cur <= 0 {
		return minGap
	}
	g := float64(adaptBurst) * float64(other-cur) / (adaptBudget * float64(cur))
	return int(min(max(g, minGap), float64(hi)))
}

// medianNs of xs (at most adaptWindow, not modified), the lower middle for
// an even count.
func medianNs(xs []int64) int64 {
	var s [adaptWindow]int64
	n := copy(s[:], xs)
	slices.Sort(s[:n])
	return s[(n-1)/2]
}

// adaptEnv turns the adaptor off by default: EDGEPRUNE_ADAPT=off.
const adaptEnv = "EDGEPRUNE_ADAPT"

func adaptDefault() bool { return os.Getenv(adaptEnv) != "off" }

// resetAdapt starts the adaptor afresh (at compile time and when the
// per-node threads change), or drops it when it is off or has nothing to
// choose: no node on more than one goroutine.
func (p *Program) resetAdapt() {
	p.adapt = nil
	if !p.adaptOn || p.threads <= 1 {
		return
	}
	any := false
	p.eachStep(func(s *step) { any = any || s.sub == nil && s.threads > 1 })
	if any {
		p.adapt = newAdaptor()
	}
}

// AdaptStats is what the adaptor did (Program.AdaptStats).
type AdaptStats struct {
	On       bool `json:"on"`       // the plan adapts (WithAdaptiveThreads, and a node on N)
	Serial   bool `json:"serial"`   // runs now take the serial arm
	Switches int  `json:"switches"` // changes of arm
	Explored int  `json:"explored"` // runs of the other arm, to compare
}

// AdaptStats reports the adaptor's state.
func (p *Program) AdaptStats() AdaptStats {
	a := p.adapt
	if a == nil {
		return AdaptStats{}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return AdaptStats{On: true, Serial: a.arm == armSerial, Switches: a.switches, Explored: a.explored}
}
