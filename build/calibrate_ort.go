package build

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
)

// ORTTiming is one model timed by tools/ort/profile_rounds.js: its profile
// (enable_profiling) and, from a plain session timed in the same rounds,
// its latency without the profiler.
type ORTTiming struct {
	Model   string    `json:"model"`
	Profile string    `json:"profile"`
	Warmup  int       `json:"warmup"`
	WallMS  []float64 `json:"wall_ms"`
	CPUMS   []float64 `json:"cpu_ms"`
	// ProfiledWallMS are the profiled session's runs, by the wall clock.
	ProfiledWallMS []float64 `json:"profiled_wall_ms"`
}

// ORTSource selects the ORT runs a calibration reads: a profile
// (enable_profiling JSON), or a list of ORTTiming (profile_rounds.js),
// optionally only its variants of one kind ("FILE.json:fit" — the width
// and fitting variants — or "FILE.json:validate", by the names
// calibrate --write-variants gives them: MODEL-width|fit|validate-NN.onnx).
type ORTSource string

// ORTReadOptions say how ReadORT reads the runs.
type ORTReadOptions struct {
	// Quantile is the statistic of every time: 0 the fastest run, 0.5 the
	// median.
	Quantile float64
	// NoGraph reads nodes without the model's graph: a fused convolution
	// is then plain "Conv", as ORT's op name says.
	NoGraph bool
	// Gaps counts the time between kernels into the next node
	// (profile.ORTReadOptions.Gaps).
	Gaps bool
}

// ReadORT reads the runs of the sources.
func ReadORT(sources []string, o ORTReadOptions) ([]*profile.ORTRun, error) {
	var runs []*profile.ORTRun
	graphs := map[string]map[string]string{}
	for _, src := range sources {
		file, kind := src, ""
		if i := strings.LastIndexByte(src, ':'); i > 0 && (src[i+1:] == PlanFit || src[i+1:] == PlanValidate) {
			file, kind = src[:i], src[i+1:]
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var list []ORTTiming
		if json.Unmarshal(b, &list) != nil || len(list) == 0 || list[0].Profile == "" {
			if kind != "" {
				return nil, fmt.Errorf("build: %s: not a list of timings of tools/ort/profile_rounds.js, so :%s selects nothing", file, kind)
			}
			r, err := profile.ReadORTProfileWith(file, bytes.NewReader(b), profile.ORTReadOptions{Quantile: o.Quantile, Gaps: o.Gaps})
			if err != nil {
				return nil, err
			}
			runs = append(runs, r)
			continue
		}
		for _, t := range list {
			k := variantKind(t.Model)
			if kind == PlanFit && k == PlanValidate || kind == PlanValidate && k != PlanValidate {
				continue
			}
			ro := profile.ORTReadOptions{Quantile: o.Quantile, Gaps: o.Gaps, SkipRuns: t.Warmup}
			if !o.NoGraph {
				g, ok := graphs[t.Model]
				if !ok {
					m, err := onnxio.ReadFile(t.Model)
					if err != nil {
						return nil, fmt.Errorf("build: %s: the model of %s: %w", file, t.Profile, err)
					}
					g = profile.ORTGraph(m)
					graphs[t.Model] = g
				}
				ro.Graph = g
			}
			fh, err := os.Open(t.Profile)
			if err != nil {
				return nil, fmt.Errorf("build: %s: %w", file, err)
			}
			r, err := profile.ReadORTProfileWith(t.Profile, fh, ro)
			fh.Close()
			if err != nil {
				return nil, err
			}
			r.Model = t.Model
			if len(t.CPUMS) > 0 {
				r.LatencyMS = profile.Quantile(t.CPUMS, o.Quantile)
			} else {
				r.LatencyMS = profile.Quantile(t.WallMS, o.Quantile)
			}
			r.LatencyWallMS = profile.Quantile(t.WallMS, o.Quantile)
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// variantKind is the kind of a variant calibrate --write-variants wrote,
// from its name; "" for another file.
func variantKind(path string) string {
	b := filepath.Base(path)
	for _, k := range []string{PlanWidth, PlanFit, PlanValidate} {
		if strings.Contains(b, "-"+k+"-") {
			return k
		}
	}
	return ""
}

// ORTModelName is the model a run belongs to: its variant file's name up
// to -width-, -fit- or -validate-.
func ORTModelName(r *profile.ORTRun) string {
	p := r.Model
	if p == "" {
		p = r.File
	}
	b := strings.TrimSuffix(filepath.Base(p), ".onnx")
	for _, k := range []string{PlanWidth, PlanFit, PlanValidate} {
		if i := strings.Index(b, "-"+k+"-"); i > 0 {
			return b[:i]
		}
	}
	return b
}

// ORTPoint is one held-out ORT run with its predictions.
type ORTPoint struct {
	Model     string  `json:"model"`
	File      string  `json:"file"`
	Measured  float64 `json:"measured_ms"`
	Profiled  float64 `json:"profiled_run_ms"`
	Predicted float64 `json:"predicted_ms"`
	FLOPsOnly float64 `json:"flops_only_ms"`
	TwoParam  float64 `json:"two_param_ms"`
}

// ORTStats are a predictor's errors, overall and per model.
type ORTStats struct {
	Overall  PredictorStats            `json:"overall"`
	PerModel map[string]PredictorStats `json:"per_model"`
	Models   []string                  `json:"models"`
	// Residuals are the held-out nodes' profiled and predicted times
	// summed per model and op key (profile.OpKey): where the error is.
	Residuals []ORTResidual `json:"residuals"`
}

// ORTResidual is one model's nodes of one op key over the held-out runs:
// their profiled kernel times and the per-node model's predictions, summed,
// and the whole runs' profiled node sums (the share of the run).
type ORTResidual struct {
	Model     string  `json:"model"`
	Key       string  `json:"key"`
	Nodes     int     `json:"nodes"`
	MS        float64 `json:"ms"`
	Predicted float64 `json:"predicted_ms"`
	RunsMS    float64 `json:"runs_ms"`
}

// ValidateORT fits the cost model (and the two baselines, on the same runs'
// targets) on fit and predicts held: nn-Meter's measures per model.
// NodeSum compares the nodes' predicted sum with the profiled nodes' sum.
func ValidateORT(p *profile.Profile, fit, held []*profile.ORTRun) (*profile.Coeffs, ORTStats, []ORTPoint) {
	co := p.FitORT(fit)
	var fl []int64
	var nn []int
	var ms []float64
	for _, r := range fit {
		fl, nn, ms = append(fl, r.FLOPs()), append(nn, len(r.Nodes)), append(ms, r.Target())
	}
	base := profile.FitBaselines(fl, nn, ms)
	st := ORTStats{PerModel: map[string]PredictorStats{}}
	var pts []ORTPoint
	cols := map[string]*[6][]float64{}
	var all [6][]float64
	type rk struct{ model, key string }
	res := map[rk]*ORTResidual{}
	runsMS := map[string]float64{}
	for _, r := range held {
		name := ORTModelName(r)
		c, ok := cols[name]
		if !ok {
			c = new([6][]float64)
			cols[name] = c
			st.Models = append(st.Models, name)
		}
		s := r.Samples()
		nodes := profile.PredictNodes(co, s)
		var sum float64
		for _, x := range s {
			sum += x.MS
			k := rk{name, profile.OpKey(x.Class, x.Op)}
			e := res[k]
			if e == nil {
				e = &ORTResidual{Model: name, Key: k.key}
				res[k] = e
			}
			e.Nodes++
			e.MS += x.MS
			e.Predicted += profile.PredictNodes(co, []profile.NodeSample{x})
		}
		runsMS[name] += sum
		pt := ORTPoint{Model: name, File: r.File, Measured: r.Target(), Profiled: r.RunMS, Predicted: profile.PredictORT(co, r),
			FLOPsOnly: base.PredictFLOPsOnly(r.FLOPs()), TwoParam: base.PredictTwoParam(r.FLOPs(), len(r.Nodes))}
		pts = append(pts, pt)
		for i, x := range []float64{pt.Measured, pt.Predicted, pt.FLOPsOnly, pt.TwoParam, sum, nodes} {
			c[i] = append(c[i], x)
			all[i] = append(all[i], x)
		}
	}
	ps := func(c *[6][]float64) PredictorStats {
		return PredictorStats{profile.Stats(c[1], c[0]), profile.Stats(c[2], c[0]), profile.Stats(c[3], c[0]), profile.Stats(c[5], c[4])}
	}
	for name, c := range cols {
		st.PerModel[name] = ps(c)
	}
	st.Overall = ps(&all)
	for _, e := range res {
		e.RunsMS = runsMS[e.Model]
		st.Residuals = append(st.Residuals, *e)
	}
	// Largest error first (as a share of the model's runs).
	slices.SortFunc(st.Residuals, func(a, b ORTResidual) int {
		return cmp.Compare(math.Abs(b.Predicted-b.MS)/b.RunsMS, math.Abs(a.Predicted-a.MS)/a.RunsMS)
	})
	return co, st, pts
}
