package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"text/tabwriter"
	"time"

	"github.com/edgeprune/edgeprune/prune"
	"github.com/spf13/cobra"
)

// structuredFlags are the flags of `prune --structured`.
type structuredFlags struct {
	on                   bool
	criterion            string
	roundTo, minChannels int
	emitMasked           string
	shapes               []string // --shape
	seed                 uint64
}

// structuredReport is the schema of `prune --structured --json` and
// `--report` (docs/cli-json.md, "prune --structured").
type structuredReport struct {
	*prune.StructuredPlan
	Model   string  `json:"model"`
	Output  string  `json:"output"`
	Masked  string  `json:"masked_output,omitempty"`
	Seconds float64 `json:"seconds"`
}

func addStructuredFlags(cmd *cobra.Command, f *structuredFlags) {
	fl := cmd.Flags()
	fl.BoolVar(&f.on, "structured", false, "remove whole channels (filters, neurons) by dependency group: a smaller, faster dense model")
	fl.StringVar(&f.criterion, "criterion", "l1", "importance: l1 | l2 | taylor | snip | obd | wanda (with --data); --structured also bn (BatchNorm |gamma|) | random")
	fl.IntVar(&f.roundTo, "round-to", prune.DefaultRoundTo, "--structured: keep channel counts multiples of this, which runtimes' blocked kernels run fast; 1 for exact ratios")
	fl.IntVar(&f.minChannels, "min-channels", 1, "--structured: keep at least this many channels per layer")
	fl.StringVar(&f.emitMasked, "emit-masked", "", "--structured: also write the same selection as zeros at the original shapes")
	addShapeFlag(cmd, &f.shapes, "--structured: input shape for the analysis and FLOPs (needed for dynamic dims but the batch),")
	aliasFlag(cmd, "input-shape", "shape")
	fl.Uint64Var(&f.seed, "seed", 1, "--structured: seed of --criterion random")
}

// checkStructuredFlags refuses flags of the other mode.
func checkStructuredFlags(cmd *cobra.Command, f *pruneFlags) error {
	changed := cmd.Flags().Changed
	if f.st.on {
		for _, name := range []string{"pattern", "importance", "op-types", "min-sparsity", "max-sparsity"} {
			if changed(name) {
				return usagef("--%s does not apply to --structured (see --criterion, --round-to, --min-channels)", name)
			}
		}
		return nil
	}
	for _, name := range []string{"round-to", "min-channels", "emit-masked", "shape", "seed"} {
		if changed(name) {
			return usagef("--%s needs --structured", name)
		}
	}
	return nil
}

func runStructured(c *cli, cmd *cobra.Command, in string, f *pruneFlags, start time.Time) error {
	if f.out == "" {
		return usagef("prune needs -o OUT.onnx")
	}
	for _, out := range []string{f.out, f.st.emitMasked} {
		if same, _ := sameFile(in, out); out != "" && same {
			return usagef("%s is the input model: write to another file", out)
		}
	}
	if f.st.emitMasked != "" {
		if same, _ := sameFile(f.out, f.st.emitMasked); same || f.out == f.st.emitMasked {
			return usagef("--emit-masked and -o name the same file")
		}
	}
	ctx := cmd.Context()
	var plan *prune.StructuredPlan
	var sp *prune.StructuredPruner
	shapes, err := parseShapes(f.st.shapes)
	if err != nil {
		return err
	}
	var opts []prune.Option
	// A replayed plan needs no scores: it lists the channels.
	dataCrit := f.planFile == "" && prune.IsDataCriterion(f.st.criterion)
	crit := ""
	if dataCrit {
		crit = f.st.criterion
	}
	if err := checkCalibFlags(cmd, &f.cal, crit); err != nil {
		return err
	}
	if f.planFile != "" {
		if err := rejectWithPlan(cmd, "sparsity", "scope", "criterion", "round-to", "min-channels", "include", "exclude", "shape", "seed"); err != nil {
			return err
		}
		var err error
		if plan, err = readPlanFile(f.planFile, prune.ReadStructuredPlan); err != nil {
			return err
		}
	} else {
		var err error
		if opts, err = structuredOptions(cmd, f, shapes); err != nil {
			return err
		}
		if sp, err = prune.NewStructured(opts...); err != nil {
			return flagsError(cmd, err, "sparsity", "scope", "criterion", "round-to", "min-channels")
		}
	}
	m, err := readModel(ctx, in)
	if err != nil {
		return err
	}
	if err := checkShapeInputs(shapes, m); err != nil {
		return err
	}
	if dataCrit {
		scores, err := f.cal.scores(cmd, m, f.st.criterion, prune.Selection{})
		if err != nil {
			return err
		}
		if sp, err = prune.NewStructured(append(opts, prune.WithCriterion(scores))...); err != nil {
			return err
		}
	}
	if sp != nil {
		if err := requireShapes(m, shapes, nil); err != nil {
			return err
		}
	}
	if sp != nil {
		if plan, err = interruptible(ctx, func() (*prune.StructuredPlan, error) { return sp.Plan(m) }); err != nil {
			switch {
			case errors.Is(err, prune.ErrNoMatch):
				return flagsError(cmd, err, "include", "exclude")
			case errors.Is(err, prune.ErrNoTarget), errors.Is(err, prune.ErrInvalid):
				return flagsError(cmd, err, "sparsity", "include", "exclude", "round-to", "min-channels", "shape")
			}
			return err
		}
	}
	// The masked copy replays the plan on a second read of the input.
	if f.st.emitMasked != "" {
		mm, err := readModel(ctx, in)
		if err != nil {
			return err
		}
		cp := *plan
		if err := interruptibleErr(ctx, func() error { return prune.MaskStructured(mm, &cp) }); err != nil {
			return err
		}
		if err := writeModel(ctx, mm, f.st.emitMasked); err != nil {
			return err
		}
	}
	if err := interruptibleErr(ctx, func() error { return prune.ApplyStructured(m, plan) }); err != nil {
		if errors.Is(err, prune.ErrPlan) && f.planFile != "" {
			return fmt.Errorf("--plan %s: %s", f.planFile, libraryReason(err))
		}
		return err
	}
	if err := writeModel(ctx, m, f.out); err != nil {
		return err
	}
	rep := &structuredReport{StructuredPlan: plan, Model: in, Output: f.out, Masked: f.st.emitMasked, Seconds: time.Since(start).Seconds()}
	if f.report != "" {
		if err := writeJSONFile(f.report, rep); err != nil {
			return err
		}
	}
	if f.asJSON {
		return writeJSON(c.stdout, rep)
	}
	return printStructured(c.stdout, rep)
}

// structuredOptions turns the flags into library options. The library
// validates each value, on its own so that its error names the flag.
func structuredOptions(cmd *cobra.Command, f *pruneFlags, shapes []inputShape) ([]prune.Option, error) {
	if !cmd.Flags().Changed("sparsity") {
		return nil, usagef("prune --structured needs --sparsity (e.g. --sparsity 0.5 removes half the channels)")
	}
	scope, err := prune.ParseScope(f.scope)
	if err != nil {
		return nil, flagError("--scope "+f.scope, err)
	}
	var imp prune.GroupImportance = prune.GroupNorm{Imp: prune.Magnitude{}} // a data criterion replaces it once scored
	if !prune.IsDataCriterion(f.st.criterion) {
		if imp, err = prune.GroupImportanceByName(f.st.criterion, f.st.seed); err != nil {
			return nil, flagError("--criterion "+f.st.criterion, fmt.Errorf("%w (or taylor, snip, obd, wanda with --data)", err))
		}
	}
	for _, c := range []struct {
		label string
		opt   prune.Option
	}{
		{fmt.Sprintf("--sparsity %g", f.sparsity), prune.WithSparsity(f.sparsity)},
		{fmt.Sprintf("--round-to %d", f.st.roundTo), prune.WithRoundTo(f.st.roundTo)},
		{fmt.Sprintf("--min-channels %d", f.st.minChannels), prune.WithMinChannels(f.st.minChannels)},
	} {
		// Beside a valid sparsity (the later option wins): only c's value is checked.
		if _, err := prune.NewStructured(prune.WithSparsity(0.5), c.opt); err != nil {
			return nil, flagError(c.label, err)
		}
	}
	opts := []prune.Option{prune.WithSparsity(f.sparsity), prune.WithScope(scope), prune.WithCriterion(imp),
		prune.WithRoundTo(f.st.roundTo), prune.WithMinChannels(f.st.minChannels), prune.WithSeed(f.st.seed)}
	for _, list := range []struct {
		flag string
		src  []string
		opt  func(...*regexp.Regexp) prune.Option
	}{{"include", f.include, prune.WithIncludeGroups}, {"exclude", f.exclude, prune.WithExcludeGroups}} {
		for _, s := range list.src {
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, usagef("--%s %q is not a valid regular expression: %v", list.flag, s, err)
			}
			opts = append(opts, list.opt(re))
		}
	}
	if len(shapes) > 0 {
		m := map[string][]int64{}
		for _, s := range shapes {
			for _, d := range s.Dims {
				m[s.Name] = append(m[s.Name], int64(d))
			}
		}
		opts = append(opts, prune.WithInputShapes(m))
	}
	return opts, nil
}

func printStructured(w io.Writer, r *structuredReport) error {
	p := r.StructuredPlan
	fmt.Fprintf(w, "%s → %s: structured, %s scope, criterion %s, sparsity %g", filepath.Base(r.Model), r.Output, p.Scope, p.Criterion, p.Sparsity)
	if p.RoundTo > 1 {
		fmt.Fprintf(w, ", channels aligned to %d (--round-to 1 for exact ratios)", p.RoundTo)
	} else {
		fmt.Fprint(w, ", channels not aligned (exact ratios)")
	}
	fmt.Fprintf(w, ", min %d channels\n", p.MinChannels)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\ngroup\troots\tchannels before → after\tnote")
	for _, g := range p.Groups {
		roots := "-"
		if len(g.Roots) > 0 {
			roots = g.Roots[0]
			if len(g.Roots) > 1 {
				roots += fmt.Sprintf(" +%d", len(g.Roots)-1)
			}
		}
		note := g.Reason
		if note != "" && g.Prunable == 0 {
			note = "refused: " + note
		} else if note == "" && len(g.Fixed) > 0 {
			note = fmt.Sprintf("%d of %d prunable (%s)", g.Prunable, g.Units, g.Fixed[0])
		}
		fmt.Fprintf(tw, "%d\t%s\t%d → %d\t%s\n", g.ID, roots, g.Units, g.Kept, note)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nlayer\top\tout channels\tin channels\tweight")
	for _, l := range p.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%d → %d\t%d → %d\t%s → %s\n", l.Node, l.Op, l.OutBefore, l.OutAfter, l.InBefore, l.InAfter, dims(l.ShapeBefore), dims(l.ShapeAfter))
	}
	tw.Flush()
	t := p.Totals
	fmt.Fprintf(w, "\ngroups: %d (%d pruned, %d refused); channels %d → %d\n", t.Groups, t.PrunedGroups, t.RefusedGroups, t.Units, t.Units-t.PrunedUnits)
	fmt.Fprintf(w, "parameters: %d → %d (%.1f%%)\n", t.ParamsBefore, t.ParamsAfter, pct(t.ParamsAfter, t.ParamsBefore))
	if t.FLOPsSource == "engine" {
		fmt.Fprintf(w, "FLOPs (engine, inputs %v): %d → %d (%.1f%%, %.2f× fewer); MACs %d → %d\n", p.InputShapes,
			t.FLOPsBefore, t.FLOPsAfter, pct(t.FLOPsAfter, t.FLOPsBefore), float64(t.FLOPsBefore)/float64(max(t.FLOPsAfter, 1)), t.MACsBefore, t.MACsAfter)
	} else {
		fmt.Fprintf(w, "FLOPs: %s\n", t.FLOPsSource)
	}
	if r.Masked != "" {
		fmt.Fprintf(w, "wrote %s and the masked %s in %.2fs\n", r.Output, r.Masked, r.Seconds)
	} else {
		fmt.Fprintf(w, "wrote %s in %.2fs\n", r.Output, r.Seconds)
	}
	return nil
}

func pct(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
