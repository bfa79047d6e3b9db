package build

import (
	"math"
	"testing"
	"time"
)

// The latency budget maps to the cost model's scale through the line of
// the original and the floor, measured and predicted; with one point, by
// the ratio.
func TestCorrectTarget(t *testing.T) {
	nolog := func(string, ...any) {}
	// measured = -0.1 + 1.5·predicted: a budget of 0.08 ms at margin 0.9
	// aims at 0.072 ms measured, i.e. (0.072+0.1)/1.5 predicted.
	to := correctTarget(0.9, 0.2, 0.2, 0.1, 0.05, latencyLimit{}, nolog)
	if got, want := to(0.08)*0.9, (0.072+0.1)/1.5; math.Abs(got-want) > 1e-12 {
		t.Errorf("affine: target×margin %g, want %g", got, want)
	}
	// The floor no faster than the original: the ratio.
	to = correctTarget(0.9, 10, 20, 8, 20, latencyLimit{}, nolog)
	if got := to(10); math.Abs(got-5) > 1e-12 {
		t.Errorf("ratio: %g, want 5", got)
	}
	// Nothing measured: unchanged.
	if got := correctTarget(0.9, 10, 0, 8, 0, latencyLimit{}, nolog)(7); got != 7 {
		t.Errorf("unmeasured: %g, want 7", got)
	}
}

func TestRunsFor(t *testing.T) {
	for _, c := range []struct {
		per        time.Duration
		runs, want int
	}{
		{30 * time.Microsecond, 15, 6667}, // LeNet-5: 0.2 s of runs
		{25 * time.Millisecond, 15, 15},   // resnet18: the profile's runs already span 0.2 s
		{time.Nanosecond, 15, 20000},      // capped
		{0, 15, 20000},
		{100 * time.Millisecond, 50, 50},
	} {
		if got := runsFor(c.per, c.runs); got != c.want {
			t.Errorf("runsFor(%v, %d) = %d, want %d", c.per, c.runs, got, c.want)
		}
	}
}
