package profile

import (
	"fmt"
	"strconv"
	"strings"
)

// Override sets one budget from a command line "key=value" (latency_ms,
// ram_mb, activations_mb, file_mb: the max; accuracy: the goal's value)
// and validates the profile again. The error names the override.
func (p *Profile) Override(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("%w: %q: want key=value, e.g. latency_ms=40", ErrInvalid, kv)
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return fmt.Errorf("%w: %s: %q is not a number", ErrInvalid, k, v)
	}
	b := &p.Budgets
	switch k {
	case "latency_ms":
		if b.LatencyMS == nil {
			b.LatencyMS = &LatencyBudget{Statistic: DefaultStatistic}
		}
		b.LatencyMS.Max = x
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
	if errs := p.Validate(); len(errs) > 0 {
		return errs
	}
	return nil
}
