package prune

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"gorgonia.org/tensor"
)

// rnnModelPaths are the torch-exported keyword-spotting models
// (tools/py/export_rnn.py).
var rnnModelPaths = []string{"../testdata/rnn/kws_gru.onnx", "../testdata/rnn/kws_lstm.onnx"}

// engineMatchesORT runs the model at path in the engine and in ORT on the
// same inputs and requires every output within 1e-5 of its scale.
func engineMatchesORT(t *testing.T, o *ortoracle.Oracle, path string) {
	t.Helper()
	in, err := ortoracle.InputsFor(path, 11, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := o.Run(context.Background(), path, in)
	if err != nil {
		t.Fatalf("ORT: %v", err)
	}
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Compile(m)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	feed := map[string]*tensor.Dense{}
	for _, x := range in {
		v, err := x.Float32()
		if err != nil {
			t.Fatal(err)
		}
		shape := make([]int, len(x.Shape))
		for i, d := range x.Shape {
			shape[i] = int(d)
		}
		feed[x.Name] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	got, err := p.Run(context.Background(), feed)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		wv, err := w.Float32()
		if err != nil {
			t.Fatal(err)
		}
		g, ok := got[w.Name]
		if !ok {
			t.Fatalf("engine gave no output %q", w.Name)
		}
		gv := g.Data().([]float32)
		var d, s float64
		for i := range wv {
			d = math.Max(d, math.Abs(float64(gv[i])-float64(wv[i])))
			s = math.Max(s, math.Abs(float64(wv[i])))
		}
		if !(d <= 1e-5*math.Max(s, 1e-6)) {
			t.Errorf("output %s: engine and ORT differ by %.3g (scale %.3g)", w.Name, d, s)
		}
	}
}

// hiddenSizes lists the hidden_size of every LSTM and GRU of m.
func hiddenSizes(m *onnxio.Model) []int64 {
	var out []int64
	for _, n := range m.Graph().GetNode() {
		if n.GetOpType() == "LSTM" || n.GetOpType() == "GRU" {
			out = append(out, AttrInt(n, "hidden_size", 0))
		}
	}
	return out
}

// TestRNNStructuredORT prunes the exported models' channels — the Conv
// front-end feeding the recurrent layer's input features, and the hidden
// units of the GRU and of both bidirectional LSTM layers — and checks the
// shrunk model equals the masked one in ORT (pruneOracle), that every
// recurrent layer lost units, and that the engine runs the shrunk model as
// ORT does.
func TestRNNStructuredORT(t *testing.T) {
	o := ortoracle.ForTest(t)
	py := testmodels.PythonONNX(t)
	for _, path := range rnnModelPaths {
		for _, sp := range []float64{0.5} {
			t.Run(filepath.Base(path)+"/"+ftoa(sp), func(t *testing.T) {
				m, err := onnxio.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				before := hiddenSizes(m)
				r := pruneOracle(t, o, py, path, nil, WithSparsity(sp), WithScope(Layer))
				after := hiddenSizes(r.shrunk)
				if len(after) != len(before) || len(after) == 0 {
					t.Fatalf("hidden sizes %v → %v", before, after)
				}
				for i := range after {
					if after[i] >= before[i] || after[i] < 1 {
						t.Errorf("recurrent layer %d: hidden_size %d → %d, want fewer", i, before[i], after[i])
					}
				}
				out := filepath.Join(t.TempDir(), "shrunk.onnx")
				if err := r.shrunk.WriteFile(out); err != nil {
					t.Fatal(err)
				}
				engineMatchesORT(t, o, out)
				t.Logf("%s %g: hidden %v → %v, params %d → %d", filepath.Base(path), sp, before, after,
					r.plan.Totals.ParamsBefore, r.plan.Totals.ParamsAfter)
			})
		}
	}
}

// rnnRuleModel builds x → MatMul → (LSTM | GRU) → … → MatMul → y, with the
// optional inputs the rule couples given as constants.
func rnnRuleModel(op string, bidir, layout1 bool) *onnx.ModelProto {
	const T, B, F, I, H, K = 5, 2, 6, 8, 6, 3
	G := int64(4)
	if op == "GRU" {
		G = 3
	}
	D := int64(1)
	attrs := []*onnx.AttributeProto{onnxbuild.AttrInt("hidden_size", H)}
	if bidir {
		D = 2
		attrs = append(attrs, onnxbuild.AttrString("direction", "bidirectional"))
	}
	state := []int64{D, B, H}
	xs := []int64{T, B, F}
	if layout1 {
		state = []int64{B, D, H}
		xs = []int64{B, T, F}
		attrs = append(attrs, onnxbuild.AttrInt("layout", 1))
	}
	if op == "GRU" {
		attrs = append(attrs, onnxbuild.AttrInt("linear_before_reset", 1))
	}
	b := onnxbuild.New(14)
	b.Input("x", onnxbuild.Float, xs...)
	b.Node("MatMul", []string{"x", b.Init("m1", []int64{F, I}, onnxbuild.Rand(1, F*I, 0.5))}, []string{"X"})
	ins := []string{"X",
		b.Init("W", []int64{D, G * H, I}, onnxbuild.Rand(2, int(D*G*H*I), 0.5)),
		b.Init("R", []int64{D, G * H, H}, onnxbuild.Rand(3, int(D*G*H*H), 0.5)),
		b.Init("B", []int64{D, 2 * G * H}, onnxbuild.Rand(4, int(D*2*G*H), 0.5)),
		"",
		b.Init("H0", state, onnxbuild.Rand(5, int(D*B*H), 0.5)),
	}
	outs := []string{"Y", "Y_h"}
	if op == "LSTM" {
		ins = append(ins, b.Init("C0", state, onnxbuild.Rand(6, int(D*B*H), 0.5)),
			b.Init("P", []int64{D, 3 * H}, onnxbuild.Rand(7, int(D*3*H), 0.5)))
		outs = append(outs, "Y_c")
	}
	b.Node(op, ins, outs, attrs...)
	// Y [T, D, B, H] (layout 1: [B, T, D, H]) → [.., D·H] → MatMul.
	yIn := "Y"
	if !layout1 {
		b.Node("Transpose", []string{"Y"}, []string{"Yt"}, onnxbuild.AttrInts("perm", 0, 2, 1, 3))
		yIn = "Yt"
	}
	b.Node("Reshape", []string{yIn, b.InitInt64("s", []int64{3}, []int64{0, 0, -1})}, []string{"Yr"})
	b.Node("MatMul", []string{"Yr", b.Init("m2", []int64{D * H, K}, onnxbuild.Rand(8, int(D*H*K), 0.5))}, []string{"y"})
	b.Output("y", onnxbuild.Float, xs[0], xs[1], K)
	return b.Model()
}

// TestRNNRuleORT checks the rule on graphs with every coupled input a
// constant (initial states, peepholes, biases), both directions and both
// layouts: shrunk equals masked in ORT, and the engine runs the shrunk
// model as ORT does.
func TestRNNRuleORT(t *testing.T) {
	o := ortoracle.ForTest(t)
	py := testmodels.PythonONNX(t)
	cases := []struct {
		name           string
		op             string
		bidir, layout1 bool
	}{
		{"LSTMBidirectional", "LSTM", true, false},
		{"LSTMLayout1", "LSTM", false, true},
		{"GRUBidirectionalLayout1", "GRU", true, true},
		{"GRU", "GRU", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.onnx")
			if err := os.WriteFile(path, onnxbuild.Marshal(rnnRuleModel(c.op, c.bidir, c.layout1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if c.layout1 {
				// ORT's CPU LSTM/GRU refuse layout 1: shrunk and masked
				// are compared in the engine (whose layout 1 is checked
				// against ORT through layout-0 twins in engine tests).
				shrunk := shrunkMatchesMaskedInEngine(t, path, WithSparsity(0.5), WithScope(Layer))
				if h := hiddenSizes(shrunk); len(h) != 1 || h[0] != 3 {
					t.Errorf("hidden sizes after pruning half: %v, want [3]", h)
				}
				return
			}
			r := pruneOracle(t, o, py, path, nil, WithSparsity(0.5), WithScope(Layer))
			if h := hiddenSizes(r.shrunk); len(h) != 1 || h[0] != 3 {
				t.Errorf("hidden sizes after pruning half: %v, want [3]", h)
			}
			out := filepath.Join(t.TempDir(), "shrunk.onnx")
			if err := r.shrunk.WriteFile(out); err != nil {
				t.Fatal(err)
			}
			engineMatchesORT(t, o, out)
		})
	}
}

// shrunkMatchesMaskedInEngine prunes the model at path structurally,
// shrunk and masked (replaying the plan read back from JSON), runs both in
// the engine on the same random inputs and requires equal outputs to 1e-5
// of their scale. It returns the shrunk model.
func shrunkMatchesMaskedInEngine(t *testing.T, path string, opts ...Option) *onnxio.Model {
	t.Helper()
	sp, err := NewStructured(append([]Option{WithRoundTo(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sp.Plan(m)
	if err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if err := plan.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	replay, err := ReadStructuredPlan(&js)
	if err != nil {
		t.Fatal(err)
	}
	if err := ApplyStructured(m, plan); err != nil {
		t.Fatal(err)
	}
	mm, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := MaskStructured(mm, replay); err != nil {
		t.Fatal(err)
	}
	in, err := ortoracle.InputsFor(path, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	feed := map[string]*tensor.Dense{}
	for _, x := range in {
		v, _ := x.Float32()
		shape := make([]int, len(x.Shape))
		for i, d := range x.Shape {
			shape[i] = int(d)
		}
		feed[x.Name] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	run := func(m *onnxio.Model) map[string]*tensor.Dense {
		p, err := engine.Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Run(context.Background(), feed)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got, want := run(m), run(mm)
	for name, w := range want {
		wv, gv := w.Data().([]float32), got[name].Data().([]float32)
		var d, s float64
		for i := range wv {
			d = math.Max(d, math.Abs(float64(gv[i])-float64(wv[i])))
			s = math.Max(s, math.Abs(float64(wv[i])))
		}
		if !(d <= 1e-5*math.Max(s, 1e-6)) {
			t.Errorf("output %s: shrunk and masked differ by %.3g (scale %.3g)", name, d, s)
		}
	}
	if plan.Totals.PrunedUnits == 0 {
		t.Fatal("nothing pruned")
	}
	return m
}

// TestRNNRuleRefuses: hidden units that cannot be followed are not pruned,
// and the group says why, naming the node.
func TestRNNRuleRefuses(t *testing.T) {
	cases := []struct {
		name string
		edit func(m *onnx.ModelProto)
		want string
	}{
		{"InitialStateInput", func(m *onnx.ModelProto) {
			g := m.Graph
			for i, init := range g.Initializer {
				if init.GetName() == "H0" {
					g.Initializer = append(g.Initializer[:i], g.Initializer[i+1:]...)
					break
				}
			}
			g.Input = append(g.Input, onnxbuildValueInfo("H0", 1, 2, 6))
		}, `input 5 (initial state) of GRU "GRU_0" is computed at run time and not zeros`},
		{"HiddenOnGraphOutput", func(m *onnx.ModelProto) {
			m.Graph.Output = append(m.Graph.Output, onnxbuildValueInfo("Y_h", 1, 2, 6))
		}, "Y_h is a graph output"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mp := rnnRuleModel("GRU", false, false)
			c.edit(mp)
			d, err := BuildDepGraph(decode(t, mp))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, g := range d.Groups {
				if len(g.Roots) == 1 && g.Roots[0] == "GRU_0" {
					found = true
					if g.Prunable() != 0 || !strings.Contains(g.Reason, c.want) {
						t.Errorf("GRU group: %d prunable, reason %q, want none and %q", g.Prunable(), g.Reason, c.want)
					}
				}
			}
			if !found {
				t.Fatalf("no group rooted at the GRU:\n%s", d)
			}
		})
	}
}

func onnxbuildValueInfo(name string, dims ...int64) *onnx.ValueInfoProto {
	b := onnxbuild.New(14)
	b.Input(name, onnxbuild.Float, dims...)
	return b.Graph().Input[0]
}

// TestRNNMagnitude prunes the exported models' weights element-wise, N:M
// and in blocks: LSTM/GRU W and R are targets (biases, peepholes and
// states are not), N:M groups run along axis 2 (input features, hidden
// units), blocks never straddle two gates, and the pruned models run in
// the engine as in ORT.
func TestRNNMagnitude(t *testing.T) {
	o := ortoracle.ForTest(t)
	for _, path := range rnnModelPaths {
		for _, pat := range []string{"element", "2:4", "block=4x4", "block=16x1"} {
			t.Run(filepath.Base(path)+"/"+pat, func(t *testing.T) {
				p, err := ParsePattern(pat)
				if err != nil {
					t.Fatal(err)
				}
				opts := []Option{WithPattern(p)}
				if p.Kind != NM {
					opts = append(opts, WithSparsity(0.5))
				}
				m, err := onnxio.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				plan := mustPrune(t, m, opts...)
				vals := map[string][]float32{}
				for _, q := range m.Params() {
					if v, _, err := q.Float32(); err == nil {
						vals[q.ID] = v
					}
				}
				rnn := 0
				for _, pp := range plan.Params {
					if pp.Op != "LSTM" && pp.Op != "GRU" {
						continue
					}
					rnn++
					if len(pp.Shape) != 3 || pp.OutAxis != 1 || pp.InAxis != 2 {
						t.Errorf("%s: shape %v axes out %d in %d, want rank 3, 1, 2", pp.ID, pp.Shape, pp.OutAxis, pp.InAxis)
					}
					hid := pp.Shape[1] / map[string]int64{"LSTM": 4, "GRU": 3}[pp.Op]
					switch {
					case pat == "block=16x1" && hid%16 != 0:
						if pp.Pattern != "dense" || !strings.Contains(pp.Reason, "straddle two gates") {
							t.Errorf("%s: pattern %s (%s), want dense: blocks would straddle gates", pp.ID, pp.Pattern, pp.Reason)
						}
						continue
					case pp.Pattern == "dense":
						t.Errorf("%s left dense: %s", pp.ID, pp.Reason)
						continue
					}
					w := vals[pp.ID]
					zeros := 0
					for _, v := range w {
						if v == 0 {
							zeros++
						}
					}
					if zeros < len(w)/4 {
						t.Errorf("%s: %d of %d zero", pp.ID, zeros, len(w))
					}
					if p.Kind == NM {
						in := int(pp.Shape[2])
						for g := 0; g < len(w); g += 4 {
							nz := 0
							for _, v := range w[g : g+4] {
								if v != 0 {
									nz++
								}
							}
							if nz > 2 || g%in+4 > in {
								t.Fatalf("%s: group at %d has %d nonzeros (groups of 4 along axis 2 of %v)", pp.ID, g, nz, pp.Shape)
							}
						}
					}
				}
				if want := map[string]int{"kws_gru.onnx": 2, "kws_lstm.onnx": 4}[filepath.Base(path)]; rnn != want {
					t.Errorf("%d recurrent weights among the targets, want %d", rnn, want)
				}
				for _, pp := range plan.Params {
					if strings.Contains(pp.ID, "LSTM") && len(pp.Shape) == 2 {
						t.Errorf("%s (a bias or peephole) is a target", pp.ID)
					}
				}
				if p.Kind == Block {
					return // a mask like the others: ORT runs are kept to two patterns
				}
				out := filepath.Join(t.TempDir(), "pruned.onnx")
				if err := m.WriteFile(out); err != nil {
					t.Fatal(err)
				}
				engineMatchesORT(t, o, out)
			})
		}
	}
}
