package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
	"github.com/spf13/cobra"
	"gorgonia.org/tensor"
)

// exitInfeasible: build could not meet the budgets (documented in --help).
const exitInfeasible = 3

func newBuildCmd(c *cli) *cobra.Command {
	var (
		profPath, dataPath, out         string
		budgetOverrides, shapeSpecs     []string
		calibN, verifyN, batch, threads int
		measure, adaptiveBN             string
		probe                           float64
		frontier                        bool
		tf                              trainFlags // --train and the fine-tuning flags (build_finetune.go)
	)
	cmd := &cobra.Command{
		Use:   "build MODEL.onnx --profile P.yaml [--data CALIB] [--train TRAIN [--val VAL]] -o OUTDIR",
		Short: "Fit a model to a device profile's budgets (structured pruning search)",
		Long: `build finds the most accurate structured pruning of MODEL that meets the
profile's budgets:

  1. search space: per dependency group, the profile's keep ratios rounded to
     its channel alignment; with the profile's search.unstructured block, also
     per layer magnitude sparsity (element, N:M or block patterns) and a value
     coding of model.epk (exact, fp16, codebook), solved in the same knapsack
     as the structured options (a layer's costs scaled by the channels its
     group keeps);
  2. sensitivity: each option's damage (KL divergence of the outputs from the
     original's on the first --calib-images samples of --data, or their
     relative MSE when the original's softmax is nearly uniform or saturated
     or its outputs do not depend on the input: build.json "fidelity" says
     which and why; without data, the fraction of weight energy removed, and
     accuracy is not measured) and
     its latency, memory and size from the profile's cost model; a model
     with BatchNormalization nodes has each pruned variant's statistics
     downstream of its pruning re-estimated on the calibration samples
     before it is scored (--adaptive-bn; build.json "adaptive_bn");
  3. solve: a multiple-choice knapsack (Lagrangian) minimising the damage
     under the budgets, re-solved on the exact model, then greedy repair;
     with labelled --data, candidates meeting the cost budgets (the solver's,
     the knapsack on KL and on task-loss damage at a ladder of latency
     targets, the least pruned uniform level, with --frontier the few
     structured choices at the latency target whose composed model scores
     best, then NetAdapt-style growth
     from the best; measured here, a candidate between budget × margin and
     the budget is timed to 8 rounds and fits when the 90% upper bound of
     its median ratio is within the budget (when only the bound is over, it
     is timed to 16 and judged again); the same choice found again by
     another family is judged by that bound again, not by its 8 rounds'
     median against the margin; the best is timed to 8 rounds before it is
     kept, and one that then misses gives way to the next best) are each fine-tuned briefly
     (--probe-fraction of --train) and scored on the calibration samples; the lowest
     cross-entropy is kept (build.json "selection" says which were tried);
     with --train, the chosen model is fine-tuned (its structure kept, coded
     layers coded again after it) as
     edgeprune finetune would (--finetune-epochs, --train-batch, --lr,
     --schedule, --bn, --preset and the other image-folder flags ...);
  4. verify: the chosen model's predicted costs (and measured latency when
     this machine is the profile's target), its accuracy (labels) or fidelity
     on the held-out rest of --data;
  5. write OUTDIR/model.onnx, build.json and report.html, all at once.

A latency budget is milliseconds (budgets.latency_ms.max, --budget
latency_ms=40) or a fraction of the original model's latency
(budgets.latency_ms.fraction_of_original: 0.5, --budget latency_ms=50%). A
fraction is judged, when this machine is the target, by the built model's
time over the original's timed interleaved with it (the median over rounds
of the ratio within each round), which the machine's speed drifting
between minutes does not move; otherwise by the cost model's ratio.

The terminal ends with the budget table. Exit status: 0 built; 1 error; 2
usage; 3 infeasible budgets (the table shows each budget, the best value
reached and the gap; nothing is written).`,
		Example: `  edgeprune build resnet18.onnx --profile configs/raspberry-pi-5.yaml --data calib.npz -o out/
  edgeprune build model.onnx --profile configs/phone-a76.yaml --budget latency_ms=20 --budget file_mb=4 -o out/
  edgeprune build lenet5.onnx --profile configs/host-amd64.yaml --budget latency_ms=50% --data test.npz -o out/
  edgeprune build ppocr_cls.onnx --shape x=1,3,48,192 --profile configs/phone-a76-ppocr.yaml \
    --data textlines/test.npz --train textlines/train/ --preset ppocr-cls \
    --finetune-epochs 2 --train-batch 64 --lr 0.01 --schedule constant --bn train -o out/`,
		Args: exactArgs(1, "MODEL.onnx"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if profPath == "" {
				return usagef("--profile is required: the device profile (configs/*.yaml)")
			}
			if out == "" {
				return usagef("-o/--output is required: the output directory")
			}
			if err := checkThreads(threads); err != nil {
				return err
			}
			if !(probe >= 0 && probe <= 1) {
				return usagef("--probe-fraction %g: want a fraction of --train in [0, 1] (0: compare candidates without fine-tuning)", probe)
			}
			if calibN < 1 || batch < 1 || verifyN < 0 {
				return usagef("--calib-images and --batch must be ≥ 1, --verify-images ≥ 0")
			}
			shapes, err := parseShapes(shapeSpecs)
			if err != nil {
				return err
			}
			if err := checkBuildTrainFlags(cmd, &tf, threads); err != nil {
				return err
			}
			if st, err := os.Stat(out); err == nil {
				ents, _ := os.ReadDir(out)
				if !st.IsDir() || len(ents) > 0 {
					return usagef("-o %s: exists and is not an empty directory; choose a new one", out)
				}
			}
			p, err := profile.Load(profPath)
			if err != nil {
				return err
			}
			for _, kv := range budgetOverrides {
				if err := p.Override(kv); err != nil {
					return flagError("--budget "+kv, err)
				}
			}
			if measure != "auto" && measure != "yes" && measure != "no" {
				return usagef("--measure %q: want auto, yes or no", measure)
			}
			if adaptiveBN != build.AdaptiveBNAuto && adaptiveBN != build.AdaptiveBNOn && adaptiveBN != build.AdaptiveBNOff {
				return usagef("--adaptive-bn %q: want auto, on or off", adaptiveBN)
			}
			here := p.Device.Target.GOOS == runtime.GOOS && p.Device.Target.GOARCH == runtime.GOARCH && p.Run.Runtime == "edgeprune"
			ctx := cmd.Context()
			m, err := readModel(ctx, args[0])
			if err != nil {
				return err
			}
			if err := checkShapeInputs(shapes, m); err != nil {
				return err
			}
			if err := requireShapes(m, shapes, nil); err != nil {
				return err
			}
			opts := build.Options{Threads: threads, Measure: measure == "yes" || (measure == "auto" && here), AdaptiveBN: adaptiveBN, Frontier: frontier,
				Shapes: shapeMap(shapes), Log: func(f string, a ...any) { fmt.Fprintf(c.stderr, f+"\n", a...) }}
			if opts.Measure && canSelfExec {
				if rssErr := canMeasureRSS(); rssErr != nil {
					fmt.Fprintf(c.stderr, "warning: peak RSS not measured: %v\n", rssErr)
				}
			}
			if opts.Measure && canMeasureRSS() == nil {
				opts.PeakRSS = func(ctx context.Context, m *onnxio.Model) (float64, error) {
					return modelPeakRSS(ctx, m, p.Run.Threads, shapeSpecs)
				}
			}
			if tf.data != "" {
				ft, pr, closeData, err := buildFinetuner(cmd, c, m, &tf, probe)
				if err != nil {
					return err
				}
				defer closeData()
				opts.Finetune, opts.Probe = ft, pr
			}
			if dataPath != "" {
				batches, err := loadBuildData(dataCommand(cmd, dataPath), m, dataPath, &tf.df, batch, calibN, verifyN)
				if err != nil {
					return fmt.Errorf("--data %s: %w", dataPath, err)
				}
				opts.Calib, opts.Heldout = splitBatches(batches, calibN)
				if opts.Heldout == nil {
					opts.Heldout = opts.Calib
					fmt.Fprintf(c.stderr, "warning: --data has no samples beyond the %d calibration ones: verifying on the calibration data\n", calibN)
				}
			}
			res, err := build.Build(ctx, p, filepath.Base(args[0]), m, opts)
			var inf *build.InfeasibleError
			if errors.As(err, &inf) {
				res = inf.Result
			} else if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(c.stderr, "warning: %s\n", w)
			}
			printBudgetTable(c.stdout, res)
			if inf != nil {
				return inf
			}
			fmt.Fprintf(c.stderr, "[5/5] write %s\n", out)
			if err := writeBuild(ctx, out, res); err != nil {
				return err
			}
			files := "model.onnx, "
			if res.Packed() != nil {
				files += "model.epk, "
			}
			fmt.Fprintf(c.stdout, "wrote %s: %sbuild.json, report.html\n", out, files)
			return nil
		},
	}
	cmd.Flags().StringVar(&profPath, "profile", "", "device profile (YAML, configs/*.yaml)")
	addOutputFlag(cmd, &out, "output directory (created; must not exist or be empty)")
	cmd.Flags().StringVar(&dataPath, "data", "", "calibration and held-out data (.npz, .npy or test_data_set dir, as eval)")
	cmd.Flags().IntVar(&calibN, "calib-images", 32, "samples of --data for the sensitivity table; the rest verify")
	cmd.Flags().IntVar(&verifyN, "verify-images", 0, "samples of --data after the calibration ones that verify (0: all the rest)")
	cmd.Flags().IntVar(&batch, "batch", 16, "batch size of the sensitivity and verification runs")
	addThreadsFlag(cmd, &threads)
	cmd.Flags().StringArrayVar(&budgetOverrides, "budget", nil, "override a budget: latency_ms=40 (ms) or latency_ms=50% (of the original model's latency), ram_mb=, activations_mb=, file_mb=, accuracy= (repeatable)")
	cmd.Flags().StringVar(&measure, "measure", "auto", "time the models here: auto (when this machine is the profile's target), yes, no")
	addShapeFlag(cmd, &shapeSpecs, "shape of a model input with dynamic dimensions (planning, cost model, timing; the model written keeps them dynamic)")
	addBuildTrainFlags(cmd, &tf)
	cmd.Flags().Float64Var(&probe, "probe-fraction", 0.125, "--train: each candidate choice is fine-tuned for one epoch over this fraction of --train before they are compared (0: compared without fine-tuning)")
	cmd.Flags().BoolVar(&frontier, "frontier", false, "with labelled --data: also try the few structured choices at the latency target whose composed model scores best (spaces of at most 4,096 choices; off by default: no better than without on the MNIST benches, docs/profiles.md)")
	cmd.Flags().StringVar(&adaptiveBN, "adaptive-bn", "auto", "score pruned variants with their BatchNormalization statistics re-estimated on the calibration samples: auto (when the model has BatchNormalization nodes), on, off")
	return cmd
}

// loadBuildData reads the first calib+verify samples of path (all of it
// when verify is 0) in batches, as eval reads its data.
func loadBuildData(cmd *cobra.Command, m *onnxio.Model, path string, df *dataFlags, batch, calib, verify int) ([]engine.Batch, error) {
	if isTestDataDir(path) {
		return loadEvalData(cmd, m, path, df, batch)
	}
	var inputNames []string
	for _, v := range m.Info().Inputs {
		inputNames = append(inputNames, v.Name)
	}
	d, err := df.open(cmd, path, m)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	n := d.Len()
	if verify > 0 {
		n = min(n, calib+verify)
	}
	var out []engine.Batch
	for start := 0; start < n; start += batch {
		// A batch never straddles the calibration/verification boundary.
		size := min(batch, n-start)
		if start < calib {
			size = min(size, calib-start)
		}
		b, err := d.Batch(cmd.Context(), dataset.Range(start, size))
		if err != nil {
			return nil, err
		}
		eb := engine.Batch{Inputs: map[string]*tensor.Dense{}, Labels: b.Labels}
		for _, name := range inputNames {
			eb.Inputs[name] = b.Inputs[name]
		}
		out = append(out, eb)
	}
	return out, nil
}

// splitBatches takes whole batches until n samples are calibration.
func splitBatches(bs []engine.Batch, n int) (calib, rest []engine.Batch) {
	got := 0
	for i, b := range bs {
		if got >= n {
			return bs[:i], bs[i:]
		}
		for _, t := range b.Inputs {
			got += t.Shape()[0]
			break
		}
	}
	return bs, nil
}

func printBudgetTable(w io.Writer, r *build.Result) {
	fmt.Fprintf(w, "\n%-16s %12s %12s %12s  %-6s %s\n", "budget", "limit", "before", "after", "", "")
	before := map[string]float64{
		"latency_ms": r.Before.LatencyMS, "ram_mb": float64(r.Before.RAMBytes) / profile.MB,
		"activations_mb": float64(r.Before.PeakActivationBytes) / profile.MB, "file_mb": float64(r.Before.FileBytes) / profile.MB,
	}
	if r.Before.PackedBytes > 0 {
		before["file_mb"] = float64(r.Before.PackedBytes) / profile.MB
	}
	if r.Before.MeasuredMS > 0 {
		before["latency_ms"] = r.Before.MeasuredMS
	}
	if r.Before.MeasuredRSSMB > 0 && r.After.MeasuredRSSMB > 0 {
		before["ram_mb"] = r.Before.MeasuredRSSMB
	}
	for _, b := range r.Budgets {
		st := "ok"
		if strings.HasPrefix(b.Note, "not measured") {
			st = "n/a"
		}
		if !b.OK {
			st = "OVER by " + b.GapShown()
		}
		bv := "-"
		if v, ok := before[b.Name]; ok {
			bv = fmt.Sprintf("%.4g", v)
		}
		if b.Unit == build.UnitOfOriginal {
			// A fraction of the original's latency: the original is 100%.
			fmt.Fprintf(w, "%-16s %12s %12s %12s  %-6s %s\n", b.Name, profile.Percent(b.Budget)+" of orig", "100%", b.Shown(), st, b.Note)
			continue
		}
		fmt.Fprintf(w, "%-16s %12.4g %12s %12.4g  %-6s %s\n", b.Name, b.Budget, bv, b.Value, st, b.Note)
	}
	if !r.Feasible {
		fmt.Fprintf(w, "infeasible: the values above are the best the search reached\n")
	}
	fmt.Fprintf(w, "phases (s):%s\n", phaseLine(r.Phases))
}

// phaseLine lists the phase times in pipeline order (any other phase after,
// by name) and their total: "space 0.18, sensitivity 0.45, …; total 11.1".
func phaseLine(ph map[string]float64) string {
	order := []string{"space", "sensitivity", "solve", "finetune", "verify"}
	seen := map[string]bool{}
	var rest []string
	for k := range ph {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	var b strings.Builder
	total := 0.0
	add := func(k string) {
		v, ok := ph[k]
		if !ok || seen[k] {
			return
		}
		seen[k] = true
		total += v
		if b.Len() > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s %.2f", k, v)
	}
	for _, k := range order {
		add(k)
	}
	for _, k := range rest {
		add(k)
	}
	return fmt.Sprintf("%s; total %.2f", b.String(), total)
}

// writeBuild writes OUTDIR all at once: a temporary directory beside it,
// renamed into place when complete.
func writeBuild(ctx interface{ Err() error }, out string, r *build.Result) error {
	parent := filepath.Dir(filepath.Clean(out))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := r.BuiltModel().WriteFile(filepath.Join(tmp, "model.onnx")); err != nil {
		return err
	}
	if pk := r.Packed(); pk != nil {
		if err := os.WriteFile(filepath.Join(tmp, "model.epk"), pk, 0o644); err != nil {
			return err
		}
	}
	js, err := os.Create(filepath.Join(tmp, "build.json"))
	if err != nil {
		return err
	}
	if err := writeJSON(js, r); err != nil {
		js.Close()
		return err
	}
	if err := js.Close(); err != nil {
		return err
	}
	html, err := os.Create(filepath.Join(tmp, "report.html"))
	if err != nil {
		return err
	}
	if err := build.WriteReport(html, r); err != nil {
		html.Close()
		return err
	}
	if err := html.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp made it 0700
		return err
	}
	os.Remove(out) // an empty directory
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("-o %s: %w", out, err)
	}
	return nil
}

// modelPeakRSS writes m to a temporary file and measures the peak resident
// set of a child process running it once (calibrate's measureRSS), its
// dynamic input dims fixed by shapes (--shape's specs).
func modelPeakRSS(ctx context.Context, m *onnxio.Model, threads int, shapes []string) (float64, error) {
	f, err := os.CreateTemp("", "edgeprune-rss-*.onnx")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	if err := m.Write(f); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return measureRSS(ctx, f.Name(), threads, shapes)
}
