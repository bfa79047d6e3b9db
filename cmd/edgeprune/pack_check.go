package main

import (
	"fmt"
	"io"
	"os"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/pack"
	"github.com/spf13/cobra"
)

// packCheckJSON is what `pack --check DATA` measures: the fidelity of the
// unpacked model to the original on DATA (and both accuracies with labels).
type packCheckJSON struct {
	Data          string   `json:"data"`
	Samples       int      `json:"samples"`
	AgreementTop1 float64  `json:"agreement_top1"`
	CosineMean    float64  `json:"cosine_mean"`
	MaxAbsDiff    float64  `json:"max_abs_diff"`
	Top1          *float64 `json:"top1,omitempty"`          // unpacked model, with labels
	Top1Original  *float64 `json:"top1_original,omitempty"` // original model, with labels
}

// packCheck unpacks the package written at packPath in memory and runs it
// beside the original model (which pack.Writer leaves untouched) on the data
// with the engine.
func packCheck(cmd *cobra.Command, orig *onnxio.Model, packPath, data, labels string, batch int) (*packCheckJSON, error) {
	ctx := cmd.Context()
	f, err := os.Open(packPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pack.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", packPath, err)
	}
	unpacked, err := r.ReadModel()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", packPath, err)
	}
	batches, err := loadEvalData(cmd, orig, data, &dataFlags{labels: labels}, batch)
	if err != nil {
		return nil, fmt.Errorf("--check %s: %w", data, err)
	}
	res, err := engine.Evaluate(ctx, unpacked, batches, engine.EvalOptions{Reference: orig})
	if err != nil {
		return nil, fmt.Errorf("--check: %w", err)
	}
	out := &packCheckJSON{Data: data, Samples: res.Samples, AgreementTop1: res.AgreementTop1,
		CosineMean: res.CosineMean, MaxAbsDiff: res.MaxAbsDiff}
	if res.Labeled {
		top1 := res.Top1
		out.Top1 = &top1
		ref, err := engine.Evaluate(ctx, orig, batches, engine.EvalOptions{})
		if err != nil {
			return nil, fmt.Errorf("--check: original model: %w", err)
		}
		top1o := ref.Top1
		out.Top1Original = &top1o
	}
	return out, nil
}

func printPackCheck(w io.Writer, c *packCheckJSON) {
	fmt.Fprintf(w, "check:     %d samples of %s: top-1 agreement %.2f%%, cosine %.6f, max |diff| %.6g\n",
		c.Samples, c.Data, 100*c.AgreementTop1, c.CosineMean, c.MaxAbsDiff)
	if c.Top1 != nil && c.Top1Original != nil {
		fmt.Fprintf(w, "           top-1 accuracy %.2f%% (original %.2f%%)\n", 100**c.Top1, 100**c.Top1Original)
	}
}
