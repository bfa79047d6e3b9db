package profile

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// IsFraction tells whether the budget is a fraction of the original's
// latency.
func (l *LatencyBudget) IsFraction() bool { return l != nil && l.FractionOfOriginal > 0 }

// String is the budget as a person reads it: "p90 ≤ 40 ms" or
// "p90 ≤ 50% of the original's".
func (l *LatencyBudget) String() string {
	if l.IsFraction() {
		return fmt.Sprintf("%s ≤ %s of the original's", l.Statistic, Percent(l.FractionOfOriginal))
	}
	return fmt.Sprintf("%s ≤ %g ms", l.Statistic, l.Max)
}

// Percent prints a fraction as a percentage to 0.1: 0.5 → "50%", 0.3333 →
// "33.3%".
func Percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e3)/10, 'f', -1, 64) + "%"
}

// overlay: a file that gives one form of the budget over a base profile
// (extends) that gave the other replaces it, so the two are never merged
// into a budget with both.
func (l *LatencyBudget) overlay(keys []string) (cleared []string) {
	switch {
	case slices.Contains(keys, "max") && l.FractionOfOriginal != 0:
		l.FractionOfOriginal = 0
		return []string{"fraction_of_original"}
	case slices.Contains(keys, "fraction_of_original") && l.Max != 0:
		l.Max = 0
		return []string{"max"}
	}
	return nil
}

// latency validates the latency budget: exactly one of max (ms, > 0) and
// fraction_of_original (in (0, 1]).
func (v *validator) latency(l *LatencyBudget) {
	const f = "budgets.latency_ms"
	_, maxSet := v.p.lines[f+".max"]
	_, fracSet := v.p.lines[f+".fraction_of_original"]
	maxSet = maxSet || l.Max != 0
	fracSet = fracSet || l.FractionOfOriginal != 0
	switch {
	case maxSet && fracSet:
		v.add(f, nil, "max (%g ms) and fraction_of_original (%g) both set; give one, an absolute budget or a fraction of the original's latency", l.Max, l.FractionOfOriginal)
	case fracSet:
		if x := l.FractionOfOriginal; !(x > 0 && x <= 1) {
			v.add(f+".fraction_of_original", x, "must be in (0, 1], the built model's latency over the original's (0.5 = half, --budget latency_ms=50%%)")
		}
	case maxSet:
		v.positive(f+".max", l.Max, true)
	default:
		v.add(f, nil, "missing: max (ms) or fraction_of_original (in (0, 1], e.g. 0.5 for half the original's latency)")
	}
	if !slices.Contains(statistics, l.Statistic) {
		v.add(f+".statistic", l.Statistic, "must be one of %s", strings.Join(statistics, ", "))
	}
}

// parseLatencyOverride reads a --budget latency_ms value: milliseconds
// ("40") or a percentage of the original's latency ("50%").
func parseLatencyOverride(v string) (ms, fraction float64, err error) {
	v = strings.TrimSpace(v)
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		x, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%q is not a percentage (50%% is half the original's latency)", v)
		}
		return 0, x / 100, nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not a number of ms (40) or a percentage of the original's latency (50%%)", v)
	}
	return x, 0, nil
}
