package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgeprune/edgeprune/prune"
	"github.com/spf13/cobra"
)

// pruneReport is the schema of `prune --json` and `--report`
// (docs/cli-json.md): the plan, which `prune --plan` replays, plus the files.
type pruneReport struct {
	*prune.Plan
	Model   string  `json:"model"`
	Output  string  `json:"output"`
	Seconds float64 `json:"seconds"`
}

type pruneFlags struct {
	out, scope, pattern, importance, planFile, report string
	sparsity, minLayer, maxLayer                      float64
	include, exclude, opTypes                         []string
	asJSON                                            bool
	st                                                structuredFlags // --structured
	cal                                               calibFlags      // --criterion taylor|snip|obd|wanda
	it                                                iterativeFlags  // --steps
}

// criterion is the importance the flags ask for: --criterion (both modes)
// or --importance (unstructured).
func (f *pruneFlags) criterion(cmd *cobra.Command) (string, error) {
	changed := cmd.Flags().Changed
	if f.st.on || changed("criterion") {
		if changed("importance") {
			return "", usagef("--importance and --criterion name the same thing: use --criterion")
		}
		return f.st.criterion, nil
	}
	return f.importance, nil
}

func newPruneCmd(c *cli) *cobra.Command {
	var f pruneFlags
	cmd := &cobra.Command{
		Use:   "prune MODEL -o OUT.onnx --sparsity S",
		Short: "Prune weights: by magnitude (element, N:M, blocks) or whole channels (--structured)",
		Long: `prune zeroes the weights of lowest magnitude and writes a model of the
same structure. Prunable by default: float weights of Conv, ConvTranspose,
Gemm and MatMul (rank ≥ 2), wherever they are stored; never biases or
normalization parameters.

  --scope global   one threshold over all selected weights (as torch's
                   global_unstructured); --min/--max-sparsity bound each layer
  --scope layer    every weight tensor to the sparsity on its own
  --pattern 2:4    at most N nonzeros in every M weights along the input
                   channels (sparse tensor cores); sparsity is 1-N/M
  --pattern block=1x4   RxC blocks (output x input channels) by block norm
  --scope row      every output row of every weight to the sparsity on its own

` + criteriaHelp + `

Layers a pattern does not divide stay dense and are listed. Weights already
zero count toward the sparsity. Ties are broken by position: the same input
gives the same output everywhere. The plan (--report, --json) replays with
--plan on the same or a fine-tuned model.

--structured removes whole channels instead, so a dense runtime does less
work: each Conv/Gemm output channel is followed through the graph to
everything that must shrink with it (biases, BatchNorm, residual Adds,
Concat, depthwise convs, SE scales, Reshape into Gemm, channel shuffles) and
the coupled group is scored (--criterion l1|l2|bn|random) and removed whole;
--sparsity is the fraction of channels removed (--scope layer: per group;
global: one ranking). Kept channel counts are multiples of --round-to
(default 8, which the blocked kernels of common runtimes run fast; 1 for
exact ratios). Groups that
reach a graph output, or an op no rule covers, are kept and reported with
the reason. --emit-masked writes the same selection as zeros at the
original shapes, which computes the same outputs.`,
		Example: `  edgeprune prune resnet18.onnx -o r18-90.onnx --sparsity 0.9
  edgeprune prune model.onnx -o m24.onnx --pattern 2:4 --exclude '^conv1\.'
  edgeprune prune model.onnx -o m.onnx --sparsity 0.8 --scope layer --report plan.json
  edgeprune prune finetuned.onnx -o again.onnx --plan plan.json
  edgeprune prune resnet18.onnx -o slim.onnx --structured --sparsity 0.5
  edgeprune prune resnet18.onnx -o exact.onnx --structured --sparsity 0.5 --round-to 1
  edgeprune prune lenet5.onnx -o l5-t.onnx --sparsity 0.9 --criterion taylor --data mnist_train.npz --samples 128
  edgeprune prune lenet5.onnx -o l5-w.onnx --sparsity 0.5 --criterion wanda --data mnist_train.npz --samples 128
  edgeprune prune lenet.onnx -o l98.onnx --sparsity 0.98 --steps 4 --finetune-epochs 1 --data train.npz`,
		Args: exactArgs(1, "one MODEL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPrune(c, cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	addOutputFlag(cmd, &f.out, "output model (required)")
	fl.Float64Var(&f.sparsity, "sparsity", 0, "fraction of weights to zero, in [0,1) (not needed for N:M)")
	fl.StringVar(&f.scope, "scope", "global", "global | layer | row (default row for --criterion wanda)")
	fl.StringVar(&f.pattern, "pattern", "element", "element | N:M (e.g. 2:4) | block=RxC (e.g. block=1x4)")
	fl.StringVar(&f.importance, "importance", "l1", "l1 (magnitude) | l2 (or --criterion, which also takes taylor|snip|obd|wanda)")
	fl.StringArrayVar(&f.include, "include", nil, "prune only parameters whose ID or node name matches this regexp (repeatable)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "do not prune parameters whose ID or node name matches this regexp (repeatable)")
	fl.StringSliceVar(&f.opTypes, "op-types", nil, "prune weights of these ops only (default Conv,ConvTranspose,Gemm,MatMul,LSTM,GRU)")
	fl.Float64Var(&f.minLayer, "min-sparsity", 0, "global scope: least sparsity of each layer")
	fl.Float64Var(&f.maxLayer, "max-sparsity", 1, "global scope: most sparsity of each layer")
	fl.StringVar(&f.planFile, "plan", "", "replay a plan (a --report file) instead of planning")
	fl.StringVar(&f.report, "report", "", "write the plan and per-layer results as JSON to this file")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON (schema: docs/cli-json.md) instead of a table")
	addStructuredFlags(cmd, &f.st)
	addCalibFlags(cmd, &f.cal)
	addIterativeFlags(cmd, &f.it)
	return cmd
}

func runPrune(c *cli, cmd *cobra.Command, in string, f *pruneFlags) error {
	start := time.Now()
	if err := checkStructuredFlags(cmd, f); err != nil {
		return err
	}
	if err := checkIterativeFlags(cmd); err != nil {
		return err
	}
	if cmd.Flags().Changed("steps") {
		return runIterative(c, cmd, in, f, start)
	}
	if f.st.on {
		return runStructured(c, cmd, in, f, start)
	}
	if f.out == "" {
		return usagef("prune needs -o OUT.onnx")
	}
	if same, _ := sameFile(in, f.out); same {
		return usagef("-o %s is the input model: write to another file", f.out)
	}
	ctx := cmd.Context()
	var pr *prune.Pruner
	var replay *prune.Plan
	var opts []prune.Option
	var sel prune.Selection
	crit, err := f.criterion(cmd)
	if err != nil {
		return err
	}
	if f.planFile != "" {
		if err := rejectWithPlan(cmd, "sparsity", "scope", "pattern", "importance", "criterion", "include", "exclude", "op-types", "min-sparsity", "max-sparsity"); err != nil {
			return err
		}
		var err error
		if replay, err = readPlanFile(f.planFile, prune.ReadPlan); err != nil {
			return err
		}
		crit = replay.Importance
	} else {
		var err error
		if opts, sel, err = pruneOptions(cmd, f, crit); err != nil {
			return err
		}
		if pr, err = prune.New(opts...); err != nil {
			return flagsError(cmd, err, "sparsity", "scope", "pattern", "importance", "criterion", "min-sparsity", "max-sparsity", "op-types")
		}
	}
	if err := checkCalibFlags(cmd, &f.cal, crit); err != nil {
		return err
	}
	m, err := readModel(ctx, in)
	if err != nil {
		return err
	}
	// The file's bytes are garbage now: hand their pages back to the OS
	// before serialising the output (peak RSS about 2.2 times the file
	// instead of 3.2 times).
	debug.FreeOSMemory()
	var scores *prune.ElementScores
	if prune.IsDataCriterion(crit) {
		if scores, err = f.cal.scores(cmd, m, crit, sel); err != nil {
			return err
		}
		if pr != nil {
			if pr, err = prune.New(append(opts, prune.WithImportance(scores))...); err != nil {
				return err
			}
		}
	}
	plan := replay
	switch {
	case pr != nil:
		plan, err = interruptible(ctx, func() (*prune.Plan, error) { return pr.Prune(m) })
	case scores != nil:
		err = interruptibleErr(ctx, func() error { return prune.ApplyWith(m, plan, scores) })
	default:
		err = interruptibleErr(ctx, func() error { return prune.Apply(m, plan) })
	}
	switch {
	case errors.Is(err, prune.ErrNoMatch):
		return flagsError(cmd, err, "include", "exclude", "op-types")
	case errors.Is(err, prune.ErrNoTarget):
		return flagsError(cmd, err, "pattern", "include", "exclude", "op-types")
	case errors.Is(err, prune.ErrInfeasible):
		return flagsError(cmd, err, "sparsity", "min-sparsity", "max-sparsity")
	case errors.Is(err, prune.ErrPlan):
		return fmt.Errorf("--plan %s: %s", f.planFile, libraryReason(err))
	case err != nil:
		return err
	}
	if err := writeModel(ctx, m, f.out); err != nil {
		return err
	}
	rep := &pruneReport{Plan: plan, Model: in, Output: f.out, Seconds: time.Since(start).Seconds()}
	if f.report != "" {
		if err := writeJSONFile(f.report, rep); err != nil {
			return err
		}
	}
	if f.asJSON {
		return writeJSON(c.stdout, rep)
	}
	return printPrune(c.stdout, rep)
}

// pruneOptions turns the flags into library options; bad values are usage
// errors that name the flag and say what to change. The library validates
// each value, on its own so that its error is the flag's. A data
// criterion's importance is added by the caller once scored; Magnitude
// stands in for it here, so that the options are checked before the model
// is read.
func pruneOptions(cmd *cobra.Command, f *pruneFlags, crit string) ([]prune.Option, prune.Selection, error) {
	changed := cmd.Flags().Changed
	var sel prune.Selection
	scope, err := prune.ParseScope(f.scope)
	if err != nil {
		return nil, sel, flagError("--scope "+f.scope, err)
	}
	if strings.EqualFold(crit, "wanda") && !changed("scope") {
		scope = prune.Row
	}
	pat, err := prune.ParsePattern(f.pattern)
	if err != nil {
		return nil, sel, flagError("--pattern "+f.pattern, err)
	}
	var imp prune.Importance = prune.Magnitude{}
	if !prune.IsDataCriterion(crit) {
		if imp, err = prune.ImportanceByName(crit); err != nil {
			flag := "--importance "
			if changed("criterion") {
				flag = "--criterion "
			}
			return nil, sel, flagError(flag+crit, fmt.Errorf("%w (or taylor, snip, obd, wanda with --data)", err))
		}
	}
	if changed("sparsity") {
		if _, err := prune.New(prune.WithSparsity(f.sparsity)); err != nil {
			return nil, sel, flagError(fmt.Sprintf("--sparsity %g", f.sparsity), err)
		}
	}
	if changed("min-sparsity") || changed("max-sparsity") {
		if _, err := prune.New(prune.WithSparsity(0.5), prune.WithLayerBounds(f.minLayer, f.maxLayer)); err != nil {
			return nil, sel, flagError(fmt.Sprintf("--min-sparsity %g --max-sparsity %g", f.minLayer, f.maxLayer), err)
		}
	}
	sel = prune.Selection{OpTypes: f.opTypes}
	for _, list := range []struct {
		flag string
		src  []string
		dst  *[]*regexp.Regexp
	}{{"include", f.include, &sel.Include}, {"exclude", f.exclude, &sel.Exclude}} {
		for _, s := range list.src {
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, sel, usagef("--%s %q is not a valid regular expression: %v", list.flag, s, err)
			}
			*list.dst = append(*list.dst, re)
		}
	}
	if _, err := prune.New(prune.WithSparsity(0.5), prune.WithSelection(sel)); err != nil {
		return nil, sel, flagsError(cmd, err, "op-types", "include", "exclude")
	}
	opts := []prune.Option{prune.WithScope(scope), prune.WithPattern(pat), prune.WithImportance(imp), prune.WithSelection(sel)}
	if changed("sparsity") {
		opts = append(opts, prune.WithSparsity(f.sparsity))
	} else if pat.Kind != prune.NM {
		return nil, sel, usagef("prune needs --sparsity (e.g. --sparsity 0.9 zeroes 90%% of the weights), or an N:M --pattern")
	}
	if changed("min-sparsity") || changed("max-sparsity") {
		opts = append(opts, prune.WithLayerBounds(f.minLayer, f.maxLayer))
	}
	return opts, sel, nil
}

func printPrune(w io.Writer, r *pruneReport) error {
	p := r.Plan
	fmt.Fprintf(w, "%s → %s: %s, %s scope, importance %s", filepath.Base(r.Model), r.Output, p.Pattern, p.Scope, p.Importance)
	if p.Pattern == "element" || strings.HasPrefix(p.Pattern, "block") {
		fmt.Fprintf(w, ", sparsity %g", p.Sparsity)
	}
	if p.Scope == "global" && (p.MinLayerSparsity > 0 || p.MaxLayerSparsity < 1) {
		fmt.Fprintf(w, " (each layer in [%g, %g])", p.MinLayerSparsity, p.MaxLayerSparsity)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nparameter\top\tshape\tpattern\tsparsity before → after")
	var dense []prune.ParamPlan
	for _, e := range p.Params {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%5.1f%% → %5.1f%%\n", e.ID, e.Op, dims(e.Shape), e.Pattern, 100*e.SparsityBefore, 100*e.SparsityAfter)
		if e.Pattern == prune.Dense {
			dense = append(dense, e)
		}
	}
	tw.Flush()
	t := p.Totals
	fmt.Fprintf(w, "\ntotal: %d weights in %d parameters (%d pruned, %d left dense): sparsity %.2f%% → %.2f%% (%d zeros)\n",
		t.Elements, t.Pruned+t.Dense, t.Pruned, t.Dense, 100*t.SparsityBefore, 100*t.SparsityAfter, t.ZerosAfter)
	if len(dense) > 0 {
		fmt.Fprintf(w, "left dense (pattern %s does not fit):\n", p.Pattern)
		for _, e := range dense {
			fmt.Fprintf(w, "  %s %s: %s\n", e.ID, dims(e.Shape), e.Reason)
		}
	}
	fmt.Fprintf(w, "wrote %s in %.2fs\n", r.Output, r.Seconds)
	return nil
}

// rejectWithPlan refuses flags that a replayed plan already fixes.
func rejectWithPlan(cmd *cobra.Command, names ...string) error {
	for _, name := range names {
		if cmd.Flags().Changed(name) {
			return usagef("--%s cannot be used with --plan: the plan fixes it", name)
		}
	}
	return nil
}

// readPlanFile decodes a plan file with read; errors name the file.
func readPlanFile[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	fh, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("--plan: %w", err)
	}
	defer fh.Close()
	plan, err := read(fh)
	if err != nil {
		return plan, fmt.Errorf("--plan %s: not a valid plan: %s", path, libraryReason(err))
	}
	return plan, nil
}
