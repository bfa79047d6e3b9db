package prune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"github.com/edgeprune/edgeprune/train"
	"gorgonia.org/tensor"
)

var (
	// ErrCalibration: the calibration data does not fit the model or the
	// criterion (no labels, labels out of range, inputs missing).
	ErrCalibration = errors.New("prune: calibration data")
	// ErrUnsupportedModel: a valid model that a data-aware criterion cannot
	// score (a weight Wanda cannot find the inputs of, an output that is
	// not a classifier's).
	ErrUnsupportedModel = errors.New("prune: criterion cannot score this model")
)

// nodeLabel names a node in errors: its name, or its op type.
func nodeLabel(n *onnx.NodeProto) string {
	if n.GetName() != "" {
		return fmt.Sprintf("%q", n.GetName())
	}
	return "(unnamed, output " + fmt.Sprint(n.GetOutput()) + ")"
}

// DefaultCalibrationBatch is Calibration.Batch when unset.
const DefaultCalibrationBatch = 128

// Calibration is the data a data-aware criterion scores on: the first
// Samples samples of Data (all when 0), in order, Batch at a time.
type Calibration struct {
	Data    dataset.Dataset
	Samples int // 0: all
	Batch   int // samples per forward/backward; 0: DefaultCalibrationBatch
	Threads int // engine threads; 0: all cores
}

func (c *Calibration) check(m *onnxio.Model, needLabels bool, criterion string) error {
	if c == nil || c.Data == nil {
		return fmt.Errorf("%w: criterion %s needs calibration data (--data)", ErrCalibration, criterion)
	}
	if c.Samples < 0 || c.Batch < 0 {
		return fmt.Errorf("%w: %d samples in batches of %d", ErrInvalid, c.Samples, c.Batch)
	}
	if c.n() == 0 {
		return fmt.Errorf("%w: the calibration dataset is empty", ErrCalibration)
	}
	if needLabels && !c.Data.HasLabels() {
		return fmt.Errorf("%w: criterion %s takes gradients of the cross-entropy and needs labels; the data has none (wanda needs none)", ErrCalibration, criterion)
	}
	have := c.Data.Inputs()
	for _, in := range m.Info().Inputs {
		if !slices.Contains(have, in.Name) {
			return fmt.Errorf("%w: no data for the model input %q (the data has %v)", ErrCalibration, in.Name, have)
		}
	}
	return nil
}

func (c *Calibration) n() int {
	n := c.Data.Len()
	if c.Samples > 0 {
		n = min(n, c.Samples)
	}
	return n
}

// each calls fn with the calibration batches in order.
func (c *Calibration) each(ctx context.Context, batch int, fn func(b dataset.Batch) error) error {
	n := c.n()
	for start := 0; start < n; start += batch {
		b, err := c.Data.Batch(ctx, dataset.Range(start, min(batch, n-start)))
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

func (c *Calibration) batch() int {
	if c.Batch > 0 {
		return c.Batch
	}
	return DefaultCalibrationBatch
}

// trainables compiles m once per batch shape.
type trainables struct {
	m    *onnxio.Model
	opts []engine.Option
	byN  map[string]*engine.Trainable
}

func (ts *trainables) get(inputs map[string]*tensor.Dense) (*engine.Trainable, error) {
	var k string
	opts := slices.Clone(ts.opts)
	for _, in := range ts.m.Info().Inputs {
		x := inputs[in.Name]
		k += fmt.Sprint(in.Name, x.Shape(), ";")
		opts = append(opts, engine.WithInputShape(in.Name, x.Shape()...))
	}
	if t, ok := ts.byN[k]; ok {
		return t, nil
	}
	t, err := engine.CompileTrainable(ts.m, opts...)
	if err != nil {
		return nil, err
	}
	ts.byN[k] = t
	return t, nil
}

func newTrainables(m *onnxio.Model, c *Calibration, extra ...engine.Option) *trainables {
	opts := extra
	if c.Threads > 0 {
		opts = append(opts, engine.WithThreads(c.Threads))
	}
	return &trainables{m: m, opts: opts, byN: map[string]*engine.Trainable{}}
}

// modelInputs keeps the batch's tensors the model takes.
func modelInputs(m *onnxio.Model, b dataset.Batch) map[string]*tensor.Dense {
	out := map[string]*tensor.Dense{}
	for _, in := range m.Info().Inputs {
		out[in.Name] = b.Inputs[in.Name]
	}
	return out
}

// gradRun runs forward and backward of the cross-entropy over the
// calibration data, batch samples at a time, and calls acc after each
// backward with the Trainable (whose Param.Grad hold that batch's
// gradients). The loss of a batch is its summed cross-entropy divided by
// div(batch size).
func gradRun(ctx context.Context, m *onnxio.Model, c *Calibration, batch int, div func(n int) int, acc func(t *engine.Trainable) error) error {
	g := m.Graph()
	if g == nil || len(g.GetOutput()) == 0 {
		return fmt.Errorf("%w: the model has no output to take a loss of", ErrCalibration)
	}
	out := g.GetOutput()[0].GetName()
	ce := train.CrossEntropy{Output: out, Probs: train.SoftmaxOutput(m, out)}
	// The engine has no backward through If/Loop: parameters inside
	// subgraphs get no gradient (so no score: they are kept).
	main := map[string]bool{}
	for _, p := range m.Params() {
		main[p.ID] = p.GraphPath == ""
	}
	ts := newTrainables(m, c, engine.WithTrainable(func(id string) bool { return main[id] }))
	return c.each(ctx, batch, func(b dataset.Batch) error {
		t, err := ts.get(modelInputs(m, b))
		if err != nil {
			return err
		}
		t.ZeroGrad()
		outs, err := t.Forward(ctx, modelInputs(m, b))
		if err != nil {
			return err
		}
		z := outs[out]
		seeds := map[string][]float32{}
		loss, err := ce.Eval(train.LossInput{
			Student: map[string]train.Value{out: {Data: z.Data().([]float32), Shape: z.Shape()}},
			Labels:  b.Labels,
			N:       div(len(b.Labels)),
		}, seeds)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCalibration, err)
		}
		seed := seeds[out]
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("%w: the loss is %v on the calibration data", ErrCalibration, loss)
		}
		if err := t.Backward(ctx, map[string][]float32{out: seed}); err != nil {
			return err
		}
		return acc(t)
	})
}

// GradientSums returns, per parameter ID, the gradient of the mean
// cross-entropy of each calibration batch, summed over the batches.
func GradientSums(ctx context.Context, m *onnxio.Model, c *Calibration) (map[string][]float32, error) {
	if err := c.check(m, true, "taylor"); err != nil {
		return nil, err
	}
	sums := map[string][]float64{}
	err := gradRun(ctx, m, c, c.batch(), func(n int) int { return n }, func(t *engine.Trainable) error {
		for _, p := range t.Params() {
			s := sums[p.ID]
			if s == nil {
				s = make([]float64, len(p.Grad))
				sums[p.ID] = s
			}
			for i, g := range p.Grad {
				s[i] += float64(g)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]float32{}
	for id, s := range sums {
		v := make([]float32, len(s))
		for i, x := range s {
			v[i] = float32(x)
		}
		out[id] = v
	}
	return out, nil
}

// FisherDiagonal returns, per parameter ID, the diagonal of the empirical
// Fisher information, E_n[g_n²]: the squared gradient of each sample's
// cross-entropy (one backward per sample), averaged over the samples.
func FisherDiagonal(ctx context.Context, m *onnxio.Model, c *Calibration) (map[string][]float32, error) {
	if err := c.check(m, true, "obd"); err != nil {
		return nil, err
	}
	sums := map[string][]float64{}
	err := gradRun(ctx, m, c, 1, func(int) int { return 1 }, func(t *engine.Trainable) error {
		for _, p := range t.Params() {
			s := sums[p.ID]
			if s == nil {
				s = make([]float64, len(p.Grad))
				sums[p.ID] = s
			}
			for i, g := range p.Grad {
				s[i] += float64(g) * float64(g)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n := float64(c.n())
	out := map[string][]float32{}
	for id, s := range sums {
		v := make([]float32, len(s))
		for i, x := range s {
			v[i] = float32(x / n)
		}
		out[id] = v
	}
	return out, nil
}

// featureMap says how an element of a weight maps to the input feature it
// multiplies, for Wanda: feature = (flat / stride) % dim for Gemm/MatMul;
// for Conv the im2col column (group's input channel, kernel offset).
type featureMap struct {
	conv         bool
	stride, dim  int // Gemm/MatMul: along InAxis
	ig, og, kern int // Conv: input channels per group, output channels per group, kh·kw
}

func (f featureMap) of(flat int) int {
	if !f.conv {
		return (flat / f.stride) % f.dim
	}
	o := flat / (f.ig * f.kern)
	c := (flat / f.kern) % f.ig
	return ((o/f.og)*f.ig+c)*f.kern + flat%f.kern
}

// wandaUse is one node using a target as its weight: where its input
// features come from.
type wandaUse struct {
	t      *Target
	node   *onnx.NodeProto
	input  string // the data input's value name
	fm     featureMap
	conv   *convGeom
	transA bool
}

// InputFeatureNorms returns, per target ID, ‖X_j‖₂ for every element of the
// weight: the Euclidean norm, over the calibration samples, of the input
// feature the element multiplies (Wanda's activation norm). For Gemm and
// MatMul a feature is one column of the data input; for Conv it is an
// im2col column — one input channel at one kernel offset, over every
// output position (padding counts as 0). A weight used by several nodes
// sums the squares over its uses.
func InputFeatureNorms(ctx context.Context, m *onnxio.Model, c *Calibration, targets []*Target) (map[string][]float32, error) {
	if err := c.check(m, false, "wanda"); err != nil {
		return nil, err
	}
	main := map[*onnx.NodeProto]bool{}
	for _, n := range m.Graph().GetNode() {
		main[n] = true
	}
	var uses []*wandaUse
	var keep []string
	sq := map[string][]float64{} // target ID → per-feature sum of squares
	for _, t := range targets {
		for _, u := range t.uses {
			w, err := newWandaUse(t, u, main)
			if err != nil {
				return nil, err
			}
			uses = append(uses, w)
			if !slices.Contains(keep, w.input) {
				keep = append(keep, w.input)
			}
		}
	}
	frozen := engine.WithTrainable(func(string) bool { return false })
	ts := newTrainables(m, c, frozen, engine.WithKeepValues(keep...))
	err := c.each(ctx, c.batch(), func(b dataset.Batch) error {
		t, err := ts.get(modelInputs(m, b))
		if err != nil {
			return err
		}
		if _, err := t.Forward(ctx, modelInputs(m, b)); err != nil {
			return err
		}
		for _, u := range uses {
			x, shape, ok := t.Value(u.input)
			if !ok {
				return fmt.Errorf("prune: wanda: value %q of node %q not kept by the engine", u.input, u.node.GetName())
			}
			f, err := u.featureSquares(x, shape)
			if err != nil {
				return err
			}
			s := sq[u.t.ID()]
			if s == nil {
				s = make([]float64, len(f))
				sq[u.t.ID()] = s
			}
			if len(s) != len(f) {
				return fmt.Errorf("%w: wanda: the uses of %s disagree on its input features (%d and %d)", ErrUnsupportedModel, u.t.ID(), len(s), len(f))
			}
			for i, v := range f {
				s[i] += v
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]float32{}
	for _, t := range targets {
		s := sq[t.ID()]
		fm := uses[slices.IndexFunc(uses, func(u *wandaUse) bool { return u.t == t })].fm
		v := make([]float32, t.NumElements())
		for i := range v {
			v[i] = float32(math.Sqrt(s[fm.of(i)]))
		}
		out[t.ID()] = v
	}
	return out, nil
}

func newWandaUse(t *Target, u use, main map[*onnx.NodeProto]bool) (*wandaUse, error) {
	n := u.node
	label := nodeLabel(n)
	op := n.GetOpType()
	if !main[n] {
		return nil, fmt.Errorf("%w: wanda: %s is used by %s %s inside a subgraph, whose inputs the engine does not keep: exclude it (--exclude %q)", ErrUnsupportedModel, t.ID(), op, label, t.ID())
	}
	if u.slot != 1 || (op != "Conv" && op != "Gemm" && op != "MatMul") {
		return nil, fmt.Errorf("%w: wanda: %s is input %d of %s %s; wanda scores the weight input (1) of Conv, Gemm and MatMul: exclude it (--exclude %q)", ErrUnsupportedModel, t.ID(), u.slot, op, label, t.ID())
	}
	w := &wandaUse{t: t, node: n, input: n.GetInput()[0]}
	shape := t.Shape
	if op == "Conv" {
		g, err := newConvGeom(n, shape)
		if err != nil {
			return nil, fmt.Errorf("%w: wanda: %s %s: %v", ErrUnsupportedModel, op, label, err)
		}
		w.conv = g
		w.fm = featureMap{conv: true, ig: int(shape[1]), og: int(shape[0]) / g.group, kern: g.kh * g.kw}
		return w, nil
	}
	stride := 1
	for _, d := range shape[t.InAxis+1:] {
		stride *= int(d)
	}
	w.fm = featureMap{stride: stride, dim: int(shape[t.InAxis])}
	w.transA = op == "Gemm" && intAttr(n, "transA") != 0
	return w, nil
}

// featureSquares sums x² per input feature over the batch.
func (u *wandaUse) featureSquares(x []float32, shape []int) ([]float64, error) {
	if u.conv != nil {
		return u.conv.columnSquares(x, shape)
	}
	k := u.fm.dim
	out := make([]float64, k)
	switch {
	case u.transA: // A is [K, M]
		if len(shape) != 2 || shape[0] != k {
			return nil, fmt.Errorf("%w: wanda: input of %s has shape %v, want [%d, M]", ErrUnsupportedModel, nodeLabel(u.node), shape, k)
		}
		for j := range k {
			for _, v := range x[j*shape[1] : (j+1)*shape[1]] {
				out[j] += float64(v) * float64(v)
			}
		}
	default: // [..., K]
		if len(shape) == 0 || shape[len(shape)-1] != k {
			return nil, fmt.Errorf("%w: wanda: input of %s has shape %v, want [..., %d]", ErrUnsupportedModel, nodeLabel(u.node), shape, k)
		}
		for i, v := range x {
			out[i%k] += float64(v) * float64(v)
		}
	}
	return out, nil
}

// convGeom is a 2-D Conv's geometry.
type convGeom struct {
	group, kh, kw  int
	sh, sw, dh, dw int
	pt, pl, pb, pr int
	autoPad        string
}

func newConvGeom(n *onnx.NodeProto, wshape []int64) (*convGeom, error) {
	if len(wshape) != 4 {
		return nil, fmt.Errorf("a %d-D kernel (wanda handles 2-D Conv)", len(wshape)-2)
	}
	g := &convGeom{group: 1, kh: int(wshape[2]), kw: int(wshape[3]), sh: 1, sw: 1, dh: 1, dw: 1}
	for _, a := range n.GetAttribute() {
		ints := a.GetInts()
		switch a.GetName() {
		case "group":
			g.group = int(a.GetI())
		case "strides":
			if len(ints) == 2 {
				g.sh, g.sw = int(ints[0]), int(ints[1])
			}
		case "dilations":
			if len(ints) == 2 {
				g.dh, g.dw = int(ints[0]), int(ints[1])
			}
		case "pads":
			if len(ints) == 4 {
				g.pt, g.pl, g.pb, g.pr = int(ints[0]), int(ints[1]), int(ints[2]), int(ints[3])
			}
		case "auto_pad":
			g.autoPad = string(a.GetS())
		}
	}
	if g.group < 1 || wshape[0]%int64(g.group) != 0 || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1 || min(g.pt, g.pl, g.pb, g.pr) < 0 {
		return nil, fmt.Errorf("group %d, strides %dx%d, dilations %dx%d, pads %v", g.group, g.sh, g.sw, g.dh, g.dw, []int{g.pt, g.pl, g.pb, g.pr})
	}
	return g, nil
}

// samePads returns the begin and end padding of auto_pad SAME_* for one
// axis of size in.
func samePads(in, k, s, d int, lower bool) (int, int) {
	out := (in + s - 1) / s
	total := max((out-1)*s+(k-1)*d+1-in, 0)
	if lower {
		return total - total/2, total / 2
	}
	return total / 2, total - total/2
}

// columnSquares sums x² per im2col column (input channel, ky, kx) over the
// batch and every output position: Σ_n Σ_oy Σ_ox x[n, c, oy·s − p + ky·d,
// ox·s − p + kx·d]², out of range = 0.
func (g *convGeom) columnSquares(x []float32, shape []int) ([]float64, error) {
	if len(shape) != 4 {
		return nil, fmt.Errorf("%w: wanda: Conv input of shape %v, want NCHW", ErrUnsupportedModel, shape)
	}
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	pt, pb, pl, pr := g.pt, g.pb, g.pl, g.pr
	switch g.autoPad {
	case "SAME_UPPER", "SAME_LOWER":
		pt, pb = samePads(h, g.kh, g.sh, g.dh, g.autoPad == "SAME_LOWER")
		pl, pr = samePads(w, g.kw, g.sw, g.dw, g.autoPad == "SAME_LOWER")
	case "VALID":
		pt, pb, pl, pr = 0, 0, 0, 0
	}
	oh := (h+pt+pb-g.dh*(g.kh-1)-1)/g.sh + 1
	ow := (w+pl+pr-g.dw*(g.kw-1)-1)/g.sw + 1
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("%w: wanda: Conv input %v gives no output position", ErrUnsupportedModel, shape)
	}
	out := make([]float64, c*g.kh*g.kw)
	rowSq := make([]float64, w)
	for b := range n {
		for ch := range c {
			plane := x[(b*c+ch)*h*w : (b*c+ch+1)*h*w]
			for ky := range g.kh {
				for oy := range oh {
					iy := oy*g.sh - pt + ky*g.dh
					if iy < 0 || iy >= h {
						continue
					}
					row := plane[iy*w : (iy+1)*w]
					for i, v := range row {
						rowSq[i] = float64(v) * float64(v)
					}
					for kx := range g.kw {
						var s float64
						for ox := range ow {
							ix := ox*g.sw - pl + kx*g.dw
							if ix >= 0 && ix < w {
								s += rowSq[ix]
							}
						}
						out[(ch*g.kh+ky)*g.kw+kx] += s
					}
				}
			}
		}
	}
	return out, nil
}
