package build

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// The frontier at the latency target. The knapsack families give one
// choice per latency target, the least summed damage; a summed damage is a
// guess (the groups' damages do not add), and each family keeps only its
// least pruned member that fits. So besides them, the search looks at the
// structured choices whose predicted latency is at the solver's target
// (after its measured correction) or a little under it: it shortlists them
// by summed damage, scores each composed model on the calibration samples
// (adaptive BN when the model has BatchNormalization, no fine-tuning) and
// adds the best few as candidates, which the probe then ranks with the
// others (EagleEye's candidate selection: many candidates at one cost, the
// composed model scored, a short fine-tune deciding among the best).
const (
	// frontierMaxChoices: the space is enumerated only when it has at
	// most this many distinct structured choices (bncnn: 56).
	frontierMaxChoices = 4096
	// frontierBand: the least predicted latency of a frontier choice, as
	// a fraction of the target (a much cheaper choice gives away capacity
	// the budget allows).
	frontierBand = 0.85
	// frontierShortlist choices (least summed damage) are composed and
	// scored; the frontierKeep best of them become candidates.
	frontierShortlist = 8
	frontierKeep      = 3
	// frontierMeasuredSlack: when candidates are measured, the frontier
	// reaches this much above the solver's predicted aim (the measurement
	// decides; the prediction is ≈10% off on small models).
	frontierMeasuredSlack = 1.1
)

// frontierChoice is one shortlisted choice with its composed score.
type frontierChoice struct {
	e      *evaluated
	summed float64 // summed damage of its options (the table's)
	loss   float64 // calibration loss (or damage without labels) of the composed model
}

// frontier returns up to frontierShortlist structured choices (the least
// summed damage) whose predicted latency lies in [frontierBand, 1] × hi
// and that meet the predicted budgets besides latency, best first by the
// composed model's score (the caller keeps the first frontierKeep that
// fit when measured);
// known reports choices already among the candidates (skipped). Nil when
// hi ≤ 0, or the space has unstructured layers or more than
// frontierMaxChoices distinct choices.
func (s *candidateSearch) frontier(ctx context.Context, hi float64, known func([]int) bool) ([]frontierChoice, error) {
	sp := s.ev.space
	if hi <= 0 || len(sp.ULayers) > 0 || len(s.groups) != len(sp.Groups) {
		return nil, nil
	}
	// Per group the levels with distinct channel counts (the first level of each).
	levels := make([][]int, len(sp.Groups))
	n := 1
	for g := range sp.Groups {
		for l := range sp.Keep {
			if l == 0 || sp.Group(g, l).Kept != sp.Group(g, l-1).Kept {
				levels[g] = append(levels[g], l)
			}
		}
		if n *= len(levels[g]); n > frontierMaxChoices {
			return nil, nil
		}
	}
	lo := frontierBand * hi
	type pre struct {
		choice []int
		summed float64
	}
	var pool []pre
	choice := make([]int, len(sp.Groups))
	var walk func(g int, ms, dmg float64)
	walk = func(g int, ms, dmg float64) {
		if g == len(choice) {
			// The additive estimate filters loosely (±10%); the composed
			// model's prediction decides below.
			if ms <= hi*1.1 && ms >= lo*0.9 && !known(choice) {
				pool = append(pool, pre{slices.Clone(choice), dmg})
			}
			return
		}
		for _, l := range levels[g] {
			o := s.groups[g].Options[l]
			choice[g] = l
			walk(g+1, ms+o.DeltaMS, dmg+o.Damage)
		}
	}
	walk(0, s.dense.met.LatencyMS, 0)
	slices.SortStableFunc(pool, func(a, b pre) int { return cmp.Compare(a.summed, b.summed) })
	var short []frontierChoice
	for _, c := range pool {
		if len(short) == frontierShortlist {
			break
		}
		e, err := s.ev.metricsModel(c.choice)
		if err != nil {
			return nil, err
		}
		if e.met.LatencyMS > hi || e.met.LatencyMS < lo || !s.target.metExceptLatency(e.met) {
			continue
		}
		var sc Candidate
		sc.Choice = c.choice
		if err := s.composedScore(ctx, &sc); err != nil {
			return nil, err
		}
		fc := frontierChoice{e: e, summed: c.summed}
		switch {
		case sc.Loss != nil:
			fc.loss = *sc.Loss
		case sc.Top1 != nil:
			fc.loss = -*sc.Top1
		default:
			fc.loss = c.summed
		}
		short = append(short, fc)
	}
	slices.SortStableFunc(short, func(a, b frontierChoice) int { return cmp.Compare(a.loss, b.loss) })
	return short, nil
}

// composedScore scores the model of c.Choice as built, without a probe:
// its BatchNormalization statistics re-estimated when adaptive BN is on,
// then the calibration loss and top-1.
func (s *candidateSearch) composedScore(ctx context.Context, c *Candidate) error {
	m, _, err := s.ev.space.Model(c.Choice)
	if err != nil {
		return err
	}
	if s.bn != nil {
		if err := s.bn.recalibrate(ctx, m, s.ev.space.changedLayers(c.Choice)...); err != nil {
			return err
		}
	}
	return s.scoreModel(ctx, m, c)
}

// frontierName names a frontier candidate for build.json.
func frontierName(i int, fc frontierChoice) string {
	return fmt.Sprintf("frontier #%d at the latency target (composed calibration loss %.4f, summed damage %.4g)", i+1, fc.loss, fc.summed)
}
