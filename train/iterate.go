package train

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeprune/edgeprune/onnxio"
)

// Round is one step of iterative pruning: prune to Sparsity, then
// fine-tune.
type Round struct {
	Step        int      `json:"step"` // 1-based
	Sparsity    float64  `json:"sparsity"`
	AccPruned   *float64 `json:"acc_pruned,omitempty"` // right after pruning, with validation data
	AccTuned    *float64 `json:"acc_tuned,omitempty"`  // after fine-tuning
	History     *History `json:"history,omitempty"`    // the fine-tuning curve
	PruneSec    float64  `json:"prune_seconds"`
	FineTuneSec float64  `json:"finetune_seconds"`
}

// Iterative is gradual pruning with fine-tuning between steps (Zhu & Gupta;
// the schedule is prune.Cubic's, which the caller turns into Sparsities).
// Prune and FineTune act on the model in place; Evaluate, if set, scores it
// after each.
type Iterative struct {
	Sparsities []float64
	Prune      func(ctx context.Context, m *onnxio.Model, sparsity float64) error
	FineTune   func(ctx context.Context, m *onnxio.Model, step int) (*History, error)
	Evaluate   func(ctx context.Context, m *onnxio.Model) (float64, error)
	OnRound    func(Round)
}

// Run prunes and fine-tunes m in place, step by step.
func (it Iterative) Run(ctx context.Context, m *onnxio.Model) ([]Round, error) {
	if len(it.Sparsities) == 0 || it.Prune == nil || it.FineTune == nil {
		return nil, fmt.Errorf("%w: iterative pruning needs sparsities, a pruning step and a fine-tuning step", ErrInvalid)
	}
	var rounds []Round
	for i, s := range it.Sparsities {
		r := Round{Step: i + 1, Sparsity: s}
		t0 := time.Now()
		if err := it.Prune(ctx, m, s); err != nil {
			return rounds, fmt.Errorf("step %d (sparsity %.4g): %w", i+1, s, err)
		}
		r.PruneSec = time.Since(t0).Seconds()
		if it.Evaluate != nil {
			a, err := it.Evaluate(ctx, m)
			if err != nil {
				return rounds, err
			}
			r.AccPruned = &a
		}
		t0 = time.Now()
		h, err := it.FineTune(ctx, m, i+1)
		if err != nil {
			return rounds, fmt.Errorf("step %d (sparsity %.4g): %w", i+1, s, err)
		}
		r.History, r.FineTuneSec = h, time.Since(t0).Seconds()
		if it.Evaluate != nil {
			a, err := it.Evaluate(ctx, m)
			if err != nil {
				return rounds, err
			}
			r.AccTuned = &a
		}
		rounds = append(rounds, r)
		if it.OnRound != nil {
			it.OnRound(r)
		}
	}
	return rounds, nil
}
