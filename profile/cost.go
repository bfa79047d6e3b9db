package profile

import (
	"strings"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
)

// NodeEstimate is the cost model's view of one node of a compiled plan.
type NodeEstimate struct {
	Name     string  `json:"name"`
	Op       string  `json:"op"`
	Class    OpClass `json:"class"`
	FLOPs    int64   `json:"flops"`
	Bytes    int64   `json:"bytes"`              // moved: inputs (weights included) + outputs
	Channels int     `json:"channels,omitempty"` // output channels of a convolution
	MS       float64 `json:"ms"`
	Memory   bool    `json:"memory_bound,omitempty"`
}

// Estimate is what a model is predicted to cost on the profile's device.
type Estimate struct {
	Nodes           []NodeEstimate      `json:"nodes"`
	LatencyMS       float64             `json:"latency_ms"`
	ByClassMS       map[OpClass]float64 `json:"by_class_ms"`
	GraphOverheadMS float64             `json:"graph_overhead_ms"`
	FLOPs           int64               `json:"flops"`
	// Memory: WeightBytes are the model's weights as float32 (int64 for
	// integers), PeakActivationBytes the engine's buffer plan; RAMBytes is
	// the predicted peak resident set of a process reading the model's
	// file, compiling and running it, Coeffs.RAMBytes of RAM (ram.go):
	// RuntimeBytes (the calibrated overhead: binary and Go runtime, 0
	// uncalibrated) + the scale × the larger of the load and run phases.
	WeightBytes         int64    `json:"weight_bytes"`
	PeakActivationBytes int64    `json:"peak_activation_bytes"`
	RuntimeBytes        int64    `json:"runtime_bytes"`
	RAMBytes            int64    `json:"ram_bytes"`
	RAM                 RAMTerms `json:"ram_terms"`
	Calibrated          bool     `json:"calibrated"`
}

// Classify returns the op class of a node of a compiled plan.
func Classify(n engine.NodeCost) OpClass {
	if strings.HasPrefix(n.Kernel, "sparse") {
		return Sparse
	}
	op, _, _ := strings.Cut(n.Op, "+") // fused activations: "Conv+Relu"
	switch op {
	case "Conv", "ConvTranspose":
		if len(n.Inputs) >= 2 && len(n.Inputs[0]) >= 3 && len(n.Inputs[1]) >= 3 {
			x, w := n.Inputs[0], n.Inputs[1]
			cin := x[1]
			if op == "ConvTranspose" {
				return ConvKxK
			}
			if w[1] > 0 && cin/w[1] > 1 {
				return ConvDW
			}
			k := 1
			for _, d := range w[2:] {
				k *= d
			}
			if k == 1 {
				return Conv1x1
			}
		}
		return ConvKxK
	case "Gemm", "MatMul":
		return Gemm
	case "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Resize", "Upsample",
		"ReduceMean", "ReduceMax", "ReduceSum", "ReduceMin", "ReduceProd", "ReduceL2", "LpPool":
		return Pool
	case "Concat", "Transpose", "Slice", "Pad", "Gather", "Split", "Expand", "Tile", "Reshape",
		"Flatten", "Squeeze", "Unsqueeze", "Identity", "Shape", "DepthToSpace", "SpaceToDepth", "Cast":
		return Movement
	}
	return Eltwise
}

func numel(s []int) int64 {
	n := int64(1)
	for _, d := range s {
		n *= int64(d)
	}
	return n
}

// nodeFeatures are what the model needs of a node.
type nodeFeatures struct {
	class    OpClass
	op       string // the node's op, fused activations included ("Add+Relu")
	flops    int64
	bytes    int64
	channels int
	// The linear model's terms (element counts): outputs, the first input,
	// the second input (a convolution's or Gemm's weights), and for a
	// convolution the im2col matrix (output positions × cin/groups × k).
	out, in, in2, col int64
}

// NumTerms is the number of per-node terms of the linear model.
const NumTerms = 5

// TermNames name the linear model's terms, in OpCoeff.Terms order.
var TermNames = [NumTerms]string{"flops", "out", "in", "in2", "col"}

func features(n engine.NodeCost) nodeFeatures {
	f := nodeFeatures{class: Classify(n), op: n.Op, flops: n.FLOPs}
	if f.class == Sparse {
		f.flops = int64(float64(n.FLOPs) * n.Density)
	}
	for i, s := range n.Inputs {
		if s == nil {
			continue
		}
		if i == 1 && f.class == Sparse {
			// A weight run sparse is read as CSR: a value and a column
			// index per nonzero, not the dense tensor.
			f.bytes += int64(8 * float64(numel(s)) * n.Density)
			continue
		}
		f.bytes += 4 * numel(s)
	}
	for _, s := range n.Outputs {
		f.bytes += 4 * numel(s)
		f.out += numel(s)
	}
	if len(n.Inputs) > 0 && n.Inputs[0] != nil {
		f.in = numel(n.Inputs[0])
	}
	if len(n.Inputs) > 1 && n.Inputs[1] != nil {
		f.in2 = numel(n.Inputs[1])
		if f.class == Sparse {
			f.in2 = int64(float64(f.in2) * n.Density)
		}
	}
	switch f.class {
	case ConvKxK, Conv1x1, ConvDW:
		if len(n.Outputs) > 0 && len(n.Outputs[0]) >= 2 {
			f.channels = n.Outputs[0][1]
			if len(n.Inputs) > 1 && len(n.Inputs[1]) >= 2 && len(n.Inputs[0]) >= 2 {
				// positions × (cin/groups · kernel) × groups = positions × cin · kernel
				pos := numel(n.Outputs[0][2:]) * int64(n.Outputs[0][0])
				k := numel(n.Inputs[1][2:])
				f.col = pos * int64(n.Inputs[0][1]) * k
			}
		}
	}
	return f
}

// OpKey is the key of a node's own coefficients in Coeffs.Ops, tried
// before its class's: "class/Op", the op with its fused activation
// ("conv_1x1/Conv+Clip", "eltwise/HardSigmoid"). Ops of one class differ
// far more in cost than their sizes say (a HardSigmoid against a Relu, a
// ReduceMean against a MaxPool, a clipped convolution against a plain
// one); an op calibrate did not see falls back to its class.
func OpKey(class OpClass, op string) string {
	if op == "" {
		return string(class)
	}
	return string(class) + "/" + op
}

// terms are the linear model's per-node terms, a convolution's output
// channels padded up to align (its FLOPs and weights scale with them).
func (f nodeFeatures) terms(align int) [NumTerms]float64 {
	pad := 1.0
	if align > 1 && f.channels > 0 {
		pad = float64((f.channels+align-1)/align*align) / float64(f.channels)
	}
	return [NumTerms]float64{float64(f.flops) * pad, float64(f.out), float64(f.in), float64(f.in2) * pad, float64(f.col)}
}

// nodeMS is the per-node model. A calibrated class (OpCoeff.Terms) is
// linear: overhead + Σ terms·ns per element, a convolution's output
// channels padded up to the class's alignment. Otherwise it is the roofline
// of the datasheet: overhead + max(FLOPs/(peak·eff), bytes/bw).
func nodeMS(f nodeFeatures, c *Coeffs) (ms float64, memory bool) {
	oc := c.Ops[OpKey(f.class, f.op)]
	if oc == nil {
		oc = c.Ops[string(f.class)]
	}
	if oc == nil {
		oc = &OpCoeff{}
	}
	if oc.Terms != nil {
		x := f.terms(oc.Align)
		var t, mem float64
		for i, k := range oc.Terms {
			if i < NumTerms {
				t += k * x[i] / 1e6 // ns → ms
				if i != 0 {
					mem += k * x[i] / 1e6
				}
			}
		}
		return oc.OverheadUS/1000 + t, mem > t-mem
	}
	flops := float64(f.flops)
	if oc.Align > 1 && f.channels > 0 {
		padded := (f.channels + oc.Align - 1) / oc.Align * oc.Align
		flops *= float64(padded) / float64(f.channels)
	}
	var compute float64
	if oc.Eff > 0 && c.PeakGFLOPS > 0 {
		compute = flops / (c.PeakGFLOPS * oc.Eff * 1e6) // GFLOP/s → FLOP/ms
	}
	var mem float64
	if c.BandwidthGBs > 0 {
		bw := c.BandwidthGBs
		if oc.BW > 0 {
			bw *= oc.BW
		}
		mem = float64(f.bytes) / (bw * 1e6)
	}
	return oc.OverheadUS/1000 + max(compute, mem), mem > compute
}

// Predict estimates the latency and memory of the compiled plan on the
// profile's device (m gives the weights; it may be nil).
func (p *Profile) Predict(m *onnxio.Model, plan *engine.Program) *Estimate {
	c, ok := p.Coeffs()
	return predictWith(c, ok, m, plan)
}

func predictWith(c *Coeffs, calibrated bool, m *onnxio.Model, plan *engine.Program) *Estimate {
	r := plan.Report()
	e := &Estimate{ByClassMS: map[OpClass]float64{}, Calibrated: calibrated, FLOPs: r.FLOPs}
	scale := c.runScale()
	for _, n := range r.Nodes {
		f := features(n)
		ms, memBound := nodeMS(f, c)
		ms = ms*scale + c.dispatchMS(f.out)
		e.Nodes = append(e.Nodes, NodeEstimate{Name: n.Name, Op: n.Op, Class: f.class, FLOPs: f.flops, Bytes: f.bytes, Channels: f.channels, MS: ms, Memory: memBound})
		e.ByClassMS[f.class] += ms
		e.LatencyMS += ms
	}
	e.GraphOverheadMS = c.GraphOverheadUS / 1000
	e.LatencyMS += e.GraphOverheadMS
	if m != nil {
		e.WeightBytes = ResidentWeightBytes(m)
	}
	e.PeakActivationBytes = r.PeakActivationBytes
	e.RAM = RAMTermsOf(m, plan)
	e.RuntimeBytes = int64(c.RSSOverheadMB * MB)
	e.RAMBytes = c.RAMBytes(e.RAM)
	return e
}

// ResidentWeightBytes is what the engine holds of m's weights: every float
// tensor as float32, integer tensors as int64.
func ResidentWeightBytes(m *onnxio.Model) int64 {
	var n int64
	for _, prm := range m.Params() {
		if prm.DataType().IsInteger() {
			n += 8 * prm.NumElements()
		} else {
			n += 4 * prm.NumElements()
		}
	}
	return n
}

// runScale is Coeffs.RunScale, 1 when unset.
func (c *Coeffs) runScale() float64 {
	if c.RunScale > 0 {
		return c.RunScale
	}
	return 1
}

// PredictWith estimates the plan's cost with given coefficients.
func PredictWith(c *Coeffs, m *onnxio.Model, plan *engine.Program) *Estimate {
	return predictWith(c, true, m, plan)
}
