package profile

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Derived are the numbers a profile implies.
type Derived struct {
	Cores           int     `json:"cores"`
	PeakGFLOPS      float64 `json:"peak_gflops"`         // for run.threads, datasheet
	BandwidthGBs    float64 `json:"bandwidth_gbs"`       // what the cost model uses
	RidgeFLOPByte   float64 `json:"ridge_flop_per_byte"` // peak / bandwidth: above it an op is compute-bound
	LatencyTargetMS float64 `json:"latency_target_ms,omitempty"`
	RAMBytes        int64   `json:"ram_budget_bytes,omitempty"`
	ActivationBytes int64   `json:"activations_budget_bytes,omitempty"`
	FileBytes       int64   `json:"file_budget_bytes,omitempty"`
	Calibrated      bool    `json:"calibrated"` // calibration for run.runtime and run.threads
	CostSource      string  `json:"cost_source"`

	// LatencyTargetFraction is what the build aims at under a budget given
	// as a fraction of the original's latency: margin × fraction.
	LatencyTargetFraction float64 `json:"latency_target_fraction,omitempty"`
}

// MB is the size unit of budgets: 2^20 bytes.
const MB = 1 << 20

// Derive computes the derived numbers.
func (p *Profile) Derive() Derived {
	d := Derived{Cores: p.Cores()}
	c, ok := p.Coeffs()
	d.Calibrated = ok
	d.PeakGFLOPS, d.BandwidthGBs = c.PeakGFLOPS, c.BandwidthGBs
	d.CostSource = "datasheet (uncalibrated: run edgeprune calibrate on the device)"
	if ok {
		d.CostSource = fmt.Sprintf("calibration %s, %d threads, measured %s", p.Calibration.Runtime.Name, p.Run.Threads, p.Calibration.Measured.Format("2006-01-02"))
	}
	if d.BandwidthGBs > 0 {
		d.RidgeFLOPByte = d.PeakGFLOPS / d.BandwidthGBs
	}
	b := p.Budgets
	if b.LatencyMS.IsFraction() {
		d.LatencyTargetFraction = b.LatencyMS.FractionOfOriginal * p.Search.LatencyMargin
	} else if b.LatencyMS != nil {
		d.LatencyTargetMS = b.LatencyMS.Max * p.Search.LatencyMargin
	}
	if b.RAMMB != nil {
		d.RAMBytes = int64(b.RAMMB.Max * MB)
	}
	if b.ActivationsMB != nil {
		d.ActivationBytes = int64(b.ActivationsMB.Max * MB)
	}
	if b.FileMB != nil {
		d.FileBytes = int64(b.FileMB.Max * MB)
	}
	return d
}

// Coeffs returns the cost-model coefficients for the profile's runtime and
// threads: the calibrated ones when the calibration matches, else ones
// derived from the datasheet (ok false).
func (p *Profile) Coeffs() (*Coeffs, bool) {
	if c := p.Calibration; c != nil && c.Runtime.Name == p.Run.Runtime {
		if co := c.ByThreads[strconv.Itoa(p.Run.Threads)]; co != nil {
			return co, true
		}
	}
	return p.datasheetCoeffs(), false
}

// datasheetCoeffs: peak from the fastest cores in use, bandwidth from the
// copy figure (a copy moves each byte twice) or 60% of the theoretical.
func (p *Profile) datasheetCoeffs() *Coeffs {
	peak := p.Device.CPU.FP32GFLOPSPeak.PerCore * float64(p.Run.Threads)
	if t := p.Device.CPU.FP32GFLOPSPeak.Total; t > 0 && peak > t {
		peak = t
	}
	bw := p.Device.Memory.BandwidthGBs.Copy1Thread * 2
	if bw == 0 {
		bw = p.Device.Memory.BandwidthGBs.Theoretical * 0.6
	}
	return &Coeffs{PeakGFLOPS: peak, BandwidthGBs: bw, GraphOverheadUS: 50, Ops: DefaultOps(), RSSOverheadMB: DefaultRSSOverheadMB}
}

// DefaultRSSOverheadMB is the uncalibrated memory model's runtime overhead:
// what the edgeprune binary and the Go runtime hold beside the heap the
// model's terms count. calibrate fits it per device; the default is the
// overhead fitted on the amd64 host (20.4 MB over 28 resnet18 and
// mobilenet_v2 variants, 20.1 MB on squeezenet1_1: docs/profiles.md,
// "Cost model"), and a run of LeNet-5 (1.7 MB file) peaks at 26 MB there.
const DefaultRSSOverheadMB = 20

// DefaultOps are the uncalibrated per-class efficiencies and overheads:
// guesses of the right order (devices.md: depthwise reaches about half the
// throughput of dense convolutions on ncnn), replaced by calibration.
func DefaultOps() map[string]*OpCoeff {
	return map[string]*OpCoeff{
		string(ConvKxK): {Eff: 0.5, OverheadUS: 20, Align: 8},
		string(Conv1x1): {Eff: 0.5, OverheadUS: 15, Align: 8},
		string(ConvDW):  {Eff: 0.1, OverheadUS: 10},
		string(Gemm):    {Eff: 0.5, OverheadUS: 10},
		// The engine's sparse kernels reach about a quarter of the dense
		// GEMM's rate per nonzero (docs/benchmarks.md, "Sparse execution").
		string(Sparse):   {Eff: 0.13, OverheadUS: 10},
		string(Eltwise):  {OverheadUS: 5},
		string(Pool):     {OverheadUS: 8},
		string(Movement): {OverheadUS: 5},
	}
}

// Show prints the profile with its derived numbers.
func (p *Profile) Show(w io.Writer) error {
	d := p.Derive()
	var b strings.Builder
	fmt.Fprintf(&b, "profile   %s (%s)\n", p.Name, p.File)
	if p.Description != "" {
		fmt.Fprintf(&b, "          %s\n", p.Description)
	}
	t := p.Device.Target
	arch := t.GOOS + "/" + t.GOARCH
	if t.GOARM != 0 {
		arch += fmt.Sprintf(" GOARM=%d", t.GOARM)
	}
	fmt.Fprintf(&b, "target    %s  (GOOS=%s GOARCH=%s", arch, t.GOOS, t.GOARCH)
	if t.GOARM != 0 {
		fmt.Fprintf(&b, " GOARM=%d", t.GOARM)
	}
	b.WriteString(" go build ./cmd/edgeprune)\n")
	var cl []string
	for _, c := range p.Device.CPU.Clusters {
		cl = append(cl, fmt.Sprintf("%d× %s @ %g MHz", c.Cores, c.Uarch, c.MaxMHz))
	}
	fmt.Fprintf(&b, "cpu       %s; fp32 peak %.1f GFLOP/s per core, %.1f total\n", strings.Join(cl, " + "), p.Device.CPU.FP32GFLOPSPeak.PerCore, p.Device.CPU.FP32GFLOPSPeak.Total)
	fmt.Fprintf(&b, "memory    %g MB RAM; bandwidth %s\n", p.Device.Memory.RAMMB, bwString(p.Device.Memory.BandwidthGBs))
	fmt.Fprintf(&b, "run       %s, %d threads, %d warm-up + %d runs, batch %d\n", p.Run.Runtime, p.Run.Threads, p.Run.Warmup, p.Run.Runs, p.Run.Batch)
	fmt.Fprintf(&b, "cost      %s\n", d.CostSource)
	fmt.Fprintf(&b, "          peak %.1f GFLOP/s at %d threads, bandwidth %.1f GB/s, ridge %.1f FLOP/byte\n", d.PeakGFLOPS, p.Run.Threads, d.BandwidthGBs, d.RidgeFLOPByte)
	if c := p.Calibration; c != nil && c.Validation != nil {
		v := c.Validation
		fmt.Fprintf(&b, "          validated on %d variants: MAPE %.1f%%, RMSPE %.1f%%, %.0f%% within ±10%%\n", v.Variants, v.MAPE*100, v.RMSPE*100, v.Within10Pct*100)
	}
	b.WriteString("budgets\n")
	bu := p.Budgets
	if l := bu.LatencyMS; l.IsFraction() {
		fmt.Fprintf(&b, "  latency      %s (build aims at %s: margin %g; judged by the ratio to the original timed interleaved with it)\n", l, Percent(d.LatencyTargetFraction), p.Search.LatencyMargin)
	} else if l != nil {
		fmt.Fprintf(&b, "  latency      %s (build aims at %.1f ms: margin %g)\n", l, d.LatencyTargetMS, p.Search.LatencyMargin)
	}
	if bu.RAMMB != nil {
		fmt.Fprintf(&b, "  ram          ≤ %g MB (%d bytes: predicted peak RSS of reading, compiling and running the model)\n", bu.RAMMB.Max, d.RAMBytes)
	}
	if bu.ActivationsMB != nil {
		fmt.Fprintf(&b, "  activations  ≤ %g MB (%d bytes)\n", bu.ActivationsMB.Max, d.ActivationBytes)
	}
	if bu.FileMB != nil {
		fmt.Fprintf(&b, "  file         ≤ %g MB (%d bytes)\n", bu.FileMB.Max, d.FileBytes)
	}
	if a := bu.Accuracy; a != nil {
		fmt.Fprintf(&b, "  accuracy     %s %s %g\n", a.Metric, a.Goal, a.Value)
	}
	if len(bu.Priority) > 0 {
		fmt.Fprintf(&b, "  priority     %s\n", strings.Join(bu.Priority, " > "))
	}
	fmt.Fprintf(&b, "search    keep %v, channels rounded to %d\n", p.Search.Structured.Keep, p.Search.Structured.RoundTo)
	_, err := io.WriteString(w, b.String())
	return err
}

func bwString(b Bandwidth) string {
	var s []string
	if b.Theoretical > 0 {
		s = append(s, fmt.Sprintf("%g GB/s theoretical", b.Theoretical))
	}
	if b.Copy1Thread > 0 {
		s = append(s, fmt.Sprintf("%g GB/s copy (1 thread)", b.Copy1Thread))
	}
	return strings.Join(s, ", ")
}
