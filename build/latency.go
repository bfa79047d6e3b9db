package build

import (
	"fmt"
	"math"
	"slices"

	"github.com/edgeprune/edgeprune/profile"
)

// UnitOfOriginal is the unit of a latency budget given as a fraction of the
// original's latency (profile budgets.latency_ms.fraction_of_original): the
// budget row's Budget, Value and Gap are ratios to the original.
const UnitOfOriginal = "× the original's"

// latencyLimit is the latency budget in the unit build judges it by:
// milliseconds for an absolute budget; for a fraction of the original's,
// the built model's latency over the original's — measured here, the
// median over interleaved rounds of the ratio within each round
// (measure.go), so that no reading of the original taken at another
// minute enters; predicted, the cost model's ratio.
type latencyLimit struct {
	budget   float64 // ms, or the fraction (0: no latency budget)
	fraction bool
}

func latencyLimitOf(p *profile.Profile) latencyLimit {
	switch l := p.Budgets.LatencyMS; {
	case l.IsFraction():
		return latencyLimit{budget: l.FractionOfOriginal, fraction: true}
	case l != nil:
		return latencyLimit{budget: l.Max}
	}
	return latencyLimit{}
}

// original is the original model's latency in the budget's unit, given
// its reference reading.
func (l latencyLimit) original(ref Metrics) float64 {
	if l.fraction {
		return 1
	}
	return ref.MeasuredMS
}

// measured is a model's measured latency (timer.measure) in the budget's
// unit.
func (l latencyLimit) measured(m Metrics) float64 {
	if l.fraction {
		return m.MeasuredRatio
	}
	return m.MeasuredMS
}

// upper is an upper confidence bound of a model's measured latency in
// the budget's unit: of the median of its per-round ratios to the original
// (for an absolute budget, times the original's reference time), at
// medianConfidence (medianUpperBound); the median itself (measured) when
// the rounds are not known.
func (l latencyLimit) upper(m Metrics) float64 {
	if len(m.ratioRounds) == 0 || m.MeasuredRatio <= 0 {
		return l.measured(m)
	}
	u := medianUpperBound(m.ratioRounds, medianConfidence)
	if l.fraction {
		return u
	}
	return u * m.MeasuredMS / m.MeasuredRatio
}

// medianConfidence is the confidence of the bound upper gives.
const medianConfidence = 0.9

// medianUpperBound is the distribution-free upper confidence bound of the
// median of whatever xs are independent draws of: the k-th smallest of the
// n values, k the least with P(Binomial(n, ½) ≤ k−1) ≥ conf (the true
// median lies below the k-th value unless k or more of the n fall above
// it). Of 8 rounds at 0.9 that is the second largest (0.965); of 4 or
// fewer, the largest (4: 0.9375). One outlying round does not decide
// unless there are too few rounds to discard it.
func medianUpperBound(xs []float64, conf float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	cdf, term := 0.0, math.Pow(0.5, float64(n)) // P(B = 0)
	for k := 1; k <= n; k++ {
		cdf += term // P(B ≤ k−1)
		if cdf >= conf {
			return s[k-1]
		}
		term *= float64(n-k+1) / float64(k) // P(B = k)
	}
	return s[n-1]
}

// predicted is a model's predicted latency in the budget's unit: over the
// original's predicted latency for a fraction.
func (l latencyLimit) predicted(m, orig Metrics) float64 {
	if l.fraction {
		if orig.LatencyMS <= 0 {
			return 0
		}
		return m.LatencyMS / orig.LatencyMS
	}
	return m.LatencyMS
}

// format prints x in the budget's unit: "0.463 × the original's" or
// "13.55 ms".
func (l latencyLimit) format(x float64) string {
	if l.fraction {
		return fmt.Sprintf("%.3g %s", x, UnitOfOriginal)
	}
	return fmt.Sprintf("%.4g ms", x)
}

// Limit is the row's budget as a person reads it: "50% of the original's"
// for a latency fraction, else the number and unit.
func (r BudgetRow) Limit() string {
	if r.Unit == UnitOfOriginal {
		return profile.Percent(r.Budget) + " of the original's"
	}
	return fmt.Sprintf("%.4g %s", r.Budget, r.Unit)
}

// Shown is the row's value as the table prints it: a percentage of the
// original's for a latency fraction.
func (r BudgetRow) Shown() string {
	if r.Unit == UnitOfOriginal {
		return profile.Percent(r.Value)
	}
	return fmt.Sprintf("%.4g", r.Value)
}

// GapShown is the row's gap as the table prints it: a percentage of the
// original's latency for a latency fraction.
func (r BudgetRow) GapShown() string {
	if r.Unit == UnitOfOriginal {
		return profile.Percent(r.Gap) + " of the original's"
	}
	return fmt.Sprintf("%.4g", r.Gap)
}

// fractionRow judges a latency budget given as the fraction f of the
// original's latency: measured here, by the built model's ratio to the
// original timed interleaved with it (Metrics.MeasuredRatio); otherwise by
// the cost model's ratio. The milliseconds are for information.
func fractionRow(f float64, before, after Metrics) BudgetRow {
	r := BudgetRow{Name: "latency_ms", Budget: f, Unit: UnitOfOriginal}
	pred := 0.0
	if before.LatencyMS > 0 {
		pred = after.LatencyMS / before.LatencyMS
	}
	if after.MeasuredRatio > 0 {
		r.Value, r.ValueMS, r.BudgetMS = after.MeasuredRatio, after.MeasuredMS, f*before.MeasuredMS
		r.Note = fmt.Sprintf("measured %s here: the median over %d interleaved rounds of its time over the original's in the same round (medians %.4g vs %.4g ms); ≈ %.4g ms at the original's %.4g ms read at the start; predicted %.3g (%.4g / %.4g ms)",
			after.MeasuredStatistic, max(len(after.ratioRounds), measureRounds), after.SameRunMS, after.OriginalSameRunMS, after.MeasuredMS, before.MeasuredMS, pred, after.LatencyMS, before.LatencyMS)
	} else {
		r.Value, r.ValueMS, r.BudgetMS = pred, after.LatencyMS, f*before.LatencyMS
		r.Note = fmt.Sprintf("predicted: %.4g / %.4g ms", after.LatencyMS, before.LatencyMS)
	}
	r.OK = r.Value <= r.Budget
	if !r.OK {
		r.Gap = r.Value - r.Budget
	}
	return r
}
