package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
	"github.com/spf13/cobra"
)

func newCalibrateCmd(c *cli) *cobra.Command {
	var (
		profPath, out, report string
		threads, variants     int
		runs, fitVariants     int
		sparseVariants        int
		rounds                int
		rssProbePath          string
		rssShapes             []string
		saveTimings           string
		writeVariants         string
		ortValidate           []string
		fromTimings           []string
		seed                  uint64
		statistic             string
		ortProfiles           []string
		ortNoGraph, ortGaps   bool
	)
	cmd := &cobra.Command{
		Use:   "calibrate MODEL.onnx... --profile P.yaml -o CALIBRATED.yaml",
		Short: "Fit the latency and memory cost model on this machine and validate it",
		Long: `calibrate runs on the device itself. It times every node of each MODEL
and its whole runs (the thread's CPU time at 1 thread) at the uniform widths
keep 1, .75, .5, .25 and in --fit-variants random structured variants, fits
the linear per-op cost model by non-negative least squares, then validates
it on --variants other random variants (another random stream: none of them
is fitted on), reporting MAPE, RMSPE and the fraction within ±10%
(nn-Meter's measures) beside a FLOPs-only and a FLOPs + per-node fit. A
model's variants are timed round-robin in --rounds rounds. The sparse op
class (layers the engine runs on its sparse kernels) is fitted on the
sparse nodes of --sparse-variants variants whose weight layers are
magnitude-pruned at 75–97%, and validated on as many others: whole-run
MAPE with the fitted class against the default one.

Every plan is also read, compiled and run once in a child process of
edgeprune (median of 3): the memory model, rss_overhead_mb + rss_scale ×
max(2·file, file + weights held + activations + sparse build), is fitted
to their peak resident sets on the widths and fitting variants and
validated on the validation variants (docs/profiles.md, Cost model).

It writes the profile again, comments kept, with a calibration block for
the runtime and thread count (-o; atomic), and the conditions it measured
under (governor, frequency, temperature and load where the OS shows them).
--save-timings keeps the measurements; --from-timings refits them (one
model per run, merged). --from-ort-profile fits ONNX Runtime's profiles
instead (--ort-validate: held-out ones; --write-variants writes the
variants to profile in ORT). Given the timings of tools/ort/profile_rounds.js
(each variant profiled and timed without the profiler, interleaved), it
predicts ORT's latency without the profiler, keys each fused convolution by
its activation from the profiled model's graph, and fits what the profiler
adds per node (profiler_us); bench/ort_profile.sh runs it all.`,
		Example: `  edgeprune calibrate resnet18.onnx mobilenet_v2.onnx --profile configs/raspberry-pi-5.yaml -o pi5-calibrated.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && len(ortProfiles) == 0 && len(fromTimings) == 0 && rssProbePath == "" {
				return usagef("calibrate needs MODEL.onnx arguments (or --from-timings, --from-ort-profile)\nRun '%s --help' for usage.", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if rssProbePath != "" {
				return rssProbe(c, cmd.Context(), rssProbePath, threads, rssShapes)
			}
			if profPath == "" {
				return usagef("--profile is required: the device profile to calibrate")
			}
			if out == "" {
				return usagef("-o/--output is required: where to write the calibrated profile")
			}
			if err := checkThreads(threads); err != nil {
				return err
			}
			if variants < 1 || variants > 1000 {
				return usagef("--variants %d: must be in [1, 1000]", variants)
			}
			if fitVariants < 0 || fitVariants > 1000 {
				return usagef("--fit-variants %d: must be in [0, 1000]", fitVariants)
			}
			if sparseVariants < 0 || sparseVariants > 1000 {
				return usagef("--sparse-variants %d: must be in [0, 1000] (0: none)", sparseVariants)
			}
			if runs < 1 || runs > 10000 {
				return usagef("--runs %d: must be in [1, 10000]", runs)
			}
			if rounds < 1 || rounds > 1000 {
				return usagef("--rounds %d: must be in [1, 1000]", rounds)
			}
			p, err := profile.Load(profPath)
			if err != nil {
				return err
			}
			if len(ortProfiles) > 0 {
				if len(args) > 0 {
					return usagef("--from-ort-profile fits from the profiles alone: give no MODEL")
				}
				q, err := build.StatisticQuantile(statistic)
				if err != nil {
					return err
				}
				return calibrateFromORT(c, p, profPath, out, ortProfiles, ortValidate, threads,
					build.ORTReadOptions{Quantile: q, NoGraph: ortNoGraph, Gaps: ortGaps}, report)
			}
			rss := profile.ReadRSSMB() // before any model is read
			ctx := cmd.Context()
			opts := build.CalibrateOptions{Threads: threads, Variants: variants, FitVariants: fitVariants, Runs: runs, Rounds: rounds, Seed: seed, Statistic: statistic,
				Log: func(f string, a ...any) { fmt.Fprintf(c.stderr, f+"\n", a...) }}
			if fitVariants == 0 {
				opts.FitVariants = -1
			}
			opts.SparseVariants = sparseVariants
			if sparseVariants == 0 {
				opts.SparseVariants = -1
			}
			var timings *build.Timings
			if len(fromTimings) > 0 {
				if len(args) > 0 {
					return usagef("--from-timings fits saved measurements: give no MODEL")
				}
				timings, err = readTimings(fromTimings)
			} else {
				var models []build.NamedModel
				for _, a := range args {
					m, err := readModel(ctx, a)
					if err != nil {
						return err
					}
					models = append(models, build.NamedModel{Name: filepath.Base(a), Model: m})
				}
				if writeVariants != "" {
					opts.WriteVariants = writeVariants
					if _, err := build.Measure(ctx, p, models, opts); err != nil {
						return err
					}
					fmt.Fprintf(c.stdout, "wrote the fitting and validation variants to %s (nothing timed)\n", writeVariants)
					return nil
				}
				rssErr := canMeasureRSS()
				if rssErr == nil {
					th := threads
					if th == 0 {
						th = p.Run.Threads
					}
					opts.PeakRSS = func(ctx context.Context, m *onnxio.Model) (float64, error) {
						return modelPeakRSS(ctx, m, th, nil)
					}
				}
				timings, err = build.Measure(ctx, p, models, opts)
				if err == nil {
					timings.RSSBaselineMB = rss
					if len(timings.RSS) == 0 {
						fmt.Fprintf(c.stderr, "warning: memory model not calibrated (rss_overhead_mb, rss_scale): %v\n", rssErr)
					}
				}
			}
			if err != nil {
				return err
			}
			if saveTimings != "" {
				if err := writeJSONFile(saveTimings, timings); err != nil {
					return err
				}
			}
			start := time.Now()
			res, err := build.FitTimings(p, timings, opts)
			if err != nil {
				return err
			}
			res.Seconds = time.Since(start).Seconds()
			if err := profile.WriteCalibrated(profPath, out, res.Calibration); err != nil {
				return err
			}
			if report != "" {
				if err := writeJSONFile(report, res); err != nil {
					return err
				}
			}
			printCalibration(c, res, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&profPath, "profile", "", "device profile to calibrate (YAML)")
	addOutputFlag(cmd, &out, "the calibrated profile (YAML)")
	addThreadsFlag(cmd, &threads)
	cmd.Flags().IntVar(&variants, "variants", 20, "validation variants per model")
	cmd.Flags().IntVar(&runs, "runs", 10, "timed runs per measurement (after 3 warm-ups)")
	cmd.Flags().StringVar(&rssProbePath, "rss-probe", "", "internal: run MODEL once and print its peak resident memory (calibrate's child process)")
	cmd.Flags().MarkHidden("rss-probe")
	cmd.Flags().StringArrayVar(&rssShapes, "rss-shape", nil, "internal: with --rss-probe, NAME=D0,D1,... an input's shape (dynamic dims)")
	cmd.Flags().MarkHidden("rss-shape")
	cmd.Flags().IntVar(&rounds, "rounds", 4, "split each variant's runs into rounds, all variants of a model timed once per round (a machine whose speed drifts then shifts them alike)")
	cmd.Flags().IntVar(&fitVariants, "fit-variants", 8, "random structured variants per model timed for the fit, beside the uniform widths (another random stream than the validation variants)")
	cmd.Flags().IntVar(&sparseVariants, "sparse-variants", 4, "random sparse variants per model (every weight layer magnitude-pruned at 75–97% on a random structured choice) timed to fit the sparse op class, and as many again to validate it; 0: none (the class keeps its default efficiency)")
	cmd.Flags().StringVar(&saveTimings, "save-timings", "", "write the measurements (JSON) so that --from-timings can refit them")
	cmd.Flags().StringSliceVar(&fromTimings, "from-timings", nil, "fit and validate from saved measurements (--save-timings), merged: e.g. one file per model, each measured in its own run")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the validation variants")
	cmd.Flags().StringVar(&statistic, "statistic", "median", "what is fitted and validated: median, or min (on a machine shared with other work)")
	cmd.Flags().StringVar(&report, "report", "", "write every measurement and prediction as JSON")
	cmd.Flags().StringVar(&writeVariants, "write-variants", "", "write the variants calibrate would time into this directory as ONNX (MODEL-width|fit|validate-NN.onnx) and time nothing: to profile them in ONNX Runtime")
	cmd.Flags().StringSliceVar(&ortValidate, "ort-validate", nil, "with --from-ort-profile: ORT profiles of held-out variants to validate on (without it, leave-one-out over the fitted files)")
	cmd.Flags().StringSliceVar(&ortProfiles, "from-ort-profile", nil, "fit from ONNX Runtime profiling JSON files (enable_profiling; tools/ort/profile.js), one per model or variant, or the timings of tools/ort/profile_rounds.js (each model's profile and its latency without the profiler; FILE:fit or FILE:validate selects calibrate --write-variants' kinds)")
	cmd.Flags().BoolVar(&ortNoGraph, "ort-no-graph", false, "with --from-ort-profile: do not read the profiled models' graphs (fused convolutions are then all plain Conv, as ORT names them)")
	cmd.Flags().BoolVar(&ortGaps, "ort-gaps", false, "with --from-ort-profile: count the time between kernels (the profiler's own records included) into the next node")
	return cmd
}

func readTimings(files []string) (*build.Timings, error) {
	var ts []*build.Timings
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		t := new(build.Timings)
		if err := json.Unmarshal(b, t); err != nil {
			return nil, fmt.Errorf("%s: %w (want the JSON of calibrate --save-timings)", name, err)
		}
		if t.Schema != build.TimingsSchema {
			return nil, fmt.Errorf("%s: schema %q, want %q (calibrate --save-timings)", name, t.Schema, build.TimingsSchema)
		}
		ts = append(ts, t)
	}
	return build.MergeTimings(ts)
}

func printCalibration(c *cli, r *build.CalibrationResult, out string) {
	w := c.stdout
	fmt.Fprintf(w, "fitted on %d node timings; validation on %d variants not fitted on (%s latency):\n", r.Samples, len(r.Points), r.Statistic)
	fmt.Fprintf(w, "%-26s %22s %22s %22s %22s\n", "model", "cost model", "FLOPs only", "FLOPs + per node", "cost model, node sums")
	row := func(name string, s build.PredictorStats) {
		f := func(e profile.ErrorStats) string {
			return fmt.Sprintf("%5.1f%% MAPE %4.0f%% ±10", e.MAPE*100, e.Within10Pct*100)
		}
		fmt.Fprintf(w, "%-26s %22s %22s %22s %22s\n", name, f(s.CostModel), f(s.FLOPsOnly), f(s.TwoParam), f(s.NodeSum))
	}
	if r.Calibration.Validation != nil {
		for _, p := range r.Calibration.Validation.Models {
			row(p, r.PerModel[p])
		}
		row("all", r.Overall)
	}
	if sp := r.Sparse; sp != nil {
		if sp.FitNodes == 0 {
			fmt.Fprintf(w, "sparse class: no node of the %d sparse variants ran sparse; the default is kept\n", sp.FitVariants)
		} else {
			fmt.Fprintf(w, "sparse class: fitted on %d sparse-node timings of %d variants; %d held-out sparse variants:\n", sp.FitNodes, sp.FitVariants, sp.Fitted.N)
		}
		fmt.Fprintf(w, "  whole runs     fitted %5.1f%% MAPE %4.0f%% ±10   default %5.1f%% MAPE %4.0f%% ±10\n", sp.Fitted.MAPE*100, sp.Fitted.Within10Pct*100, sp.Default.MAPE*100, sp.Default.Within10Pct*100)
		fmt.Fprintf(w, "  sparse nodes   fitted %5.1f%% MAPE %4.0f%% ±10   default %5.1f%% MAPE %4.0f%% ±10\n", sp.NodesFitted.MAPE*100, sp.NodesFitted.Within10Pct*100, sp.NodesDefault.MAPE*100, sp.NodesDefault.Within10Pct*100)
	}
	if m := r.RAM; m != nil {
		fmt.Fprintf(w, "memory: peak RSS = %.1f MB + %.3f × max(2·file, file + held + activations + sparse build): fit on %d plans MAPE %.1f%%, %.0f%% within ±10%%; validation on %d MAPE %.1f%%, %.0f%% within ±10%%\n",
			m.OverheadMB, m.Scale, m.Fit.N, m.Fit.MAPE*100, m.Fit.Within10Pct*100, m.Validation.N, m.Validation.MAPE*100, m.Validation.Within10Pct*100)
	}
	cd := r.Calibration.Conditions
	fmt.Fprintf(w, "conditions: %d CPUs, %.0f MHz, governor %q, load average %v\n", cd.CPUs, cd.MHz, cd.Governor, cd.LoadAvg)
	fmt.Fprintf(w, "kernels: %s\n", engine.KernelSummary())
	fmt.Fprintf(w, "wrote %s\n", out)
}

// calibrateFromORT fits the cost model from ONNX Runtime's own per-node
// profiles and validates it on held-out ones (else leave-one-out).
func calibrateFromORT(c *cli, p *profile.Profile, profPath, out string, files, validate []string, threads int, o build.ORTReadOptions, report string) error {
	runs, err := build.ReadORT(files, o)
	if err != nil {
		return err
	}
	held, err := build.ReadORT(validate, o)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return fmt.Errorf("calibrate: --from-ort-profile %v: no runs to fit on", files)
	}
	stat := "median"
	if o.Quantile == 0 {
		stat = "min"
	}
	cond := profile.ReadConditions()
	cond.Source = "ort-profile"
	cond.Statistic = stat
	if threads == 0 {
		threads = p.Run.Threads
	}
	w := c.stdout
	ref := "model_run with the profiler on"
	if runs[0].LatencyMS > 0 {
		ref = "latency without the profiler (process CPU time)"
	}
	cal := &profile.Calibration{Runtime: profile.RuntimeInfo{Name: "ort"}, Measured: time.Now().UTC().Truncate(time.Second), Conditions: cond}
	switch {
	case len(held) > 0:
		co, st, pts := build.ValidateORT(p, runs, held)
		cal.ByThreads = map[string]*profile.Coeffs{fmt.Sprint(threads): co}
		// The same fit without the model's graph (ORT's op names only): what
		// mapping the nodes back to the graph gains.
		var stBare build.ORTStats
		if !o.NoGraph && runs[0].Model != "" {
			bare := func(rs []*profile.ORTRun) []*profile.ORTRun {
				var out []*profile.ORTRun
				for _, r := range rs {
					out = append(out, r.OpNamesOnly())
				}
				return out
			}
			_, stBare, _ = build.ValidateORT(p, bare(runs), bare(held))
		}
		fmt.Fprintf(w, "fitted on %d ORT profiles, validated on %d held out; reference: ORT's %s, %s over the runs\n", len(runs), len(held), ref, stat)
		fmt.Fprintf(w, "run scale %.3f, %.2f µs per node, profiler %.2f µs per node taken off, %.3f ns per output element, %.0f µs per run\n", co.RunScale, co.DispatchUS, co.ProfilerUS, co.DispatchNSPerOut, co.GraphOverheadUS)
		f := func(e profile.ErrorStats) string {
			return fmt.Sprintf("%4.0f%% %5.1f%% %5.1f%%", e.Within10Pct*100, e.MAPE*100, e.RMSPE*100)
		}
		hdr := "±10%  MAPE  RMSPE"
		fmt.Fprintf(w, "%-20s %4s  %-18s  %-18s  %-18s  %-18s  %-18s\n", "model", "n", "cost model", "  (op names only)", "FLOPs only", "FLOPs + per node", "node sums")
		fmt.Fprintf(w, "%-20s %4s  %-18s  %-18s  %-18s  %-18s  %-18s\n", "", "", hdr, hdr, hdr, hdr, hdr)
		row := func(name string, s, b build.PredictorStats) {
			bs := "-"
			if b.CostModel.N > 0 {
				bs = f(b.CostModel)
			}
			fmt.Fprintf(w, "%-20s %4d  %-18s  %-18s  %-18s  %-18s  %-18s\n", name, s.CostModel.N, f(s.CostModel), bs, f(s.FLOPsOnly), f(s.TwoParam), f(s.NodeSum))
		}
		for _, m := range st.Models {
			row(m, st.PerModel[m], stBare.PerModel[m])
		}
		row("all", st.Overall, stBare.Overall)
		fmt.Fprintf(w, "largest per-node errors on the held-out variants (op key: profiled → predicted, summed; share of the model's node time):\n")
		for i, e := range st.Residuals {
			if i == 8 {
				break
			}
			fmt.Fprintf(w, "  %-20s %-28s %5d nodes %9.2f → %9.2f ms  %+5.1f%% of the runs\n", e.Model, e.Key, e.Nodes, e.MS, e.Predicted, (e.Predicted-e.MS)/e.RunsMS*100)
		}
		if runs[0].LatencyMS > 0 && len(pts) > 0 {
			var prof float64
			for _, pt := range pts {
				prof += pt.Profiled / pt.Measured
			}
			fmt.Fprintf(w, "profiled model_run / latency without the profiler: %.3f on average\n", prof/float64(len(pts)))
		}
		e := st.Overall.CostModel
		cal.Validation = &profile.Validation{Variants: e.N, MAPE: e.MAPE, RMSPE: e.RMSPE, Within10Pct: e.Within10Pct, Models: st.Models}
		if report != "" {
			if err := writeJSONFile(report, map[string]any{"stats": st, "op_names_only": stBare, "points": pts, "coeffs": co}); err != nil {
				return err
			}
		}
	case len(runs) >= 2:
		co := p.FitORT(runs)
		cal.ByThreads = map[string]*profile.Coeffs{fmt.Sprint(threads): co}
		st, pred := p.ValidateORT(runs)
		cal.Validation = &profile.Validation{Variants: st.N, MAPE: st.MAPE, RMSPE: st.RMSPE, Within10Pct: st.Within10Pct}
		for i, r := range runs {
			fmt.Fprintf(w, "%-60s ORT %8.2f ms  predicted %8.2f ms (fitted without it)\n", r.File, r.Target(), pred[i])
		}
		fmt.Fprintf(w, "leave-one-out on %d profiles: MAPE %.1f%%, RMSPE %.1f%%, %.0f%% within ±10%%\n", st.N, st.MAPE*100, st.RMSPE*100, st.Within10Pct*100)
	default:
		cal.ByThreads = map[string]*profile.Coeffs{fmt.Sprint(threads): p.FitORT(runs)}
		fmt.Fprintf(w, "one profile: fitted, not validated (give profiles of several variants)\n")
	}
	if err := profile.WriteCalibrated(profPath, out, cal); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s (calibration for runtime ort, %d threads)\n", out, threads)
	return nil
}

// canSelfExec is set by main: this process is the edgeprune binary, which
// measureRSS may run again as a child (build.ProbePeakRSS).
var canSelfExec bool

// rssRuns is how many children measureRSS runs per model: the median is
// taken (the collector's timing moves a run's peak by a few MB).
const rssRuns = 3

// measureRSS runs the model at path in child processes of this binary and
// returns their median peak resident set in MB (build.ProbePeakRSS). An
// error where the OS does not tell. shapes (NAME=D0,D1,..., as --shape
// takes them) fix dynamic input dims in the children.
func measureRSS(ctx context.Context, path string, threads int, shapes []string) (float64, error) {
	if err := canMeasureRSS(); err != nil {
		return 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	var args []string
	for _, s := range shapes {
		args = append(args, "--rss-shape", s)
	}
	pt, _, err := build.ProbePeakRSS(ctx, self, path, threads, rssRuns, args...)
	return pt.PeakRSSMB, err
}

// canMeasureRSS says why measureRSS cannot run here (nil when it can).
func canMeasureRSS() error {
	if !canSelfExec || os.Getenv(build.RSSProbeEnv) != "" {
		return fmt.Errorf("not the edgeprune binary (a test), or already a probe")
	}
	if profile.ReadPeakRSSMB() == 0 {
		return fmt.Errorf("the OS does not show the peak resident set")
	}
	return selfExec()
}

// selfExec reports whether this binary can start itself as a child (once
// per process): under an emulator without the kernel's binfmt hook
// (qemu-user run by hand, as scripts/cross.sh does) the child's exec fails
// with "exec format error", and the memory is then not measured rather than
// the whole command failing.
var selfExec = sync.OnceValue(func() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "calibrate", "--help")
	cmd.Env = append(os.Environ(), build.RSSProbeEnv+"=1")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cannot start this binary as a child process (%w)", err)
	}
	return nil
})

// rssProbe reads, compiles and runs the model once and prints its
// build.RSSPoint (the hidden --rss-probe of measureRSS), at the input
// shapes given (--rss-shape: a model with dynamic input dims).
func rssProbe(c *cli, ctx context.Context, path string, threads int, shapeSpecs []string) error {
	m, err := readModel(ctx, path)
	if err != nil {
		return err
	}
	shapes, err := parseShapes(shapeSpecs)
	if err != nil {
		return err
	}
	p, err := engine.Compile(m, append(shapeOptions(shapes), engine.WithThreads(max(threads, 1)))...)
	if err != nil {
		return err
	}
	if _, err := p.Run(ctx, engine.RandomInputs(p)); err != nil {
		return err
	}
	return json.NewEncoder(c.stdout).Encode(build.RSSPoint{Model: filepath.Base(path), Terms: profile.RAMTermsOf(m, p), PeakRSSMB: profile.ReadPeakRSSMB()})
}
