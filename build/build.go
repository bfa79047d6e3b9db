package build

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
)

// ErrInfeasible is returned (wrapped in *InfeasibleError) when no choice
// meets every budget.
var ErrInfeasible = errors.New("build: budgets cannot be met")

// Options configure Build.
type Options struct {
	Threads int // engine threads for damage runs; default all cores
	// Calib are the calibration batches for the sensitivity table (nil:
	// weight-based damage only); Heldout verifies the chosen model.
	Calib, Heldout []engine.Batch
	// Measure times the chosen model on this machine (when it is the
	// profile's target).
	Measure bool
	// Shapes fixes the inputs' dynamic dimensions (PaddleOCR's
	// x [?,3,?,?]) for planning, cost prediction and timing; the written
	// model keeps them dynamic.
	Shapes map[string][]int64
	// Finetune, when set, fine-tunes the chosen model before verification
	// (finetune.go).
	Finetune Finetuner
	Log      func(format string, args ...any)
}

// Option is one entry of the sensitivity table.
type Option struct {
	Keep      float64 `json:"keep"`
	Kept      int     `json:"kept"`
	Damage    float64 `json:"damage"`
	DeltaMS   float64 `json:"delta_ms"`  // predicted latency change (negative: faster)
	DeltaRAM  int64   `json:"delta_ram"` // resident weight bytes change
	DeltaFile int64   `json:"delta_file"`
}

// GroupResult is one dependency group: its options and the choice.
type GroupResult struct {
	Roots   []string `json:"roots"`
	Units   int      `json:"units"`
	Options []Option `json:"options"`
	Choice  int      `json:"choice"`
}

// Metrics are what a model costs and how good it is.
type Metrics struct {
	LatencyMS           float64            `json:"latency_ms"`
	MeasuredMS          float64            `json:"measured_ms,omitempty"`
	MeasuredStatistic   string             `json:"measured_statistic,omitempty"`
	ByClassMS           map[string]float64 `json:"by_class_ms"`
	RAMBytes            int64              `json:"ram_bytes"`
	WeightBytes         int64              `json:"weight_bytes"`
	PeakActivationBytes int64              `json:"peak_activation_bytes"`
	FileBytes           int64              `json:"file_bytes"`
	FLOPs               int64              `json:"flops"`
	Params              int64              `json:"params"`
	// Quality on the held-out data: top-1 with labels, agreement with the
	// original's top-1 and mean KL of the outputs otherwise.
	Top1      *float64 `json:"top1,omitempty"`
	Agreement *float64 `json:"agreement,omitempty"`
	KL        *float64 `json:"kl,omitempty"`
}

// BudgetRow is one budget against the model's value.
type BudgetRow struct {
	Name   string  `json:"name"`
	Budget float64 `json:"budget"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	OK     bool    `json:"ok"`
	Gap    float64 `json:"gap,omitempty"` // value − budget when not met
	Note   string  `json:"note,omitempty"`
}

// LayerRow is one weight layer before and after.
type LayerRow struct {
	Node      string  `json:"node"`
	Op        string  `json:"op"`
	OutBefore int64   `json:"out_before"`
	OutAfter  int64   `json:"out_after"`
	InBefore  int64   `json:"in_before"`
	InAfter   int64   `json:"in_after"`
	Params    int64   `json:"params"`
	FLOPs     int64   `json:"flops"`
	MS        float64 `json:"predicted_ms"`
}

// Result is build.json.
type Result struct {
	Schema     string             `json:"schema"`
	Model      string             `json:"model"`
	Profile    string             `json:"profile"`
	Device     string             `json:"device"`
	CostSource string             `json:"cost_source"`
	Damage     string             `json:"damage"` // what the sensitivity measured
	Warnings   []string           `json:"warnings,omitempty"`
	Groups     []GroupResult      `json:"groups"`
	Layers     []LayerRow         `json:"layers"`
	Before     Metrics            `json:"before"`
	After      Metrics            `json:"after"`
	Budgets    []BudgetRow        `json:"budgets"`
	Feasible   bool               `json:"feasible"`
	Phases     map[string]float64 `json:"phase_seconds"`
	Rounds     int                `json:"solve_rounds"`
	Finetune   string             `json:"finetune"`
	// FinetuneRun is the fine-tuning's account (nil when skipped).
	FinetuneRun *FinetuneReport `json:"finetune_run,omitempty"`
	Built       time.Time       `json:"built"`

	model *onnxio.Model
}

// Model is the built model (nil when infeasible).
func (r *Result) BuiltModel() *onnxio.Model { return r.model }

// ResultSchema names build.json's format.
const ResultSchema = "edgeprune/build/v1"

// Build fits m to the profile's budgets. It returns the result with the
// chosen model, or an error wrapping ErrInfeasible with the result (its
// Budgets show each budget, the best value reached and the gap).
func Build(ctx context.Context, p *profile.Profile, name string, m *onnxio.Model, opts Options) (*Result, error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.Threads == 0 {
		opts.Threads = runtime.NumCPU()
	}
	res := &Result{Schema: ResultSchema, Model: name, Profile: p.File, Device: p.Name, Phases: map[string]float64{}, Built: time.Now().UTC().Truncate(time.Second)}
	phase := func(n string, t0 time.Time) { res.Phases[n] = math.Round(time.Since(t0).Seconds()*100) / 100 }
	co, calibrated := p.Coeffs()
	res.CostSource = p.Derive().CostSource
	if !calibrated {
		res.Warnings = append(res.Warnings, "the profile is not calibrated for "+p.Run.Runtime+": latency is predicted from datasheet figures")
	}

	t0 := time.Now()
	logf("[1/5] search space: keep %v, channels rounded to %d", p.Search.Structured.Keep, p.Search.Structured.RoundTo)
	space, err := NewSpace(m, p.Search.Structured.Keep, p.Search.Structured.RoundTo, opts.Shapes)
	if err != nil {
		return nil, err
	}
	ev := &evaluator{ctx: ctx, p: p, co: co, space: space, threads: opts.Threads, shapes: shapeOptions(opts.Shapes)}
	dense, err := ev.metrics(space.Uniform(0))
	if err != nil {
		return nil, fmt.Errorf("build: the original model: %w", err)
	}
	phase("space", t0)

	t0 = time.Now()
	var refCalib [][]float32
	origEnergy := paramEnergy(m)
	if opts.Calib != nil {
		res.Damage = "KL divergence of the outputs from the original's on the calibration data"
		if refCalib, err = scores(ctx, m, opts.Calib, opts.Threads); err != nil {
			return nil, fmt.Errorf("build: calibration data: %w", err)
		}
	} else {
		res.Damage = "weight-based: fraction of each weight tensor's energy removed (no data: accuracy was not measured)"
		res.Warnings = append(res.Warnings, "no calibration data (--data): damage is weight-based and accuracy was not measured")
	}
	logf("[2/5] sensitivity: %d groups × %d levels (%s)", len(space.Groups), len(space.Keep)-1, res.Damage)
	for g := range space.Groups {
		gr := GroupResult{Roots: space.Group(g, 0).Roots, Units: space.Group(g, 0).Units}
		for l, k := range space.Keep {
			gp := space.Group(g, l)
			opt := Option{Keep: k, Kept: gp.Kept}
			if l > 0 && gp.Kept != gr.Options[l-1].Kept {
				choice := space.Uniform(0)
				choice[g] = l
				mm, err := ev.metricsModel(choice)
				if err != nil {
					return nil, fmt.Errorf("build: group %v keep %.3g: %w", gr.Roots, k, err)
				}
				opt.DeltaMS = mm.met.LatencyMS - dense.met.LatencyMS
				opt.DeltaRAM = mm.met.RAMBytes - dense.met.RAMBytes
				opt.DeltaFile = mm.met.FileBytes - dense.met.FileBytes
				if refCalib != nil {
					got, err := scores(ctx, mm.m, opts.Calib, opts.Threads)
					if err != nil {
						return nil, err
					}
					opt.Damage = meanKL(refCalib, got)
				} else {
					opt.Damage = weightDamage(origEnergy, mm.m)
				}
			} else if l > 0 {
				prev := gr.Options[len(gr.Options)-1]
				opt.Damage, opt.DeltaMS, opt.DeltaRAM, opt.DeltaFile = prev.Damage, prev.DeltaMS, prev.DeltaRAM, prev.DeltaFile
			}
			gr.Options = append(gr.Options, opt)
		}
		res.Groups = append(res.Groups, gr)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	phase("sensitivity", t0)

	t0 = time.Now()
	logf("[3/5] solve: multiple-choice knapsack (Lagrangian) under the budgets")
	target := budgetsOf(p)
	// With the target at hand, the solver's latency target is corrected by
	// the measured/predicted ratio of the original (one scalar), and again
	// by the chosen model's measured/budget ratio while it misses (≤ 3
	// rounds).
	var denseMeasured Metrics
	if opts.Measure && target.latency > 0 {
		if err := measure(ctx, m, p, ev.shapes, &denseMeasured); err != nil {
			return nil, err
		}
		if k := denseMeasured.MeasuredMS / dense.met.LatencyMS; k > 0 {
			target.latency /= k
			logf("      measured/predicted latency of the original: %.3g (the solver's latency target is corrected by it)", k)
		}
	}
	var choice []int
	var after *evaluated
	for round := 0; ; round++ {
		var rounds int
		choice, after, rounds, err = ev.solve(res.Groups, dense, target)
		if err != nil {
			return nil, err
		}
		res.Rounds += rounds
		if !opts.Measure || target.latency == 0 || round == 3 {
			break
		}
		var am Metrics
		if err := measure(ctx, after.m, p, ev.shapes, &am); err != nil {
			return nil, err
		}
		budget := p.Budgets.LatencyMS.Max
		if am.MeasuredMS <= budget {
			break
		}
		target.latency *= budget / am.MeasuredMS
		logf("      measured %.3g ms > %.3g ms: re-solving with a tighter target", am.MeasuredMS, budget)
	}
	phase("solve", t0)

	res.Finetune = "skipped: no training data (--train)"
	if opts.Finetune != nil {
		t0 = time.Now()
		if err := finetune(ctx, opts.Finetune, p, after, !opts.Measure, res, logf); err != nil {
			return nil, err
		}
		phase("finetune", t0)
	}

	t0 = time.Now()
	logf("[4/5] verify: the chosen model, predicted%s", map[bool]string{true: " and measured", false: ""}[opts.Measure])
	for g := range res.Groups {
		res.Groups[g].Choice = choice[g]
	}
	res.Before, res.After = dense.met, after.met
	if opts.Measure {
		res.Before.MeasuredMS, res.Before.MeasuredStatistic = denseMeasured.MeasuredMS, denseMeasured.MeasuredStatistic
		if res.Before.MeasuredMS == 0 {
			if err := measure(ctx, m, p, ev.shapes, &res.Before); err != nil {
				return nil, err
			}
		}
		if err := measure(ctx, after.m, p, ev.shapes, &res.After); err != nil {
			return nil, err
		}
	}
	if opts.Heldout != nil {
		for _, x := range []struct {
			met *Metrics
			m   *onnxio.Model
		}{{&res.Before, m}, {&res.After, after.m}} {
			if err := quality(ctx, x.m, m, opts.Heldout, opts.Threads, x.met); err != nil {
				return nil, err
			}
		}
	}
	res.Layers = ev.layers(after)
	res.Budgets = budgetTable(p, res.Before, res.After)
	res.Feasible = true
	for _, b := range res.Budgets {
		res.Feasible = res.Feasible && b.OK
	}
	phase("verify", t0)
	if res.Feasible {
		res.model = after.m
		return res, nil
	}
	return res, &InfeasibleError{Result: res}
}

// InfeasibleError carries the result whose budget table shows the gaps.
type InfeasibleError struct{ Result *Result }

func (e *InfeasibleError) Error() string {
	var s []string
	for _, b := range e.Result.Budgets {
		if !b.OK {
			s = append(s, fmt.Sprintf("%s %.4g %s over %.4g by %.4g", b.Name, b.Value, b.Unit, b.Budget, b.Gap))
		}
	}
	return fmt.Sprintf("%v: %v", ErrInfeasible, s)
}

func (e *InfeasibleError) Unwrap() error { return ErrInfeasible }

type budgets struct {
	latency, ram, act, file float64 // 0: none
	margin                  float64
}

func budgetsOf(p *profile.Profile) budgets {
	b := budgets{margin: p.Search.LatencyMargin}
	if l := p.Budgets.LatencyMS; l != nil {
		b.latency = l.Max
	}
	if l := p.Budgets.RAMMB; l != nil {
		b.ram = l.Max * profile.MB
	}
	if l := p.Budgets.ActivationsMB; l != nil {
		b.act = l.Max * profile.MB
	}
	if l := p.Budgets.FileMB; l != nil {
		b.file = l.Max * profile.MB
	}
	return b
}

// measure times m on this machine with the profile's run settings.
func measure(ctx context.Context, m *onnxio.Model, p *profile.Profile, shapes []engine.Option, met *Metrics) error {
	plan, err := engine.Compile(m, append(slices.Clone(shapes), engine.WithThreads(p.Run.Threads))...)
	if err != nil {
		return err
	}
	t, err := engine.Measure(ctx, plan, engine.RandomInputs(plan), p.Run.Warmup, p.Run.Runs)
	if err != nil {
		return err
	}
	stat := "p90"
	if p.Budgets.LatencyMS != nil {
		stat = p.Budgets.LatencyMS.Statistic
	}
	met.MeasuredStatistic = stat
	switch stat {
	case "p50", "mean":
		met.MeasuredMS = float64(t.Median) / 1e6
	case "min":
		met.MeasuredMS = float64(t.Min) / 1e6
	default: // p90, p99: Measure gives p90
		met.MeasuredStatistic = "p90"
		met.MeasuredMS = float64(t.P90) / 1e6
	}
	return nil
}

func quality(ctx context.Context, m, orig *onnxio.Model, data []engine.Batch, threads int, met *Metrics) error {
	got, err := scores(ctx, m, data, threads)
	if err != nil {
		return err
	}
	if a, ok := accuracy(got, data); ok {
		met.Top1 = &a
	}
	ref, err := scores(ctx, orig, data, threads)
	if err != nil {
		return err
	}
	ag, kl := agreement(ref, got), meanKL(ref, got)
	met.Agreement, met.KL = &ag, &kl
	return nil
}

func budgetTable(p *profile.Profile, before, after Metrics) []BudgetRow {
	var rows []BudgetRow
	add := func(name string, budget, value float64, unit, note string) {
		r := BudgetRow{Name: name, Budget: budget, Value: value, Unit: unit, OK: value <= budget, Note: note}
		if !r.OK {
			r.Gap = value - budget
		}
		rows = append(rows, r)
	}
	b := p.Budgets
	if b.LatencyMS != nil {
		v, note := after.LatencyMS, "predicted"
		if after.MeasuredMS > 0 {
			v, note = after.MeasuredMS, fmt.Sprintf("measured %s here; predicted %.2f", after.MeasuredStatistic, after.LatencyMS)
		}
		add("latency_ms", b.LatencyMS.Max, v, "ms", note)
	}
	if b.RAMMB != nil {
		add("ram_mb", b.RAMMB.Max, float64(after.RAMBytes)/profile.MB, "MB", "weights as held + peak activations + runtime")
	}
	if b.ActivationsMB != nil {
		add("activations_mb", b.ActivationsMB.Max, float64(after.PeakActivationBytes)/profile.MB, "MB", "engine buffer plan")
	}
	if b.FileMB != nil {
		add("file_mb", b.FileMB.Max, float64(after.FileBytes)/profile.MB, "MB", "model.onnx, exact")
	}
	if a := b.Accuracy; a != nil {
		switch {
		case a.Metric == "top1" && before.Top1 != nil && after.Top1 != nil:
			drop := *before.Top1 - *after.Top1
			budget := a.Value
			if a.Goal == "percent-max-degradation" {
				budget = *before.Top1 * a.Value / 100
			}
			if a.Goal == "threshold" {
				add("accuracy", -a.Value, -*after.Top1, "top-1 (negated)", "threshold")
			} else {
				add("accuracy_drop", budget, drop, "top-1", fmt.Sprintf("%.4f → %.4f on held-out data", *before.Top1, *after.Top1))
			}
		case after.Agreement != nil:
			drop := 1 - *after.Agreement
			budget := a.Value
			if a.Goal == "percent-max-degradation" {
				budget = a.Value / 100
			}
			add("fidelity_drop", budget, drop, "1 − top-1 agreement", "no labels: agreement with the original on held-out data")
		default:
			rows = append(rows, BudgetRow{Name: "accuracy", Budget: a.Value, OK: true, Note: "not measured: no held-out data (--data)"})
		}
	}
	if len(b.Priority) > 0 {
		rank := func(n string) int {
			for i, x := range b.Priority {
				if x == n || (x == "accuracy" && (n == "accuracy_drop" || n == "fidelity_drop")) {
					return i
				}
			}
			return len(b.Priority)
		}
		slices.SortStableFunc(rows, func(x, y BudgetRow) int { return rank(x.Name) - rank(y.Name) })
	}
	return rows
}
