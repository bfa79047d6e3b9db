package prune

import "fmt"

// Cubic is the gradual pruning schedule of Zhu & Gupta, "To prune, or not
// to prune" (2017, https://arxiv.org/abs/1710.01878), §3: starting at step
// Start and every Every steps after it, for Steps updates, the sparsity is
//
//	s(t) = Final + (Initial − Final)·(1 − (t − Start)/(Steps·Every))³
//
// held between updates: pruning fast while redundant weights abound, then
// slower. Prune to At(step) at each update (WithSparsity) and fine-tune in
// between; existing zeros count, so each round only adds to the last one.
type Cubic struct {
	Initial, Final float64
	Start          int // t₀: first pruning step
	Steps          int // n: number of updates after Start
	Every          int // Δt: steps between updates
}

// NewCubic returns a validated Cubic schedule.
func NewCubic(initial, final float64, start, steps, every int) (Cubic, error) {
	c := Cubic{Initial: initial, Final: final, Start: start, Steps: steps, Every: every}
	return c, c.Validate()
}

// Validate checks 0 ≤ Initial ≤ Final < 1, Start ≥ 0, Steps ≥ 1, Every ≥ 1.
func (c Cubic) Validate() error {
	switch {
	case !(c.Initial >= 0 && c.Initial <= c.Final && c.Final < 1):
		return fmt.Errorf("%w: cubic schedule from %v to %v: need 0 ≤ initial ≤ final < 1", ErrInvalid, c.Initial, c.Final)
	case c.Start < 0 || c.Steps < 1 || c.Every < 1:
		return fmt.Errorf("%w: cubic schedule start %d, steps %d, every %d: need start ≥ 0, steps ≥ 1, every ≥ 1", ErrInvalid, c.Start, c.Steps, c.Every)
	}
	return nil
}

// At is the sparsity to hold at training step t: Initial before Start,
// Final from Start + Steps·Every on, and s of the last update in between.
func (c Cubic) At(t int) float64 {
	if t < c.Start {
		return c.Initial
	}
	j := min((t-c.Start)/c.Every, c.Steps)
	switch j {
	case 0:
		return c.Initial
	case c.Steps:
		return c.Final
	}
	r := 1 - float64(j)/float64(c.Steps)
	return c.Final + (c.Initial-c.Final)*r*r*r
}

// Updates lists the steps at which the sparsity changes, Start to
// Start + Steps·Every, with the sparsity from each on.
func (c Cubic) Updates() (steps []int, sparsity []float64) {
	for j := 0; j <= c.Steps; j++ {
		t := c.Start + j*c.Every
		steps = append(steps, t)
		sparsity = append(sparsity, c.At(t))
	}
	return steps, sparsity
}
