package profile

import (
	"math"
	"strings"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"google.golang.org/protobuf/proto"
)

// RAMTerms are what the memory model adds up: the bytes a process that
// reads a model from its file, compiles it and runs it holds at each phase
// (measured with runtime.MemStats per phase and pprof on resnet18 and
// mobilenet_v2; docs/profiles.md, "Cost model").
//
//	load = 2 · file                          the file's bytes and the decoded model
//	run  = file + held + activations + sparse build
//	peak = max(load, run)
//
// Reading, the file's bytes and their decoded copy (protobuf copies byte
// fields) are both live; onnxio.ReadFile then collects the file's bytes.
// The decoded model (about the file's size) stays with the caller while
// the plan holds its own weights: the packed copies of Conv weights, the
// sparse forms, and the constants read in place. The plan's activation
// arena and scratch come with the run. Compiling a weight to a batch-1
// sparse kernel encodes it as CSR first and keeps only the packed form:
// that CSR is garbage the collector has not yet reclaimed when the peak
// comes.
type RAMTerms struct {
	// FileBytes is the model serialized (its ONNX protobuf, as read).
	FileBytes int64 `json:"file_bytes"`
	// HeldBytes is what the compiled plan holds for weights
	// (engine.Report.WeightBytes).
	HeldBytes int64 `json:"held_bytes"`
	// ActivationBytes is the plan's peak activations
	// (engine.Report.PeakActivationBytes).
	ActivationBytes int64 `json:"activation_bytes"`
	// SparseBuildBytes is the CSR encoding of the weights of Gemm and
	// MatMul nodes run sparse: 8 bytes per nonzero (value and column).
	SparseBuildBytes int64 `json:"sparse_build_bytes"`
}

// LoadBytes is the load phase's term: the file's bytes and the decoded model.
func (t RAMTerms) LoadBytes() int64 { return 2 * t.FileBytes }

// RunBytes is the run phase's term: the decoded model, the plan's weights
// and activations and the sparse encoding's garbage.
func (t RAMTerms) RunBytes() int64 {
	return t.FileBytes + t.HeldBytes + t.ActivationBytes + t.SparseBuildBytes
}

// PeakBytes is max(LoadBytes, RunBytes): the heap at the process's peak,
// before the collector's slack and the runtime.
func (t RAMTerms) PeakBytes() int64 { return max(t.LoadBytes(), t.RunBytes()) }

// RAMBytes is the predicted peak resident set: RSSOverheadMB (the binary,
// the Go runtime) + RSSScale (1 when 0) × PeakBytes.
func (c *Coeffs) RAMBytes(t RAMTerms) int64 {
	s := c.RSSScale
	if s <= 0 {
		s = 1
	}
	return int64(math.Round(c.RSSOverheadMB*MB + s*float64(t.PeakBytes())))
}

// RAMTermsOf returns the memory model's terms of plan compiled from m (m
// may be nil: no file term).
func RAMTermsOf(m *onnxio.Model, plan *engine.Program) RAMTerms {
	r := plan.Report()
	t := RAMTerms{HeldBytes: r.WeightBytes, ActivationBytes: r.PeakActivationBytes}
	if m != nil && m.Proto != nil {
		t.FileBytes = int64(proto.Size(m.Proto))
	}
	for _, n := range r.Nodes {
		op, _, _ := strings.Cut(n.Op, "+")
		if !strings.HasPrefix(n.Kernel, "sparse") || (op != "Gemm" && op != "MatMul") || len(n.Inputs) < 2 {
			continue
		}
		t.SparseBuildBytes += 8 * int64(math.Round(n.Density*float64(numel(n.Inputs[1]))))
	}
	return t
}

// RAMPoint is one process's measured peak resident set beside the memory
// model's terms of the model it ran.
type RAMPoint struct {
	Terms     RAMTerms
	PeakRSSMB float64
}

// FitRAM fits RSSOverheadMB and RSSScale to measured peak resident sets by
// least squares on PeakBytes: rss = overhead + scale · peak. The overhead
// is kept ≥ 0 (else the line through the origin) and the scale > 0; with
// fewer than two distinct peaks, only the scale is fitted. ok is false
// when nothing could be fitted.
func FitRAM(pts []RAMPoint) (overheadMB, scale float64, ok bool) {
	var n, sx, sy, sxx, sxy float64
	for _, p := range pts {
		x, y := float64(p.Terms.PeakBytes())/MB, p.PeakRSSMB
		if x <= 0 || y <= 0 {
			continue
		}
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	if n == 0 {
		return 0, 0, false
	}
	if d := n*sxx - sx*sx; n >= 2 && d > 1e-9*sxx*n {
		scale = (n*sxy - sx*sy) / d
		overheadMB = (sy - scale*sx) / n
		if overheadMB >= 0 && scale > 0 {
			return overheadMB, scale, true
		}
	}
	scale = sxy / sxx
	return 0, scale, scale > 0
}
