package build

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"github.com/edgeprune/edgeprune/train"
	"google.golang.org/protobuf/proto"
	"gorgonia.org/tensor"
)

// Adaptive BatchNorm (EagleEye, Li et al., ECCV 2020): pruning channels
// upstream of a BatchNormalization node changes the activations it
// normalises, and its running statistics, the original's, no longer match
// them. A pruned variant scored with them is scored for a mismatch that
// the shortest fine-tuning removes (bncnn: pruning c1 from 16 to 8
// channels reads KL 22 nats and 10% top-1 with the original statistics,
// 0.06 and 96% once they are re-estimated; docs/profiles.md, "Session 8
// (s8-bn)"). With adaptive BN the build re-estimates, before scoring a
// variant, the statistics of every BatchNormalization node downstream of
// a pruned node on the calibration samples (train.RecalibrateBN); the
// nodes upstream keep the original's statistics, as their inputs are the
// original's. The same holds for an unstructured option's layer (its
// weight sparsified or coded): the nodes downstream of it are re-estimated.

// AdaptiveBN values of Options.AdaptiveBN.
const (
	AdaptiveBNAuto = "auto" // on when the model has BatchNormalization nodes and there is calibration data (the default, "")
	AdaptiveBNOn   = "on"   // on; an error when it cannot be
	AdaptiveBNOff  = "off"  // the original's statistics
)

// AdaptiveBN is how the build scored pruned variants' BatchNormalization
// statistics (build.json "adaptive_bn").
type AdaptiveBN struct {
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason"`
	// Samples, in batches of Batch, re-estimate the statistics (the
	// first of the calibration samples).
	Samples int `json:"samples,omitempty"`
	Batch   int `json:"batch,omitempty"`
	Nodes   int `json:"bn_nodes,omitempty"` // BatchNormalization nodes in the model
	// Variants is how many models were recalibrated, Seconds the time it took.
	Variants int     `json:"variants,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
}

// bnBatch is the batch adaptive BN estimates statistics on (EagleEye: 50
// batches of 64 training images; here the calibration samples).
const bnBatch = 64

// adaptiveBN re-estimates BatchNormalization statistics of variants of
// orig on the calibration samples.
type adaptiveBN struct {
	orig    *onnxio.Model
	data    dataset.Dataset
	batches int
	batch   int
	shapes  []engine.Option // the calibration samples' shapes (a model may declare dynamic dims)
	rec     *AdaptiveBN
}

// newAdaptiveBN decides on adaptive BN for m (mode: Options.AdaptiveBN)
// and returns the recalibrator (nil when off) with the record for
// build.json.
func newAdaptiveBN(ctx context.Context, m *onnxio.Model, mode string, calib []engine.Batch) (*adaptiveBN, *AdaptiveBN, error) {
	rec := &AdaptiveBN{}
	nodes := 0
	for _, n := range m.Graph().GetNode() {
		if n.GetOpType() == "BatchNormalization" {
			nodes++
		}
	}
	rec.Nodes = nodes
	switch {
	case mode == AdaptiveBNOff:
		rec.Reason = "off (--adaptive-bn off): variants are scored with the original's BatchNormalization statistics"
		return nil, rec, nil
	case mode != "" && mode != AdaptiveBNAuto && mode != AdaptiveBNOn:
		return nil, nil, fmt.Errorf("build: adaptive BN %q: want auto, on or off", mode)
	case nodes == 0:
		rec.Reason = "the model has no BatchNormalization node (folded at export, or none)"
	case calib == nil:
		rec.Reason = "no calibration data"
	}
	if rec.Reason != "" {
		if mode == AdaptiveBNOn {
			return nil, nil, fmt.Errorf("build: adaptive BN on: %s", rec.Reason)
		}
		return nil, rec, nil
	}
	data, err := newBatchData(calib)
	if err != nil {
		return nil, nil, err
	}
	b := min(bnBatch, data.Len())
	a := &adaptiveBN{orig: m, data: data, batch: b, batches: data.Len() / b, rec: rec}
	for _, name := range data.names {
		a.shapes = append(a.shapes, engine.WithInputShape(name, append([]int{b}, data.shape[name]...)...))
	}
	rec.Samples, rec.Batch = a.batches*b, b
	// The original itself: a model the trainer cannot run in BatchNorm
	// training mode is scored as before (auto) or refused (on).
	probe, err := cloneModel(m)
	if err != nil {
		return nil, nil, err
	}
	if _, err := train.RecalibrateBN(ctx, probe, data, 1, b, 1, a.shapes...); err != nil {
		if mode == AdaptiveBNOn {
			return nil, nil, fmt.Errorf("build: adaptive BN on: %w", err)
		}
		rec.Reason = fmt.Sprintf("off: the statistics cannot be re-estimated (%v)", err)
		return nil, rec, nil
	}
	rec.Enabled = true
	rec.Reason = fmt.Sprintf("each pruned variant is scored after re-estimating the statistics of the BatchNormalization nodes downstream of its pruning on %d calibration samples (batches of %d; EagleEye's adaptive BN)", rec.Samples, b)
	return a, rec, nil
}

// recalibrate re-estimates, in place, the running statistics of v's
// BatchNormalization nodes that read values its pruning changed
// (unaffectedBNStats), and keeps the original's for the others (held in
// initializers or in Constant nodes). changed names the initializers whose
// values differ from the original's with the same dims (an unstructured
// option's sparsified or coded weight), which the graph alone does not show.
func (a *adaptiveBN) recalibrate(ctx context.Context, v *onnxio.Model, changed ...string) error {
	t0 := time.Now()
	keep := unaffectedBNStats(a.orig.Graph(), v.Graph(), changed...)
	if _, err := train.RecalibrateBN(ctx, v, a.data, a.batches, a.batch, 1, a.shapes...); err != nil {
		return fmt.Errorf("build: adaptive BN: %w", err)
	}
	if len(keep) > 0 {
		orig := map[string]*onnxio.Param{}
		for _, p := range a.orig.Params() {
			if keep[p.ID] {
				orig[p.ID] = p
			}
		}
		for _, p := range v.Params() {
			o := orig[p.ID]
			if o == nil {
				continue
			}
			f, _, err := o.Float32()
			if err != nil {
				return fmt.Errorf("build: adaptive BN: %w", err)
			}
			if err := p.SetFloat32(f, o.Shape()); err != nil {
				return fmt.Errorf("build: adaptive BN: %w", err)
			}
		}
	}
	a.rec.Variants++
	a.rec.Seconds += time.Since(t0).Seconds()
	return nil
}

// unaffectedBNStats names the running-statistic initializers (inputs 3
// and 4) of the BatchNormalization nodes of pruned whose inputs pruning
// did not change: no node upstream of them differs from orig's (its proto,
// the dims of an initializer it reads, or it reads a value named in
// changed). Structured and unstructured pruning keep the node list and its
// order.
func unaffectedBNStats(orig, pruned *onnx.GraphProto, changed ...string) map[string]bool {
	on, pn := orig.GetNode(), pruned.GetNode()
	out := map[string]bool{}
	if len(on) != len(pn) {
		return out
	}
	odims, pdims := initDims(orig), initDims(pruned)
	diffs := map[string]bool{}
	for _, c := range changed {
		diffs[c] = true
	}
	for i, n := range pn {
		diff := !proto.Equal(on[i], n)
		for _, in := range n.GetInput() {
			if diffs[in] || !slices.Equal(odims[in], pdims[in]) {
				diff = true
			}
		}
		if diff {
			for _, o := range n.GetOutput() {
				diffs[o] = true
			}
			continue
		}
		if n.GetOpType() == "BatchNormalization" && len(n.GetInput()) == 5 {
			out[n.GetInput()[3]], out[n.GetInput()[4]] = true, true
		}
	}
	return out
}

func cloneModel(m *onnxio.Model) (*onnxio.Model, error) {
	data, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	return onnxio.Decode(data)
}

// batchData is calibration batches as a dataset (the samples in order).
type batchData struct {
	names  []string
	inputs map[string][]float32 // per input, the samples' values, concatenated
	shape  map[string][]int     // per input, one sample's shape
	labels []int64
	n      int
}

func newBatchData(bs []engine.Batch) (*batchData, error) {
	d := &batchData{inputs: map[string][]float32{}, shape: map[string][]int{}}
	for i, b := range bs {
		rows := -1
		for name, t := range b.Inputs {
			f, ok := t.Data().([]float32)
			if !ok {
				return nil, fmt.Errorf("build: adaptive BN: input %q is not float32", name)
			}
			s := t.Shape()
			if len(s) == 0 || (rows >= 0 && s[0] != rows) {
				return nil, fmt.Errorf("build: adaptive BN: calibration batch %d: inputs disagree on the sample count", i)
			}
			rows = s[0]
			if i == 0 {
				d.names = append(d.names, name)
				d.shape[name] = slices.Clone(s[1:])
			} else if !slices.Equal(d.shape[name], s[1:]) {
				return nil, fmt.Errorf("build: adaptive BN: input %q: samples of shape %v and %v", name, d.shape[name], s[1:])
			}
			d.inputs[name] = append(d.inputs[name], f...)
		}
		if i == 0 {
			slices.Sort(d.names)
		}
		if b.Labels != nil {
			d.labels = append(d.labels, b.Labels...)
		}
		d.n += max(rows, 0)
	}
	if len(d.labels) != d.n {
		d.labels = nil
	}
	return d, nil
}

func (d *batchData) Len() int         { return d.n }
func (d *batchData) Inputs() []string { return d.names }
func (d *batchData) HasLabels() bool  { return d.labels != nil }
func (d *batchData) Close() error     { return nil }
func (d *batchData) Batch(_ context.Context, idx []int) (dataset.Batch, error) {
	b := dataset.Batch{Inputs: map[string]*tensor.Dense{}}
	for _, name := range d.names {
		per := len(d.inputs[name]) / max(d.n, 1)
		out := make([]float32, 0, per*len(idx))
		for _, i := range idx {
			if i < 0 || i >= d.n {
				return dataset.Batch{}, fmt.Errorf("build: adaptive BN: sample %d of %d", i, d.n)
			}
			out = append(out, d.inputs[name][i*per:(i+1)*per]...)
		}
		b.Inputs[name] = tensor.New(tensor.WithShape(append([]int{len(idx)}, d.shape[name]...)...), tensor.WithBacking(out))
	}
	if d.labels != nil {
		for _, i := range idx {
			b.Labels = append(b.Labels, d.labels[i])
		}
	}
	return b, nil
}
