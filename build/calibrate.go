package build

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
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
	Threads  int       // default: the profile's run.threads
	Warmup   int       // default 3
	Runs     int       // per timing; default 10
	Widths   []float64 // uniform keep ratios whose layers are timed; default 1, .75, .5, .25
	Variants int       // validation variants per model; default 20
	Seed     uint64
	// Statistic is what is fitted and validated: "median" (default) or
	// "min" (the fastest run: robust to a machine shared with other work,
	// at the price of predicting an unloaded device).
	Statistic string
	Log       func(format string, args ...any)
}

// ValidationPoint is one validation variant.
type ValidationPoint struct {
	Model    string  `json:"model"`
	FLOPs    int64   `json:"flops"`
	Nodes    int     `json:"nodes"`
	Measured float64 `json:"measured_ms"`
	// NodeSum is the sum of the nodes' own times (the statistic per node):
	// on a loaded machine the whole run's time is mostly the scheduler's.
	NodeSum float64 `json:"measured_node_sum_ms"`
	// PredictedNodes is the prediction without the per-run overhead.
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
	Statistic   string                    `json:"statistic"`
	Seconds     float64                   `json:"seconds"`
}

// Calibrate measures this machine for the profile's runtime (edgeprune):
// microbenchmarks, then every node of each model at several uniform widths
// (engine.Program.NodeTimes), fits the cost model (profile.Fit), and validates
// it on opts.Variants random structured variants of each model (random keep
// level per group, measured whole), with the FLOPs-only and two-parameter
// baselines fitted on the same width timings.
func Calibrate(ctx context.Context, p *profile.Profile, models []NamedModel, opts CalibrateOptions) (*CalibrationResult, error) {
	start := time.Now()
	if opts.Threads == 0 {
		opts.Threads = p.Run.Threads
	}
	if opts.Warmup == 0 {
		opts.Warmup = 3
	}
	if opts.Runs == 0 {
		opts.Runs = 10
	}
	if len(opts.Widths) == 0 {
		opts.Widths = []float64{1, .75, .5, .25}
	}
	if opts.Variants == 0 {
		opts.Variants = 20
	}
	q := 0.5
	switch opts.Statistic {
	case "", "median":
		opts.Statistic = "median"
	case "min":
		q = 0
	default:
		return nil, fmt.Errorf("build: statistic %q: want median or min", opts.Statistic)
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	cond := profile.ReadConditions()
	bw := profile.MeasureBandwidth(opts.Threads, 10)
	peak, err := profile.MeasurePeak(ctx, opts.Threads, 10)
	if err != nil {
		return nil, fmt.Errorf("build: peak microbenchmark: %w", err)
	}
	logf("microbenchmarks: %.1f GFLOP/s (512³ MatMul), %.1f GB/s (copy traffic), %d threads", peak, bw, opts.Threads)

	type fitModel struct {
		name  string
		space *Space
	}
	var samples []profile.NodeSample
	var overheads []float64
	var wFLOPs []int64
	var wNodes []int
	var wMS []float64
	var spaces []fitModel
	for _, nm := range models {
		s, err := NewSpace(nm.Model, mergeKeep(p.Search.Structured.Keep, opts.Widths), p.Search.Structured.RoundTo, nil)
		if err != nil {
			return nil, fmt.Errorf("build: %s: %w", nm.Name, err)
		}
		spaces = append(spaces, fitModel{nm.Name, s})
		for _, w := range opts.Widths {
			l := levelOf(s.Keep, w)
			m, _, err := s.Model(s.Uniform(l))
			if err != nil {
				return nil, fmt.Errorf("build: %s at keep %.3g: %w", nm.Name, w, err)
			}
			plan, err := compile(m, opts.Threads)
			if err != nil {
				return nil, fmt.Errorf("build: %s at keep %.3g: %w", nm.Name, w, err)
			}
			nt, total, err := plan.NodeTimes(ctx, engine.RandomInputs(plan), opts.Warmup, opts.Runs, q)
			if err != nil {
				return nil, err
			}
			ms := make([]float64, len(nt))
			var sum float64
			for i, d := range nt {
				ms[i] = float64(d) / 1e6
				sum += ms[i]
			}
			r := plan.Report()
			samples = append(samples, profile.Samples(r, ms)...)
			totalMS := float64(total) / 1e6
			overheads = append(overheads, totalMS-sum)
			wFLOPs = append(wFLOPs, r.FLOPs)
			wNodes = append(wNodes, len(r.Nodes))
			wMS = append(wMS, totalMS)
			logf("  %s keep %.3g: %d nodes, %.2f ms (nodes sum %.2f)", nm.Name, w, len(r.Nodes), totalMS, sum)
		}
	}
	co := profile.Fit(peak, bw, samples, overheads)
	base := profile.FitBaselines(wFLOPs, wNodes, wMS)
	logf("fitted on %d node timings; validating on %d variants per model", len(samples), opts.Variants)

	res := &CalibrationResult{Statistic: opts.Statistic, Baselines: base, PerModel: map[string]PredictorStats{}, Samples: len(samples)}
	rng := rand.New(rand.NewPCG(opts.Seed, 11))
	var all [6][]float64
	for _, fm := range spaces {
		var cols [6][]float64
		for v := 0; v < opts.Variants; v++ {
			choice := make([]int, len(fm.space.Groups))
			for i := range choice {
				choice[i] = rng.IntN(len(fm.space.Keep))
			}
			m, _, err := fm.space.Model(choice)
			if err != nil {
				return nil, fmt.Errorf("build: %s variant %d: %w", fm.name, v, err)
			}
			plan, err := compile(m, opts.Threads)
			if err != nil {
				return nil, fmt.Errorf("build: %s variant %d: %w", fm.name, v, err)
			}
			nt, total, err := plan.NodeTimes(ctx, engine.RandomInputs(plan), opts.Warmup, opts.Runs, q)
			if err != nil {
				return nil, err
			}
			r := plan.Report()
			pt := ValidationPoint{Model: fm.name, FLOPs: r.FLOPs, Nodes: len(r.Nodes), Measured: float64(total) / 1e6}
			for _, d := range nt {
				pt.NodeSum += float64(d) / 1e6
			}
			est := profile.PredictWith(co, m, plan)
			pt.Predicted = est.LatencyMS
			pt.PredictedNodes = est.LatencyMS - est.GraphOverheadMS
			pt.FLOPsOnly = base.PredictFLOPsOnly(r.FLOPs)
			pt.TwoParam = base.PredictTwoParam(r.FLOPs, len(r.Nodes))
			res.Points = append(res.Points, pt)
			for i, x := range []float64{pt.Measured, pt.Predicted, pt.FLOPsOnly, pt.TwoParam, pt.NodeSum, pt.PredictedNodes} {
				cols[i] = append(cols[i], x)
				all[i] = append(all[i], x)
			}
		}
		ps := PredictorStats{profile.Stats(cols[1], cols[0]), profile.Stats(cols[2], cols[0]), profile.Stats(cols[3], cols[0]), profile.Stats(cols[5], cols[4])}
		res.PerModel[fm.name] = ps
		logf("  %s: cost model MAPE %.1f%%, %.0f%% within ±10%% (FLOPs-only %.1f%%, two-parameter %.1f%%); node sums MAPE %.1f%%, %.0f%% within ±10%%", fm.name,
			ps.CostModel.MAPE*100, ps.CostModel.Within10Pct*100, ps.FLOPsOnly.MAPE*100, ps.TwoParam.MAPE*100, ps.NodeSum.MAPE*100, ps.NodeSum.Within10Pct*100)
	}
	res.Overall = PredictorStats{profile.Stats(all[1], all[0]), profile.Stats(all[2], all[0]), profile.Stats(all[3], all[0]), profile.Stats(all[5], all[4])}
	after := profile.ReadConditions()
	cond.LoadAvg = append(cond.LoadAvg, after.LoadAvg...)
	cond.Statistic = opts.Statistic
	var names []string
	for _, nm := range models {
		names = append(names, nm.Name)
	}
	res.Calibration = &profile.Calibration{
		Runtime:    profile.RuntimeInfo{Name: "edgeprune", Version: runtime.Version(), GOARCH: runtime.GOARCH, Kernels: kernels()},
		Measured:   time.Now().UTC().Truncate(time.Second),
		Conditions: cond,
		ByThreads:  map[string]*profile.Coeffs{fmt.Sprint(opts.Threads): co},
		Validation: &profile.Validation{Variants: len(all[0]), MAPE: round4(res.Overall.CostModel.MAPE),
			RMSPE: round4(res.Overall.CostModel.RMSPE), Within10Pct: round4(res.Overall.CostModel.Within10Pct), Models: names},
	}
	res.Seconds = time.Since(start).Seconds()
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

// mergeKeep adds the widths to the keep levels.
func mergeKeep(keep, widths []float64) []float64 {
	out := append([]float64{}, keep...)
	return append(out, widths...)
}

// levelOf is the index of the keep level nearest w.
func levelOf(keep []float64, w float64) int {
	best := 0
	for i, k := range keep {
		if abs(k-w) < abs(keep[best]-w) {
			best = i
		}
	}
	return best
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
