package profile

import (
	"fmt"
	"strconv"
	"strings"
)

// Override sets one budget from a command line "key=value" (latency_ms,
// ram_mb, activations_mb, file_mb: the max; accuracy: the goal's value)
// and validates the profile again. latency_ms also takes a percentage of
// the original model's latency ("latency_ms=50%": fraction_of_original
// 0.5), which replaces an absolute budget, as a number replaces a
// fraction. The error names the override.
func (p *Profile) Override(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("%w: %q: want key=value, e.g. latency_ms=40 or latency_ms=50%%", ErrInvalid, kv)
	}
	b := &p.Budgets
	if k == "latency_ms" {
		ms, frac, err := parseLatencyOverride(v)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalid, k, err)
		}
		if b.LatencyMS == nil {
			b.LatencyMS = &LatencyBudget{Statistic: DefaultStatistic}
		}
		// One form replaces the other, as in a profile that extends a base.
		b.LatencyMS.Max, b.LatencyMS.FractionOfOriginal = ms, frac
		field := "budgets.latency_ms.max"
		if strings.HasSuffix(strings.TrimSpace(v), "%") { // "0%" too: its error names the fraction
			field = "budgets.latency_ms.fraction_of_original"
		}
		delete(p.lines, "budgets.latency_ms.max")
		delete(p.lines, "budgets.latency_ms.fraction_of_original")
		p.lines["budgets.latency_ms"] = "--budget " + kv
		p.lines[field] = "--budget " + kv
		return p.revalidate()
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		if strings.HasSuffix(strings.TrimSpace(v), "%") {
			return fmt.Errorf("%w: %s: %q: only latency_ms takes a percentage (of the original's latency)", ErrInvalid, k, v)
		}
		return fmt.Errorf("%w: %s: %q is not a number", ErrInvalid, k, v)
	}
	switch k {
	case "ram_mb":
		b.RAMMB = &Limit{Max: x}
	case "activations_mb":
		b.ActivationsMB = &Limit{Max: x}
	case "file_mb":
		b.FileMB = &Limit{Max: x}
	case "accuracy":
		if b.Accuracy == nil {
			b.Accuracy = &AccuracyBudget{Metric: "top1", Goal: "max-degradation"}
		}
		b.Accuracy.Value = x
	default:
		return fmt.Errorf("%w: %q: unknown budget; allowed: %s", ErrInvalid, k, strings.Join(budgetKeys, ", "))
	}
	p.lines["budgets."+k] = "--budget " + kv
	p.lines["budgets."+k+".max"] = "--budget " + kv
	p.lines["budgets."+k+".value"] = "--budget " + kv
	return p.revalidate()
}

// revalidate validates p after an override (nil when it holds).
func (p *Profile) revalidate() error {
	if errs := p.Validate(); len(errs) > 0 {
		return errs
	}
	return nil
}
