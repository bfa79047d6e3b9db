package prune

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// modelOf decodes a built model.
func modelOf(t *testing.T, mp *onnx.ModelProto) *onnxio.Model {
	t.Helper()
	m, err := onnxio.Decode(onnxbuild.Marshal(mp))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func depOf(t *testing.T, mp *onnx.ModelProto, opts ...Option) *DepGraph {
	t.Helper()
	d, err := BuildDepGraph(modelOf(t, mp), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// groupWithRoot returns the group one of whose roots is root.
func groupWithRoot(t *testing.T, d *DepGraph, root string) *Group {
	t.Helper()
	for _, g := range d.Groups {
		if slices.Contains(g.Roots, root) {
			return g
		}
	}
	t.Fatalf("no group with root %s:\n%s", root, d)
	return nil
}

// coupledAxes lists "param:axis:kind" of g's coupled slices.
func coupledAxes(g *Group) []string {
	var out []string
	for _, c := range g.Coupled {
		out = append(out, c.Param.ID+":"+string(rune('0'+c.Axis))+":"+c.Kind.String())
	}
	slices.Sort(out)
	return out
}

func TestRegistryDuplicatePanics(t *testing.T) {
	r := DefaultRegistry()
	defer func() {
		if recover() == nil {
			t.Error("registering Conv twice did not panic")
		}
	}()
	r.Register("Conv", convRule{})
}

func TestRegistryCoversIssueOps(t *testing.T) {
	r := DefaultRegistry()
	for _, op := range []string{"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "PRelu", "Mul", "Add",
		"Concat", "Split", "Slice", "GlobalAveragePool", "MaxPool", "Resize", "Relu", "HardSigmoid", "Transpose", "Flatten", "Reshape"} {
		if r.Rule(op) == nil {
			t.Errorf("no rule for %s", op)
		}
	}
	if r.Rule("Foo") != nil || len(r.Ops()) < 40 {
		t.Errorf("registry: %d ops, Foo %v", len(r.Ops()), r.Rule("Foo"))
	}
}

// TestRuleResidualAndBN: a residual Add joins the two Convs' output
// channels (and BatchNormalization parameters) into one group, which also
// holds the depthwise Conv's weight and the next Conv's input slice.
func TestRuleResidualAndBN(t *testing.T) {
	d := depOf(t, onnxbuild.CNN())
	g := groupWithRoot(t, d, "Conv_0")
	if !slices.Equal(g.Roots, []string{"Conv_0", "Conv_1"}) || g.Units != 8 || g.Prunable() != 8 {
		t.Fatalf("residual group: roots %v, %d units (%d prunable)", g.Roots, g.Units, g.Prunable())
	}
	want := []string{
		"bn1.bias:0:shift", "bn1.running_mean:0:stat", "bn1.running_var:0:stat", "bn1.weight:0:scale",
		"bn2.bias:0:shift", "bn2.running_mean:0:stat", "bn2.running_var:0:stat", "bn2.weight:0:scale",
		"conv1.bias:0:bias", "conv1.weight:0:weight", "conv2.weight:0:weight", "conv2.weight:1:weight",
		"dw.bias:0:bias", "dw.weight:0:weight", "pw.weight:1:weight",
	}
	if got := coupledAxes(g); !slices.Equal(got, want) {
		t.Errorf("coupled slices:\n got %v\nwant %v", got, want)
	}
	// GlobalAveragePool → Flatten → Gemm: pw's channels are Gemm's features.
	g = groupWithRoot(t, d, "Conv_3")
	if got := coupledAxes(g); !slices.Contains(got, "fc.weight:1:weight") {
		t.Errorf("pw group does not reach the Gemm's input features: %v", got)
	}
	if g := groupWithRoot(t, d, "Gemm_0"); g.Prunable() != 0 || !strings.Contains(g.Reason, "graph output") {
		t.Errorf("output group: %d prunable, reason %q", g.Prunable(), g.Reason)
	}
}

// TestRuleConcatOffsets: Concat gives each input's channels their own
// units at their offsets.
func TestRuleConcatOffsets(t *testing.T) {
	d := depOf(t, onnxbuild.ConcatModel())
	g := groupWithRoot(t, d, "Conv_0")
	if g.Units != 8 || !slices.Equal(g.Roots, []string{"Conv_0", "Conv_1"}) {
		t.Fatalf("concat group: roots %v, %d units", g.Roots, g.Units)
	}
	cat := d.spaceOf["cat"]
	a, c := d.spaceOf["a.conv"], d.spaceOf["c.conv"]
	for i := range 6 {
		if g.UnitOf(cat, i) != g.UnitOf(a, i) {
			t.Errorf("cat[%d] is not a[%d]", i, i)
		}
	}
	for i := range 2 {
		if g.UnitOf(cat, 6+i) != g.UnitOf(c, i) || g.UnitOf(c, i) == g.UnitOf(a, i) {
			t.Errorf("cat[%d] is not c[%d]", 6+i, i)
		}
	}
}

// TestRuleSEBlock: the SE gate's expand Conv is coupled to the trunk by
// the Mul; the squeeze channels are their own group.
func TestRuleSEBlock(t *testing.T) {
	d := depOf(t, onnxbuild.SEBlock())
	g := groupWithRoot(t, d, "Conv_0")
	if !slices.Contains(g.Roots, "Conv_2") || g.Prunable() != 0 {
		t.Errorf("trunk group: roots %v, %d prunable (y is the output)", g.Roots, g.Prunable())
	}
	if got := coupledAxes(g); !slices.Contains(got, "se.reduce.weight:1:weight") {
		t.Errorf("trunk group does not reach the squeeze Conv's input: %v", got)
	}
	if g := groupWithRoot(t, d, "Conv_1"); g.Units != 2 || g.Prunable() != 2 {
		t.Errorf("squeeze group: %d units, %d prunable", g.Units, g.Prunable())
	}
}

// TestRuleSplitTransposePerChannel: Split ranges, Transpose axes, PRelu
// slopes, per-channel Mul and Add constants.
func TestRuleSplitTransposePerChannel(t *testing.T) {
	d := depOf(t, onnxbuild.SplitTranspose())
	g := groupWithRoot(t, d, "Conv_0")
	if g.Units != 8 || g.Prunable() != 8 {
		t.Fatalf("stem group: %d units, %d prunable", g.Units, g.Prunable())
	}
	got := coupledAxes(g)
	for _, w := range []string{"a.weight:1:weight", "b.weight:1:weight"} {
		if !slices.Contains(got, w) {
			t.Errorf("stem group lacks %s: %v", w, got)
		}
	}
	if s := d.spaceOf["b.nhwc"]; s == nil || s.Axis != 3 || s.Size != 5 {
		t.Errorf("Transpose to NHWC: space %+v", s)
	}
	if g.UnitOf(d.spaceOf["b"], 0) != g.UnitOf(d.spaceOf["s"], 3) {
		t.Error("Split: b[0] is not s[3]")
	}
	g = groupWithRoot(t, d, "Conv_1")
	if !slices.Equal(g.Roots, []string{"Conv_1", "Conv_2"}) {
		t.Errorf("Add group roots %v", g.Roots)
	}
	got = coupledAxes(g)
	for _, w := range []string{"prelu.slope:0:scale", "scale:1:scale", "shift:0:shift", "out.weight:1:weight"} {
		if !slices.Contains(got, w) {
			t.Errorf("Add group lacks %s: %v", w, got)
		}
	}
}

// TestRuleDepthwiseMultiplierSlice: a depthwise Conv with multiplier 2
// joins each input channel with two output channels; a channel Slice
// takes a window.
func TestRuleDepthwiseMultiplierSlice(t *testing.T) {
	d := depOf(t, onnxbuild.DepthwiseSlice())
	g := groupWithRoot(t, d, "Conv_0")
	if g.Units != 4 {
		t.Fatalf("pw group: %d units", g.Units)
	}
	pw, dw, sl := d.spaceOf["pw"], d.spaceOf["dw"], d.spaceOf["sl"]
	for c := range 4 {
		if g.UnitOf(dw, 2*c) != g.UnitOf(pw, c) || g.UnitOf(dw, 2*c+1) != g.UnitOf(pw, c) {
			t.Errorf("dw channels %d, %d are not pw channel %d", 2*c, 2*c+1, c)
		}
	}
	if sl.Size != 6 || g.UnitOf(sl, 0) != g.UnitOf(pw, 1) {
		t.Errorf("slice window: size %d", sl.Size)
	}
	// Unit 0 (dw channels 0, 1) is outside the window: pruning it leaves
	// the Slice [2,8) → [0,6) with 4 channels left in it.
	plan := &StructuredPlan{Schema: StructuredSchema, InputShapes: d.InputShapes,
		Groups: []GroupPlan{{ID: g.ID, Roots: g.Roots, Units: g.Units, Pruned: []int{g.UnitOf(pw, 0), g.UnitOf(pw, 2)}}}}
	m := modelOf(t, onnxbuild.DepthwiseSlice())
	if err := ApplyStructured(m, plan); err != nil {
		t.Fatal(err)
	}
	var dwNode, slNode *onnx.NodeProto
	for _, n := range m.Graph().GetNode() {
		switch n.GetOpType() {
		case "Conv":
			if AttrInt(n, "group", 1) > 1 {
				dwNode = n
			}
		case "Slice":
			slNode = n
		}
	}
	if g := AttrInt(dwNode, "group", 1); g != 2 {
		t.Errorf("depthwise group = %d after pruning 2 of 4 channels", g)
	}
	c := &Coupler{d: &DepGraph{params: paramsByName(m), producer: map[string]*onnx.NodeProto{}}}
	st, _ := c.Ints(slNode, 1)
	en, _ := c.Ints(slNode, 2)
	// Kept dw channels 2, 3, 6, 7 (of 0…7) are all inside [2, 8): [0, 4).
	if !slices.Equal(st, []int64{0}) || !slices.Equal(en, []int64{4}) {
		t.Errorf("slice bounds %v:%v, want [0]:[4]", st, en)
	}
}

func paramsByName(m *onnxio.Model) map[string]*onnxio.Param {
	out := map[string]*onnxio.Param{}
	for _, p := range m.Params() {
		out[p.Name] = p
	}
	return out
}

// TestRuleRefusals: the reasons groups are not pruned.
func TestRuleRefusals(t *testing.T) {
	// Shuffle: followed through the channel shuffle to the graph output.
	d := depOf(t, onnxbuild.Shuffle())
	if g := groupWithRoot(t, d, "Conv_2"); g.Prunable() != 0 || !strings.Contains(g.Reason, "y is a graph output") {
		t.Errorf("shuffle group: %d prunable, reason %q", g.Prunable(), g.Reason)
	}
	if g := groupWithRoot(t, d, "Conv_0"); g.Prunable() != 4 {
		t.Errorf("branch group inside the shuffle unit: %d prunable", g.Prunable())
	}
	// Softmax over channels, Shape, an op without a rule.
	for _, c := range []struct {
		op   string
		why  string
		attr []*onnx.AttributeProto
	}{
		{"Softmax", "normalizes over the channel axis", []*onnx.AttributeProto{onnxbuild.AttrInt("axis", 1)}},
		{"Shape", "read by Shape", nil},
		{"LRN", "across channels", []*onnx.AttributeProto{onnxbuild.AttrInt("size", 3)}},
		{"Tile", "no rule covers", nil},
	} {
		b := onnxbuild.New(13)
		b.Input("x", onnxbuild.Float, 1, 3, 4, 4)
		w := b.Init("w", []int64{4, 3, 1, 1}, onnxbuild.Rand(1, 12, 1))
		b.Node("Conv", []string{"x", w}, []string{"c"})
		in := []string{"c"}
		if c.op == "Tile" {
			in = append(in, b.InitInt64("repeats", []int64{4}, []int64{1, 1, 2, 1}))
		}
		b.Node(c.op, in, []string{"y"}, c.attr...)
		b.OutputDyn("y", onnxbuild.Float)
		d := depOf(t, b.Model())
		if g := groupWithRoot(t, d, "Conv_0"); g.Prunable() != 0 || !strings.Contains(g.Reason, c.why) {
			t.Errorf("%s: %d prunable, reason %q, want %q", c.op, g.Prunable(), g.Reason, c.why)
		}
	}
}

// TestDepGraphShapesUnknown: a model whose shapes cannot be inferred — an
// op the engine lacks, an input shape of the wrong rank — is an error
// naming the op or the input, not a graph with nothing to prune.
func TestDepGraphShapesUnknown(t *testing.T) {
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 1, 3, 4, 4)
	w := b.Init("w", []int64{4, 3, 1, 1}, onnxbuild.Rand(1, 12, 1))
	b.Node("Conv", []string{"x", w}, []string{"c"})
	b.Node("SpaceToDepth", []string{"c"}, []string{"y"}, onnxbuild.AttrInt("blocksize", 2))
	b.OutputDyn("y", onnxbuild.Float)
	m := modelOf(t, b.Model())
	if _, err := BuildDepGraph(m); !errors.Is(err, ErrShapes) || !strings.Contains(err.Error(), "SpaceToDepth") {
		t.Errorf("unsupported op: %v", err)
	}
	m = modelOf(t, onnxbuild.CNN())
	in := m.Graph().GetInput()[0].GetName()
	_, err := BuildDepGraph(m, WithInputShapes(map[string][]int64{in: {1, 3}}))
	if !errors.Is(err, ErrShapes) || !strings.Contains(err.Error(), in) || !strings.Contains(err.Error(), "rank") {
		t.Errorf("wrong rank: %v", err)
	}
}

// TestRuleConstantWeights: paddle2onnx's Constant-node weights and a
// Reshape [0,-1] into MatMul.
func TestRuleConstantWeights(t *testing.T) {
	d := depOf(t, onnxbuild.ConstWeights())
	g := groupWithRoot(t, d, "Conv_0")
	if g.Prunable() != 4 {
		t.Fatalf("%d prunable:\n%s", g.Prunable(), d)
	}
	var w *Coupled
	for _, c := range g.Coupled {
		if c.Op == "MatMul" {
			w = c
		}
	}
	if w == nil || w.Param.Where != onnxio.ConstantNode || w.Space.Size != 64 {
		t.Fatalf("MatMul input features not coupled: %+v", w)
	}
}

// TestStructuredSelection: layer and global counts, round_to,
// min_channels, include/exclude, criteria.
func TestStructuredSelection(t *testing.T) {
	m := modelOf(t, onnxbuild.ReshapeGemm())
	plan := func(opts ...Option) *StructuredPlan {
		t.Helper()
		sp, err := NewStructured(append([]Option{WithRoundTo(1)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		p, err := sp.Plan(m)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	kept := func(p *StructuredPlan) []int {
		var k []int
		for _, g := range p.Groups {
			k = append(k, g.Kept)
		}
		return k
	}
	if k := kept(plan(WithSparsity(0.5), WithScope(Layer))); !slices.Equal(k, []int{4, 8, 5}) {
		t.Errorf("layer 0.5: kept %v, want [4 8 5]", k)
	}
	if k := kept(plan(WithSparsity(0.7), WithScope(Layer), WithRoundTo(4))); !slices.Equal(k, []int{4, 8, 5}) {
		t.Errorf("layer 0.7 round 4: kept %v, want [4 8 5] (3 and 5 rounded up)", k)
	}
	if k := kept(plan(WithSparsity(0.9), WithScope(Layer), WithMinChannels(3))); !slices.Equal(k, []int{3, 3, 5}) {
		t.Errorf("layer 0.9 min 3: kept %v, want [3 3 5]", k)
	}
	p := plan(WithSparsity(0.5))
	if p.Totals.PrunedUnits != 12 { // round(0.5·(8+16)), the output group excluded
		t.Errorf("global 0.5: %d pruned, want 12", p.Totals.PrunedUnits)
	}
	p = plan(WithSparsity(0.5), WithScope(Layer), WithExcludeGroups(regexp.MustCompile("^Gemm")))
	if k := kept(p); !slices.Equal(k, []int{4, 16, 5}) || p.Groups[1].Reason != "excluded by --exclude" {
		t.Errorf("exclude Gemm: kept %v, reason %q", k, p.Groups[1].Reason)
	}
	p = plan(WithSparsity(0.5), WithScope(Layer), WithIncludeGroups(regexp.MustCompile(`^conv\.weight$`)))
	if k := kept(p); !slices.Equal(k, []int{4, 16, 5}) {
		t.Errorf("include conv.weight: kept %v", k)
	}
	spNone, err := NewStructured(WithSparsity(0.5), WithIncludeGroups(regexp.MustCompile("nothing")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spNone.Plan(m); err == nil || !strings.Contains(err.Error(), "matches no group") {
		t.Errorf("include matching nothing: %v", err)
	}
	// bn scores only the group with a BatchNormalization.
	p = plan(WithSparsity(0.5), WithScope(Layer), WithCriterion(BNScale{}))
	if k := kept(p); !slices.Equal(k, []int{4, 16, 5}) || !strings.Contains(p.Groups[1].Reason, "no BatchNormalization") {
		t.Errorf("bn: kept %v, reason %q", k, p.Groups[1].Reason)
	}
	// bn on a model without any: a clear error.
	sp, _ := NewStructured(WithSparsity(0.5), WithCriterion(BNScale{}))
	if _, err := sp.Plan(modelOf(t, onnxbuild.MLP())); err == nil || !strings.Contains(err.Error(), "no BatchNormalization") {
		t.Errorf("bn without BatchNormalization: %v", err)
	}
	// random: seeded, deterministic, and not L1's choice.
	r1 := plan(WithSparsity(0.5), WithCriterion(Random{Seed: 7}))
	r2 := plan(WithSparsity(0.5), WithCriterion(Random{Seed: 7}))
	r3 := plan(WithSparsity(0.5), WithCriterion(Random{Seed: 8}))
	if !slices.Equal(r1.Groups[1].Pruned, r2.Groups[1].Pruned) || slices.Equal(r1.Groups[1].Pruned, r3.Groups[1].Pruned) {
		t.Errorf("random: seed 7 %v, again %v, seed 8 %v", r1.Groups[1].Pruned, r2.Groups[1].Pruned, r3.Groups[1].Pruned)
	}
}

// paramSeen is an Importance that records the parameters it is asked to
// score, as a criterion from calibration data looks its data up.
type paramSeen struct{ seen map[string]bool }

func (paramSeen) Name() string { return "seen" }
func (paramSeen) Norm() int    { return 1 }
func (p paramSeen) Score(dst, w []float32, t *Target, _ int) {
	p.seen[t.Param.Name] = true
	absInto(dst, w)
}

// TestGroupNormTarget: GroupNorm passes each coupled parameter as the
// Target, so a per-weight criterion finds its data.
func TestGroupNormTarget(t *testing.T) {
	d := depOf(t, onnxbuild.SEBlock())
	g := groupWithRoot(t, d, "Conv_1")
	imp := paramSeen{seen: map[string]bool{}}
	if _, err := (GroupNorm{imp}).Scores(make([]float32, g.Units), g); err != nil {
		t.Fatal(err)
	}
	if !imp.seen["se.reduce.weight"] || !imp.seen["se.expand.weight"] {
		t.Errorf("parameters scored: %v", imp.seen)
	}
}

// TestGroupNormScores: L1 over all coupled weight slices of a unit.
func TestGroupNormScores(t *testing.T) {
	d := depOf(t, onnxbuild.SEBlock())
	g := groupWithRoot(t, d, "Conv_1") // se.reduce [2,8,1,1] out, se.expand [8,2,1,1] in
	s := make([]float32, g.Units)
	if _, err := (GroupNorm{Magnitude{}}).Scores(s, g); err != nil {
		t.Fatal(err)
	}
	m := modelOf(t, onnxbuild.SEBlock())
	ps := paramsByName(m)
	red, _, _ := ps["se.reduce.weight"].Float32()
	exp, _, _ := ps["se.expand.weight"].Float32()
	for u := range 2 {
		want := 0.0
		for i := range 8 {
			want += abs64(red[u*8+i]) + abs64(exp[i*2+u])
		}
		if d := float64(s[u]) - want; d > 1e-5*want || d < -1e-5*want {
			t.Errorf("unit %d: L1 %g, want %g", u, s[u], want)
		}
	}
}

func abs64(v float32) float64 {
	if v < 0 {
		return -float64(v)
	}
	return float64(v)
}

// TestStructuredPlanReplay: a plan read back from JSON shrinks a fresh
// copy of the model exactly as the original run did.
func TestStructuredPlanReplay(t *testing.T) {
	sp, err := NewStructured(WithSparsity(0.4), WithRoundTo(2))
	if err != nil {
		t.Fatal(err)
	}
	m := modelOf(t, onnxbuild.CNN())
	plan, err := sp.Prune(m)
	if err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if err := plan.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadStructuredPlan(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m2 := modelOf(t, onnxbuild.CNN())
	if err := ApplyStructured(m2, back); err != nil {
		t.Fatal(err)
	}
	a, _ := m.Marshal()
	b, _ := m2.Marshal()
	if !bytes.Equal(a, b) {
		t.Error("replayed plan gives a different model")
	}
	if back.Totals.ParamsAfter != plan.Totals.ParamsAfter || plan.Totals.ParamsAfter >= plan.Totals.ParamsBefore {
		t.Errorf("params %d → %d, replay %d", plan.Totals.ParamsBefore, plan.Totals.ParamsAfter, back.Totals.ParamsAfter)
	}
	// A plan naming a unit that cannot go is refused before anything changes.
	bad := *back
	bad.Groups = slices.Clone(back.Groups)
	last := len(bad.Groups) - 1
	bad.Groups[last].Pruned = []int{0}
	if err := ApplyStructured(modelOf(t, onnxbuild.CNN()), &bad); err == nil {
		t.Error("pruning a unit of the output group was accepted")
	}
	if _, err := ReadStructuredPlan(strings.NewReader(`{"schema":"edgeprune.prune/v1"}`)); err == nil {
		t.Error("wrong schema accepted")
	}
}

// TestOracleCatchesWrongRule: with a rule that wrongly passes channels
// through a Softmax over them, the shrunk and masked models differ in ORT —
// the oracle can fail.
func TestOracleCatchesWrongRule(t *testing.T) {
	o := ortoracle.ForTest(t)
	py := testmodels.PythonONNX(t)
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 1, 3, 4, 4)
	w := b.Init("w1", []int64{6, 3, 1, 1}, onnxbuild.Rand(1, 18, 1))
	b.Node("Conv", []string{"x", w}, []string{"c"})
	b.Node("Softmax", []string{"c"}, []string{"s"}, onnxbuild.AttrInt("axis", 1))
	w = b.Init("w2", []int64{2, 6, 1, 1}, onnxbuild.Rand(2, 12, 1))
	b.Node("Conv", []string{"s", w}, []string{"y"})
	b.Output("y", onnxbuild.Float, 1, 2, 4, 4)
	path := filepath.Join(t.TempDir(), "softmax.onnx")
	if err := os.WriteFile(path, onnxbuild.Marshal(b.Model()), 0o644); err != nil {
		t.Fatal(err)
	}
	wrong := DefaultRegistry()
	delete(wrong.rules, "Softmax")
	wrong.Register("Softmax", unaryRule{})
	r := runOracle(t, o, py, path, nil, WithSparsity(0.5), WithRegistry(wrong))
	if r.maxErr <= 1e-4*r.scale {
		t.Errorf("a wrong Softmax rule went unnoticed: max difference %.3g of %.3g", r.maxErr, r.scale)
	}
	sp, _ := NewStructured(WithSparsity(0.5), WithRoundTo(1))
	if _, err := sp.Plan(modelOf(t, b.Model())); err == nil {
		t.Error("the right rules pruned across a channel Softmax")
	}
}

// TestRuleGroupedConv: a grouped Conv prunes channel j of every group
// together, on its input (weight column j) and its output, and keeps its
// group count; the shrunk layers stay consistent.
func TestRuleGroupedConv(t *testing.T) {
	d := depOf(t, onnxbuild.GroupedConv())
	for _, c := range []struct {
		root          string
		units, stride int // channel j and j+stride·i share a unit
	}{
		{"Conv_0", 2, 2}, // read by Conv_1: group 4, 2 in per group
		{"Conv_1", 3, 3}, // 3 out per group; Conv_2 (group 2, 6 in) agrees
		{"Conv_2", 3, 3}, // group 2, 3 out per group
	} {
		g := groupWithRoot(t, d, c.root)
		s := g.Spaces[0]
		if g.Units != c.units || g.Prunable() != c.units {
			t.Errorf("%s: %d units (%d prunable), want %d", c.root, g.Units, g.Prunable(), c.units)
			continue
		}
		for ch := range s.Size {
			if u, v := g.UnitOf(s, ch), g.UnitOf(s, ch%c.stride); u != v {
				t.Errorf("%s: channel %d is unit %d, channel %d unit %d", c.root, ch, u, ch%c.stride, v)
			}
		}
	}
	if got := coupledAxes(groupWithRoot(t, d, "Conv_0")); !slices.Contains(got, "g1.weight:1:weight") {
		t.Errorf("Conv_1's weight columns do not follow Conv_0's channels: %v", got)
	}

	m := modelOf(t, onnxbuild.GroupedConv())
	sp, err := NewStructured(WithSparsity(0.5), WithScope(Layer), WithRoundTo(1))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sp.Prune(m)
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int64{}
	for _, l := range plan.Layers {
		shapes[l.Node] = l.ShapeAfter
	}
	for _, n := range m.Graph().GetNode() {
		if g := AttrInt(n, "group", 1); g > 1 {
			w, in := shapes[n.GetName()], shapes[map[string]string{"Conv_1": "Conv_0", "Conv_2": "Conv_1"}[n.GetName()]]
			if w == nil || in == nil || w[0]%g != 0 || w[1]*g != in[0] || slices.Equal(w, []int64{12, 2, 3, 3}) {
				t.Errorf("%s (group %d): weight %v after an input of %v channels", n.GetName(), g, w, in)
			}
		}
	}
	for _, n := range m.Graph().GetNode() {
		if want := map[string]int64{"Conv_1": 4, "Conv_2": 2}[n.GetName()]; want != 0 && AttrInt(n, "group", 1) != want {
			t.Errorf("%s: group %d after pruning, want %d", n.GetName(), AttrInt(n, "group", 1), want)
		}
	}
}

// TestRuleSubgraphReads: Conv heads inside If branches consume the main
// graph's channels (their weights follow them, branch initializer and
// Constant node alike); any other read inside a branch blocks them.
func TestRuleSubgraphReads(t *testing.T) {
	d := depOf(t, onnxbuild.IfHeads())
	g := groupWithRoot(t, d, "Conv_0")
	if g.Prunable() != 8 {
		t.Fatalf("%d of 8 prunable: %s", g.Prunable(), g.Reason)
	}
	got := coupledAxes(g)
	for _, want := range []string{"If_0/then_branch/then.weight:1:weight", "If_0/else_branch/else.weight:1:weight"} {
		if !slices.Contains(got, want) {
			t.Errorf("coupled %v: %s missing", got, want)
		}
	}

	mp := onnxbuild.IfHeads()
	for _, n := range mp.GetGraph().GetNode() {
		if n.GetOpType() == "If" {
			els := n.GetAttribute()[1].GetG()
			els.Node = append(els.Node, &onnx.NodeProto{OpType: proto.String("Relu"), Input: []string{"t"}, Output: []string{"else.relu"}})
		}
	}
	d = depOf(t, mp)
	if g := groupWithRoot(t, d, "Conv_0"); g.Prunable() != 0 || !strings.Contains(g.Reason, `t is read inside a subgraph by Relu "If_0/else_branch/Relu#3", which is not a Conv`) {
		t.Errorf("a branch reading the channels with Relu: %d prunable, reason %q", g.Prunable(), g.Reason)
	}
}

// TestPickUnitsKeepsEveryValue: a value of the group that is not a layer's
// output (one side of a Split) keeps a channel even when its channels score
// lowest, so no Conv is left reading zero channels.
func TestPickUnitsKeepsEveryValue(t *testing.T) {
	d := depOf(t, onnxbuild.SplitTranspose())
	g := groupWithRoot(t, d, "Conv_0")
	var a *Space
	for _, s := range g.Spaces {
		if s.Value == "a" {
			a = s
		}
	}
	if a == nil || a.Size != 3 {
		t.Fatalf("no 3-channel split value a in %v", g.Spaces)
	}
	scores := make([]float32, g.Units)
	for u := range scores {
		scores[u] = 10 + float32(u)
	}
	for i := range a.Size {
		scores[g.UnitOf(a, i)] = float32(i) // a's channels first
	}
	got := pickUnits(g, scores, 4, 1)
	inA := 0
	for _, u := range got {
		for i := range a.Size {
			if g.UnitOf(a, i) == u {
				inA++
			}
		}
	}
	if len(got) != 4 || inA != 2 {
		t.Errorf("picked %v: %d of a's 3 channels, want 4 units with 2 of a's", got, inA)
	}
}

// TestStructuredDefaultRoundTo: with no RoundTo the kept channel counts are
// multiples of DefaultRoundTo (or the whole group), and the plan says so.
func TestStructuredDefaultRoundTo(t *testing.T) {
	m := modelOf(t, onnxbuild.CNN())
	sp, err := NewStructured(WithSparsity(0.5), WithScope(Layer))
	if err != nil {
		t.Fatal(err)
	}
	p, err := sp.Plan(m)
	if err != nil {
		t.Fatal(err)
	}
	if p.RoundTo != DefaultRoundTo || DefaultRoundTo != 8 {
		t.Fatalf("plan round_to %d, DefaultRoundTo %d: want 8", p.RoundTo, DefaultRoundTo)
	}
	pruned := 0
	for _, g := range p.Groups {
		if g.Kept != g.Units && g.Kept%DefaultRoundTo != 0 {
			t.Errorf("group %d keeps %d of %d channels: not a multiple of %d", g.ID, g.Kept, g.Units, DefaultRoundTo)
		}
		pruned += len(g.Pruned)
	}
	if pruned != 8 { // the 16-channel group loses 8; the 8-channel group cannot go below 8
		t.Errorf("pruned %d channels, want 8", pruned)
	}
}

// TestOptionsApply: one Option vocabulary; an option given to a
// constructor it does not apply to is refused by name.
func TestOptionsApply(t *testing.T) {
	m := modelOf(t, onnxbuild.CNN())
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"structured pattern", func() error {
			_, err := NewStructured(WithSparsity(0.5), WithPattern(Pattern{Kind: NM, N: 2, M: 4}))
			return err
		}(), "WithPattern"},
		{"unstructured round", func() error { _, err := New(WithSparsity(0.5), WithRoundTo(8)); return err }(), "WithRoundTo"},
		{"graph sparsity", func() error { _, err := BuildDepGraph(m, WithSparsity(0.5)); return err }(), "WithSparsity"},
	} {
		if !errors.Is(c.err, ErrInvalid) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvalid naming %s", c.name, c.err, c.want)
		}
	}
	if _, err := NewStructured(WithSparsity(0.5), WithScope(Layer), WithInputShapes(nil), WithRegistry(DefaultRegistry())); err != nil {
		t.Errorf("structured with graph options: %v", err)
	}
}
