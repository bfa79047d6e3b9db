package build

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"github.com/edgeprune/edgeprune/profile"
	"github.com/edgeprune/edgeprune/train"
	"google.golang.org/protobuf/proto"
)

// mnistCalib is the first n MNIST test images with their labels, in
// batches of b.
func mnistCalib(t *testing.T, n, b int) []engine.Batch {
	t.Helper()
	d, err := dataset.Open(testmodels.SharedData(t, "mnist_test.npz"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out []engine.Batch
	for i := 0; i < n; i += b {
		bt, err := d.Batch(context.Background(), dataset.Range(i, min(b, n-i)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, engine.Batch(bt))
	}
	return out
}

// bnStats is every BatchNormalization node's running mean and variance,
// by initializer name.
func bnStats(t *testing.T, m *onnxio.Model) map[string][]float32 {
	t.Helper()
	names := map[string]bool{}
	for _, n := range m.Graph().GetNode() {
		if n.GetOpType() == "BatchNormalization" {
			names[n.GetInput()[3]], names[n.GetInput()[4]] = true, true
		}
	}
	out := map[string][]float32{}
	for _, p := range m.Params() {
		if names[p.ID] {
			f, _, err := p.Float32()
			if err != nil {
				t.Fatal(err)
			}
			out[p.ID] = slices.Clone(f)
		}
	}
	if len(out) != len(names) {
		t.Fatalf("%d running statistics found, %d named", len(out), len(names))
	}
	return out
}

// TestAdaptiveBNRecalibrate: a variant pruned in bncnn's first group
// (every BatchNormalization downstream) has exactly the statistics
// train.RecalibrateBN gives the same variant on the calibration samples;
// a variant pruned in its last group keeps the original's statistics
// upstream of the pruning and has RecalibrateBN's downstream.
// The same with the statistics held in Constant nodes (as PaddlePaddle
// exports them: PP-OCR).
func TestAdaptiveBNRecalibrate(t *testing.T) {
	for _, constants := range []bool{false, true} {
		m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/bncnn.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		if constants {
			statsToConstants(t, m)
		}
		t.Run(map[bool]string{false: "initializers", true: "constants"}[constants], func(t *testing.T) { adaptiveBNRecalibrate(t, m) })
	}
}

// statsToConstants moves m's BatchNormalization running statistics from
// initializers into Constant nodes at the head of the graph.
func statsToConstants(t *testing.T, m *onnxio.Model) {
	t.Helper()
	names := map[string]bool{}
	for _, n := range m.Graph().GetNode() {
		if n.GetOpType() == "BatchNormalization" {
			names[n.GetInput()[3]], names[n.GetInput()[4]] = true, true
		}
	}
	g := m.Graph()
	var inits []*onnx.TensorProto
	var consts []*onnx.NodeProto
	for _, tp := range g.GetInitializer() {
		if !names[tp.GetName()] {
			inits = append(inits, tp)
			continue
		}
		consts = append(consts, &onnx.NodeProto{OpType: proto.String("Constant"), Name: proto.String(tp.GetName() + "_const"), Output: []string{tp.GetName()},
			Attribute: []*onnx.AttributeProto{{Name: proto.String("value"), Type: onnx.AttributeProto_TENSOR.Enum(), T: tp}}})
	}
	if len(consts) != len(names) {
		t.Fatalf("%d statistics moved, %d named", len(consts), len(names))
	}
	var inputs []*onnx.ValueInfoProto
	for _, vi := range g.GetInput() {
		if !names[vi.GetName()] {
			inputs = append(inputs, vi)
		}
	}
	g.Initializer, g.Input, g.Node = inits, inputs, append(consts, g.GetNode()...)
}

func adaptiveBNRecalibrate(t *testing.T, m *onnxio.Model) {
	ctx := context.Background()
	calib := mnistCalib(t, 128, 32)
	a, rec, err := newAdaptiveBN(ctx, m, "", calib)
	if err != nil || a == nil || !rec.Enabled || rec.Samples != 128 || rec.Batch != 64 || rec.Nodes != 5 {
		t.Fatalf("newAdaptiveBN: %+v, %v: want enabled on 128 samples in batches of 64, 5 nodes", rec, err)
	}
	space, err := NewSpace(m, []float64{1, .5}, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	orig := bnStats(t, m)
	data, err := newBatchData(calib)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []int{0, len(space.Groups) - 1} {
		c := space.Uniform(0)
		c[g] = 1
		v, _, err := space.Model(c)
		if err != nil {
			t.Fatal(err)
		}
		w, _, err := space.Model(c)
		if err != nil {
			t.Fatal(err)
		}
		keep := unaffectedBNStats(m.Graph(), v.Graph())
		if err := a.recalibrate(ctx, v); err != nil {
			t.Fatal(err)
		}
		if _, err := train.RecalibrateBN(ctx, w, data, 2, 64, 1); err != nil {
			t.Fatal(err)
		}
		got, want := bnStats(t, v), bnStats(t, w)
		changed := 0
		for id, x := range got {
			ref := want[id]
			if keep[id] {
				ref = orig[id]
			}
			if !slices.Equal(x, ref) {
				t.Errorf("group %d: %s = %v, want %v (kept from the original: %v)", g, id, x[:4], ref[:4], keep[id])
			}
			if !keep[id] && !slices.Equal(x, orig[id]) {
				changed++
			}
		}
		switch {
		case g == 0 && len(keep) != 0:
			t.Errorf("first group: %d statistics kept, want every BatchNormalization re-estimated", len(keep))
		case g > 0 && (len(keep) == 0 || len(keep) == len(got)):
			t.Errorf("last group: %d of %d statistics kept, want the upstream ones", len(keep), len(got))
		case changed == 0:
			t.Errorf("group %d: no statistic re-estimated", g)
		}
	}
}

// TestBuildAdaptiveBN: on bncnn (BatchNormalization nodes) the
// sensitivity table's damage of an option is the KL of the variant whose
// statistics train.RecalibrateBN re-estimated on the calibration samples
// — not the stale variant's, which --adaptive-bn off still gives — and
// build.json records it. On lenet5 (no BatchNormalization) auto changes
// nothing.
func TestBuildAdaptiveBN(t *testing.T) {
	ctx := context.Background()
	calib := mnistCalib(t, 128, 64)
	for _, c := range []struct {
		model string
		bn    bool
	}{{"mnist/bncnn.onnx", true}, {"mnist/lenet5.onnx", false}} {
		m, err := onnxio.ReadFile(testmodels.Shared(t, c.model))
		if err != nil {
			t.Fatal(err)
		}
		run := func(mode string) *Result {
			t.Helper()
			p := hostProfile(t, "latency_ms=50%")
			p.Search.Structured.Keep = []float64{1, .5}
			res, err := Build(ctx, p, c.model, m, Options{Threads: 1, Calib: calib, AdaptiveBN: mode})
			if res == nil {
				t.Fatalf("%s %s: %v", c.model, mode, err)
			}
			return res
		}
		auto, off := run(""), run(AdaptiveBNOff)
		if auto.AdaptiveBN == nil || auto.AdaptiveBN.Enabled != c.bn || off.AdaptiveBN == nil || off.AdaptiveBN.Enabled {
			t.Fatalf("%s: adaptive_bn auto %+v, off %+v: want enabled %v and off", c.model, auto.AdaptiveBN, off.AdaptiveBN, c.bn)
		}
		if !c.bn {
			for g := range auto.Groups {
				if !slices.EqualFunc(auto.Groups[g].Options, off.Groups[g].Options, func(a, b Option) bool { return a.Damage == b.Damage && a.TaskDamage == b.TaskDamage }) {
					t.Errorf("%s group %d: auto %v, off %v: want the same table without BatchNormalization", c.model, g, auto.Groups[g].Options, off.Groups[g].Options)
				}
			}
			for g := range auto.Groups {
				if auto.Groups[g].Choice != off.Groups[g].Choice {
					t.Errorf("%s group %d: auto chose level %d, off %d", c.model, g, auto.Groups[g].Choice, off.Groups[g].Choice)
				}
			}
			continue
		}
		space, err := NewSpace(m, []float64{1, .5}, 8, nil)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := scores(ctx, m, calib, 1)
		if err != nil {
			t.Fatal(err)
		}
		data, err := newBatchData(calib)
		if err != nil {
			t.Fatal(err)
		}
		for g := range space.Groups {
			choice := space.Uniform(0)
			choice[g] = 1
			v, _, err := space.Model(choice)
			if err != nil {
				t.Fatal(err)
			}
			stale, err := scores(ctx, v, calib, 1)
			if err != nil {
				t.Fatal(err)
			}
			// Every statistic re-estimated, then the upstream ones put back.
			keep := unaffectedBNStats(m.Graph(), v.Graph())
			origStats := bnStats(t, m)
			if _, err := train.RecalibrateBN(ctx, v, data, 2, 64, 1); err != nil {
				t.Fatal(err)
			}
			for _, p := range v.Params() {
				if keep[p.ID] {
					if err := p.SetFloat32(origStats[p.ID], p.Shape()); err != nil {
						t.Fatal(err)
					}
				}
			}
			fresh, err := scores(ctx, v, calib, 1)
			if err != nil {
				t.Fatal(err)
			}
			want, old := meanKL(ref, fresh), meanKL(ref, stale)
			got, gotOff := auto.Groups[g].Options[1].Damage, off.Groups[g].Options[1].Damage
			if math.Abs(got-want) > 1e-3*(1+want) {
				t.Errorf("group %d: damage %g, want %g (recalibrated; stale %g)", g, got, want, old)
			}
			if math.Abs(gotOff-old) > 1e-3*(1+old) {
				t.Errorf("group %d, off: damage %g, want the stale %g", g, gotOff, old)
			}
			if g == 0 && !(old > 10*want) {
				t.Errorf("c1 at half its channels: stale damage %g, recalibrated %g: want the stale statistics to read far worse", old, want)
			}
		}
		if auto.AdaptiveBN.Variants == 0 {
			t.Errorf("adaptive_bn %+v: no variant recalibrated", auto.AdaptiveBN)
		}
	}
}

// TestAdaptiveBNDynamicDims: a model whose input declares dynamic batch,
// height and width (PP-OCR's classifier: x [?,3,?,?]) gets adaptive BN
// with the calibration samples' shape, and its statistics come out as the
// same model's with the dims declared. (Built with the declared dims, 1
// each, the 5×5 convolutions had no output and adaptive BN went off.)
func TestAdaptiveBNDynamicDims(t *testing.T) {
	ctx := context.Background()
	calib := mnistCalib(t, 128, 32)
	var stats []map[string][]float32
	for _, dynamic := range []bool{false, true} {
		m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/bncnn.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		if dynamic {
			dims := m.Graph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim()
			if len(dims) != 4 {
				t.Fatalf("bncnn input has %d dims, want 4", len(dims))
			}
			for i, name := range map[int]string{0: "N", 2: "H", 3: "W"} {
				dims[i].Value = &onnx.TensorShapeProto_Dimension_DimParam{DimParam: name}
			}
		}
		a, rec, err := newAdaptiveBN(ctx, m, "", calib)
		if err != nil || a == nil || !rec.Enabled {
			t.Fatalf("dynamic %v: newAdaptiveBN: %+v, %v: want enabled", dynamic, rec, err)
		}
		// Every statistic re-estimated as a variant's are.
		v, err := cloneModel(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := train.RecalibrateBN(ctx, v, a.data, a.batches, a.batch, 1, a.shapes...); err != nil {
			t.Fatalf("dynamic %v: %v", dynamic, err)
		}
		stats = append(stats, bnStats(t, v))
	}
	if len(stats[0]) == 0 {
		t.Fatal("no statistics")
	}
	for name, want := range stats[0] {
		if !slices.Equal(stats[1][name], want) {
			t.Errorf("%s: dynamic dims recalibrated differently", name)
		}
	}
}

// TestBuildAdaptiveBNUnstructured: on bncnn an unstructured option's
// damage (a layer's weight 90% zeroed) is, with adaptive BN, the KL of the
// variant whose statistics downstream of that layer train.RecalibrateBN
// re-estimated (the ones upstream kept), and with --adaptive-bn off the
// stale variant's; on the first layer searched (c2; c1 has too few
// weights) the two differ.
func TestBuildAdaptiveBNUnstructured(t *testing.T) {
	ctx := context.Background()
	calib := mnistCalib(t, 128, 64)
	m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/bncnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	u := &profile.UnstructuredSearch{Sparsity: []float64{0.9}, Patterns: []string{"element"}, Coding: []string{"exact"}, MinParams: 1}
	run := func(mode string) *Result {
		t.Helper()
		p := hostProfile(t, "latency_ms=50%")
		p.Search.Structured.Keep = []float64{1, .5}
		p.Search.Unstructured = u
		res, err := Build(ctx, p, "bncnn", m, Options{Threads: 1, Calib: calib, AdaptiveBN: mode})
		if res == nil {
			t.Fatalf("%s: %v", mode, err)
		}
		return res
	}
	auto, off := run(""), run(AdaptiveBNOff)
	if !auto.AdaptiveBN.Enabled {
		t.Fatalf("adaptive_bn %+v: want it on", auto.AdaptiveBN)
	}
	space, err := NewSpace(m, []float64{1, .5}, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := space.AddUnstructured(m, u); err != nil {
		t.Fatal(err)
	}
	ref, err := scores(ctx, m, calib, 1)
	if err != nil {
		t.Fatal(err)
	}
	data, err := newBatchData(calib)
	if err != nil {
		t.Fatal(err)
	}
	option := func(res *Result, id string) Option {
		t.Helper()
		for _, g := range res.Groups {
			if g.Kind != "unstructured" || g.Roots[0] != id {
				continue
			}
			for _, o := range g.Options {
				if o.Unstructured != nil && o.Unstructured.Sparsity == 0.9 {
					return o
				}
			}
		}
		t.Fatalf("layer %s: no 0.9 option in the table", id)
		return Option{}
	}
	if len(space.ULayers) < 2 {
		t.Fatalf("%d layers searched: want several", len(space.ULayers))
	}
	for li, l := range space.ULayers {
		k := slices.IndexFunc(l.Opts, func(o UOption) bool { return o.Sparsity == 0.9 })
		choice := space.Uniform(0)
		choice[len(space.Groups)+li] = k
		v, _, err := space.Model(choice)
		if err != nil {
			t.Fatal(err)
		}
		stale, err := scores(ctx, v, calib, 1)
		if err != nil {
			t.Fatal(err)
		}
		keep := unaffectedBNStats(m.Graph(), v.Graph(), l.Name)
		origStats := bnStats(t, m)
		if _, err := train.RecalibrateBN(ctx, v, data, 2, 64, 1); err != nil {
			t.Fatal(err)
		}
		for _, p := range v.Params() {
			if keep[p.ID] {
				if err := p.SetFloat32(origStats[p.ID], p.Shape()); err != nil {
					t.Fatal(err)
				}
			}
		}
		fresh, err := scores(ctx, v, calib, 1)
		if err != nil {
			t.Fatal(err)
		}
		want, old := meanKL(ref, fresh), meanKL(ref, stale)
		got, gotOff := option(auto, l.ID).Damage, option(off, l.ID).Damage
		t.Logf("layer %s: damage %.4g with adaptive BN (want %.4g), %.4g off (stale %.4g)", l.ID, got, want, gotOff, old)
		if math.Abs(got-want) > 1e-3*(1+want) {
			t.Errorf("layer %s: damage %g, want %g (recalibrated downstream; stale %g)", l.ID, got, want, old)
		}
		if math.Abs(gotOff-old) > 1e-3*(1+old) {
			t.Errorf("layer %s, off: damage %g, want the stale %g", l.ID, gotOff, old)
		}
		if li == 0 && !(math.Abs(old-want) > 0.1*want) {
			t.Errorf("first layer 90%% zeroed: stale damage %g, recalibrated %g: want them to differ", old, want)
		}
	}
}
