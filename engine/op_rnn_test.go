package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
	"gorgonia.org/tensor"
)

// rnnCase is one LSTM or GRU node: its attributes, which optional inputs
// it has and which outputs it names.
type rnnCase struct {
	name                   string
	op                     string // LSTM or GRU
	dir                    string // "" = attribute absent (forward)
	layout                 int
	seq, batch, in, hid    int
	bias, h0, c0, peep     bool
	lens                   []int32 // nil: no sequence_lens
	acts                   []string
	alpha, beta            []float32
	clip                   float32
	inputForget, lbr       int
	noY, noYh, noYc, noHid bool // omitted outputs; noHid: no hidden_size attribute
}

func (c rnnCase) dirs() int {
	if c.dir == "bidirectional" {
		return 2
	}
	return 1
}

func (c rnnCase) gates() int {
	if c.op == "GRU" {
		return 3
	}
	return 4
}

// rnnTensors are the values of a case's inputs, by ONNX input name.
type rnnTensors map[string][]float32

func (c rnnCase) xShape() []int {
	if c.layout == 1 {
		return []int{c.batch, c.seq, c.in}
	}
	return []int{c.seq, c.batch, c.in}
}

func (c rnnCase) stateShape() []int64 {
	if c.layout == 1 {
		return []int64{int64(c.batch), int64(c.dirs()), int64(c.hid)}
	}
	return []int64{int64(c.dirs()), int64(c.batch), int64(c.hid)}
}

// model builds the case's graph: X an input, every other input an
// initializer drawn from seed. It returns the model and the tensors.
func (c rnnCase) model(seed uint64) (*onnx.ModelProto, rnnTensors) {
	rng := rand.New(rand.NewPCG(seed, 77))
	D, G, H := c.dirs(), c.gates(), c.hid
	ts := rnnTensors{}
	b := onnxbuild.New(14)
	b.Input("X", onnxbuild.Float, int64s(c.xShape())...)
	init := func(name string, shape []int64, scale float32) string {
		n := 1
		for _, d := range shape {
			n *= int(d)
		}
		v := randSlice(rng, n)
		for i := range v {
			v[i] *= scale
		}
		ts[name] = v
		return b.Init(name, shape, v)
	}
	ins := []string{"X", init("W", []int64{int64(D), int64(G * H), int64(c.in)}, 0.6), init("R", []int64{int64(D), int64(G * H), int64(H)}, 0.6)}
	opt := func(on bool, f func() string) {
		if on {
			ins = append(ins, f())
		} else {
			ins = append(ins, "")
		}
	}
	opt(c.bias, func() string { return init("B", []int64{int64(D), int64(2 * G * H)}, 0.5) })
	opt(c.lens != nil, func() string {
		return b.InitTensor(&onnx.TensorProto{Name: proto.String("L"), DataType: proto.Int32(int32(onnx.TensorProto_INT32)),
			Dims: []int64{int64(c.batch)}, Int32Data: c.lens})
	})
	opt(c.h0, func() string { return init("H0", c.stateShape(), 0.8) })
	if c.op == "LSTM" {
		opt(c.c0, func() string { return init("C0", c.stateShape(), 0.8) })
		opt(c.peep, func() string { return init("P", []int64{int64(D), int64(3 * H)}, 0.5) })
	}
	for len(ins) > 0 && ins[len(ins)-1] == "" {
		ins = ins[:len(ins)-1]
	}
	var attrs []*onnx.AttributeProto
	if !c.noHid {
		attrs = append(attrs, onnxbuild.AttrInt("hidden_size", int64(H)))
	}
	if c.dir != "" {
		attrs = append(attrs, onnxbuild.AttrString("direction", c.dir))
	}
	if c.layout != 0 {
		attrs = append(attrs, onnxbuild.AttrInt("layout", int64(c.layout)))
	}
	if c.acts != nil {
		attrs = append(attrs, onnxbuild.AttrStrings("activations", c.acts...))
	}
	if c.alpha != nil {
		attrs = append(attrs, onnxbuild.AttrFloats("activation_alpha", c.alpha...))
	}
	if c.beta != nil {
		attrs = append(attrs, onnxbuild.AttrFloats("activation_beta", c.beta...))
	}
	if c.clip != 0 {
		attrs = append(attrs, onnxbuild.AttrFloat("clip", c.clip))
	}
	if c.inputForget != 0 {
		attrs = append(attrs, onnxbuild.AttrInt("input_forget", int64(c.inputForget)))
	}
	if c.lbr != 0 {
		attrs = append(attrs, onnxbuild.AttrInt("linear_before_reset", int64(c.lbr)))
	}
	outs := []string{"Y", "Y_h", "Y_c"}
	if c.noY {
		outs[0] = ""
	}
	if c.noYh {
		outs[1] = ""
	}
	if c.noYc || c.op == "GRU" {
		outs = outs[:2]
	}
	for len(outs) > 0 && outs[len(outs)-1] == "" {
		outs = outs[:len(outs)-1]
	}
	b.Node(c.op, ins, outs, attrs...)
	m := b.Model()
	for _, o := range outs {
		if o != "" {
			m.Graph.Output = append(m.Graph.Output, &onnx.ValueInfoProto{Name: proto.String(o), Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{
				TensorType: &onnx.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxbuild.Float))}}}})
		}
	}
	return m, ts
}

// act64 is an RNN activation in float64, written from the ONNX operator
// docs; alpha and beta as parseActs resolves them.
func act64(a rnnAct, x float64) float64 {
	al, be := float64(a.alpha), float64(a.beta)
	switch a.name {
	case "sigmoid":
		return 1 / (1 + math.Exp(-x))
	case "tanh":
		return math.Tanh(x)
	case "relu":
		return math.Max(x, 0)
	case "affine":
		return al*x + be
	case "leakyrelu":
		if x < 0 {
			return al * x
		}
		return x
	case "thresholdedrelu":
		if x > al {
			return x
		}
		return 0
	case "scaledtanh":
		return al * math.Tanh(be*x)
	case "hardsigmoid":
		return math.Min(math.Max(al*x+be, 0), 1)
	case "elu":
		if x < 0 {
			return al * (math.Exp(x) - 1)
		}
		return x
	case "softsign":
		return x / (1 + math.Abs(x))
	case "softplus":
		return math.Log(1 + math.Exp(x))
	}
	panic(a.name)
}

// rnnRef is the spec: the ONNX LSTM/GRU equations, one batch entry, one
// step and one gate unit at a time, in float64. acts are the resolved
// activations per direction (rnnKernel.acts). It returns Y, Y_h, Y_c in
// the layout of the case.
func rnnRef(c rnnCase, ts rnnTensors, x []float32, acts [][]rnnAct) (y, yh, yc []float64) {
	D, G, H, I, T, B := c.dirs(), c.gates(), c.hid, c.in, c.seq, c.batch
	at := func(v []float32, i int) float64 {
		if v == nil {
			return 0
		}
		return float64(v[i])
	}
	xAt := func(t, b, i int) float64 {
		if c.layout == 1 {
			return float64(x[(b*T+t)*I+i])
		}
		return float64(x[(t*B+b)*I+i])
	}
	stateAt := func(d, b int) int {
		if c.layout == 1 {
			return (b*D + d) * H
		}
		return (d*B + b) * H
	}
	clip := func(v float64) float64 {
		if c.clip > 0 {
			return math.Min(math.Max(v, -float64(c.clip)), float64(c.clip))
		}
		return v
	}
	y = make([]float64, T*D*B*H)
	yh = make([]float64, D*B*H)
	yc = make([]float64, D*B*H)
	W, R, Bs, P := ts["W"], ts["R"], ts["B"], ts["P"]
	for d := 0; d < D; d++ {
		f, g := acts[d][0], acts[d][1]
		// xw(q, j) = x·W_qᵀ + Wb_q, rec(q, j, v) = v·R_qᵀ + Rb_q for gate q.
		for b := 0; b < B; b++ {
			h, cc := make([]float64, H), make([]float64, H)
			for j := range H {
				h[j], cc[j] = at(ts["H0"], stateAt(d, b)+j), at(ts["C0"], stateAt(d, b)+j)
			}
			steps := T
			if c.lens != nil {
				steps = int(c.lens[b])
			}
			for s := 0; s < steps; s++ {
				t := s
				if c.dir == "reverse" || d == 1 {
					t = steps - 1 - s
				}
				xw := func(q, j int) float64 {
					v := at(Bs, d*2*G*H+q*H+j)
					for i := range I {
						v += xAt(t, b, i) * float64(W[(d*G*H+q*H+j)*I+i])
					}
					return v
				}
				rec := func(q, j int, hv []float64) float64 {
					v := at(Bs, d*2*G*H+G*H+q*H+j)
					for k := range H {
						v += hv[k] * float64(R[(d*G*H+q*H+j)*H+k])
					}
					return v
				}
				nh := make([]float64, H)
				if c.op == "LSTM" {
					hf := acts[d][2]
					nc := make([]float64, H)
					for j := range H {
						pre := func(q int) float64 { return xw(q, j) + rec(q, j, h) }
						pi, po, pf := at(P, d*3*H+j), at(P, d*3*H+H+j), at(P, d*3*H+2*H+j)
						i := act64(f, clip(pre(0)+pi*cc[j]))
						fg := act64(f, clip(pre(2)+pf*cc[j]))
						if c.inputForget != 0 {
							fg = 1 - i
						}
						ct := act64(g, clip(pre(3)))
						nc[j] = fg*cc[j] + i*ct
						o := act64(f, clip(pre(1)+po*nc[j]))
						nh[j] = o * act64(hf, nc[j])
					}
					cc = nc
				} else {
					z, r := make([]float64, H), make([]float64, H)
					for j := range H {
						z[j] = act64(f, clip(xw(0, j)+rec(0, j, h)))
						r[j] = act64(f, clip(xw(1, j)+rec(1, j, h)))
					}
					rh := make([]float64, H)
					for j := range H {
						rh[j] = r[j] * h[j]
					}
					for j := range H {
						var pre float64
						if c.lbr != 0 {
							pre = xw(2, j) + r[j]*rec(2, j, h)
						} else {
							pre = xw(2, j) + rec(2, j, rh)
						}
						nh[j] = (1-z[j])*act64(g, clip(pre)) + z[j]*h[j]
					}
				}
				h = nh
				off := ((t*D+d)*B + b) * H
				if c.layout == 1 {
					off = ((b*T+t)*D + d) * H
				}
				copy(y[off:off+H], h)
			}
			copy(yh[stateAt(d, b):], h)
			copy(yc[stateAt(d, b):], cc)
		}
	}
	return y, yh, yc
}

// rnnCases cover every attribute and optional input of LSTM and GRU.
func rnnCases() []rnnCase {
	return []rnnCase{
		{name: "LSTMDefaults", op: "LSTM", seq: 5, batch: 2, in: 3, hid: 4},
		{name: "LSTMAllInputs", op: "LSTM", seq: 6, batch: 3, in: 5, hid: 7, bias: true, h0: true, c0: true, peep: true},
		{name: "LSTMReverseLens", op: "LSTM", dir: "reverse", seq: 6, batch: 3, in: 4, hid: 5, bias: true, h0: true, c0: true, lens: []int32{6, 2, 4}},
		{name: "LSTMBidirectionalLens", op: "LSTM", dir: "bidirectional", seq: 5, batch: 3, in: 4, hid: 3, bias: true, h0: true, c0: true, peep: true, lens: []int32{5, 1, 3}},
		{name: "LSTMLayout1Bidirectional", op: "LSTM", dir: "bidirectional", layout: 1, seq: 4, batch: 2, in: 3, hid: 5, bias: true, h0: true, c0: true, lens: []int32{3, 4}},
		{name: "LSTMClipInputForget", op: "LSTM", seq: 7, batch: 2, in: 3, hid: 4, bias: true, peep: true, clip: 0.7, inputForget: 1},
		{name: "LSTMActivations", op: "LSTM", dir: "bidirectional", seq: 4, batch: 2, in: 3, hid: 4, bias: true, h0: true,
			acts:  []string{"HardSigmoid", "LeakyRelu", "Softsign", "Sigmoid", "ScaledTanh", "Elu"},
			alpha: []float32{0.3, 0.05, 0.9, 1.2}, beta: []float32{0.4, 1.1}},
		{name: "LSTMActivationDefaults", op: "LSTM", seq: 4, batch: 1, in: 3, hid: 4, bias: true, acts: []string{"HardSigmoid", "Elu", "LeakyRelu"}},
		{name: "LSTMAffineRelu", op: "LSTM", seq: 3, batch: 2, in: 2, hid: 3, bias: true,
			acts: []string{"Sigmoid", "Affine", "Relu"}, alpha: []float32{0.5}, beta: []float32{0.1}},
		{name: "LSTMOnlyYh", op: "LSTM", seq: 3, batch: 2, in: 3, hid: 4, bias: true, noY: true, noYc: true},
		{name: "LSTMOnlyYcNoHiddenSize", op: "LSTM", seq: 3, batch: 1, in: 3, hid: 4, noY: true, noYh: true, noHid: true},
		{name: "GRUDefaults", op: "GRU", seq: 5, batch: 2, in: 3, hid: 4},
		{name: "GRUAllInputs", op: "GRU", seq: 6, batch: 3, in: 5, hid: 6, bias: true, h0: true},
		{name: "GRULinearBeforeReset", op: "GRU", seq: 6, batch: 2, in: 4, hid: 5, bias: true, h0: true, lbr: 1},
		{name: "GRUReverseLensClip", op: "GRU", dir: "reverse", seq: 5, batch: 3, in: 3, hid: 4, bias: true, h0: true, lens: []int32{2, 5, 3}, clip: 0.5},
		{name: "GRUBidirectionalLayout1", op: "GRU", dir: "bidirectional", layout: 1, seq: 4, batch: 2, in: 3, hid: 4, bias: true, h0: true, lbr: 1, lens: []int32{4, 2}},
		{name: "GRUActivations", op: "GRU", dir: "bidirectional", seq: 4, batch: 2, in: 3, hid: 3, bias: true,
			acts: []string{"Sigmoid", "Softplus", "HardSigmoid", "ThresholdedRelu"}, alpha: []float32{0.25, 0.1}, beta: []float32{0.6}},
		{name: "GRUOnlyYh", op: "GRU", seq: 3, batch: 1, in: 2, hid: 3, noY: true},
	}
}

// compileRNN compiles a case and runs it on a random X.
func runRNN(t *testing.T, c rnnCase, m *onnx.ModelProto, x []float32) (map[string]*tensor.Dense, *rnnKernel) {
	t.Helper()
	mm, err := onnxio.Decode(onnxbuild.Marshal(m))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(mm)
	if err != nil {
		t.Fatal(err)
	}
	var k *rnnKernel
	for _, s := range p.main.steps {
		if rk, ok := s.k.(*rnnKernel); ok {
			k = rk
		}
	}
	if k == nil {
		t.Fatal("no rnnKernel in the plan")
	}
	got, err := p.Run(context.Background(), map[string]*tensor.Dense{"X": dense(c.xShape(), x)})
	if err != nil {
		t.Fatal(err)
	}
	return got, k
}

// TestRNNMatchesReference compares the LSTM and GRU kernels with rnnRef on
// every case, and checks the padded steps of Y are zero.
func TestRNNMatchesReference(t *testing.T) {
	for i, c := range rnnCases() {
		t.Run(c.name, func(t *testing.T) {
			m, ts := c.model(uint64(i))
			x := randSlice(rand.New(rand.NewPCG(uint64(i), 5)), numel(c.xShape()))
			got, k := runRNN(t, c, m, x)
			y, yh, yc := rnnRef(c, ts, x, k.acts)
			want := map[string][]float64{"Y": y, "Y_h": yh, "Y_c": yc}
			checked := 0
			for name, g := range got {
				gf := g.Data().([]float32)
				w := want[name]
				if len(gf) != len(w) {
					t.Fatalf("%s has %d elements, want %d", name, len(gf), len(w))
				}
				for j := range w {
					if math.Abs(float64(gf[j])-w[j]) > 1e-5+1e-4*math.Abs(w[j]) {
						t.Fatalf("%s[%d] = %g, want %g", name, j, gf[j], w[j])
					}
				}
				checked++
			}
			if checked == 0 {
				t.Fatal("no output")
			}
		})
	}
}

// TestRNNMatchesORT runs every case in ONNX Runtime too. ORT's CPU
// kernels refuse layout 1 and a missing hidden_size (both valid ONNX): a
// layout-1 case is compared through its layout-0 twin (the same weights,
// X, initial states and outputs transposed), and the case without
// hidden_size is checked against rnnRef only.
func TestRNNMatchesORT(t *testing.T) {
	oracle := ortoracle.ForTest(t)
	dir := t.TempDir()
	for i, c := range rnnCases() {
		if c.noHid {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			m, ts := c.model(uint64(i))
			x := randSlice(rand.New(rand.NewPCG(uint64(i), 5)), numel(c.xShape()))
			got, _ := runRNN(t, c, m, x)
			ortModel, ortX, ortC := m, x, c
			if c.layout == 1 {
				ortC.layout = 0
				ortModel, _ = ortC.model(uint64(i))
				for k, init := range ortModel.Graph.Initializer {
					if v, ok := ts[init.GetName()]; ok && (init.GetName() == "H0" || init.GetName() == "C0") {
						ortModel.Graph.Initializer[k] = onnxbuild.Float32Tensor(init.GetName(), ortC.stateShape(), permute(v, []int{c.batch, c.dirs(), c.hid}, 1, 0, 2))
					}
				}
				ortX = permute(x, c.xShape(), 1, 0, 2)
			}
			path := filepath.Join(dir, c.name+".onnx")
			if err := os.WriteFile(path, onnxbuild.Marshal(ortModel), 0o644); err != nil {
				t.Fatal(err)
			}
			ref, err := oracle.Run(context.Background(), path, []ortoracle.Tensor{ortoracle.FromFloat32("X", int64s(ortC.xShape()), ortX)})
			if err != nil {
				t.Fatal(err)
			}
			if len(ref) != len(m.Graph.Output) {
				t.Fatalf("ORT gave %d outputs, the graph has %d", len(ref), len(m.Graph.Output))
			}
			for j, o := range m.Graph.Output {
				want, err := ref[j].Float32()
				if err != nil {
					t.Fatal(err)
				}
				g := got[o.GetName()]
				gf := g.Data().([]float32)
				if c.layout == 1 { // to layout 0
					if o.GetName() == "Y" {
						gf = permute(gf, g.Shape(), 1, 2, 0, 3)
					} else {
						gf = permute(gf, g.Shape(), 1, 0, 2)
					}
				}
				if numel(g.Shape()) != numel(ints(ref[j].Shape)) {
					t.Fatalf("%s shape %v, ORT %v", o.GetName(), g.Shape(), ref[j].Shape)
				}
				if c.layout == 0 && !sameShape(g.Shape(), ints(ref[j].Shape)) {
					t.Fatalf("%s shape %v, ORT %v", o.GetName(), g.Shape(), ref[j].Shape)
				}
				if e := relErr(want, gf); e > 1e-5 {
					t.Errorf("%s: max rel error %.3g", o.GetName(), e)
				}
			}
		})
	}
}

// permute transposes a row-major tensor of shape: output axis i is input
// axis perm[i].
func permute(a []float32, shape []int, perm ...int) []float32 {
	out := make([]float32, len(a))
	st := stridesOf(shape)
	os := make([]int, len(perm))
	for i, p := range perm {
		os[i] = shape[p]
	}
	idx := make([]int, len(perm))
	for o := range out {
		rem, src := o, 0
		for i := len(os) - 1; i >= 0; i-- {
			idx[i] = rem % os[i]
			rem /= os[i]
			src += idx[i] * st[perm[i]]
		}
		out[o] = a[src]
	}
	return out
}

// TestRNNRejectsBadModels: malformed nodes are ErrInvalidModel and name
// what is wrong; an unknown activation is ErrNotImplemented.
func TestRNNRejectsBadModels(t *testing.T) {
	base := rnnCase{op: "LSTM", seq: 3, batch: 2, in: 3, hid: 4, bias: true}
	cases := []struct {
		name string
		edit func(n *onnx.NodeProto, g *onnx.GraphProto)
		want error
		msg  string
	}{
		{"HiddenSize", func(n *onnx.NodeProto, _ *onnx.GraphProto) { n.Attribute[0].I = proto.Int64(5) }, ErrInvalidModel, "W [1 16 3], want [1 20 3]"},
		{"Direction", func(n *onnx.NodeProto, _ *onnx.GraphProto) {
			n.Attribute = append(n.Attribute, onnxbuild.AttrString("direction", "sideways"))
		}, ErrInvalidModel, `direction "sideways"`},
		{"Bidirectional", func(n *onnx.NodeProto, _ *onnx.GraphProto) {
			n.Attribute = append(n.Attribute, onnxbuild.AttrString("direction", "bidirectional"))
		}, ErrInvalidModel, "W [1 16 3], want [2 16 3]"},
		{"ActivationCount", func(n *onnx.NodeProto, _ *onnx.GraphProto) {
			n.Attribute = append(n.Attribute, onnxbuild.AttrStrings("activations", "Sigmoid", "Tanh"))
		}, ErrInvalidModel, "2 activations, want 3"},
		{"UnknownActivation", func(n *onnx.NodeProto, _ *onnx.GraphProto) {
			n.Attribute = append(n.Attribute, onnxbuild.AttrStrings("activations", "Sigmoid", "Tanh", "Gelu"))
		}, ErrNotImplemented, `activation "gelu"`},
		{"Clip", func(n *onnx.NodeProto, _ *onnx.GraphProto) {
			n.Attribute = append(n.Attribute, onnxbuild.AttrFloat("clip", -1))
		}, ErrInvalidModel, "clip -1"},
		{"Layout", func(n *onnx.NodeProto, _ *onnx.GraphProto) {
			n.Attribute = append(n.Attribute, onnxbuild.AttrInt("layout", 2))
		}, ErrInvalidModel, "layout 2"},
		{"BiasShape", func(_ *onnx.NodeProto, g *onnx.GraphProto) {
			for _, t := range g.Initializer {
				if t.GetName() == "B" {
					t.Dims = []int64{1, 16, 2}
				}
			}
		}, ErrInvalidModel, "B [1 16 2], want [1 32]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := base.model(1)
			tc.edit(m.Graph.Node[0], m.Graph)
			mm, err := onnxio.Decode(onnxbuild.Marshal(m))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(mm)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

// TestRNNSequenceLensOutOfRange: sequence_lens given at run time outside
// [0, seq_length] are clamped, never a panic; a length of 0 leaves the
// initial state in Y_h and zeros in Y.
func TestRNNSequenceLensOutOfRange(t *testing.T) {
	c := rnnCase{op: "GRU", seq: 3, batch: 3, in: 2, hid: 2, bias: true, h0: true}
	m, ts := c.model(3)
	g := m.Graph
	g.Input = append(g.Input, &onnx.ValueInfoProto{Name: proto.String("L"), Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{
		TensorType: &onnx.TypeProto_Tensor{ElemType: proto.Int32(int32(onnx.TensorProto_INT32)),
			Shape: &onnx.TensorShapeProto{Dim: []*onnx.TensorShapeProto_Dimension{{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: 3}}}}}}}})
	g.Node[0].Input[4] = "L"
	mm, err := onnxio.Decode(onnxbuild.Marshal(m))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(mm)
	if err != nil {
		t.Fatal(err)
	}
	x := randSlice(rand.New(rand.NewPCG(1, 2)), 3*3*2)
	lens := tensor.New(tensor.WithShape(3), tensor.WithBacking([]int32{-4, 99, 0}))
	got, err := p.Run(context.Background(), map[string]*tensor.Dense{"X": dense(c.xShape(), x), "L": lens})
	if err != nil {
		t.Fatal(err)
	}
	yh := got["Y_h"].Data().([]float32)
	h0 := ts["H0"]
	for _, b := range []int{0, 2} {
		for j := range 2 {
			if yh[b*2+j] != h0[b*2+j] {
				t.Errorf("Y_h[0,%d,%d] = %g, want the initial %g", b, j, yh[b*2+j], h0[b*2+j])
			}
		}
	}
	c.lens = []int32{0, 3, 0}
	y, wantYh, _ := rnnRef(c, ts, x, [][]rnnAct{{{name: "sigmoid"}, {name: "tanh"}}})
	for j, v := range got["Y"].Data().([]float32) {
		if math.Abs(float64(v)-y[j]) > 1e-5 {
			t.Fatalf("Y[%d] = %g, want %g", j, v, y[j])
		}
	}
	for j, v := range yh {
		if math.Abs(float64(v)-wantYh[j]) > 1e-5 {
			t.Fatalf("Y_h[%d] = %g, want %g", j, v, wantYh[j])
		}
	}
}

// TestTrainableRefusesRNN: training has no LSTM/GRU backward; the error
// names the op and the node.
func TestTrainableRefusesRNN(t *testing.T) {
	for _, op := range []string{"LSTM", "GRU"} {
		c := rnnCase{op: op, seq: 3, batch: 1, in: 2, hid: 3, bias: true}
		m, _ := c.model(1)
		m.Graph.Node[0].Name = proto.String("rnn0")
		mm, err := onnxio.Decode(onnxbuild.Marshal(m))
		if err != nil {
			t.Fatal(err)
		}
		_, err = CompileTrainable(mm)
		var ne *NodeError
		if !errors.Is(err, ErrNotImplemented) || !errors.As(err, &ne) || ne.Op != op || ne.Node != "rnn0" || !strings.Contains(err.Error(), "no backward") {
			t.Fatalf("%s: got %v, want a no-backward NodeError naming it", op, err)
		}
		// Its weights frozen, a trainable Gemm before it still needs its
		// backward: refused at the analysis of the path.
		b := onnxbuild.New(14)
		b.Input("x", onnxbuild.Float, 3, 1, 2)
		b.Node("MatMul", []string{"x", b.Init("M", []int64{2, 2}, onnxbuild.Rand(1, 4, 1))}, []string{"X"})
		bm := b.Model()
		g := bm.Graph
		g.Node = append(g.Node, m.Graph.Node[0])
		g.Initializer = append(g.Initializer, m.Graph.Initializer...)
		g.Output = m.Graph.Output
		mm, err = onnxio.Decode(onnxbuild.Marshal(bm))
		if err != nil {
			t.Fatal(err)
		}
		_, err = CompileTrainable(mm, WithTrainable(func(id string) bool { return id == "M" }))
		if !errors.Is(err, ErrNotImplemented) || !errors.As(err, &ne) || ne.Op != op || !strings.Contains(err.Error(), "no backward") {
			t.Fatalf("%s after a trainable MatMul: got %v", op, err)
		}
		if _, err := CompileTrainable(mm, WithTrainable(func(string) bool { return false })); err != nil {
			t.Fatalf("%s with nothing trainable: %v", op, err)
		}
	}
}

func BenchmarkLSTM(b *testing.B) {
	for _, sz := range []struct{ seq, in, hid int }{{49, 40, 64}, {100, 64, 128}} {
		b.Run(fmt.Sprintf("T%d_I%d_H%d", sz.seq, sz.in, sz.hid), func(b *testing.B) {
			c := rnnCase{op: "LSTM", seq: sz.seq, batch: 1, in: sz.in, hid: sz.hid, bias: true}
			m, _ := c.model(1)
			mm, err := onnxio.Decode(onnxbuild.Marshal(m))
			if err != nil {
				b.Fatal(err)
			}
			p, err := Compile(mm)
			if err != nil {
				b.Fatal(err)
			}
			in := map[string]*tensor.Dense{"X": dense(c.xShape(), randSlice(rand.New(rand.NewPCG(1, 1)), sz.seq*sz.in))}
			b.ReportAllocs()
			b.SetBytes(int64(4 * sz.seq * sz.in))
			for b.Loop() {
				if _, err := p.Run(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRNNTanh bounds the RNN activations' tanh (through the vector
// sigmoid) against math.Tanh over [-12, 12].
func TestRNNTanh(t *testing.T) {
	const n = 24001
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i-n/2) / 1000
	}
	want := make([]float64, n)
	for i, x := range v {
		want[i] = math.Tanh(float64(x))
	}
	rnnAct{name: "tanh"}.apply(v)
	worst := 0.0
	for i, x := range v {
		worst = math.Max(worst, math.Abs(float64(x)-want[i]))
	}
	t.Logf("max |tanh − math.Tanh| = %.3g", worst)
	if worst > 1e-6 {
		t.Errorf("max |tanh − math.Tanh| = %.3g > 1e-6", worst)
	}
}
