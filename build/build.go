package build

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
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
	// PeakRSS, when set and Measure is, measures the built model's peak
	// resident set in MB on this machine (the CLI runs it in a child
	// process, as calibrate does); the RAM row of the budget table then
	// judges it.
	PeakRSS func(ctx context.Context, m *onnxio.Model) (float64, error)
	// Finetune, when set, fine-tunes the chosen model before verification
	// (finetune.go).
	Finetune Finetuner
	// Probe, when set, is a short fine-tuning run on each candidate
	// choice before they are compared on the labelled calibration data
	// (candidates.go; its learning rate is scaled down for all when one
	// diverges).
	Probe Prober
	// AdaptiveBN: re-estimate a pruned variant's BatchNormalization
	// statistics on the calibration samples before scoring it (bn.go):
	// "" or "auto" (when the model has BatchNormalization nodes), "on",
	// "off".
	AdaptiveBN string
	// Frontier adds the frontier at the latency target to the candidates
	// (frontier.go). Off by default: on bncnn and lenet5 at 50%, fine-tuned
	// over three seeds, it kept no better models than the search without it
	// (docs/profiles.md, "Session 10 (s10-build)").
	Frontier bool
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
	// Unstructured is the option of an unstructured layer (Kind
	// "unstructured"; Keep and Kept are then 1 and the weight count).
	Unstructured *UOption `json:"unstructured,omitempty"`

	// TaskDamage is the increase of the task loss (cross-entropy against
	// the labels) on the calibration data, when it has labels.
	TaskDamage float64 `json:"task_damage,omitempty"`

	// Priced is "composed" for an unstructured option whose damages were
	// composed from its twins' instead of measured (unstructured.go);
	// ComposedDamage is, with search.unstructured.sensitivity: measured,
	// what composing would have given beside the measured Damage.
	Priced         string  `json:"priced,omitempty"`
	ComposedDamage float64 `json:"composed_damage,omitempty"`
}

// GroupResult is one dependency group: its options and the choice.
type GroupResult struct {
	// Kind is "" for a structured dependency group, "unstructured" for a
	// layer's sparsity and coding options (Layer names its node, Roots its
	// weight, Units its weight count).
	Kind    string   `json:"kind,omitempty"`
	Layer   string   `json:"layer,omitempty"`
	Roots   []string `json:"roots"`
	Units   int      `json:"units"`
	Options []Option `json:"options"`
	Choice  int      `json:"choice"`
}

// Metrics are what a model costs and how good it is.
type Metrics struct {
	LatencyMS         float64 `json:"latency_ms"`
	MeasuredMS        float64 `json:"measured_ms,omitempty"`
	MeasuredStatistic string  `json:"measured_statistic,omitempty"`
	// MeasuredRatio is the latency's ratio to the original's, timed
	// interleaved with it; MeasuredMS is this ratio times the original's
	// time measured at the start of the build (measure.go), SameRunMS and
	// OriginalSameRunMS the two times in that run.
	MeasuredRatio     float64 `json:"measured_ratio,omitempty"`
	SameRunMS         float64 `json:"same_run_ms,omitempty"`
	OriginalSameRunMS float64 `json:"original_same_run_ms,omitempty"`
	// ratioRounds are the measurement's per-round ratios to the original
	// (MeasuredRatio is their median); near the budget a candidate is
	// judged by them (latencyLimit.upper).
	ratioRounds []float64
	// MeasuredRSSMB is the peak resident set of a process running the
	// model once, measured here (Options.PeakRSS).
	MeasuredRSSMB       float64            `json:"measured_rss_mb,omitempty"`
	ByClassMS           map[string]float64 `json:"by_class_ms"`
	RAMBytes            int64              `json:"ram_bytes"`
	WeightBytes         int64              `json:"weight_bytes"`
	PeakActivationBytes int64              `json:"peak_activation_bytes"`
	FileBytes           int64              `json:"file_bytes"`
	PackedBytes         int64              `json:"packed_bytes,omitempty"` // model.epk, when packing
	FLOPs               int64              `json:"flops"`
	Params              int64              `json:"params"`
	// Quality on the held-out data: top-1 with labels, agreement with the
	// original's top-1 and mean KL of the outputs otherwise.
	Top1      *float64 `json:"top1,omitempty"`
	Agreement *float64 `json:"agreement,omitempty"`
	KL        *float64 `json:"kl,omitempty"`
	// RelMSE is the outputs' relative MSE against the original's (the
	// build's Fidelity scale) when that is the fidelity metric.
	RelMSE *float64 `json:"relative_mse,omitempty"`
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
	// BudgetMS and ValueMS are, for a latency budget given as a fraction
	// of the original's (Unit UnitOfOriginal: Budget, Value and Gap are
	// ratios), the same in milliseconds for information: the fraction of
	// the original's reading (measured at the start, or predicted) and
	// the built model's.
	BudgetMS float64 `json:"budget_ms,omitempty"`
	ValueMS  float64 `json:"value_ms,omitempty"`
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
	Sparsity  float64 `json:"sparsity,omitempty"` // zeros / elements of the weight (unstructured)
	Pattern   string  `json:"pattern,omitempty"`  // the unstructured pattern chosen
	Coding    string  `json:"coding,omitempty"`   // the value coding chosen (exact, fp16, codebook:B)
}

// Result is build.json.
type Result struct {
	Schema     string `json:"schema"`
	Source     string `json:"source,omitempty"` // set when rendered from a prune report
	Model      string `json:"model"`
	Profile    string `json:"profile"`
	Device     string `json:"device"`
	CostSource string `json:"cost_source"`
	Damage     string `json:"damage"` // what the sensitivity measured
	// Fidelity is the output metric chosen from the original's outputs on
	// the calibration data, with the reason (nil without data).
	Fidelity *Fidelity `json:"fidelity,omitempty"`
	// AdaptiveBN says whether pruned variants were scored with their
	// BatchNormalization statistics re-estimated (bn.go).
	AdaptiveBN *AdaptiveBN        `json:"adaptive_bn,omitempty"`
	Warnings   []string           `json:"warnings,omitempty"`
	Groups     []GroupResult      `json:"groups"`
	Layers     []LayerRow         `json:"layers"`
	Before     Metrics            `json:"before"`
	After      Metrics            `json:"after"`
	Budgets    []BudgetRow        `json:"budgets"`
	Feasible   bool               `json:"feasible"`
	Phases     map[string]float64 `json:"phase_seconds"`
	Rounds     int                `json:"solve_rounds"`
	// CachedNodes of TotalNodes node evaluations per calibration sample in
	// the sensitivity pass were skipped by starting from cached values.
	CachedNodes int `json:"cached_nodes,omitempty"`
	TotalNodes  int `json:"total_nodes,omitempty"`
	// UnstructuredRuns of the layers' options were run on the calibration
	// data, UnstructuredComposed priced from their twins (unstructured.go).
	UnstructuredRuns     int    `json:"unstructured_runs,omitempty"`
	UnstructuredComposed int    `json:"unstructured_composed,omitempty"`
	Finetune             string `json:"finetune"`
	// FinetuneRun is the fine-tuning's account (nil when skipped).
	FinetuneRun *FinetuneReport `json:"finetune_run,omitempty"`
	Built       time.Time       `json:"built"`

	// Selection lists the candidate choices verified and why the kept one
	// won (labelled calibration data only).
	Selection *Selection `json:"selection,omitempty"`

	model  *onnxio.Model
	packed []byte
}

// Packed is the built model as a .epk package (nil unless the profile
// asks for packing or has a file-size budget).
func (r *Result) Packed() []byte { return r.packed }

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
	if u := p.Search.Unstructured; u != nil { // unstructured.go
		if err := space.AddUnstructured(m, u); err != nil {
			return nil, err
		}
		logf("      unstructured: %d layers, sparsity %v, patterns %v, coding %v", len(space.ULayers), u.Sparsity, u.Patterns, u.Coding)
	}
	ev := &evaluator{ctx: ctx, p: p, co: co, space: space, threads: opts.Threads, shapes: shapeOptions(opts.Shapes)}
	dense, err := ev.metricsModel(space.Uniform(0))
	if err != nil {
		return nil, fmt.Errorf("build: the original model: %w", err)
	}
	phase("space", t0)

	t0 = time.Now()
	var refCalib [][]float32
	origEnergy := paramEnergy(m)
	var fid Fidelity
	if opts.Calib != nil {
		if refCalib, err = scores(ctx, m, opts.Calib, opts.Threads); err != nil {
			return nil, fmt.Errorf("build: calibration data: %w", err)
		}
		fid = ChooseFidelity(refCalib)
		res.Fidelity = &fid
		res.Damage = map[string]string{"kl": "KL divergence of the outputs from the original's", "relative-mse": "relative MSE of the outputs against the original's"}[fid.Metric] +
			" on the calibration data: " + fid.Reason
		if fid.InputIndependent {
			res.Warnings = append(res.Warnings, "the original's outputs do not depend on the input on the calibration data: fidelity (agreement, KL) cannot be verified on it; the damage is the change of its outputs")
		}
	} else {
		res.Damage = "weight-based: fraction of each weight tensor's energy removed (no data: accuracy was not measured)"
		res.Warnings = append(res.Warnings, "no calibration data (--data): damage is weight-based and accuracy was not measured")
	}
	logf("[2/5] sensitivity: %d groups × %d levels (%s)", len(space.Groups), len(space.Keep)-1, res.Damage)
	var calibLabels []int64
	var refLoss float64
	// The labels are the model's task unless the profile budgets fidelity:
	// then they may be anything the data came with (an image folder's class
	// names), and neither the task-loss damage nor the candidate search
	// below may rank by them.
	fidelityBudget := p.Budgets.Accuracy != nil && p.Budgets.Accuracy.Metric == "fidelity"
	if refCalib != nil && hasLabels(opts.Calib) && !fidelityBudget {
		if calibLabels = labelsOf(opts.Calib); len(calibLabels) != len(refCalib) {
			calibLabels = nil
		} else {
			refLoss = taskLoss(refCalib, calibLabels)
		}
	}
	var tl *tails
	var abn *adaptiveBN
	if refCalib != nil {
		if tl, err = newTails(ctx, m, opts.Calib, opts.Threads); err != nil {
			return nil, fmt.Errorf("build: calibration data: %w", err)
		}
		if abn, res.AdaptiveBN, err = newAdaptiveBN(ctx, m, opts.AdaptiveBN, opts.Calib); err != nil {
			return nil, err
		}
		logf("      adaptive BN: %s", res.AdaptiveBN.Reason)
	} else if opts.AdaptiveBN == AdaptiveBNOn {
		return nil, fmt.Errorf("build: adaptive BN on: no calibration data (--data)")
	}
	// Building and costing a group's levels (one core) overlaps the tail
	// runs of the group before (sensitivity.go).
	prepGroup := func(g int) (*groupPrep, error) {
		gp := &groupPrep{gr: GroupResult{Roots: space.Group(g, 0).Roots, Units: space.Group(g, 0).Units}}
		gr := &gp.gr
		for l, k := range space.Keep {
			gl := space.Group(g, l)
			opt := Option{Keep: k, Kept: gl.Kept}
			if l > 0 && gl.Kept != gr.Options[l-1].Kept {
				choice := space.Uniform(0)
				choice[g] = l
				mm, err := ev.metricsModel(choice)
				if err != nil {
					return nil, fmt.Errorf("build: group %v keep %.3g: %w", gr.Roots, k, err)
				}
				gp.frac = append(gp.frac, &evaluated{m: mm.m}) // recordFrac reads its weights only: the plan is let go
				opt.DeltaMS = mm.met.LatencyMS - dense.met.LatencyMS
				opt.DeltaRAM = mm.met.RAMBytes - dense.met.RAMBytes
				opt.DeltaFile = mm.met.FileBytes - dense.met.FileBytes
				if refCalib == nil {
					opt.Damage = weightDamage(origEnergy, mm.m)
				} else {
					gp.models, gp.idx = append(gp.models, mm.m), append(gp.idx, l)
				}
			} else {
				gp.frac = append(gp.frac, nil) // dense, or as the level before
				if l > 0 {
					opt.Kept = -1 // copied below, after the damage is known
				}
			}
			gr.Options = append(gr.Options, opt)
		}
		gp.cut = len(m.Graph().GetNode())
		for _, lm := range gp.models {
			gp.cut = min(gp.cut, firstChanged(m.Graph(), lm.Graph()))
			if abn != nil { // bn.go: only statistics from the cut on change
				if err := abn.recalibrate(ctx, lm); err != nil {
					return nil, err
				}
			}
		}
		return gp, nil
	}
	groupPreps := ahead(len(space.Groups), prepGroup)
	for g := range space.Groups {
		gp, err := groupPreps.next(g)
		if err != nil {
			return nil, err
		}
		for l, mm := range gp.frac {
			ev.recordFrac(g, l, mm) // joint.go
		}
		gr, models, idx, cut := gp.gr, gp.models, gp.idx, gp.cut
		if len(models) > 0 {
			got, ok, err := tl.run(cut, models)
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr // interrupted: no fallback to whole models
			}
			if err != nil {
				logf("      group %v: running from the cut failed (%v); running whole models", gr.Roots, err)
				ok = false
			}
			if ok {
				res.CachedNodes += cut * len(models)
			}
			for i, lm := range models {
				if !ok {
					s, err := scores(ctx, lm, opts.Calib, opts.Threads)
					if err != nil {
						return nil, err
					}
					got = append(got, s)
				}
				gr.Options[idx[i]].Damage = fid.Damage(refCalib, got[i])
				if calibLabels != nil {
					gr.Options[idx[i]].TaskDamage = taskLoss(got[i], calibLabels) - refLoss
				}
			}
			res.TotalNodes += len(m.Graph().GetNode()) * len(models)
		}
		for l := range gr.Options {
			if gr.Options[l].Kept == -1 {
				prev := gr.Options[l-1]
				prev.Keep = gr.Options[l].Keep
				gr.Options[l] = prev
			}
		}
		res.Groups = append(res.Groups, gr)
		logf("      group %d/%d %v: damage %s", g+1, len(space.Groups), gr.Roots, damages(gr.Options))
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if len(space.ULayers) > 0 { // unstructured.go
		score := func(got [][]float32) (damage, task float64) {
			if calibLabels != nil {
				task = taskLoss(got, calibLabels) - refLoss
			}
			return fid.Damage(refCalib, got), task
		}
		if err := ev.unstructuredSensitivity(m, tl, abn, refCalib, origEnergy, opts.Calib, dense, res, score, logf); err != nil {
			return nil, err
		}
		if dense, err = ev.packedFiles(dense, res); err != nil {
			return nil, err
		}
	}
	if res.TotalNodes > 0 {
		logf("      cached activations: %d%% of the node runs skipped", 100*res.CachedNodes/res.TotalNodes)
	}
	phase("sensitivity", t0)

	t0 = time.Now()
	logf("[3/5] solve: multiple-choice knapsack (Lagrangian) under the budgets")
	lim := latencyLimitOf(p) // latency.go
	target := budgetsOf(p, dense.met)
	// With the target at hand, the solver's latency target is corrected by
	// the measured/predicted ratio of the original (one scalar), and again
	// by the chosen model's measured/budget ratio while it misses (≤ 3
	// rounds).
	// The floor: every group at its smallest level, the least any choice
	// costs. A cost budget the floor misses cannot be met by any choice.
	floor, err := ev.metricsModel(space.Uniform(len(space.Keep) - 1))
	if err != nil {
		return nil, err
	}
	var denseMeasured, floorMeasured Metrics
	var toPred func(float64) float64
	var tm *timer
	if opts.Measure {
		if tm, err = newTimer(ctx, m, p, ev.shapes); err != nil {
			return nil, err
		}
		denseMeasured = tm.ref
	}
	if opts.Measure && target.latency > 0 {
		if err := tm.measure(floor.m, &floorMeasured); err != nil {
			return nil, err
		}
		floor.met.takeLatency(floorMeasured)
		toPred = correctTarget(target.margin, dense.met.LatencyMS, lim.original(denseMeasured), floor.met.LatencyMS, lim.measured(floorMeasured), lim, logf)
		target.latency = toPred(lim.budget)
	}
	if miss := floorMisses(lim, target, dense.met, floor.met); len(miss) > 0 {
		logf("      infeasible: even with every group at its smallest level, %v", miss)
		res.Before, res.After = dense.met, floor.met
		if opts.Measure {
			res.Before.MeasuredMS, res.Before.MeasuredStatistic = denseMeasured.MeasuredMS, denseMeasured.MeasuredStatistic
		}
		for g := range res.Groups {
			res.Groups[g].Choice = floor.choice[g]
		}
		res.Layers = ev.layers(floor)
		res.Budgets = budgetTable(p, res.Before, res.After)
		for i, b := range res.Budgets {
			if b.Name == "accuracy_drop" || b.Name == "fidelity_drop" || b.Name == "accuracy" {
				res.Budgets[i] = BudgetRow{Name: b.Name, Budget: b.Budget, OK: true, Unit: b.Unit, Note: "not evaluated: a cost budget cannot be met by any choice"}
			} else {
				res.Budgets[i].Note = "best reachable (every group at its smallest level); " + b.Note
			}
		}
		phase("solve", t0)
		res.Finetune = "skipped: infeasible"
		if opts.Finetune != nil {
			var over []string
			for _, b := range res.Budgets {
				if !b.OK {
					over = append(over, fmt.Sprintf("%s %.4g > %.4g", b.Name, b.Value, b.Budget))
				}
			}
			res.FinetuneRun = &FinetuneReport{Skipped: "the chosen model misses " + strings.Join(over, ", ") +
				" even with every group at its smallest level, and fine-tuning changes no cost"}
			res.Finetune = res.FinetuneRun.Summary()
			logf("[3b/5] fine-tune: %s", res.Finetune)
		}
		return res, &InfeasibleError{Result: res}
	}
	var choice []int
	var after *evaluated
	aim := lim.budget // the measured latency the solver aims at (ms, or × the original's)
	start := target.latency
	var accepted *Metrics // the chosen model's measurement that met the budget
	// searched is the kept structure's measurement in the candidate
	// search (nil when it was not timed there).
	var searched *Metrics
	for round := 0; ; round++ {
		var rounds int
		// One knapsack: with unstructured layers, joint (joint.go).
		choice, after, rounds, err = ev.solve(res.Groups, dense, target)
		if err != nil {
			return nil, err
		}
		res.Rounds += rounds
		if !opts.Measure || target.latency == 0 || round == 3 {
			break
		}
		var am Metrics
		if err := tm.measure(after.m, &am); err != nil {
			return nil, err
		}
		v := lim.measured(am)
		if v <= lim.budget {
			accepted = &am
			break
		}
		aim *= lim.budget / v
		target.latency = toPred(aim)
		logf("      measured %s > %s: re-solving aiming at %s measured", lim.format(v), lim.format(lim.budget), lim.format(aim))
	}
	if calibLabels != nil {
		// The accuracy budget is searched, not only verified: candidates.go
		// (with unstructured layers, over the joint space).
		t1 := time.Now()
		logf("[3a/5] candidates: verified on the %d labelled calibration samples%s", len(calibLabels), map[bool]string{true: " after a short fine-tune each", false: ""}[opts.Probe != nil])
		cs := &candidateSearch{ev: ev, groups: res.Groups, dense: dense, target: target, start: start, calib: opts.Calib, probe: opts.Probe, bn: abn, frontierOn: opts.Frontier, logf: logf}
		if opts.Measure && target.latency > 0 {
			cs.lim, cs.limit, cs.budget = lim, lim.budget*target.margin, lim.budget
			cs.measure = func(m *onnxio.Model) (Metrics, error) {
				var met Metrics
				err := tm.measure(m, &met)
				return met, err
			}
			cs.more = func(m *onnxio.Model, met *Metrics, rounds int) error { return tm.measureMore(m, met, rounds) }
		}
		solved := after
		if after, res.Selection, err = cs.run(ctx, after); err != nil {
			return nil, err
		}
		if after != solved {
			accepted = nil // that measurement was the solver's choice's: verify times the kept one
		}
		if mm, ok := cs.timed[cs.key(after.choice)]; ok && len(mm.ratioRounds) > 0 {
			searched = &mm
		}
		choice = after.choice
		res.Selection.Seconds = math.Round(time.Since(t1).Seconds()*100) / 100
		logf("      kept %s", res.Selection.Why)
	}
	phase("solve", t0)

	res.Finetune = "skipped: no training data (--train)"
	if abn != nil && opts.Finetune == nil {
		// What was scored ships: the chosen model with its statistics
		// re-estimated (fine-tuning re-estimates them itself).
		if err := abn.recalibrate(ctx, after.m, space.changedLayers(after.choice)...); err != nil {
			return nil, err
		}
	}
	if opts.Finetune != nil {
		t0 = time.Now()
		if err := finetune(ctx, opts.Finetune, p, after, !opts.Measure, res, logf); err != nil {
			return nil, err
		}
		// The coded layers' values as the package decodes them: what is
		// verified is what ships.
		if _, uc := space.splitChoice(after.choice); uc != nil {
			if err := space.codeValues(after.m, uc); err != nil {
				return nil, err
			}
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
		// The measurement the search accepted stands, unless fine-tuning
		// changed the weights since: another reading of the same model
		// only adds its noise, and a model the search accepted just under
		// the budget could then fail it by chance.
		if accepted != nil && opts.Finetune == nil {
			res.After.takeLatency(*accepted)
		} else if err := verifyLatency(tm, lim, after.m, searched, &res.After, logf); err != nil {
			return nil, err
		}
		if opts.PeakRSS != nil {
			for _, x := range []struct {
				met *Metrics
				m   *onnxio.Model
			}{{&res.Before, m}, {&res.After, after.m}} {
				mb, err := opts.PeakRSS(ctx, x.m)
				if err != nil {
					res.Warnings = append(res.Warnings, fmt.Sprintf("peak RSS not measured: %v", err))
					break
				}
				x.met.MeasuredRSSMB = mb
			}
		}
	}
	if opts.Heldout != nil {
		for _, x := range []struct {
			met *Metrics
			m   *onnxio.Model
		}{{&res.Before, m}, {&res.After, after.m}} {
			if err := quality(ctx, x.m, m, opts.Heldout, opts.Threads, res.Fidelity, x.met); err != nil {
				return nil, err
			}
		}
	}
	var packed []byte
	if p.Search.Pack || p.Budgets.FileMB != nil || len(space.ULayers) > 0 {
		// What ships is the package: the file budget is checked on it
		// (the original is not packed: its column shows model.onnx bytes),
		// with the value coding chosen per layer.
		_, uc := space.splitChoice(after.choice)
		if packed, err = space.packModel(after.m, uc); err != nil {
			return nil, err
		}
		res.After.PackedBytes = int64(len(packed))
		if err := space.onnxFileBytes(&res.Before, &res.After, m, after.m); err != nil { // unstructured.go
			return nil, err
		}
	}
	res.Layers = ev.layers(after)
	logUnstructured(res.Layers, logf) // unstructured.go
	res.Budgets = budgetTable(p, res.Before, res.After)
	res.Feasible = true
	for _, b := range res.Budgets {
		res.Feasible = res.Feasible && b.OK
	}
	phase("verify", t0)
	if res.Feasible {
		res.model, res.packed = after.m, packed
		return res, nil
	}
	return res, &InfeasibleError{Result: res}
}

// InfeasibleError carries the result whose budget table shows the gaps.
type InfeasibleError struct{ Result *Result }

func (e *InfeasibleError) Error() string {
	var s []string
	for _, b := range e.Result.Budgets {
		if !b.OK && b.Unit == UnitOfOriginal {
			s = append(s, fmt.Sprintf("%s %s of the original's, over %s by %s", b.Name, b.Shown(), profile.Percent(b.Budget), profile.Percent(b.Gap)))
		} else if !b.OK {
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

// budgetsOf gives the solver's budgets, in predicted units: a latency
// budget given as a fraction of the original's is that fraction of the
// original's predicted latency (dense).
func budgetsOf(p *profile.Profile, dense Metrics) budgets {
	b := budgets{margin: p.Search.LatencyMargin}
	if l := p.Budgets.LatencyMS; l.IsFraction() {
		b.latency = l.FractionOfOriginal * dense.LatencyMS
	} else if l != nil {
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

// quality scores m on the held-out data: top-1 with labels, and against
// the original agreement, KL and, when fid chose it, the relative MSE
// (scaled as on the calibration data, so the two are comparable).
func quality(ctx context.Context, m, orig *onnxio.Model, data []engine.Batch, threads int, fid *Fidelity, met *Metrics) error {
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
	if fid != nil && fid.Metric == "relative-mse" {
		r := fid.Damage(ref, got)
		met.RelMSE = &r
	}
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
	if b.LatencyMS.IsFraction() {
		rows = append(rows, fractionRow(b.LatencyMS.FractionOfOriginal, before, after))
	} else if b.LatencyMS != nil {
		v, note := after.LatencyMS, "predicted"
		if after.MeasuredMS > 0 {
			v, note = after.MeasuredMS, fmt.Sprintf("measured %s here; predicted %.2f", after.MeasuredStatistic, after.LatencyMS)
			if after.MeasuredRatio > 0 {
				note = fmt.Sprintf("measured %s here: %.3f × the original's %.4g ms (interleaved with it: %.4g vs %.4g ms); predicted %.2f",
					after.MeasuredStatistic, after.MeasuredRatio, before.MeasuredMS, after.SameRunMS, after.OriginalSameRunMS, after.LatencyMS)
			}
		}
		add("latency_ms", b.LatencyMS.Max, v, "ms", note)
	}
	if b.RAMMB != nil {
		if after.MeasuredRSSMB > 0 {
			add("ram_mb", b.RAMMB.Max, after.MeasuredRSSMB, "MB", fmt.Sprintf("measured peak RSS here (a child process running it once; the original %.1f MB); predicted %.1f", before.MeasuredRSSMB, float64(after.RAMBytes)/profile.MB))
		} else {
			add("ram_mb", b.RAMMB.Max, float64(after.RAMBytes)/profile.MB, "MB", "predicted peak RSS: runtime + scale × max(2·file, file + weights held + activations + sparse build)")
		}
	}
	if b.ActivationsMB != nil {
		add("activations_mb", b.ActivationsMB.Max, float64(after.PeakActivationBytes)/profile.MB, "MB", "engine buffer plan")
	}
	if b.FileMB != nil {
		if after.PackedBytes > 0 {
			add("file_mb", b.FileMB.Max, float64(after.PackedBytes)/profile.MB, "MB", fmt.Sprintf("model.epk, exact (model.onnx %.2f MB)", float64(after.FileBytes)/profile.MB))
		} else {
			add("file_mb", b.FileMB.Max, float64(after.FileBytes)/profile.MB, "MB", "model.onnx, exact")
		}
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

func damages(opts []Option) string {
	s := ""
	for i, o := range opts {
		if i > 0 {
			s += fmt.Sprintf(" %.3g", o.Damage)
		}
	}
	return s
}

// correctTarget turns the latency budget (measured units, at the
// statistic: ms, or the ratio to the original for a fraction, where the
// original's m0 is 1) into the solver's target in predicted units from the
// original and the floor measured here: an affine map measured ≈ a +
// b·predicted through the two points when they differ, the ratio of the
// original's measured to predicted otherwise. The target is such that
// target × margin maps to budget × margin.
func correctTarget(margin, p0, m0, p1, m1 float64, lim latencyLimit, logf func(string, ...any)) func(budget float64) float64 {
	if p0-p1 > 1e-9 && m0 > m1 && m1 > 0 {
		b := (m0 - m1) / (p0 - p1)
		a := m0 - b*p0
		if lim.fraction {
			logf("      measured here: the floor at %.3g × the original's (predicted %.4g of %.4g ms): ratio ≈ %.3g + %.3g × predicted ms", m1, p1, p0, a, b)
		} else {
			logf("      measured here: original %.4g ms, floor %.4g ms (predicted %.4g, %.4g): measured ≈ %.3g + %.3g × predicted", m0, m1, p0, p1, a, b)
		}
		return func(budget float64) float64 { return (budget*margin - a) / (b * margin) }
	}
	if p0 > 0 && m0 > 0 {
		k := m0 / p0
		logf("      measured/predicted latency of the original: %.3g (the solver's latency target is corrected by it)", k)
		return func(budget float64) float64 { return budget / k }
	}
	return func(budget float64) float64 { return budget }
}

// floorMisses lists the cost budgets the floor (every group at its
// smallest level) misses: latency measured when it was, predicted
// otherwise (against the solver's target).
func floorMisses(lim latencyLimit, b budgets, dense, floor Metrics) []string {
	var miss []string
	if b.latency > 0 {
		if floor.MeasuredMS > 0 {
			if v := lim.measured(floor); v > lim.budget {
				miss = append(miss, fmt.Sprintf("latency measured %s > %s", lim.format(v), lim.format(lim.budget)))
			}
		} else if floor.LatencyMS > b.latency {
			if lim.fraction {
				miss = append(miss, fmt.Sprintf("latency predicted %s > %s", lim.format(lim.predicted(floor, dense)), lim.format(lim.budget)))
			} else {
				miss = append(miss, fmt.Sprintf("latency predicted %.4g ms > %.4g ms", floor.LatencyMS, b.latency))
			}
		}
	}
	if b.ram > 0 && float64(floor.RAMBytes) > b.ram {
		miss = append(miss, fmt.Sprintf("RAM %.4g MB > %.4g MB", float64(floor.RAMBytes)/profile.MB, b.ram/profile.MB))
	}
	if b.act > 0 && float64(floor.PeakActivationBytes) > b.act {
		miss = append(miss, fmt.Sprintf("activations %.4g MB > %.4g MB", float64(floor.PeakActivationBytes)/profile.MB, b.act/profile.MB))
	}
	if b.file > 0 && float64(floor.FileBytes) > b.file {
		miss = append(miss, fmt.Sprintf("file %.4g MB > %.4g MB", float64(floor.FileBytes)/profile.MB, b.file/profile.MB))
	}
	return miss
}
