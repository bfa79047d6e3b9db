package build

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/edgeprune/edgeprune/engine"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
	"github.com/edgeprune/edgeprune/train"
)

// Finetuner fine-tunes the chosen model in place: its weights (pruned
// zeros held) and, in BatchNorm training mode, its running statistics; its
// structure, and so its predicted costs, are kept. Build calls it, when
// Options.Finetune is set, after the solve and before verification, so
// the accuracy verified on the held-out data is the fine-tuned model's.
// Callers build it on package train (the CLI: the same loop as
// `edgeprune finetune`).
type Finetuner func(ctx context.Context, m *onnxio.Model) (*FinetuneReport, error)

// FinetuneReport is what the fine-tuning did (build.json "finetune_run").
type FinetuneReport struct {
	Data      string            `json:"data"`              // the training data, as the user named it
	Loss      string            `json:"loss"`              // the objective, e.g. nll(log softmax, labels)
	Optimizer string            `json:"optimizer"`         // e.g. sgd(momentum=0.9, wd=0)
	Schedule  string            `json:"schedule"`          // e.g. constant
	LR        float64           `json:"lr"`                // base learning rate
	Batch     int               `json:"batch"`             // samples per step
	Threads   int               `json:"threads"`           // data-parallel replicas
	BN        string            `json:"bn"`                // BatchNorm while training: train | frozen
	Epochs    []train.EpochInfo `json:"epochs"`            // per epoch: loss, accuracies, seconds
	Seconds   float64           `json:"seconds"`           // wall time of the whole fine-tuning
	Note      string            `json:"note,omitempty"`    // anything the caller adds
	Skipped   string            `json:"skipped,omitempty"` // why nothing was trained (then Epochs is empty)
}

// Summary is the one-line account in build.json's "finetune", the report
// and the terminal.
func (r *FinetuneReport) Summary() string {
	if r == nil {
		return "skipped: no training data (--train)"
	}
	if r.Skipped != "" {
		return "skipped: " + r.Skipped
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d epochs on %s (%s, %s lr %g %s, batch %d, BatchNorm %s)", len(r.Epochs), r.Data, r.Loss, r.Optimizer, r.LR, r.Schedule, r.Batch, r.BN)
	if n := len(r.Epochs); n > 0 {
		e := r.Epochs[n-1]
		fmt.Fprintf(&b, ": last epoch loss %.4f", e.Loss)
		if e.TrainAcc != nil {
			fmt.Fprintf(&b, ", train top-1 %.2f%%", 100**e.TrainAcc)
		}
		if e.ValAcc != nil {
			fmt.Fprintf(&b, ", val top-1 %.2f%%", 100**e.ValAcc)
		}
	}
	fmt.Fprintf(&b, "; %.1f s", r.Seconds)
	return b.String()
}

// finetune runs ft on the chosen model and records what it did in res.
// When the costs are predicted only (predictedOnly) and the chosen model
// already misses a cost budget, fine-tuning cannot help (it changes no
// cost): it is skipped, and res says why.
func finetune(ctx context.Context, ft Finetuner, p *profile.Profile, chosen *evaluated, predictedOnly bool, res *Result, logf func(string, ...any)) error {
	if predictedOnly {
		var miss []string
		for _, b := range budgetTable(p, chosen.met, chosen.met) {
			if !b.OK && b.Name != "accuracy" && b.Name != "accuracy_drop" && b.Name != "fidelity_drop" {
				miss = append(miss, fmt.Sprintf("%s %.4g > %.4g", b.Name, b.Value, b.Budget))
			}
		}
		if len(miss) > 0 {
			res.FinetuneRun = &FinetuneReport{Skipped: "the chosen model misses " + strings.Join(miss, ", ") + " and fine-tuning changes no cost"}
			res.Finetune = res.FinetuneRun.Summary()
			logf("[3b/5] fine-tune: %s", res.Finetune)
			return nil
		}
	}
	logf("[3b/5] fine-tune: the chosen model, its pruned structure kept")
	t0 := time.Now()
	r, err := ft(ctx, chosen.m)
	if err != nil {
		return fmt.Errorf("build: fine-tuning the chosen model: %w", err)
	}
	if r != nil && r.Seconds == 0 && r.Skipped == "" {
		r.Seconds = time.Since(t0).Seconds()
	}
	res.FinetuneRun = r
	res.Finetune = r.Summary()
	logf("      %s", res.Finetune)
	return nil
}

// shapeOptions turns Options.Shapes into engine options, in name order.
func shapeOptions(shapes map[string][]int64) []engine.Option {
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	var opts []engine.Option
	for _, n := range names {
		dims := make([]int, len(shapes[n]))
		for i, d := range shapes[n] {
			dims[i] = int(d)
		}
		opts = append(opts, engine.WithInputShape(n, dims...))
	}
	return opts
}
