package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestConvPathEveryChoice builds convolutions of many geometries asking
// the builder for each path in turn (as a tune record does): a path the
// layer can take (pathOK) is the one built, any other leaves the rules'
// path, and every path built gives the reference result (within 1e-5 of
// the output's scale) and the same bits on 1 and 3 threads.
func TestConvPathEveryChoice(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	cases := []struct {
		x, w  []int
		attrs map[string][]int64
	}{
		{[]int{1, 3, 9, 9}, []int{4, 3, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}},
		{[]int{2, 4, 8, 7}, []int{6, 2, 3, 2}, map[string][]int64{"group": {2}, "strides": {2, 1}, "pads": {0, 1, 2, 0}}},
		{[]int{1, 8, 10, 10}, []int{8, 1, 3, 3}, map[string][]int64{"group": {8}, "pads": {1, 1, 1, 1}}},                    // depthwise
		{[]int{2, 9, 10, 14}, []int{9, 1, 3, 3}, map[string][]int64{"group": {9}, "strides": {2, 2}, "pads": {1, 1, 1, 1}}}, // depthwise, stride 2
		{[]int{1, 5, 6, 6}, []int{7, 5, 1, 1}, nil},                                                                         // pointwise
		{[]int{1, 300, 9, 8}, []int{26, 300, 1, 1}, nil},                                                                    // pointwise, 2 depth blocks
		{[]int{1, 3, 14, 13}, []int{5, 3, 5, 3}, map[string][]int64{"dilations": {2, 1}, "strides": {3, 2}}},                // strided, dilated
		{[]int{1, 64, 7, 7}, []int{32, 64, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}},
		{[]int{1, 80, 7, 7}, []int{100, 80, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}},
		{[]int{1, 40, 20, 20}, []int{30, 40, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}},
		{[]int{2, 40, 14, 76}, []int{24, 40, 1, 1}, map[string][]int64{"strides": {2, 2}}},                    // 1×1 stride 2
		{[]int{1, 3, 23, 20}, []int{8, 3, 7, 7}, map[string][]int64{"strides": {2, 2}, "pads": {3, 3, 3, 3}}}, // stem
		{[]int{1, 40, 14, 14}, []int{36, 40, 3, 3}, map[string][]int64{"strides": {2, 2}, "pads": {1, 1, 1, 1}}},
		{[]int{1, 4, 6, 70}, []int{10, 4, 3, 3}, map[string][]int64{"pads": {1, 2, 1, 0}}}, // wide rows
	}
	kern := activeKernel()
	built := map[string]int{}
	for i, c := range cases {
		x, w, bias := randSlice(r, numel(c.x)), randSlice(r, numel(c.w)), randSlice(r, c.w[0])
		rule, outShape := convCase(t, c.x, c.w, w, true, c.attrs, "")
		want := make([]float32, numel(outShape))
		rule.convRef(x, w, bias, want)
		scale := maxAbs(want)
		act := &clampAct{lo: -0.25, hi: 0.5}
		act.apply(want)
		ruleKern := kern
		if rule.depthwise {
			ruleKern = nil
		}
		for _, p := range ConvPaths {
			t.Run(fmt.Sprintf("%d/%s", i, p), func(t *testing.T) {
				b := &buildCtx{opset: 13, nOut: 1, attrs: attrMap(c.attrs, ""), c: &compiler{pathsAll: p}}
				b.in = []*value{{dt: onnxio.Float, shape: c.x}, {dt: onnxio.Float, shape: c.w, konst: &data{shape: c.w, f: w}}, {dt: onnxio.Float, shape: []int{c.w[0]}}}
				bt, err := buildConv(b)
				if err != nil {
					t.Fatal(err)
				}
				k := bt.k.(*convKernel)
				wantPath := rule.path()
				if rule.pathOK(p, ruleKern) {
					wantPath = p
				}
				if k.path() != wantPath {
					t.Fatalf("asked for %s: built %s, want %s (rules: %s)", p, k.path(), wantPath, rule.path())
				}
				built[k.path()]++
				k.act = act
				in := []*data{{shape: c.x, f: x}, {shape: c.w, f: w}, {f: bias}}
				var one []float32
				for _, threads := range []int{1, 3} {
					got := make([]float32, numel(outShape))
					fill(got, 1e9)
					k.forward(&exec{threads: threads, scratch: make([]float32, bt.scratch)}, in, []*data{{shape: outShape, f: got}})
					if e := relErr(want, got) * maxAbs(want) / scale; e > 1e-5 || math.IsNaN(e) {
						t.Fatalf("path %s, threads %d: differs from the reference by %.3g", k.path(), threads, e)
					}
					if one == nil {
						one = got
					} else if !slices.EqualFunc(one, got, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
						t.Fatalf("path %s: 3 threads differ from 1", k.path())
					}
				}
			})
		}
	}
	// Every path this CPU has was built somewhere (the list covers them).
	for _, p := range ConvPaths {
		has := kern.runTaps != nil || (p != PathImplicit && p != PathLinear)
		has = has && (swTapsKernel != nil || p != PathSwTaps) && (kern.partial && kern.mr == 8 || p != PathSwapped)
		has = has && (dwFlatRun != nil || p != PathDWFlat)
		if has && built[p] == 0 {
			t.Errorf("path %s never built", p)
		}
	}
}

// TestTuneRecord compiles PP-OCR det with every path asked of every Conv
// and checks, for each such plan: its tune record round-trips through a
// file; compiled with it, a fresh plan has the same paths and threads and
// gives the same bits, and agrees with the rules' plan to the rounding of
// the paths' sums; a record of another plan or machine is refused.
func TestTuneRecord(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.OCR(t, "det"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	shape := WithInputShape(m.Info().Inputs[0].Name, 1, 3, 96, 128)
	for _, threads := range []int{1, 2} {
		rule, err := Compile(m, shape, WithThreads(threads))
		if err != nil {
			t.Fatal(err)
		}
		in := RandomInputs(rule)
		ref, err := rule.Run(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		changed := 0
		for _, p := range ConvPaths {
			t.Run(fmt.Sprintf("threads=%d/%s", threads, p), func(t *testing.T) {
				v, err := Compile(m, shape, WithThreads(threads), withAllPaths(p))
				if err != nil {
					t.Fatal(err)
				}
				want, err := v.Run(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				rec := ThreadChoice{CPU: cpuModel(), GOARCH: runtime.GOARCH, Threads: threads, Nodes: v.recordNodes()}
				for i, n := range rec.Nodes {
					if rn := rule.recordNodes(); i < len(rn) && n.Path != rn[i].Path {
						changed++
					}
				}
				file := filepath.Join(t.TempDir(), "r.json")
				if err := SaveThreadChoice(file, rec); err != nil {
					t.Fatal(err)
				}
				back, err := LoadThreadChoice(file)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(back, rec) {
					t.Fatalf("record changed through its file:\n%+v\n%+v", back, rec)
				}
				q, err := Compile(m, shape, WithThreads(threads), WithTuneRecord(back))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(q.recordNodes(), rec.Nodes) {
					t.Fatal("plan compiled with the record differs from the record")
				}
				got, err := q.Run(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				for name, w := range want {
					wf, gf, rf := w.Data().([]float32), got[name].Data().([]float32), ref[name].Data().([]float32)
					if !slices.Equal(wf, gf) {
						t.Errorf("output %s: the record's plan differs from the plan measured", name)
					}
					if e := relErr(rf, gf); e > 1e-4 || math.IsNaN(e) {
						t.Errorf("output %s: differs from the rules' plan by %.3g", name, e)
					}
				}
				refused(t, m, shape, threads, back)
			})
		}
		// With the portable kernel (purego) every dense Conv has im2col
		// alone and every depthwise one its tap rows: nothing to change.
		if changed == 0 && activeKernel().runTaps != nil {
			t.Errorf("threads %d: no path asked for changed a Conv's path", threads)
		}
	}
	if _, err := CompileTrainable(m, shape, WithTuneRecord(ThreadChoice{})); err == nil {
		t.Error("CompileTrainable took a tune record")
	}
}

// refused checks that records derived from rec but not fitting the plan
// are refused with ErrThreadChoiceOtherPlan and a message that says why.
func refused(t *testing.T, m *onnxio.Model, shape Option, threads int, rec ThreadChoice) {
	t.Helper()
	conv := slices.IndexFunc(rec.Nodes, func(n NodeThread) bool { return n.Path != "" && n.Path != PathDWFlat && n.Path != PathDWRows })
	dw := slices.IndexFunc(rec.Nodes, func(n NodeThread) bool { return n.Path == PathDWFlat || n.Path == PathDWRows })
	edit := func(f func(r *ThreadChoice)) ThreadChoice {
		r := rec
		r.Nodes = slices.Clone(rec.Nodes)
		f(&r)
		return r
	}
	cases := []struct {
		name string
		rec  ThreadChoice
		msg  string
	}{
		{"renamed node", edit(func(r *ThreadChoice) { r.Nodes[conv].Name += "x" }), "x\""},
		{"node missing", edit(func(r *ThreadChoice) { r.Nodes = r.Nodes[1:] }), "nodes"},
		{"other CPU", edit(func(r *ThreadChoice) { r.CPU = "Cortex-A76" }), "Cortex-A76"},
		{"other threads", edit(func(r *ThreadChoice) { r.Threads = threads + 1 }), "threads"},
		{"path the node cannot take", edit(func(r *ThreadChoice) { r.Nodes[conv].Path = PathDWFlat }), "path"},
	}
	if dw >= 0 {
		cases = append(cases, struct {
			name string
			rec  ThreadChoice
			msg  string
		}{"depthwise on a dense path", edit(func(r *ThreadChoice) { r.Nodes[dw].Path = PathIm2col }), "path"})
	}
	for _, c := range cases {
		_, err := Compile(m, shape, WithThreads(threads), WithTuneRecord(c.rec))
		if !errors.Is(err, ErrThreadChoiceOtherPlan) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want ErrThreadChoiceOtherPlan saying %q", c.name, err, c.msg)
		}
	}
	bad := edit(func(r *ThreadChoice) { r.Nodes[conv].Path = "winograd" })
	if _, err := Compile(m, shape, WithThreads(threads), WithTuneRecord(bad)); err == nil || !strings.Contains(err.Error(), "winograd") {
		t.Errorf("unknown path: %v", err)
	}
}

// TestChoosePaths checks CalibrateConvPaths' decision on made-up times: a
// path is taken only when it beats the rules' by pathMargin, a node only
// where the plan ran it on the path asked, and a node that another path
// fuses into the Conv counts in the Conv's time on the path that does not.
func TestChoosePaths(t *testing.T) {
	us := func(x float64) time.Duration { return time.Duration(x * 1e3) }
	// a: the rules' swtaps has the Add fused; linear leaves it apart
	// (80 + 25 µs). b: im2col 3% faster than the rules' implicit, within
	// the margin. c: implicit 10% faster than the rules' im2col. A Conv
	// that cannot take the path asked keeps the rules'.
	plans := [][]pathStep{
		{{"a", PathSwTaps, us(100)}, {"b", PathImplicit, us(100)}, {"c", PathIm2col, us(50)}, {"relu", "", us(5)}},
		{{"a", PathIm2col, us(130)}, {"b", PathIm2col, us(97)}, {"c", PathIm2col, us(40)}, {"relu", "", us(5)}},
		{{"a", PathImplicit, us(120)}, {"b", PathImplicit, us(90)}, {"c", PathImplicit, us(45)}, {"relu", "", us(5)}},
		{{"a", PathLinear, us(80)}, {"add", "", us(25)}, {"b", PathImplicit, us(60)}, {"c", PathIm2col, us(30)}, {"relu", "", us(5)}},
	}
	forced := []string{"", PathIm2col, PathImplicit, PathLinear}
	choice, nodes := choosePaths(plans, forced)
	want := map[string]string{"a": PathSwTaps, "b": PathImplicit, "c": PathImplicit}
	if !reflect.DeepEqual(choice, want) {
		t.Errorf("choice %v, want %v", choice, want)
	}
	if len(nodes) != 3 || nodes[0].US[PathLinear] != 105 || nodes[0].US[PathSwTaps] != 100 || nodes[0].US[PathIm2col] != 130 {
		t.Errorf("a's times %v: want linear 105 (80 + the Add it leaves apart), swtaps 100, im2col 130", nodes[0].US)
	}
	// Times on the rules' path come from the rules' plan; a path a
	// node did not run on is not among its times.
	if _, ok := nodes[1].US[PathLinear]; ok || nodes[1].US[PathImplicit] != 100 || nodes[1].US[PathIm2col] != 97 {
		t.Errorf("b's times %v: want implicit 100, im2col 97, no linear", nodes[1].US)
	}
	if nodes[2].Chosen != PathImplicit || nodes[2].Rule != PathIm2col || nodes[2].US[PathIm2col] != 50 || len(nodes[2].US) != 2 {
		t.Errorf("c: %+v", nodes[2])
	}
	// Within the margin, or saving less than pathMinSave, the rules stay.
	plans[2][2].t = us(48)
	if choice, _ := choosePaths(plans, forced); choice["c"] != PathIm2col {
		t.Errorf("c at 48 µs against 50: %s, want the rules' im2col", choice["c"])
	}
	plans[0][2].t, plans[2][2].t = us(3), us(1.5)
	if choice, _ := choosePaths(plans, forced); choice["c"] != PathIm2col {
		t.Errorf("c at 1.5 µs against 3: %s, want the rules' im2col (saves less than pathMinSave)", choice["c"])
	}
}
