package build

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
)

// NamedModel is a model with a name for reports.
type NamedModel struct {
	Name  string
	Model *onnxio.Model
}

// CalibrateOptions configure Calibrate. Zero values mean the defaults.
type CalibrateOptions struct {
	Threads int // default: the profile's run.threads
	Warmup  int // default 3
	Runs    int // per timing; default 10
	// Rounds splits each plan's runs into rounds, every plan of a model
	// timed once per round (round-robin); default 4.
	Rounds   int
	Widths   []float64 // uniform keep ratios whose layers are timed; default 1, .75, .5, .25
	Variants int       // validation variants per model; default 20
	// FitVariants are random structured variants per model timed for the
	// fit beside the uniform widths (another random stream than the
	// validation variants); default 8.
	FitVariants int
	// SparseVariants are random variants per model with every weight
	// layer magnitude-pruned (element pattern, 75–97%) on top of a random
	// structured choice, timed for the sparse class (the nodes the engine
	// runs on its sparse kernels), and as many again from another stream to
	// validate it on; default 4, < 0 none.
	SparseVariants int
	Seed           uint64
	// Statistic is what is fitted and validated: "median" (default) or
	// "min" (the fastest run: robust to a machine shared with other work,
	// at the price of predicting an unloaded device).
	Statistic string
	// PeakRSS, when set, measures the peak resident set (MB) of a child
	// process reading m from a file, compiling and running it once: Measure
	// then records every plan's (Timings.RSS) for the memory model's fit.
	PeakRSS func(ctx context.Context, m *onnxio.Model) (float64, error)
	// WriteVariants, when set, makes Measure write every plan it would time
	// as DIR/<model>-<kind>-<nn>.onnx and time nothing (for timing them in
	// another runtime: bench/ort_profile.sh).
	WriteVariants string
	Log           func(format string, args ...any)
}

// ValidationPoint is one validation variant.
type ValidationPoint struct {
	Model string `json:"model"`
	FLOPs int64  `json:"flops"`
	Nodes int    `json:"nodes"`
	// Measured is the whole run at the statistic: the thread's CPU time
	// where the OS gives it and the engine runs on one thread (an idle
	// core's latency, however often a shared machine preempted the run),
	// else the wall time. MeasuredWall is the wall time beside it.
	Measured     float64 `json:"measured_ms"`
	MeasuredWall float64 `json:"measured_wall_ms"`
	// NodeSum is the sum of the nodes' own times (engine.Program.NodeTimes).
	NodeSum float64 `json:"measured_node_sum_ms"`
	// PredictedNodes is the nodes' predicted sum, before the whole-run
	// scale and overhead.
	PredictedNodes float64 `json:"predicted_nodes_ms"`
	Predicted      float64 `json:"predicted_ms"`
	FLOPsOnly      float64 `json:"flops_only_ms"`
	TwoParam       float64 `json:"two_param_ms"`
}

// PredictorStats compares the cost model with the two baselines.
type PredictorStats struct {
	CostModel profile.ErrorStats `json:"cost_model"`
	FLOPsOnly profile.ErrorStats `json:"flops_only"`
	TwoParam  profile.ErrorStats `json:"two_param"`
	// NodeSum compares the nodes' predicted and measured times, summed.
	NodeSum profile.ErrorStats `json:"node_sum"`
}

// CalibrationResult is what Calibrate measured and fitted.
type CalibrationResult struct {
	Calibration *profile.Calibration      `json:"calibration"`
	Baselines   profile.Baselines         `json:"baselines"`
	Overall     PredictorStats            `json:"overall"`
	PerModel    map[string]PredictorStats `json:"per_model"`
	Points      []ValidationPoint         `json:"points"`
	Samples     int                       `json:"node_samples"`
	// Sparse validates the sparse class on held-out sparse variants,
	// fitted against the default (nil without sparse variants).
	Sparse *SparseValidation `json:"sparse,omitempty"`
	// RAM is the memory model's fit, when peak RSS was measured.
	RAM       *RAMFit `json:"ram,omitempty"`
	Statistic string  `json:"statistic"`
	Seconds   float64 `json:"seconds"`
	// Timings are the measurements everything was fitted and validated on
	// (FitTimings refits them).
	Timings *Timings `json:"-"`
}

// TimingsSchema versions the JSON of Timings.
const TimingsSchema = "edgeprune/calibration-timings/v1"

// Timings are calibrate's measurements on a device: the microbenchmarks and,
// per model, every plan timed. They can be saved, merged across runs (one
// model per run keeps each measurement short) and fitted (FitTimings).
type Timings struct {
	Schema       string  `json:"schema"`
	PeakGFLOPS   float64 `json:"peak_gflops"`
	BandwidthGBs float64 `json:"bandwidth_gbs"`
	Threads      int     `json:"threads"`
	// RSSBaselineMB is the process's resident memory before any model was
	// read (the binary and the Go runtime), for reports. 0 when not measured.
	RSSBaselineMB float64 `json:"rss_baseline_mb,omitempty"`
	// RSS are peak resident sets of child processes that read, compiled
	// and ran one plan each (CalibrateOptions.PeakRSS), for the memory
	// model's fit (profile.FitRAM).
	RSS        []RSSPoint         `json:"rss,omitempty"`
	Statistic  string             `json:"statistic"`
	Conditions profile.Conditions `json:"conditions"`
	Models     []ModelTimings     `json:"models"`
}

// RSSPoint is the peak resident set of a process that read, compiled and
// ran one plan, beside the memory model's terms of that plan. Kind is the
// plan's (PlanWidth, PlanFit, PlanValidate, PlanSparse…): the validation plans are not
// fitted on.
type RSSPoint struct {
	Model     string           `json:"model"`
	Kind      string           `json:"kind,omitempty"`
	Keep      float64          `json:"keep,omitempty"`
	Terms     profile.RAMTerms `json:"terms"`
	PeakRSSMB float64          `json:"peak_rss_mb"`
	// PredictedMB is the fitted model's prediction (FitTimings).
	PredictedMB float64 `json:"predicted_mb,omitempty"`
}

// RAMFit is the memory model's fit (profile.FitRAM) on the width and
// fitting plans' peak RSS, validated on the validation plans'.
type RAMFit struct {
	OverheadMB float64            `json:"overhead_mb"`
	Scale      float64            `json:"scale"`
	Fit        profile.ErrorStats `json:"fit"`
	Validation profile.ErrorStats `json:"validation"`
	Points     []RSSPoint         `json:"points"`
}

// ModelTimings are the plans timed of one model.
type ModelTimings struct {
	Model string       `json:"model"`
	Plans []PlanTiming `json:"plans"`
}

// Plan kinds: fitted on (uniform widths, random variants from the fitting
// stream) or held out for validation (random variants from another stream).
const (
	PlanWidth    = "width"
	PlanFit      = "fit"
	PlanValidate = "validate"
	// Sparse variants (CalibrateOptions.SparseVariants): their sparse
	// nodes fit the sparse class; the validation ones are held out.
	PlanSparseFit      = "sparse-fit"
	PlanSparseValidate = "sparse-validate"
)

// PlanTiming is one variant of a model, timed: every node of its plan
// with its features and its own time (at the statistic), and its whole runs.
type PlanTiming struct {
	Kind   string  `json:"kind"`
	Keep   float64 `json:"keep,omitempty"`   // uniform width
	Choice []int   `json:"choice,omitempty"` // keep level per group
	// Sparsity is the unstructured sparsity of every weight layer (sparse
	// variants).
	Sparsity float64 `json:"sparsity,omitempty"`
	FLOPs    int64   `json:"flops"`
	// Nodes are all nodes of the plan's report (MS 0 for one that did not run).
	Nodes []profile.NodeSample `json:"nodes"`
	Run   profile.RunTimes     `json:"run"`
}

func (pt *PlanTiming) nodeSum() float64 {
	var s float64
	for _, n := range pt.Nodes {
		s += n.MS
	}
	return s
}

func (o *CalibrateOptions) defaults(p *profile.Profile) (q float64, err error) {
	if o.Threads == 0 {
		o.Threads = p.Run.Threads
	}
	if o.Threads == 0 {
		o.Threads = 1
	}
	if o.Warmup == 0 {
		o.Warmup = 3
	}
	if o.Runs == 0 {
		o.Runs = 10
	}
	if o.Rounds == 0 {
		o.Rounds = 4
	}
	if len(o.Widths) == 0 {
		o.Widths = []float64{1, .75, .5, .25}
	}
	if o.Variants == 0 {
		o.Variants = 20
	}
	if o.FitVariants == 0 {
		o.FitVariants = 8
	}
	if o.SparseVariants == 0 {
		o.SparseVariants = 4
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return StatisticQuantile(o.Statistic)
}

// StatisticQuantile is the quantile of a --statistic: median 0.5, min 0.
func StatisticQuantile(s string) (float64, error) {
	switch s {
	case "", "median":
		return 0.5, nil
	case "min":
		return 0, nil
	}
	return 0, fmt.Errorf("build: statistic %q: want median or min", s)
}

// Calibrate measures this machine for the profile's runtime (edgeprune)
// and fits the cost model: Measure, then FitTimings.
func Calibrate(ctx context.Context, p *profile.Profile, models []NamedModel, opts CalibrateOptions) (*CalibrationResult, error) {
	start := time.Now()
	t, err := Measure(ctx, p, models, opts)
	if err != nil {
		return nil, err
	}
	res, err := FitTimings(p, t, opts)
	if err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// Measure runs the microbenchmarks (peak GFLOP/s, bandwidth) and times,
// for each model, its nodes at the uniform widths opts.Widths and in
// opts.FitVariants random structured variants (the fitting set), then in
// opts.Variants other random variants (the validation set, from another
// random stream of opts.Seed: no validation variant is fitted on).
func Measure(ctx context.Context, p *profile.Profile, models []NamedModel, opts CalibrateOptions) (*Timings, error) {
	q, err := opts.defaults(p)
	if err != nil {
		return nil, err
	}
	logf := opts.Log
	t := &Timings{Schema: TimingsSchema, Threads: opts.Threads, Statistic: opts.Statistic, Conditions: profile.ReadConditions()}
	if t.Statistic == "" {
		t.Statistic = "median"
	}
	if opts.WriteVariants != "" {
		if err := os.MkdirAll(opts.WriteVariants, 0o755); err != nil {
			return nil, fmt.Errorf("build: --write-variants: %w", err)
		}
	} else {
		reps := min(10, max(3, opts.Runs)) // fewer with fewer runs (a quick check, qemu)
		t.BandwidthGBs = profile.MeasureBandwidth(opts.Threads, reps)
		t.PeakGFLOPS, err = profile.MeasurePeak(ctx, opts.Threads, reps)
		if err != nil {
			return nil, fmt.Errorf("build: peak microbenchmark: %w", err)
		}
		logf("microbenchmarks: %.1f GFLOP/s (512³ MatMul), %.1f GB/s (copy traffic), %d threads", t.PeakGFLOPS, t.BandwidthGBs, opts.Threads)
	}
	for _, nm := range models {
		s, err := NewSpace(nm.Model, slices.Concat(p.Search.Structured.Keep, opts.Widths), p.Search.Structured.RoundTo, nil)
		if err != nil {
			return nil, fmt.Errorf("build: %s: %w", nm.Name, err)
		}
		mt := ModelTimings{Model: nm.Name}
		type job struct {
			kind     string
			keep     float64
			choice   []int
			sparsity float64
		}
		var jobs []job
		for _, w := range opts.Widths {
			jobs = append(jobs, job{kind: PlanWidth, keep: w, choice: s.Uniform(levelOf(s.Keep, w))})
		}
		// Two streams of the same seed: the fitting and the validation
		// variants differ.
		for _, kv := range []struct {
			kind   string
			n      int
			stream uint64
		}{{PlanFit, opts.FitVariants, 12}, {PlanValidate, opts.Variants, 11}} {
			rng := rand.New(rand.NewPCG(opts.Seed, kv.stream))
			for v := 0; v < kv.n; v++ {
				choice := make([]int, len(s.Groups))
				for i := range choice {
					choice[i] = rng.IntN(len(s.Keep))
				}
				jobs = append(jobs, job{kind: kv.kind, choice: choice})
			}
		}
		if opts.WriteVariants == "" { // ORT is timed on the dense variants only
			for _, kv := range []struct {
				kind   string
				stream uint64
			}{{PlanSparseFit, 14}, {PlanSparseValidate, 13}} {
				rng := rand.New(rand.NewPCG(opts.Seed, kv.stream))
				for v := 0; v < opts.SparseVariants; v++ {
					choice := make([]int, len(s.Groups))
					for i := range choice {
						choice[i] = rng.IntN(len(s.Keep))
					}
					jobs = append(jobs, job{kind: kv.kind, choice: choice, sparsity: 0.75 + 0.22*rng.Float64()})
				}
			}
		}
		// Compile every plan first, then time them round-robin in
		// opts.Rounds rounds, each plan opts.Runs/Rounds runs per round: a
		// machine whose speed drifts (other tenants, clocks) then shifts the
		// fitting and the validation plans alike instead of whichever was
		// timed during the slow minute.
		plans := make([]*engine.Program, len(jobs))
		for i, j := range jobs {
			m, _, err := s.Model(j.choice)
			if err != nil {
				return nil, fmt.Errorf("build: %s variant %d: %w", nm.Name, i, err)
			}
			if j.sparsity > 0 {
				if err := sparsify(m, j.sparsity); err != nil {
					return nil, fmt.Errorf("build: %s sparse variant %d: %w", nm.Name, i, err)
				}
			}
			if opts.WriteVariants != "" {
				name := filepath.Join(opts.WriteVariants, fmt.Sprintf("%s-%s-%02d.onnx", strings.TrimSuffix(nm.Name, ".onnx"), j.kind, i))
				if err := m.WriteFile(name); err != nil {
					return nil, err
				}
				continue
			}
			if plans[i], err = compile(m, opts.Threads); err != nil {
				return nil, fmt.Errorf("build: %s variant %d: %w", nm.Name, i, err)
			}
			if opts.PeakRSS != nil {
				mb, err := opts.PeakRSS(ctx, m)
				if err != nil {
					return nil, fmt.Errorf("build: %s variant %d: peak RSS: %w", nm.Name, i, err)
				}
				t.RSS = append(t.RSS, RSSPoint{Model: nm.Name, Kind: j.kind, Keep: j.keep, Terms: profile.RAMTermsOf(m, plans[i]), PeakRSSMB: mb})
			}
		}
		if opts.WriteVariants != "" {
			continue
		}
		rounds := min(opts.Rounds, opts.Runs)
		perRound := max(1, opts.Runs/rounds)
		nodeRounds := make([][][]time.Duration, len(jobs)) // plan → round → node
		runs := make([]profile.RunTimes, len(jobs))
		for r := 0; r < rounds; r++ {
			for i, plan := range plans {
				in := engine.RandomInputs(plan)
				warm := 1
				if r == 0 {
					warm = opts.Warmup
				}
				nt, _, err := plan.NodeTimes(ctx, in, warm, perRound, q)
				if err != nil {
					return nil, err
				}
				nodeRounds[i] = append(nodeRounds[i], nt)
				rt, err := profile.MeasureRuns(ctx, plan, in, opts.Threads, 1, perRound)
				if err != nil {
					return nil, err
				}
				runs[i].Wall = append(runs[i].Wall, rt.Wall...)
				runs[i].CPU = append(runs[i].CPU, rt.CPU...)
			}
		}
		for i, j := range jobs {
			slices.Sort(runs[i].Wall)
			slices.Sort(runs[i].CPU)
			r := plans[i].Report()
			pt := PlanTiming{Kind: j.kind, Keep: j.keep, FLOPs: r.FLOPs, Run: runs[i]}
			if j.kind != PlanWidth {
				pt.Choice, pt.Sparsity = j.choice, j.sparsity
			}
			for k, n := range r.Nodes {
				// The node's statistic over the rounds' statistics: the
				// smallest for min, the median for median.
				var per []float64
				for _, nt := range nodeRounds[i] {
					if k < len(nt) {
						per = append(per, float64(nt[k])/1e6)
					}
				}
				var ms float64
				if len(per) > 0 {
					slices.Sort(per)
					ms = per[int(q*float64(len(per)-1)+0.5)]
				}
				pt.Nodes = append(pt.Nodes, profile.SampleOf(n, ms))
			}
			mt.Plans = append(mt.Plans, pt)
			if j.kind == PlanWidth {
				logf("  %s keep %.3g: %d nodes, %.2f ms (nodes sum %.2f)", nm.Name, j.keep, len(r.Nodes), runs[i].Quantile(q), pt.nodeSum())
			}
		}
		t.Models = append(t.Models, mt)
	}
	after := profile.ReadConditions()
	t.Conditions.LoadAvg = append(t.Conditions.LoadAvg, after.LoadAvg...)
	return t, nil
}

// MergeTimings joins timings measured in several runs (one model each, say)
// into one. They must agree on threads and statistic; the microbenchmarks
// are the best of them (the machine's roof).
func MergeTimings(ts []*Timings) (*Timings, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("build: no timings")
	}
	out := *ts[0]
	out.Models, out.RSS = nil, nil
	for i, t := range ts {
		if t.Schema != TimingsSchema {
			return nil, fmt.Errorf("build: timings %d: schema %q, want %q", i+1, t.Schema, TimingsSchema)
		}
		if t.Threads != out.Threads || t.Statistic != out.Statistic {
			return nil, fmt.Errorf("build: timings %d: %d threads, statistic %s; the first has %d, %s", i+1, t.Threads, t.Statistic, out.Threads, out.Statistic)
		}
		out.PeakGFLOPS = max(out.PeakGFLOPS, t.PeakGFLOPS)
		out.BandwidthGBs = max(out.BandwidthGBs, t.BandwidthGBs)
		if i > 0 {
			out.Conditions.LoadAvg = append(out.Conditions.LoadAvg, t.Conditions.LoadAvg...)
		}
		out.Models = append(out.Models, t.Models...)
		out.RSS = append(out.RSS, t.RSS...)
	}
	return &out, nil
}

// FitTimings fits the cost model on the width and fitting plans of t
// (profile.Fit on their nodes, then the whole-run scale and overhead,
// Coeffs.FitRun, on their whole runs) and validates it on the validation
// plans, beside the FLOPs-only and two-parameter baselines fitted on the
// same whole runs.
func FitTimings(p *profile.Profile, t *Timings, opts CalibrateOptions) (*CalibrationResult, error) {
	q, err := StatisticQuantile(t.Statistic)
	if err != nil {
		return nil, err
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var samples []profile.NodeSample
	var overheads, wMS []float64
	var wFLOPs []int64
	var wNodes []int
	var fitPlans []*PlanTiming
	for mi := range t.Models {
		for pi := range t.Models[mi].Plans {
			pt := &t.Models[mi].Plans[pi]
			if pt.Kind == PlanSparseFit {
				// The sparse nodes only: the dense nodes and the whole runs
				// are the dense variants' to fit.
				sum := pt.nodeSum()
				for _, n := range pt.Nodes {
					if n.MS > 0 && n.Class == profile.Sparse {
						n.PlanMS = sum
						samples = append(samples, n)
					}
				}
				continue
			}
			if validationPlan(pt.Kind) {
				continue
			}
			sum := pt.nodeSum()
			for _, n := range pt.Nodes {
				if n.MS > 0 {
					n.PlanMS = sum
					samples = append(samples, n)
				}
			}
			run := pt.Run.Quantile(q)
			overheads = append(overheads, run-pt.nodeSum())
			wFLOPs = append(wFLOPs, pt.FLOPs)
			wNodes = append(wNodes, len(pt.Nodes))
			wMS = append(wMS, run)
			fitPlans = append(fitPlans, pt)
		}
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("build: no node timings to fit")
	}
	co := profile.Fit(t.PeakGFLOPS, t.BandwidthGBs, samples, overheads)
	var sums []float64
	for _, pt := range fitPlans {
		sums = append(sums, profile.PredictNodes(co, pt.Nodes))
	}
	var outs []int64
	for _, pt := range fitPlans {
		outs = append(outs, profile.OutElems(pt.Nodes))
	}
	co.FitRun(sums, wNodes, outs, wMS)
	base := profile.FitBaselines(wFLOPs, wNodes, wMS)
	logf("fitted on %d node timings of %d plans (run scale %.3f, %.2f µs per node, %.3f ns per output element, %.0f µs per run)", len(samples), len(fitPlans), co.RunScale, co.DispatchUS, co.DispatchNSPerOut, co.GraphOverheadUS)

	res := &CalibrationResult{Statistic: t.Statistic, Baselines: base, PerModel: map[string]PredictorStats{}, Samples: len(samples), Timings: t}
	var all [6][]float64
	var names []string
	for _, mt := range t.Models {
		var cols [6][]float64
		for _, pt := range mt.Plans {
			if pt.Kind != PlanValidate {
				continue
			}
			nodes := profile.PredictNodes(co, pt.Nodes)
			vp := ValidationPoint{Model: mt.Model, FLOPs: pt.FLOPs, Nodes: len(pt.Nodes), Measured: pt.Run.Quantile(q),
				NodeSum: pt.nodeSum(), PredictedNodes: nodes, Predicted: co.PredictRun(nodes, len(pt.Nodes), profile.OutElems(pt.Nodes))}
			if len(pt.Run.Wall) > 0 {
				vp.MeasuredWall = pt.Run.Wall[int(q*float64(len(pt.Run.Wall)-1)+0.5)]
			}
			vp.FLOPsOnly = base.PredictFLOPsOnly(pt.FLOPs)
			vp.TwoParam = base.PredictTwoParam(pt.FLOPs, len(pt.Nodes))
			res.Points = append(res.Points, vp)
			for i, x := range []float64{vp.Measured, vp.Predicted, vp.FLOPsOnly, vp.TwoParam, vp.NodeSum, vp.PredictedNodes} {
				cols[i] = append(cols[i], x)
				all[i] = append(all[i], x)
			}
		}
		if len(cols[0]) == 0 {
			continue
		}
		names = append(names, mt.Model)
		ps := PredictorStats{profile.Stats(cols[1], cols[0]), profile.Stats(cols[2], cols[0]), profile.Stats(cols[3], cols[0]), profile.Stats(cols[5], cols[4])}
		res.PerModel[mt.Model] = ps
		logf("  %s: cost model MAPE %.1f%%, %.0f%% within ±10%% (FLOPs-only %.1f%%, two-parameter %.1f%%); node sums MAPE %.1f%%, %.0f%% within ±10%%", mt.Model,
			ps.CostModel.MAPE*100, ps.CostModel.Within10Pct*100, ps.FLOPsOnly.MAPE*100, ps.TwoParam.MAPE*100, ps.NodeSum.MAPE*100, ps.NodeSum.Within10Pct*100)
	}
	res.Overall = PredictorStats{profile.Stats(all[1], all[0]), profile.Stats(all[2], all[0]), profile.Stats(all[3], all[0]), profile.Stats(all[5], all[4])}
	res.Sparse = validateSparse(co, t, q)
	if sp := res.Sparse; sp != nil {
		logf("sparse class: fitted on %d sparse-node timings of %d variants; on %d held-out sparse variants whole-run MAPE %.1f%% fitted vs %.1f%% default, sparse nodes' sum MAPE %.1f%% vs %.1f%%",
			sp.FitNodes, sp.FitVariants, sp.Fitted.N, sp.Fitted.MAPE*100, sp.Default.MAPE*100, sp.NodesFitted.MAPE*100, sp.NodesDefault.MAPE*100)
	}
	if res.RAM = FitRAM(t.RSS); res.RAM != nil {
		co.RSSOverheadMB, co.RSSScale = res.RAM.OverheadMB, res.RAM.Scale
		f, v := res.RAM.Fit, res.RAM.Validation
		logf("memory: peak RSS = %.1f MB + %.3f × max(2·file, file + held + activations + sparse build); fit on %d plans: MAPE %.1f%%, %.0f%% within ±10%%; validation on %d: MAPE %.1f%%, %.0f%% within ±10%%",
			co.RSSOverheadMB, co.RSSScale, f.N, f.MAPE*100, f.Within10Pct*100, v.N, v.MAPE*100, v.Within10Pct*100)
	}
	cond := t.Conditions
	cond.Statistic = t.Statistic
	if cond.Source == "" {
		cond.Source = "edgeprune"
	}
	res.Calibration = &profile.Calibration{
		Runtime:    profile.RuntimeInfo{Name: "edgeprune", Version: runtime.Version(), GOARCH: runtime.GOARCH, Kernels: kernels()},
		Measured:   time.Now().UTC().Truncate(time.Second),
		Conditions: cond,
		ByThreads:  map[string]*profile.Coeffs{fmt.Sprint(t.Threads): co},
	}
	if len(all[0]) > 0 {
		res.Calibration.Validation = &profile.Validation{Variants: len(all[0]), MAPE: round4(res.Overall.CostModel.MAPE),
			RMSPE: round4(res.Overall.CostModel.RMSPE), Within10Pct: round4(res.Overall.CostModel.Within10Pct), Models: names}
	}
	return res, nil
}

func round4(x float64) float64 { return float64(int64(x*1e4+0.5)) / 1e4 }

func kernels() string {
	if runtime.GOARCH == "amd64" {
		return "amd64 assembly (AVX2/AVX-512 where present)"
	}
	return "portable Go"
}

func compile(m *onnxio.Model, threads int) (*engine.Program, error) {
	return engine.Compile(m, engine.WithThreads(threads))
}

// levelOf is the index of the keep level nearest w.
func levelOf(keep []float64, w float64) int {
	best := 0
	for i, k := range keep {
		if math.Abs(k-w) < math.Abs(keep[best]-w) {
			best = i
		}
	}
	return best
}

// validationPlan reports whether plans of kind are held out of every fit.
func validationPlan(kind string) bool {
	return kind == PlanValidate || kind == PlanSparseValidate
}

// FitRAM fits the memory model (profile.FitRAM) on the width and fitting
// plans' peak RSS (dense and sparse) and validates it on the validation
// plans' (nil when nothing was measured). Points carry the fitted
// prediction.
func FitRAM(pts []RSSPoint) *RAMFit {
	var fit []profile.RAMPoint
	for _, p := range pts {
		if !validationPlan(p.Kind) {
			fit = append(fit, profile.RAMPoint{Terms: p.Terms, PeakRSSMB: p.PeakRSSMB})
		}
	}
	o, sc, ok := profile.FitRAM(fit)
	if !ok {
		return nil
	}
	r := &RAMFit{OverheadMB: math.Round(o*10) / 10, Scale: math.Round(sc*1000) / 1000}
	co := &profile.Coeffs{RSSOverheadMB: r.OverheadMB, RSSScale: r.Scale}
	var fp, fm, vp, vm []float64
	for _, p := range pts {
		p.PredictedMB = float64(co.RAMBytes(p.Terms)) / profile.MB
		if validationPlan(p.Kind) {
			vp, vm = append(vp, p.PredictedMB), append(vm, p.PeakRSSMB)
		} else {
			fp, fm = append(fp, p.PredictedMB), append(fm, p.PeakRSSMB)
		}
		r.Points = append(r.Points, p)
	}
	r.Fit, r.Validation = profile.Stats(fp, fm), profile.Stats(vp, vm)
	return r
}
