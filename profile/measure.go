package profile

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"gorgonia.org/tensor"
)

// RunTimes are the whole-run times of a compiled plan, in milliseconds,
// sorted ascending: Wall by the clock, CPU by the calling thread's CPU
// time (nil where the OS does not expose it, or with more than one thread).
type RunTimes struct {
	Wall []float64 `json:"wall_ms"`
	CPU  []float64 `json:"cpu_ms,omitempty"`
}

// Quantile returns the q-quantile (0 = min, .5 = median) of the CPU times
// when measured, else of the wall times.
func (r RunTimes) Quantile(q float64) float64 {
	x := r.CPU
	if len(x) == 0 {
		x = r.Wall
	}
	if len(x) == 0 {
		return 0
	}
	return x[int(q*float64(len(x)-1)+0.5)]
}

// MeasureRuns runs p warmup times, then runs times, and returns each run's
// wall and thread CPU time. With one thread the engine computes on the
// calling goroutine, which is locked to its OS thread here, so the CPU
// time is the run's own: what the run would take on an idle core, however
// often a shared machine preempted it. A run the OS preempted takes longer
// by the clock but not by its CPU time.
func MeasureRuns(ctx context.Context, p *engine.Program, inputs map[string]*tensor.Dense, threads, warmup, runs int) (RunTimes, error) {
	if runs < 1 {
		return RunTimes{}, fmt.Errorf("profile: MeasureRuns: runs %d", runs)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < warmup; i++ {
		if _, err := p.Run(ctx, inputs); err != nil {
			return RunTimes{}, err
		}
	}
	cpuOK := threads == 1 && threadCPUNanos() >= 0
	var r RunTimes
	for i := 0; i < runs; i++ {
		c0 := threadCPUNanos()
		t0 := time.Now()
		if _, err := p.Run(ctx, inputs); err != nil {
			return RunTimes{}, err
		}
		w := time.Since(t0)
		c1 := threadCPUNanos()
		r.Wall = append(r.Wall, float64(w)/1e6)
		if cpuOK {
			r.CPU = append(r.CPU, float64(c1-c0)/1e6)
		}
	}
	slices.Sort(r.Wall)
	slices.Sort(r.CPU)
	return r, nil
}
