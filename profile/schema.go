// Package profile describes a target device and the budgets a model must
// meet on it: a versioned YAML schema (edgeprune/profile/v1, design notes in
// docs/profiles.md), strict loading that reports every problem at once with
// its file, line and field path, and the latency and memory cost model that
// predicts what a model costs on the device.
//
// A profile has four blocks: device (hardware facts, each sourced in the
// shipped configs/), run (how latency is measured), budgets (the
// constraints) and calibration (written by `edgeprune calibrate`, never by
// hand).
package profile

import "time"

// SchemaV1 is the only schema this package reads.
const SchemaV1 = "edgeprune/profile/v1"

// Profile is one device profile. The zero value of every optional field
// means "not given" (defaults are applied by Load, see defaults.go).
type Profile struct {
	Schema      string       `yaml:"schema" json:"schema"`
	Name        string       `yaml:"name" json:"name"`
	Description string       `yaml:"description,omitempty" json:"description,omitempty"`
	Extends     string       `yaml:"extends,omitempty" json:"extends,omitempty"`
	Device      Device       `yaml:"device" json:"device"`
	Run         Run          `yaml:"run" json:"run"`
	Budgets     Budgets      `yaml:"budgets" json:"budgets"`
	Search      Search       `yaml:"search,omitempty" json:"search"`
	Calibration *Calibration `yaml:"calibration,omitempty" json:"calibration,omitempty"`

	// File is the path the profile was loaded from (not serialised).
	File string `yaml:"-" json:"-"`
	// lines maps a field path to "file:line" where it was set.
	lines map[string]string
}

// Device is what the hardware is.
type Device struct {
	Board   string  `yaml:"board,omitempty" json:"board,omitempty"`
	Target  Target  `yaml:"target" json:"target"`
	CPU     CPU     `yaml:"cpu" json:"cpu"`
	Memory  Memory  `yaml:"memory" json:"memory"`
	Storage string  `yaml:"storage,omitempty" json:"storage,omitempty"`
	Thermal Thermal `yaml:"thermal,omitempty" json:"thermal"`
}

// Target is the Go build target of the device.
type Target struct {
	GOOS   string `yaml:"goos" json:"goos"`
	GOARCH string `yaml:"goarch" json:"goarch"`
	GOARM  int    `yaml:"goarm,omitempty" json:"goarm,omitempty"`
}

// CPU is the device's processor.
type CPU struct {
	Clusters []Cluster `yaml:"clusters" json:"clusters"`
	Features []string  `yaml:"features,omitempty" json:"features,omitempty"`
	// FP32GFLOPSPeak is the datasheet fp32 peak (FMA counted as 2).
	FP32GFLOPSPeak Peak `yaml:"fp32_gflops_peak" json:"fp32_gflops_peak"`
}

// Cluster is a group of identical cores.
type Cluster struct {
	Uarch  string  `yaml:"uarch" json:"uarch"`
	Cores  int     `yaml:"cores" json:"cores"`
	MaxMHz float64 `yaml:"max_mhz" json:"max_mhz"`
}

// Peak is a peak throughput per core and in total.
type Peak struct {
	PerCore float64 `yaml:"per_core" json:"per_core"`
	Total   float64 `yaml:"total,omitempty" json:"total,omitempty"`
}

// Memory is the device's RAM.
type Memory struct {
	RAMMB        float64   `yaml:"ram_mb" json:"ram_mb"`
	Type         string    `yaml:"type,omitempty" json:"type,omitempty"`
	BandwidthGBs Bandwidth `yaml:"bandwidth_gbs" json:"bandwidth_gbs"`
}

// Bandwidth is memory bandwidth in GB/s: the theoretical figure and a
// measured single-thread copy, either or both.
type Bandwidth struct {
	Theoretical float64 `yaml:"theoretical,omitempty" json:"theoretical,omitempty"`
	Copy1Thread float64 `yaml:"copy_1thread,omitempty" json:"copy_1thread,omitempty"`
}

// Thermal is where the device throttles.
type Thermal struct {
	ThrottleC  float64 `yaml:"throttle_c,omitempty" json:"throttle_c,omitempty"`
	HardLimitC float64 `yaml:"hard_limit_c,omitempty" json:"hard_limit_c,omitempty"`
}

// Run is how latency is measured on the device.
type Run struct {
	Runtime  string `yaml:"runtime" json:"runtime"` // edgeprune | ort
	Threads  int    `yaml:"threads" json:"threads"`
	Affinity string `yaml:"affinity,omitempty" json:"affinity,omitempty"` // all | big
	Batch    int    `yaml:"batch,omitempty" json:"batch"`
	Warmup   int    `yaml:"warmup,omitempty" json:"warmup"`
	Runs     int    `yaml:"runs,omitempty" json:"runs"`
}

// Budgets are the constraints a built model must meet. A nil budget is not
// constrained.
type Budgets struct {
	LatencyMS     *LatencyBudget  `yaml:"latency_ms,omitempty" json:"latency_ms,omitempty"`
	RAMMB         *Limit          `yaml:"ram_mb,omitempty" json:"ram_mb,omitempty"`
	ActivationsMB *Limit          `yaml:"activations_mb,omitempty" json:"activations_mb,omitempty"`
	FileMB        *Limit          `yaml:"file_mb,omitempty" json:"file_mb,omitempty"`
	Accuracy      *AccuracyBudget `yaml:"accuracy,omitempty" json:"accuracy,omitempty"`
	// Priority orders the budgets in reports of infeasibility.
	Priority []string `yaml:"priority,omitempty" json:"priority,omitempty"`
}

// LatencyBudget bounds a latency statistic, in milliseconds (Max) or as a
// fraction of the original model's latency (FractionOfOriginal, in (0, 1]):
// exactly one of the two. A fraction is judged by the ratio of the built
// model's time to the original's timed interleaved with it on the target,
// which no drift of the machine's speed between readings disturbs, or by
// the cost model's ratio when the build cannot measure.
type LatencyBudget struct {
	Max                float64 `yaml:"max,omitempty" json:"max,omitempty"`
	FractionOfOriginal float64 `yaml:"fraction_of_original,omitempty" json:"fraction_of_original,omitempty"`
	Statistic          string  `yaml:"statistic,omitempty" json:"statistic"` // p50 | p90 | p99 | mean | min
}

// Limit is an upper bound.
type Limit struct {
	Max float64 `yaml:"max" json:"max"`
}

// AccuracyBudget is how much accuracy (or, without labels, fidelity to the
// original model) may be spent. Goal uses Olive's vocabulary:
// max-degradation (absolute drop, e.g. 0.01 = one point of top-1),
// percent-max-degradation (relative drop in percent), threshold (minimum
// score).
type AccuracyBudget struct {
	Metric string  `yaml:"metric" json:"metric"` // top1 | fidelity
	Goal   string  `yaml:"goal" json:"goal"`
	Value  float64 `yaml:"value" json:"value"`
}

// Search holds the build's search space defaults.
type Search struct {
	Structured StructuredSearch `yaml:"structured,omitempty" json:"structured"`
	// LatencyMargin: the build aims at margin × latency budget (the cost
	// model's error must fit in the rest).
	LatencyMargin float64  `yaml:"latency_margin,omitempty" json:"latency_margin"`
	Exclude       []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	Pack          bool     `yaml:"pack,omitempty" json:"pack,omitempty"`
	// Unstructured, when present, adds per-layer options to the search:
	// magnitude sparsity with a pattern, and a value coding of the packed
	// file (the build then writes model.epk).
	Unstructured *UnstructuredSearch `yaml:"unstructured,omitempty" json:"unstructured,omitempty"`
}

// UnstructuredSearch lists the per-layer options tried after (on top of)
// the structured choice. Each layer's options are: dense, or each sparsity
// level with each element or block pattern, or each N:M pattern (its
// sparsity is 1 − N/M); each of them with each coding.
type UnstructuredSearch struct {
	// Sparsity levels: the fraction of a layer's weights zeroed, the
	// smallest magnitudes first (default 0.5, 0.75, 0.9).
	Sparsity []float64 `yaml:"sparsity,omitempty" json:"sparsity"`
	// Patterns as prune reads them: element, N:M (2:4), block=RxC
	// (block=4x1) (default element).
	Patterns []string `yaml:"patterns,omitempty" json:"patterns"`
	// Coding of the weights in the package: exact, fp16, codebook:B with
	// B bits in [2, 8] (default exact, fp16, codebook:4). exact is always
	// tried.
	Coding []string `yaml:"coding,omitempty" json:"coding"`
	// MinParams: layers with fewer weights are left alone (default 1024).
	MinParams int `yaml:"min_params,omitempty" json:"min_params"`
	// Sensitivity says how the damage of a sparse and coded option is
	// found: "measured" runs every option on the calibration data;
	// "composed" (default) runs the sparse options exact and the codings
	// on the dense weight, and prices each sparse coded option as its
	// exact twin's damage plus its dense twin's coding damage scaled by
	// the ratio of their coding errors (docs/profiles.md, "Unstructured
	// options").
	Sensitivity string `yaml:"sensitivity,omitempty" json:"sensitivity"`
}

// StructuredSearch lists the keep ratios tried per group and the channel
// alignment they are rounded to.
type StructuredSearch struct {
	Keep    []float64 `yaml:"keep,omitempty" json:"keep"`
	RoundTo int       `yaml:"round_to,omitempty" json:"round_to"`
}

// Calibration is written by `edgeprune calibrate`.
type Calibration struct {
	Runtime    RuntimeInfo        `yaml:"runtime" json:"runtime"`
	Measured   time.Time          `yaml:"measured" json:"measured"`
	Conditions Conditions         `yaml:"conditions" json:"conditions"`
	ByThreads  map[string]*Coeffs `yaml:"by_threads" json:"by_threads"`
	Validation *Validation        `yaml:"validation,omitempty" json:"validation,omitempty"`
}

// RuntimeInfo names what was calibrated.
type RuntimeInfo struct {
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version,omitempty" json:"version,omitempty"`
	GOARCH  string `yaml:"goarch,omitempty" json:"goarch,omitempty"`
	Kernels string `yaml:"kernels,omitempty" json:"kernels,omitempty"`
}

// Conditions are the machine's state while calibrating.
type Conditions struct {
	Governor  string    `yaml:"governor,omitempty" json:"governor,omitempty"`
	MHz       float64   `yaml:"mhz,omitempty" json:"mhz,omitempty"`
	TempC     []float64 `yaml:"temp_c,omitempty" json:"temp_c,omitempty"`
	Throttled bool      `yaml:"throttled,omitempty" json:"throttled,omitempty"`
	CPUs      int       `yaml:"cpus,omitempty" json:"cpus,omitempty"`
	LoadAvg   []float64 `yaml:"loadavg,omitempty" json:"loadavg,omitempty"`
	Source    string    `yaml:"source,omitempty" json:"source,omitempty"`       // edgeprune | ort-profile
	Statistic string    `yaml:"statistic,omitempty" json:"statistic,omitempty"` // median | min: what was fitted
}

// Coeffs are the fitted cost-model coefficients for one thread count.
type Coeffs struct {
	PeakGFLOPS      float64 `yaml:"peak_gflops" json:"peak_gflops"`
	BandwidthGBs    float64 `yaml:"bandwidth_gbs" json:"bandwidth_gbs"`
	GraphOverheadUS float64 `yaml:"graph_overhead_us" json:"graph_overhead_us"`
	RSSOverheadMB   float64 `yaml:"rss_overhead_mb,omitempty" json:"rss_overhead_mb,omitempty"`
	// RSSScale multiplies the memory model's peak heap (RAMTerms, ram.go)
	// before RSSOverheadMB is added (0 means 1): the collector's slack and
	// what the terms miss, fitted to child processes' peak RSS.
	RSSScale float64 `yaml:"rss_scale,omitempty" json:"rss_scale,omitempty"`
	// RunScale multiplies the sum of the nodes' predictions (0 means 1):
	// fitted to whole runs, it absorbs what timing nodes one by one misses
	// (caches warmed or cooled by the neighbours, the timer itself).
	RunScale float64 `yaml:"run_scale,omitempty" json:"run_scale,omitempty"`
	// DispatchUS is added per node that runs (fitted to whole runs with
	// RunScale): what passes between nodes.
	DispatchUS float64 `yaml:"dispatch_us,omitempty" json:"dispatch_us,omitempty"`
	// DispatchNSPerOut is added per output element of every node (with
	// DispatchUS): allocating and first touching outputs between nodes.
	DispatchNSPerOut float64 `yaml:"dispatch_ns_per_out,omitempty" json:"dispatch_ns_per_out,omitempty"`
	// ProfilerUS is taken off per node that runs: fitted from ONNX
	// Runtime's profiles (calibrate --from-ort-profile) against the same
	// models' latency without the profiler, it is what the profiler adds to
	// each kernel's recorded time (its own records, the caches they evict).
	ProfilerUS float64             `yaml:"profiler_us,omitempty" json:"profiler_us,omitempty"`
	Ops        map[string]*OpCoeff `yaml:"ops" json:"ops"`
}

// OpCoeff is one op class's efficiency (fraction of peak reached) and
// fixed per-node overhead.
type OpCoeff struct {
	Eff        float64 `yaml:"eff,omitempty" json:"eff,omitempty"`
	OverheadUS float64 `yaml:"overhead_us" json:"overhead_us"`
	// BW scales the bandwidth for this class (activations that stay in
	// cache move faster than DRAM copies); 0 means 1.
	BW    float64 `yaml:"bw,omitempty" json:"bw,omitempty"`
	Align int     `yaml:"align,omitempty" json:"align,omitempty"`
	// Terms, when present, make the class linear (calibrated): nanoseconds
	// per element of each of profile.TermNames — FLOPs, output elements,
	// first input, second input (weights), im2col elements — added to the
	// overhead. Eff and BW are then unused.
	Terms []float64 `yaml:"ns_per,flow,omitempty" json:"ns_per,omitempty"`
}

// Validation is how well the fitted model predicted whole-model latency on
// variants it was not fitted on (nn-Meter's measures).
type Validation struct {
	Variants    int      `yaml:"variants" json:"variants"`
	MAPE        float64  `yaml:"mape" json:"mape"`
	RMSPE       float64  `yaml:"rmspe" json:"rmspe"`
	Within10Pct float64  `yaml:"within_10pct" json:"within_10pct"`
	Models      []string `yaml:"models,omitempty" json:"models,omitempty"`
}
