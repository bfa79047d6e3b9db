package prune

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestFoldShapes: the shape computations torch and paddle2onnx export fold
// to the values ORT computes, and remember the dimensions they read.
func TestFoldShapes(t *testing.T) {
	d := depOf(t, onnxbuild.ShuffleExported())
	for _, c := range []struct {
		value string
		want  []int64
		deps  map[int][]dimRef
	}{
		{"u0.h", []int64{4}, map[int][]dimRef{0: {{"v0", 1}}}},
		{"u0.c1", []int64{8}, map[int][]dimRef{0: {{"v0", 1}}}},
		{"u0.target1", []int64{1, 2, 4, 8, 8}, map[int][]dimRef{0: {{"u0.t", 0}}, 1: nil, 2: {{"u0.t", 1}}, 4: {{"u0.t", 3}}}},
		{"u1.target2", []int64{1, -1, 8, 8}, map[int][]dimRef{1: nil, 2: {{"u1.t", 2}}}},
	} {
		f := d.folded[c.value]
		if f == nil {
			t.Errorf("%s not folded", c.value)
			continue
		}
		if !slices.Equal(f.v, c.want) {
			t.Errorf("%s = %v, want %v", c.value, f.v, c.want)
		}
		for e, want := range c.deps {
			if !slices.Equal(f.dep[e], want) {
				t.Errorf("%s[%d] reads %v, want %v", c.value, e, f.dep[e], want)
			}
		}
	}
	d = depOf(t, onnxbuild.RuntimeFlatten())
	if f := d.folded["target"]; f == nil || !slices.Equal(f.v, []int64{1, -1}) || !slices.Equal(f.dep[0], []dimRef{{"g", 0}}) {
		t.Errorf("flatten target: %+v", f)
	}
	// The batch reaches the Reshape, the channels do not: the group is
	// pruned, and the target stays computed at run time.
	if g := groupWithRoot(t, d, "Conv_0"); g.Prunable() != 8 {
		t.Errorf("RuntimeFlatten: %d of 8 prunable: %s", g.Prunable(), g.Reason)
	}
}

// TestFoldShapeReadsBlock: a channel count read by Shape that reaches an
// input no rule rewrites — the target of a Reshape of another value, a
// ConstantOfShape — keeps the channels.
func TestFoldShapeReadsBlock(t *testing.T) {
	for _, c := range []struct {
		op  string
		why string
	}{
		{"Reshape", `reaches input 1 of Reshape "Reshape_0", which no rule rewrites`},
		{"ConstantOfShape", `reaches input 0 of ConstantOfShape "ConstantOfShape_0", which no rule rewrites`},
	} {
		b := onnxbuild.New(13)
		b.Input("x", onnxbuild.Float, 1, 3, 4, 4)
		b.Input("z", onnxbuild.Float, 64)
		w := b.Init("w", []int64{4, 3, 1, 1}, onnxbuild.Rand(1, 12, 1))
		b.Node("Conv", []string{"x", w}, []string{"c"})
		b.Node("Shape", []string{"c"}, []string{"s"})
		if c.op == "Reshape" {
			b.Node("Reshape", []string{"z", "s"}, []string{"y2"})
		} else {
			b.Node(c.op, []string{"s"}, []string{"y2"})
		}
		w2 := b.Init("w2", []int64{2, 4, 1, 1}, onnxbuild.Rand(2, 8, 1))
		b.Node("Conv", []string{"c", w2}, []string{"y"})
		b.OutputDyn("y", onnxbuild.Float)
		b.OutputDyn("y2", onnxbuild.Float)
		d := depOf(t, b.Model())
		if g := groupWithRoot(t, d, "Conv_0"); g.Prunable() != 0 || !strings.Contains(g.Reason, c.why) {
			t.Errorf("%s: %d prunable, reason %q, want %q", c.op, g.Prunable(), g.Reason, c.why)
		}
	}
}

// TestRuleChannelShuffle: the exported shuffle maps input channel
// i·(C/g)+j to output channel j·g+i, one channel per unit, and every
// group but the head's (whose output is the graph's) is prunable.
func TestRuleChannelShuffle(t *testing.T) {
	d := depOf(t, onnxbuild.ShuffleExported())
	if len(d.shuffles) != 2 {
		t.Fatalf("%d shuffles found, want 2:\n%s", len(d.shuffles), d)
	}
	for _, sh := range d.shuffles {
		if sh.g != 2 || sh.cg != 4 || sh.in.Value != sh.first.GetInput()[0] || sh.out.Value != sh.back.GetOutput()[0] {
			t.Errorf("shuffle %s: g %d, C/g %d, %s → %s", sh.first.GetName(), sh.g, sh.cg, sh.in.Value, sh.out.Value)
		}
		g := d.GroupOf(sh.in)
		seen := map[int]bool{}
		for i := range sh.g {
			for j := range sh.cg {
				u := g.UnitOf(sh.in, i*sh.cg+j)
				if v := g.UnitOf(sh.out, j*sh.g+i); v != u {
					t.Errorf("%s: input channel %d is unit %d, output channel %d unit %d", sh.first.GetName(), i*sh.cg+j, u, j*sh.g+i, v)
				}
				seen[u] = true
			}
		}
		if len(seen) != sh.in.Size {
			t.Errorf("%s: %d channels in %d units, want one each", sh.first.GetName(), sh.in.Size, len(seen))
		}
	}
	for _, g := range d.Groups {
		if g.Reason != "" && !slices.Equal(g.Roots, []string{"Conv_7"}) { // the head makes y
			t.Errorf("group %d (roots %v) refused: %s", g.ID, g.Roots, g.Reason)
		}
	}
}

// TestShuffleRewriteForms: a selection that keeps the g-way structure
// keeps the Reshape–Transpose–Reshape (targets rewritten, batch dynamic);
// one that does not becomes a Gather. Both equal the masked model in ORT.
func TestShuffleRewriteForms(t *testing.T) {
	o := ortoracle.ForTest(t)
	py := testmodels.PythonONNX(t)
	path := filepath.Join(t.TempDir(), "shuffle.onnx")
	if err := os.WriteFile(path, onnxbuild.Marshal(onnxbuild.ShuffleExported()), 0o644); err != nil {
		t.Fatal(err)
	}
	// Unit 1's shuffle loses channel j = 1 of both halves (even: the
	// shuffle form stays); that removes channel 0 of unit 0's branch only
	// (uneven: a Gather).
	edit := func(p *StructuredPlan) {
		var sh *shuffle
		for _, s := range p.dg.shuffles {
			if strings.HasPrefix(s.first.GetInput()[0], "u1.") {
				sh = s
			}
		}
		g := p.dg.GroupOf(sh.in)
		for i := range p.Groups {
			p.Groups[i].Pruned, p.Groups[i].Kept = []int{}, p.Groups[i].Units
		}
		gp := &p.Groups[g.ID]
		gp.Pruned = []int{g.UnitOf(sh.in, 1), g.UnitOf(sh.in, sh.cg+1)}
		slices.Sort(gp.Pruned)
		gp.Kept = gp.Units - 2
	}
	r := runOracleEdit(t, o, py, path, nil, edit, WithSparsity(0.3))
	if r.maxErr > 1e-4*r.scale {
		t.Errorf("shrunk and masked differ by %.3g (scale %.3g)", r.maxErr, r.scale)
	}
	ops := map[string]int{}
	for _, n := range r.shrunk.Graph().GetNode() {
		op := n.GetOpType()
		if op == "Gather" && AttrInt(n, "axis", 0) == 1 {
			op = "Gather(channels)"
		}
		ops[op]++
		if n.GetOpType() == "Reshape" {
			p := paramsByName(r.shrunk)[n.GetInput()[1]]
			if p == nil {
				t.Errorf("Reshape %s: target %s still computed", n.GetName(), n.GetInput()[1])
			} else if v, _ := onnxio.Int64s(p.Tensor); len(v) == 0 || v[0] != 0 {
				t.Errorf("Reshape %s: target %v, want a dynamic batch (0)", n.GetName(), v)
			}
		}
	}
	// Unit 0's chunk splits the stem, which keeps its channels: its bounds
	// stay computed (one Shape); every other shape computation is gone.
	if ops["Gather(channels)"] != 1 || ops["Transpose"] != 1 || ops["Reshape"] != 2 || ops["Shape"] != 1 {
		t.Errorf("shrunk model ops %v: want one shuffle as a Gather, one as Reshape–Transpose–Reshape, one Shape left", ops)
	}

	// The batch stays dynamic: a batch of two copies gives the batch-1
	// output twice.
	shrunk := filepath.Join(t.TempDir(), "shrunk.onnx")
	if err := r.shrunk.WriteFile(shrunk); err != nil {
		t.Fatal(err)
	}
	in1, err := ortoracle.InputsFor(shrunk, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	in2 := slices.Clone(in1)
	in2[0].Shape = append([]int64{2}, in1[0].Shape[1:]...)
	in2[0].Data = append(slices.Clone(in1[0].Data), in1[0].Data...)
	out1, err1 := o.Run(context.Background(), shrunk, in1)
	out2, err2 := o.Run(context.Background(), shrunk, in2)
	if err1 != nil || err2 != nil {
		t.Fatalf("shrunk model at batch 1: %v; at batch 2: %v", err1, err2)
	}
	y1, _ := out1[0].Float32()
	y2, _ := out2[0].Float32()
	if len(y2) != 2*len(y1) {
		t.Fatalf("batch 2 output has %d values, want %d", len(y2), 2*len(y1))
	}
	for i, v := range y2 {
		if d := math.Abs(float64(v - y1[i%len(y1)])); d > 1e-5 {
			t.Fatalf("batch 2 output %d differs from batch 1 by %g", i, d)
		}
	}
}
