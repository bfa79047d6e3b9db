package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/prune"
	"github.com/edgeprune/edgeprune/train"
	"github.com/spf13/cobra"
)

// iterativeFlags turn prune into gradual pruning with fine-tuning between
// steps (--steps N).
type iterativeFlags struct {
	steps int
	tr    trainFlags
}

// addIterativeFlags defines --steps and the fine-tuning settings; the data
// flags (--data, --batch, --threads, dataset flags) are prune's calibration
// flags, which --steps uses as its training data.
func addIterativeFlags(cmd *cobra.Command, f *iterativeFlags) {
	fl := cmd.Flags()
	fl.IntVar(&f.steps, "steps", 0, "iterative pruning: reach --sparsity in this many steps (Zhu & Gupta's cubic schedule), fine-tuning on --data after each")
	addTuneFlags(fl, &f.tr, "finetune-epochs")
}

// iterativeReport is the schema of `prune --steps N --json`.
type iterativeReport struct {
	Model      string        `json:"model"`
	Output     string        `json:"output"`
	Structured bool          `json:"structured"`
	Sparsity   float64       `json:"sparsity"`
	Schedule   []float64     `json:"schedule"`
	Rounds     []train.Round `json:"rounds"`
	Seconds    float64       `json:"seconds"`
}

// checkIterativeFlags refuses training flags without --steps.
func checkIterativeFlags(cmd *cobra.Command) error {
	if cmd.Flags().Changed("steps") {
		return nil
	}
	for _, name := range []string{"val", "val-fraction", "teacher", "finetune-epochs", "optimizer", "lr", "schedule", "momentum", "weight-decay", "warmup", "clip-norm", "freeze", "bn", "alpha", "feature"} {
		if cmd.Flags().Changed(name) {
			return usagef("--%s needs --steps N (iterative pruning with fine-tuning between steps; or use 'edgeprune finetune')", name)
		}
	}
	return nil
}

func runIterative(c *cli, cmd *cobra.Command, in string, f *pruneFlags, start time.Time) error {
	it := &f.it
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	switch {
	case f.out == "":
		return usagef("prune needs -o OUT.onnx")
	case it.steps < 1:
		return usagef("--steps %d: must be ≥ 1", it.steps)
	case f.planFile != "":
		return usagef("--plan replays one plan: it cannot be combined with --steps")
	case !cmd.Flags().Changed("sparsity"):
		return usagef("prune --steps needs the final --sparsity")
	case f.st.emitMasked != "":
		return usagef("--emit-masked cannot be combined with --steps")
	}
	if same, _ := sameFile(in, f.out); same {
		return usagef("-o %s is the input model: write to another file", f.out)
	}
	it.tr.seed = int64(f.st.seed)
	it.tr.data, it.tr.batch, it.tr.threads, it.tr.df = f.cal.data, f.cal.batch, f.cal.threads, f.cal.df
	if err := it.tr.check("finetune-epochs"); err != nil {
		return err
	}
	cubic, err := prune.NewCubic(0, f.sparsity, 0, it.steps, 1)
	if err != nil {
		return usageError{fmt.Errorf("--sparsity %v / --steps %d: %s", f.sparsity, it.steps, libraryReason(err))}
	}
	_, sched := cubic.Updates()
	sched = sched[1:]
	crit, err := f.criterion(cmd)
	if err != nil {
		return err
	}
	// Check the pruning flags once, before any work.
	if f.st.on {
		shapes, err := parseShapes(f.st.shapes)
		if err != nil {
			return err
		}
		if _, err := structuredOptions(cmd, f, shapes); err != nil {
			return err
		}
	} else {
		if pat, _ := prune.ParsePattern(f.pattern); pat.Kind == prune.NM {
			return usagef("--steps with an N:M --pattern: its sparsity is fixed by N:M; prune once and fine-tune")
		}
		opts, _, err := pruneOptions(cmd, f, crit)
		if err != nil {
			return err
		}
		if _, err := prune.New(opts...); err != nil {
			return usageError{err}
		}
	}
	m, err := readModel(ctx, in)
	if err != nil {
		return err
	}
	teacher, err := readTeacher(ctx, it.tr.teacher)
	if err != nil {
		return err
	}
	d, err := openTrainData(cmd, m, &it.tr)
	if err != nil {
		return err
	}
	defer d.Close()
	prev := 0.0
	step := func(ctx context.Context, m *onnxio.Model, s float64) error {
		g := *f
		defer func() { prev = s }()
		if !f.st.on {
			g.sparsity = s
			opts, sel, err := pruneOptions(cmd, &g, crit)
			if err != nil {
				return err
			}
			if prune.IsDataCriterion(crit) {
				// rescored on the current (fine-tuned) weights each step
				scores, err := f.cal.scores(cmd, m, crit, sel)
				if err != nil {
					return err
				}
				opts = append(opts, prune.WithImportance(scores))
			}
			pr, err := prune.New(opts...)
			if err != nil {
				return usageError{err}
			}
			_, err = pr.Prune(m)
			return err
		}
		// Structured: channels are removed, so remove the fraction of what is
		// left that brings the original count to s.
		g.sparsity = 1 - (1-s)/(1-prev)
		shapes, err := parseShapes(g.st.shapes)
		if err != nil {
			return err
		}
		opts, err := structuredOptions(cmd, &g, shapes)
		if err != nil {
			return err
		}
		if prune.IsDataCriterion(crit) {
			scores, err := f.cal.scores(cmd, m, crit, prune.Selection{})
			if err != nil {
				return err
			}
			opts = append(opts, prune.WithCriterion(scores))
		}
		sp, err := prune.NewStructured(opts...)
		if err != nil {
			return usageError{err}
		}
		plan, err := sp.Plan(m)
		if err != nil {
			return err
		}
		return prune.ApplyStructured(m, plan)
	}
	driver := train.Iterative{
		Sparsities: sched,
		Prune:      step,
		FineTune: func(ctx context.Context, m *onnxio.Model, i int) (*train.History, error) {
			r, err := fineTune(ctx, c, m, teacher, d, &it.tr, fmt.Sprintf("step %d/%d ", i, it.steps))
			if err != nil {
				return nil, err
			}
			return &train.History{Epochs: r.Epochs, Loss: r.Loss}, nil
		},
		OnRound: func(r train.Round) {
			line := fmt.Sprintf("step %d/%d: sparsity %.4g", r.Step, it.steps, r.Sparsity)
			if r.AccPruned != nil && r.AccTuned != nil {
				line += fmt.Sprintf(", val acc %.2f%% pruned → %.2f%% fine-tuned", 100**r.AccPruned, 100**r.AccTuned)
			}
			fmt.Fprintln(c.stderr, line)
		},
	}
	if d.val != nil {
		driver.Evaluate = func(ctx context.Context, m *onnxio.Model) (float64, error) {
			return train.Accuracy(ctx, m, d.val, 256, it.tr.threads)
		}
	}
	rounds, err := driver.Run(ctx, m)
	if err != nil {
		if errors.Is(err, prune.ErrNoMatch) || errors.Is(err, prune.ErrNoTarget) || errors.Is(err, prune.ErrInfeasible) {
			return usageError{err}
		}
		return err
	}
	if err := m.WriteFile(f.out); err != nil {
		return err
	}
	rep := &iterativeReport{Model: in, Output: f.out, Structured: f.st.on, Sparsity: f.sparsity, Schedule: sched,
		Rounds: rounds, Seconds: time.Since(start).Seconds()}
	if f.asJSON {
		return writeJSON(c.stdout, rep)
	}
	printIterative(c.stdout, rep)
	return nil
}

func printIterative(w io.Writer, r *iterativeReport) {
	kind := "magnitude"
	if r.Structured {
		kind = "structured"
	}
	fmt.Fprintf(w, "%s → %s: iterative %s pruning to %g in %d steps\n", r.Model, r.Output, kind, r.Sparsity, len(r.Rounds))
	for _, rd := range r.Rounds {
		fmt.Fprintf(w, "step %-3d sparsity %.4f", rd.Step, rd.Sparsity)
		if rd.AccPruned != nil && rd.AccTuned != nil {
			fmt.Fprintf(w, "  val acc %.2f%% → %.2f%%", 100**rd.AccPruned, 100**rd.AccTuned)
		}
		if rd.History != nil && len(rd.History.Epochs) > 0 {
			fmt.Fprintf(w, "  loss %.4f", rd.History.Epochs[len(rd.History.Epochs)-1].Loss)
		}
		fmt.Fprintf(w, "  (%.1f s)\n", rd.PruneSec+rd.FineTuneSec)
	}
	fmt.Fprintf(w, "wrote %s in %.1f s\n", r.Output, r.Seconds)
}
