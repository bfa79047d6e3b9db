package prune

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// structuredShapes are the input shapes for models with dynamic spatial
// dimensions.
var structuredShapes = map[string]map[string][]int64{
	"ppocr_det": ortoracle.OCRShapes["ppocr_det"],
	"ppocr_cls": ortoracle.OCRShapes["ppocr_cls"],
}

// checkONNX runs onnx.checker.check_model(full_check=True) on every file.
func checkONNX(t *testing.T, py string, paths ...string) {
	t.Helper()
	script := `import onnx, sys
for p in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(p), full_check=True)
    except Exception as e:
        print(p, ":", str(e).splitlines()[0] if str(e) else e)
        sys.exit(1)
`
	out, err := exec.Command(py, append([]string{"-c", script}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker: %v: %s", err, out)
	}
}

// oracleResult is what one structured pruning case measured.
type oracleResult struct {
	plan   *StructuredPlan
	shrunk *onnxio.Model // as written
	maxErr float64
	scale  float64
}

// pruneOracle prunes the model at path with opts twice — shrunk and
// masked, the masked copy replaying the shrunk run's plan read back from
// JSON — and checks: both pass onnx.checker, both run in ORT, their outputs
// agree to 1e-4 of the output scale, the written shrunk model has the
// parameter count and layer shapes the plan reports, and pruned groups lost
// parameters.
func pruneOracle(t *testing.T, o *ortoracle.Oracle, py, path string, shapes map[string][]int64, opts ...Option) oracleResult {
	t.Helper()
	res := runOracle(t, o, py, path, shapes, opts...)
	if res.maxErr > 1e-4*res.scale {
		t.Errorf("shrunk and masked outputs differ by %.3g (output scale %.3g, tolerance %.3g)", res.maxErr, res.scale, 1e-4*res.scale)
	}
	return res
}

// runOracle is pruneOracle without the final comparison: it returns the
// largest difference between the shrunk and masked outputs.
func runOracle(t *testing.T, o *ortoracle.Oracle, py, path string, shapes map[string][]int64, opts ...Option) oracleResult {
	t.Helper()
	return runOracleEdit(t, o, py, path, shapes, nil, opts...)
}

// runOracleEdit is runOracle with a chosen selection: edit changes the
// plan's pruned units before it is applied and replayed.
func runOracleEdit(t *testing.T, o *ortoracle.Oracle, py, path string, shapes map[string][]int64, edit func(*StructuredPlan), opts ...Option) oracleResult {
	t.Helper()
	dir := t.TempDir()
	sp, err := NewStructured(append(append([]Option{WithRoundTo(1)}, opts...), WithInputShapes(shapes))...) // exact ratios: the test models have few channels
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
	if edit != nil {
		edit(plan)
		plan.sumGroups()
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
	var dopts []Option
	if sp.c.reg != nil {
		dopts = append(dopts, WithRegistry(sp.c.reg))
	}
	if err := MaskStructured(mm, replay, dopts...); err != nil {
		t.Fatalf("masked replay: %v", err)
	}
	// A saturated Sigmoid output (PP-OCR det on noise) hides differences:
	// compare its logits too.
	exposeLogits(m)
	exposeLogits(mm)
	shrunk, masked := filepath.Join(dir, "shrunk.onnx"), filepath.Join(dir, "masked.onnx")
	if err := m.WriteFile(shrunk); err != nil {
		t.Fatal(err)
	}
	if err := mm.WriteFile(masked); err != nil {
		t.Fatal(err)
	}
	if plan.Totals.PrunedUnits == 0 {
		t.Fatalf("nothing pruned:\n%s", plan.dg)
	}
	checkONNX(t, py, shrunk, masked)

	// Parameters and layer shapes as reported.
	back, err := onnxio.ReadFile(shrunk)
	if err != nil {
		t.Fatal(err)
	}
	if got := countParams(back); got != plan.Totals.ParamsAfter || got >= plan.Totals.ParamsBefore {
		t.Errorf("shrunk model has %d parameters; plan says %d → %d", got, plan.Totals.ParamsBefore, plan.Totals.ParamsAfter)
	}
	// The masked model keeps every shape (private copies of shared
	// parameters may add some).
	if mp := countParams(mm); mp < plan.Totals.ParamsBefore {
		t.Errorf("masked model has %d parameters, fewer than the original %d", mp, plan.Totals.ParamsBefore)
	}
	for _, l := range replay.Layers {
		if !slices.Equal(l.ShapeBefore, l.ShapeAfter) {
			t.Errorf("masked model: layer %s weight %v → %v", l.Node, l.ShapeBefore, l.ShapeAfter)
		}
	}
	byID := map[string]*onnxio.Param{}
	for _, p := range back.Params() {
		byID[p.Name] = p
	}
	for _, l := range plan.Layers {
		if slices.Equal(l.ShapeBefore, l.ShapeAfter) {
			continue
		}
		found := false
		for _, n := range back.Graph().GetNode() {
			if nodeLabelOf(back, n) == l.Node {
				p := byID[n.GetInput()[1]]
				found = p != nil && slices.Equal(p.Shape(), l.ShapeAfter)
			}
		}
		if !found {
			t.Errorf("layer %s: weight shape %v not found in the shrunk model", l.Node, l.ShapeAfter)
		}
	}

	// Shrunk == masked in ORT.
	in, err := ortoracle.InputsFor(path, 3, shapes)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var got, want []ortoracle.Tensor
	var err1, err2 error
	wg.Add(2)
	go func() { defer wg.Done(); got, err1 = o.Run(context.Background(), shrunk, in) }()
	go func() { defer wg.Done(); want, err2 = o.Run(context.Background(), masked, in) }()
	wg.Wait()
	if err1 != nil {
		t.Fatalf("shrunk model does not run in ORT: %v", err1)
	}
	if err2 != nil {
		t.Fatalf("masked model does not run in ORT: %v", err2)
	}
	res := oracleResult{plan: plan, shrunk: back}
	for i := range want {
		g, e1 := got[i].Float32()
		w, e2 := want[i].Float32()
		if e1 != nil || e2 != nil || !slices.Equal(got[i].Shape, want[i].Shape) {
			t.Fatalf("output %d: shrunk %v %v, masked %v %v", i, got[i].Shape, e1, want[i].Shape, e2)
		}
		for j := range w {
			res.scale = max(res.scale, math.Abs(float64(w[j])))
			d := math.Abs(float64(g[j]) - float64(w[j]))
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			res.maxErr = max(res.maxErr, d)
		}
	}
	if res.scale == 0 {
		res.scale = 1
	}
	return res
}

// exposeLogits adds the input of every Sigmoid that makes a graph output
// as another graph output.
func exposeLogits(m *onnxio.Model) {
	g := m.Graph()
	outs := map[string]*onnx.ValueInfoProto{}
	for _, o := range g.GetOutput() {
		outs[o.GetName()] = o
	}
	for _, n := range g.GetNode() {
		if o := outs[n.GetOutput()[0]]; n.GetOpType() == "Sigmoid" && o != nil && outs[n.GetInput()[0]] == nil {
			vi := proto.Clone(o).(*onnx.ValueInfoProto) // same shape
			vi.Name = proto.String(n.GetInput()[0])
			g.Output = append(g.Output, vi)
			outs[vi.GetName()] = vi
		}
	}
}

// nodeLabelOf labels a node of m's main graph as the depgraph does.
func nodeLabelOf(m *onnxio.Model, n0 interface{ GetName() string }) string {
	for i, n := range m.Graph().GetNode() {
		if any(n) == any(n0) {
			return onnxio.NodeLabel(n, i)
		}
	}
	return ""
}

// TestStructuredORT prunes every real model at 0.3 and 0.5 and checks the
// oracle (see pruneOracle).
func TestStructuredORT(t *testing.T) {
	o := ortoracle.ForTest(t)
	py := testmodels.PythonONNX(t)
	models := testmodels.All(t)
	for _, tm := range models {
		for _, sp := range []float64{0.3, 0.5} {
			t.Run(tm.Name+"/"+ftoa(sp), func(t *testing.T) {
				t.Parallel()
				opts := []Option{WithSparsity(sp)}
				if sp == 0.5 {
					opts = append(opts, WithScope(Layer), WithRoundTo(8))
				}
				r := pruneOracle(t, o, py, tm.Path, structuredShapes[tm.Name], opts...)
				tt := r.plan.Totals
				t.Logf("%s %g %s: groups %d (%d pruned, %d refused), channels %d → %d, params %d → %d (%.1f%%), MACs %d → %d (%.1f%%), max |shrunk−masked| %.2g of %.3g",
					tm.Name, sp, r.plan.Scope, tt.Groups, tt.PrunedGroups, tt.RefusedGroups, tt.Units, tt.Units-tt.PrunedUnits,
					tt.ParamsBefore, tt.ParamsAfter, 100*float64(tt.ParamsAfter)/float64(tt.ParamsBefore),
					tt.MACsBefore, tt.MACsAfter, 100*float64(tt.MACsAfter)/float64(tt.MACsBefore), r.maxErr, r.scale)
			})
		}
	}
}

// TestStructuredORTBuilder runs the oracle on the builder's canned models
// with residuals, concat, depthwise and SE blocks, and the structured ones.
func TestStructuredORTBuilder(t *testing.T) {
	o := ortoracle.ForTest(t)
	py := testmodels.PythonONNX(t)
	var cases []onnxbuild.Canned
	for _, c := range onnxbuild.CannedModels() {
		// if, float16_weights and float64_weights have one layer, whose
		// output is the graph's: no channel may go.
		if !slices.Contains([]string{"if", "float16_weights", "float64_weights"}, c.Name) {
			cases = append(cases, c)
		}
	}
	cases = append(cases, onnxbuild.StructuredModels()...)
	for _, c := range cases {
		for _, sp := range []float64{0.3, 0.5} {
			t.Run(c.Name+"/"+ftoa(sp), func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), c.Name+".onnx")
				if err := os.WriteFile(path, onnxbuild.Marshal(c.Build()), 0o644); err != nil {
					t.Fatal(err)
				}
				crit := "l1"
				if c.Name == "cnn" && sp == 0.5 {
					crit = "bn"
				}
				imp, err := GroupImportanceByName(crit, 1)
				if err != nil {
					t.Fatal(err)
				}
				r := pruneOracle(t, o, py, path, nil, WithSparsity(sp), WithCriterion(imp), WithScope(Layer))
				t.Logf("%s %g: channels %d → %d, params %d → %d, max err %.2g of %.3g", c.Name, sp,
					r.plan.Totals.Units, r.plan.Totals.Units-r.plan.Totals.PrunedUnits, r.plan.Totals.ParamsBefore, r.plan.Totals.ParamsAfter, r.maxErr, r.scale)
			})
		}
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
