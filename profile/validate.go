package profile

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Defaults applied after load (a zero value means "default").
const (
	DefaultWarmup        = 10 // Olive's WARMUP_NUM
	DefaultRuns          = 50 // TFLite benchmark_model's num_runs
	DefaultStatistic     = "p90"
	DefaultLatencyMargin = 0.9 // aim at 0.9 × budget while the model's error is ≈10%
	DefaultRoundTo       = 8   // channel alignment the kernels prefer on aarch64
)

// Defaults of search.unstructured (when the block is present).
var (
	DefaultUnstructuredSparsity = []float64{0.5, 0.75, 0.9}
	DefaultCoding               = []string{"exact", "fp16", "codebook:4"}
)

// DefaultSensitivity is how the unstructured options' damage is found
// (UnstructuredSearch.Sensitivity, one of sensitivities).
const DefaultSensitivity = "composed"

var sensitivities = []string{"measured", "composed"}

// DefaultMinParams: layers with fewer weights are not searched.
const DefaultMinParams = 1024

// DefaultKeep are the structured keep ratios the build tries per group.
var DefaultKeep = []float64{1, .875, .75, .625, .5, .375, .25}

var (
	runtimes   = []string{"edgeprune", "ort"}
	statistics = []string{"p50", "p90", "p99", "mean", "min"}
	goals      = []string{"max-degradation", "percent-max-degradation", "threshold"}
	metrics    = []string{"top1", "fidelity"}
	budgetKeys = []string{"latency_ms", "ram_mb", "activations_mb", "file_mb", "accuracy"}
	affinities = []string{"", "all", "big", "little"}
	goosList   = []string{"linux", "android", "darwin", "ios", "windows", "freebsd"}
	goarchList = []string{"arm64", "arm", "amd64", "386", "riscv64"}
)

func (p *Profile) setDefaults() {
	if p.Run.Batch == 0 {
		p.Run.Batch = 1
	}
	if p.Run.Warmup == 0 {
		p.Run.Warmup = DefaultWarmup
	}
	if p.Run.Runs == 0 {
		p.Run.Runs = DefaultRuns
	}
	if l := p.Budgets.LatencyMS; l != nil && l.Statistic == "" {
		l.Statistic = DefaultStatistic
	}
	if p.Search.LatencyMargin == 0 {
		p.Search.LatencyMargin = DefaultLatencyMargin
	}
	if len(p.Search.Structured.Keep) == 0 {
		p.Search.Structured.Keep = slices.Clone(DefaultKeep)
	}
	if p.Search.Structured.RoundTo == 0 {
		p.Search.Structured.RoundTo = DefaultRoundTo
		if p.Device.Target.GOARCH == "arm" {
			p.Search.Structured.RoundTo = 4
		}
	}
	if u := p.Search.Unstructured; u != nil {
		if len(u.Sparsity) == 0 {
			u.Sparsity = slices.Clone(DefaultUnstructuredSparsity)
		}
		if len(u.Patterns) == 0 {
			u.Patterns = []string{"element"}
		}
		if len(u.Coding) == 0 {
			u.Coding = slices.Clone(DefaultCoding)
		}
		if u.MinParams == 0 {
			u.MinParams = DefaultMinParams
		}
		if u.Sensitivity == "" {
			u.Sensitivity = DefaultSensitivity
		}
	}
	if p.Device.CPU.FP32GFLOPSPeak.Total == 0 {
		p.Device.CPU.FP32GFLOPSPeak.Total = p.Device.CPU.FP32GFLOPSPeak.PerCore * float64(p.Cores())
	}
}

// Cores is the number of CPU cores over all clusters.
func (p *Profile) Cores() int {
	n := 0
	for _, c := range p.Device.CPU.Clusters {
		n += c.Cores
	}
	return n
}

// Validate checks a defaulted profile and returns every problem with its
// field path and line.
func (p *Profile) Validate() ErrorList {
	v := &validator{p: p}
	if p.Schema == "" {
		v.add("schema", nil, "missing: the first line of a profile is schema: %s", SchemaV1)
	} else if p.Schema != SchemaV1 {
		v.add("schema", p.Schema, "unsupported schema; this edgeprune reads %s", SchemaV1)
	}
	if strings.TrimSpace(p.Name) == "" {
		v.add("name", nil, "missing: a short name for the profile (a profile that extends another names itself)")
	}
	d := &p.Device
	if d.Target.GOOS == "" {
		v.add("device.target.goos", nil, "missing: one of %s", strings.Join(goosList, ", "))
	} else if !slices.Contains(goosList, d.Target.GOOS) {
		v.add("device.target.goos", d.Target.GOOS, "must be one of %s", strings.Join(goosList, ", "))
	}
	if d.Target.GOARCH == "" {
		v.add("device.target.goarch", nil, "missing: one of %s", strings.Join(goarchList, ", "))
	} else if !slices.Contains(goarchList, d.Target.GOARCH) {
		v.add("device.target.goarch", d.Target.GOARCH, "must be one of %s", strings.Join(goarchList, ", "))
	}
	switch {
	case d.Target.GOARCH == "arm" && (d.Target.GOARM < 5 || d.Target.GOARM > 7):
		v.add("device.target.goarm", d.Target.GOARM, "goarch arm needs goarm 5, 6 or 7")
	case d.Target.GOARCH != "arm" && d.Target.GOARM != 0:
		v.add("device.target.goarm", d.Target.GOARM, "only for goarch arm")
	}
	if len(d.CPU.Clusters) == 0 {
		v.add("device.cpu.clusters", nil, "missing: at least one {uarch, cores, max_mhz}")
	}
	for i, c := range d.CPU.Clusters {
		f := fmt.Sprintf("device.cpu.clusters[%d]", i)
		if c.Uarch == "" {
			v.add(f+".uarch", nil, "missing: the core type, e.g. cortex-a76")
		}
		if c.Cores <= 0 || c.Cores > 1024 {
			v.add(f+".cores", c.Cores, "must be in [1, 1024]")
		}
		if c.MaxMHz <= 0 || c.MaxMHz > 10000 {
			v.add(f+".max_mhz", c.MaxMHz, "must be in (0, 10000]")
		}
	}
	v.positive("device.cpu.fp32_gflops_peak.per_core", d.CPU.FP32GFLOPSPeak.PerCore, true)
	v.positive("device.cpu.fp32_gflops_peak.total", d.CPU.FP32GFLOPSPeak.Total, false)
	if d.CPU.FP32GFLOPSPeak.Total > 0 && d.CPU.FP32GFLOPSPeak.Total < d.CPU.FP32GFLOPSPeak.PerCore {
		v.add("device.cpu.fp32_gflops_peak.total", d.CPU.FP32GFLOPSPeak.Total, "less than per_core (%g)", d.CPU.FP32GFLOPSPeak.PerCore)
	}
	v.positive("device.memory.ram_mb", d.Memory.RAMMB, true)
	if d.Memory.BandwidthGBs.Theoretical == 0 && d.Memory.BandwidthGBs.Copy1Thread == 0 {
		v.add("device.memory.bandwidth_gbs", nil, "missing: give theoretical, copy_1thread or both (GB/s)")
	}
	v.positive("device.memory.bandwidth_gbs.theoretical", d.Memory.BandwidthGBs.Theoretical, false)
	v.positive("device.memory.bandwidth_gbs.copy_1thread", d.Memory.BandwidthGBs.Copy1Thread, false)

	r := &p.Run
	if r.Runtime == "" {
		v.add("run.runtime", nil, "missing: one of %s", strings.Join(runtimes, ", "))
	} else if !slices.Contains(runtimes, r.Runtime) {
		v.add("run.runtime", r.Runtime, "must be one of %s", strings.Join(runtimes, ", "))
	}
	if r.Threads < 1 || (p.Cores() > 0 && r.Threads > p.Cores()) {
		v.add("run.threads", r.Threads, "must be in [1, %d] (the device's cores)", max(1, p.Cores()))
	}
	if !slices.Contains(affinities, r.Affinity) {
		v.add("run.affinity", r.Affinity, "must be all, big or little")
	}
	if r.Batch < 1 {
		v.add("run.batch", r.Batch, "must be ≥ 1")
	}
	if r.Warmup < 0 {
		v.add("run.warmup", r.Warmup, "must be ≥ 0")
	}
	if r.Runs < 1 || r.Runs > 100000 {
		v.add("run.runs", r.Runs, "must be in [1, 100000]")
	}

	b := &p.Budgets
	if b.LatencyMS != nil {
		v.latency(b.LatencyMS) // latency.go
	}
	for _, l := range []struct {
		name string
		lim  *Limit
	}{{"ram_mb", b.RAMMB}, {"activations_mb", b.ActivationsMB}, {"file_mb", b.FileMB}} {
		if l.lim != nil {
			v.positive("budgets."+l.name+".max", l.lim.Max, true)
		}
	}
	if b.RAMMB != nil && d.Memory.RAMMB > 0 && b.RAMMB.Max > d.Memory.RAMMB {
		v.add("budgets.ram_mb.max", b.RAMMB.Max, "more than the device's RAM (device.memory.ram_mb %g)", d.Memory.RAMMB)
	}
	if a := b.Accuracy; a != nil {
		if !slices.Contains(metrics, a.Metric) {
			v.add("budgets.accuracy.metric", a.Metric, "must be one of %s", strings.Join(metrics, ", "))
		}
		switch a.Goal {
		case "max-degradation", "threshold":
			if a.Value < 0 || a.Value > 1 {
				v.add("budgets.accuracy.value", a.Value, "must be in [0, 1] for goal %s (a fraction: 0.01 is one point)", a.Goal)
			}
		case "percent-max-degradation":
			if a.Value < 0 || a.Value > 100 {
				v.add("budgets.accuracy.value", a.Value, "must be in [0, 100] (percent)")
			}
		default:
			v.add("budgets.accuracy.goal", a.Goal, "must be one of %s", strings.Join(goals, ", "))
		}
	}
	seen := map[string]bool{}
	for i, k := range b.Priority {
		f := fmt.Sprintf("budgets.priority[%d]", i)
		if !slices.Contains(budgetKeys, k) {
			v.add(f, k, "must be one of %s", strings.Join(budgetKeys, ", "))
		} else if seen[k] {
			v.add(f, k, "listed twice")
		}
		seen[k] = true
	}
	if b.LatencyMS == nil && b.RAMMB == nil && b.ActivationsMB == nil && b.FileMB == nil && b.Accuracy == nil {
		v.add("budgets", nil, "no budget: set at least one of %s", strings.Join(budgetKeys, ", "))
	}

	s := &p.Search
	if s.LatencyMargin <= 0 || s.LatencyMargin > 1 {
		v.add("search.latency_margin", s.LatencyMargin, "must be in (0, 1]")
	}
	for i, k := range s.Structured.Keep {
		if k <= 0 || k > 1 {
			v.add(fmt.Sprintf("search.structured.keep[%d]", i), k, "must be in (0, 1]")
		}
	}
	if s.Structured.RoundTo < 1 || s.Structured.RoundTo > 256 {
		v.add("search.structured.round_to", s.Structured.RoundTo, "must be in [1, 256]")
	}
	if u := s.Unstructured; u != nil {
		for i, x := range u.Sparsity {
			if !(x > 0 && x < 1) {
				v.add(fmt.Sprintf("search.unstructured.sparsity[%d]", i), x, "must be in (0, 1)")
			}
		}
		for i, pat := range u.Patterns {
			if err := CheckPattern(pat); err != nil {
				v.add(fmt.Sprintf("search.unstructured.patterns[%d]", i), pat, "%v", err)
			}
		}
		for i, c := range u.Coding {
			if _, _, err := ParseCoding(c); err != nil {
				v.add(fmt.Sprintf("search.unstructured.coding[%d]", i), c, "%v", err)
			}
		}
		if u.MinParams < 0 {
			v.add("search.unstructured.min_params", u.MinParams, "must be ≥ 0")
		}
		if !slices.Contains(sensitivities, u.Sensitivity) {
			v.add("search.unstructured.sensitivity", u.Sensitivity, "must be one of %s", strings.Join(sensitivities, ", "))
		}
	}
	if c := p.Calibration; c != nil {
		v.calibration(c)
	}
	return v.errs
}

func (v *validator) calibration(c *Calibration) {
	if !slices.Contains(runtimes, c.Runtime.Name) {
		v.add("calibration.runtime.name", c.Runtime.Name, "must be one of %s", strings.Join(runtimes, ", "))
	}
	if len(c.ByThreads) == 0 {
		v.add("calibration.by_threads", nil, "missing: written by edgeprune calibrate")
	}
	for k, co := range c.ByThreads {
		f := "calibration.by_threads." + k
		if n, err := strconv.Atoi(k); err != nil || n < 1 {
			v.add(f, k, "key must be a thread count ≥ 1")
		}
		if co == nil {
			v.add(f, nil, "empty")
			continue
		}
		v.positive(f+".peak_gflops", co.PeakGFLOPS, true)
		v.positive(f+".bandwidth_gbs", co.BandwidthGBs, true)
		if co.GraphOverheadUS < 0 {
			v.add(f+".graph_overhead_us", co.GraphOverheadUS, "must be ≥ 0")
		}
		v.positive(f+".run_scale", co.RunScale, false)
		v.positive(f+".rss_overhead_mb", co.RSSOverheadMB, false)
		v.positive(f+".rss_scale", co.RSSScale, false)
		v.positive(f+".dispatch_us", co.DispatchUS, false)
		v.positive(f+".dispatch_ns_per_out", co.DispatchNSPerOut, false)
		v.positive(f+".profiler_us", co.ProfilerUS, false)
		for name, oc := range co.Ops {
			g := f + ".ops." + name
			class, _, _ := strings.Cut(name, "/")
			if !slices.Contains(OpClasses, OpClass(class)) {
				v.add(g, nil, "unknown op class; allowed: %s (or class/Op)", joinClasses())
				continue
			}
			if oc == nil {
				continue
			}
			if oc.Eff < 0 || oc.Eff > 4 {
				v.add(g+".eff", oc.Eff, "must be in [0, 4] (a fraction of peak_gflops; 0 for a memory-bound class)")
			}
			if oc.OverheadUS < 0 {
				v.add(g+".overhead_us", oc.OverheadUS, "must be ≥ 0")
			}
			if oc.Terms != nil && len(oc.Terms) != NumTerms {
				v.add(g+".ns_per", len(oc.Terms), "must list %d numbers (ns per element of %s)", NumTerms, strings.Join(TermNames[:], ", "))
			}
			for _, k := range oc.Terms {
				if k < 0 || math.IsNaN(k) || math.IsInf(k, 0) {
					v.add(g+".ns_per", k, "must be finite and ≥ 0")
					break
				}
			}
		}
	}
	if val := c.Validation; val != nil && (val.Within10Pct < 0 || val.Within10Pct > 1) {
		v.add("calibration.validation.within_10pct", val.Within10Pct, "must be in [0, 1]")
	}
}

type validator struct {
	p    *Profile
	errs ErrorList
}

func (v *validator) add(field string, value any, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Pos: v.p.pos(field), Field: field, Value: value, Msg: fmt.Sprintf(format, args...)})
}

// positive checks x > 0 (required) or x ≥ 0 and finite (optional, 0 = unset).
func (v *validator) positive(field string, x float64, required bool) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		v.add(field, x, "must be a finite number")
	case required && x == 0:
		if _, set := v.p.lines[field]; set {
			v.add(field, x, "must be > 0")
		} else {
			v.add(field, nil, "missing: must be > 0")
		}
	case x < 0:
		v.add(field, x, "must be > 0")
	}
}
