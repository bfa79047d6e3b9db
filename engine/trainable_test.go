package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/npdata"
	ob "github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

func decodeBuilt(t *testing.T, b *ob.Builder) *onnxio.Model {
	t.Helper()
	m, err := onnxio.Decode(ob.Marshal(b.Model()))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// An op with no backward on a parameter's path is refused at compile time,
// by op and node; off that path it is fine.
func TestTrainableRefusesOpWithoutBackward(t *testing.T) {
	b := ob.New(13)
	b.Input("x", ob.Float, 2, 3)
	w := b.Init("w", []int64{3, 3}, ob.Rand(1, 9, 1))
	b.Node("Gemm", []string{"x", w}, []string{"h"})
	n := b.Node("Exp", []string{"h"}, []string{"y"})
	b.Output("y", ob.Float, 2, 3)
	_, err := CompileTrainable(decodeBuilt(t, b))
	var ne *NodeError
	if !errors.Is(err, ErrNotImplemented) || !errors.As(err, &ne) || ne.Op != "Exp" || ne.Node != n.GetName() || !strings.Contains(err.Error(), "no backward") {
		t.Fatalf("Exp after a parameter: %v", err)
	}

	b = ob.New(13)
	b.Input("x", ob.Float, 2, 3)
	w = b.Init("w", []int64{3, 3}, ob.Rand(1, 9, 1))
	b.Node("Exp", []string{"x"}, []string{"e"})
	b.Node("Gemm", []string{"e", w}, []string{"y"})
	b.Output("y", ob.Float, 2, 3)
	if _, err := CompileTrainable(decodeBuilt(t, b)); err != nil {
		t.Fatalf("Exp before any parameter: %v", err)
	}
}

// Shape → Gather → Concat → Reshape (as in shufflenet) is folded at compile
// time and passes no gradient; the reshaped value's gradient reaches the
// parameter through the view.
func TestTrainableShapeSubgraph(t *testing.T) {
	b := ob.New(13)
	b.Input("x", ob.Float, 2, 6)
	w := b.Init("w", []int64{6, 6}, ob.Rand(2, 36, 1))
	b.Node("MatMul", []string{"x", w}, []string{"h"})
	b.Node("Shape", []string{"h"}, []string{"s"})
	idx := b.InitInt64("i0", []int64{1}, []int64{0})
	b.Node("Gather", []string{"s", idx}, []string{"n"})
	rest := b.InitInt64("rest", []int64{2}, []int64{3, 2})
	b.Node("Concat", []string{"n", rest}, []string{"shape"}, ob.AttrInt("axis", 0))
	b.Node("Reshape", []string{"h", "shape"}, []string{"y"})
	b.Output("y", ob.Float, 2, 3, 2)
	tr, err := CompileTrainable(decodeBuilt(t, b))
	if err != nil {
		t.Fatal(err)
	}
	x := ob.Rand(3, 12, 1)
	if _, err := tr.Forward(context.Background(), map[string]*tensor.Dense{"x": tensor.New(tensor.WithShape(2, 6), tensor.WithBacking(x))}); err != nil {
		t.Fatal(err)
	}
	seed := ob.Rand(4, 12, 1)
	if err := tr.Backward(context.Background(), map[string][]float32{"y": seed}); err != nil {
		t.Fatal(err)
	}
	// dW = xᵀ·seed (seed read as [2, 6]).
	g := tr.Params()[0].Grad
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			var s float32
			for n := 0; n < 2; n++ {
				s += x[n*6+i] * seed[n*6+j]
			}
			if d := g[i*6+j] - s; d > 1e-5 || d < -1e-5 {
				t.Fatalf("dW[%d,%d] = %v, want %v", i, j, g[i*6+j], s)
			}
		}
	}
}

func lenetBatch(t *testing.T, name string) (*onnxio.Model, map[string]*npdata.Array) {
	t.Helper()
	m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/"+name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	arrays, err := readNPZArrays(testmodels.Shared(t, "grads/"+name+"_grads.npz"))
	if err != nil {
		t.Fatal(err)
	}
	ref := map[string]*npdata.Array{}
	for _, a := range arrays {
		ref[a.Name] = a
	}
	return m, ref
}

// trainStep runs one forward and backward with the mean cross-entropy seed.
func trainStep(t *testing.T, tr *Trainable, ref map[string]*npdata.Array) {
	t.Helper()
	outs, err := tr.Forward(context.Background(), map[string]*tensor.Dense{"input": ref["input"].Dense()})
	if err != nil {
		t.Fatal(err)
	}
	z := outs["logits"].Data().([]float32)
	seed, _ := ceSeed(z, ref["labels"].I, 10)
	if err := tr.Backward(context.Background(), map[string][]float32{"logits": seed}); err != nil {
		t.Fatal(err)
	}
}

// Frozen parameters are not in Params, and the others' gradients are
// unchanged (torch's).
func TestTrainableFrozen(t *testing.T) {
	m, ref := lenetBatch(t, "lenet300")
	tr, err := CompileTrainable(m, WithInputShape("input", ref["input"].Shape...), WithFrozen(`^fc1\.`))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range tr.Params() {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, " ") != "fc2.weight fc2.bias fc3.weight fc3.bias" {
		t.Fatalf("params %v", ids)
	}
	trainStep(t, tr, ref)
	for _, p := range tr.Params() {
		if e := scaleErr(p.Grad, ref["grad/"+p.ID].F); e > 1e-4 {
			t.Errorf("%s: error %.3g", p.ID, e)
		}
	}
	if _, err := CompileTrainable(m, WithFrozen(`(`)); err == nil {
		t.Error("a bad regexp is accepted")
	}
}

// A replica on the same batch gives bit-identical gradients, accumulates
// its own, and computes with the primary's weights.
func TestTrainableReplica(t *testing.T) {
	m, ref := lenetBatch(t, "lenet5")
	tr, err := CompileTrainable(m, WithInputShape("input", ref["input"].Shape...), WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	rp, err := tr.Replica()
	if err != nil {
		t.Fatal(err)
	}
	trainStep(t, tr, ref)
	trainStep(t, rp, ref)
	for i, p := range tr.Params() {
		q := rp.Params()[i]
		for j := range p.Grad {
			if p.Grad[j] != q.Grad[j] {
				t.Fatalf("%s: replica's gradient differs at %d: %v vs %v", p.ID, j, p.Grad[j], q.Grad[j])
			}
		}
	}
	trainStep(t, tr, ref) // accumulates: twice the gradient
	for i, p := range tr.Params() {
		q := rp.Params()[i]
		if e := scaleErr(p.Grad, scaled(q.Grad, 2)); e > 1e-6 {
			t.Fatalf("%s: two steps do not accumulate (%.3g)", p.ID, e)
		}
	}
	tr.ZeroGrad()
	for _, p := range tr.Params() {
		for _, g := range p.Grad {
			if g != 0 {
				t.Fatal("ZeroGrad left a gradient")
			}
		}
	}
	// Shared weights: zeroing the primary's last layer zeroes the replica's logits' dependence.
	last := tr.Params()[len(tr.Params())-2]
	clear(last.Value)
	outs, err := rp.Forward(context.Background(), map[string]*tensor.Dense{"input": ref["input"].Dense()})
	if err != nil {
		t.Fatal(err)
	}
	z := outs["logits"].Data().([]float32)
	bias := tr.Params()[len(tr.Params())-1].Value
	for i, v := range z {
		if v != bias[i%10] {
			t.Fatalf("replica does not read the primary's weights: logit %d = %v, bias %v", i, v, bias[i%10])
		}
	}
}

func scaled(s []float32, k float32) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = v * k
	}
	return out
}

// Kept values come back after Forward and can be seeded.
func TestTrainableKeepValues(t *testing.T) {
	m, ref := lenetBatch(t, "lenet300")
	tr, err := CompileTrainable(m, WithInputShape("input", ref["input"].Shape...), WithKeepValues("/Relu_output_0"))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := tr.Forward(context.Background(), map[string]*tensor.Dense{"input": ref["input"].Dense()})
	if err != nil {
		t.Fatal(err)
	}
	h, shape, ok := tr.Value("/Relu_output_0")
	if !ok || len(shape) != 2 || shape[1] != 300 || outs["/Relu_output_0"] == nil {
		t.Fatalf("kept value: ok %v shape %v", ok, shape)
	}
	// Seed only the kept value with h itself: d(½‖h‖²)/dfc1 ≠ 0, fc2 and fc3 get nothing.
	if err := tr.Backward(context.Background(), map[string][]float32{"/Relu_output_0": h}); err != nil {
		t.Fatal(err)
	}
	for _, p := range tr.Params() {
		nz := false
		for _, g := range p.Grad {
			nz = nz || g != 0
		}
		if nz != strings.HasPrefix(p.ID, "fc1.") {
			t.Errorf("%s: nonzero gradient %v", p.ID, nz)
		}
	}
	if err := tr.Backward(context.Background(), map[string][]float32{"logits": make([]float32, 640)}); err == nil {
		t.Error("a second Backward after one Forward is accepted")
	}
	if _, err := CompileTrainable(m, WithKeepValues("nope")); err == nil {
		t.Error("an unknown kept value is accepted")
	}
}

// WriteBack stores the weights and BN running statistics in the model's
// tensors and leaves the rest alone.
func TestTrainableWriteBack(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/bncnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	arrays, err := readNPZArrays(testmodels.Shared(t, "grads/bncnn_train_grads.npz"))
	if err != nil {
		t.Fatal(err)
	}
	var input *npdata.Array
	for _, a := range arrays {
		if a.Name == "input" {
			input = a
		}
	}
	before := map[string][]float32{}
	for _, p := range m.Params() {
		v, _, _ := p.Float32()
		before[p.ID] = append([]float32(nil), v...)
	}
	tr, err := CompileTrainable(m, WithInputShape("input", input.Shape...), WithBatchNorm(BNTrain))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Forward(context.Background(), map[string]*tensor.Dense{"input": input.Dense()}); err != nil {
		t.Fatal(err)
	}
	c1 := tr.Params()[0]
	c1.Value[0] += 1
	if err := tr.WriteBack(m); err != nil {
		t.Fatal(err)
	}
	stats := tr.RunningStats()
	changed := map[string]bool{c1.ID: true}
	for id := range stats {
		changed[id] = true
	}
	for _, p := range m.Params() {
		v, _, _ := p.Float32()
		switch {
		case p.ID == c1.ID:
			if v[0] != before[p.ID][0]+1 || v[1] != before[p.ID][1] {
				t.Errorf("%s not written back", p.ID)
			}
		case stats[p.ID] != nil:
			if scaleErr(v, stats[p.ID]) != 0 || scaleErr(v, before[p.ID]) == 0 {
				t.Errorf("running statistic %s not written back", p.ID)
			}
		default:
			if scaleErr(v, before[p.ID]) != 0 {
				t.Errorf("%s changed", p.ID)
			}
		}
	}
	if len(stats) != 10 {
		t.Errorf("%d running statistics, want 10", len(stats))
	}
}

// Parameters inside If branches get gradients from the branch taken (the
// other branch's stay zero), and outer values read inside a branch get
// theirs through it.
func TestTrainableIfBranches(t *testing.T) {
	b := ob.New(13)
	b.Input("x", ob.Float, 3)
	b.Input("c", ob.Bool, 1)
	u := b.Init("u", []int64{3}, []float32{0.5, -1, 2})
	b.Node("Mul", []string{"x", u}, []string{"xu"}) // an outer value read in both branches
	then := b.Sub("then")
	w := then.Init("w", []int64{3}, []float32{1, 2, 3})
	then.Node("Mul", []string{"xu", w}, []string{"t"})
	then.Output("t", ob.Float, 3)
	els := b.Sub("else")
	v := els.Init("v", []int64{1}, []float32{4})
	els.Node("Add", []string{"xu", v}, []string{"e"})
	els.Output("e", ob.Float, 3)
	b.Node("If", []string{"c"}, []string{"y"}, ob.AttrGraph("then_branch", then.Graph()), ob.AttrGraph("else_branch", els.Graph()))
	b.Output("y", ob.Float, 3)
	tr, err := CompileTrainable(decodeBuilt(t, b))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*Param{}
	var ids []string
	for _, p := range tr.Params() {
		got[p.ID] = p
		ids = append(ids, p.ID)
	}
	pu, pw, pv := got["u"], got["If_0/then_branch/w"], got["If_0/else_branch/v"]
	if pu == nil || pw == nil || pv == nil || len(got) != 3 {
		t.Fatalf("params %v", ids)
	}
	x := []float32{1, -2, 3}
	r := []float32{0.5, 1, -1}
	for _, cond := range []bool{true, false} {
		tr.ZeroGrad()
		in := map[string]*tensor.Dense{
			"x": tensor.New(tensor.WithShape(3), tensor.WithBacking(append([]float32(nil), x...))),
			"c": tensor.New(tensor.WithShape(1), tensor.WithBacking([]bool{cond})),
		}
		if _, err := tr.Forward(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if err := tr.Backward(context.Background(), map[string][]float32{"y": r}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			var du, dw, dv float32
			if cond { // y = x·u·w
				du, dw = r[i]*x[i]*pw.Value[i], r[i]*x[i]*pu.Value[i]
			} else { // y = x·u + v
				du = r[i] * x[i]
				dv = r[0] + r[1] + r[2]
			}
			if pu.Grad[i] != du || pw.Grad[i] != dw || pv.Grad[0] != dv {
				t.Fatalf("cond %v, element %d: du %v dw %v dv %v, want %v %v %v", cond, i, pu.Grad[i], pw.Grad[i], pv.Grad[0], du, dw, dv)
			}
		}
	}
}

// WriteBack reaches weights stored in Constant nodes (PP-OCR's classifier):
// after it, a plain Compile of the model computes with the new values.
func TestTrainableWriteBackConstants(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.OCR(t, "cls"))
	if err != nil {
		t.Fatal(err)
	}
	shape := []int{1, 3, 48, 192}
	tr, err := CompileTrainable(m, WithInputShape("x", shape...))
	if err != nil {
		t.Fatal(err)
	}
	var fc *Param
	for _, p := range tr.Params() {
		if p.ID == "fc_0.b_0" {
			fc = p
		}
	}
	if fc == nil || fc.src.Where != onnxio.ConstantNode {
		t.Fatalf("fc_0.b_0 not a trainable Constant-node parameter")
	}
	x := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(ob.Rand(5, 3*48*192, 1)))
	fc.Value[0] += 3 // the logits' bias: shifts the softmax towards class 0
	want, err := tr.Forward(context.Background(), map[string]*tensor.Dense{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.WriteBack(m); err != nil {
		t.Fatal(err)
	}
	p, err := Compile(m, WithInputShape("x", shape...))
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Run(context.Background(), map[string]*tensor.Dense{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	name := tr.Outputs()[0].Name
	if e := scaleErr(got[name].Data().([]float32), want[name].Data().([]float32)); e > 1e-5 {
		t.Fatalf("the written-back model differs from the Trainable by %.3g", e)
	}
}
