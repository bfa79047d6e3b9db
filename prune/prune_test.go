package prune

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

func TestTargets(t *testing.T) {
	type want struct {
		op      string
		out, in int
	}
	cases := []struct {
		name  string
		model func() *onnx.ModelProto
		want  map[string]want // by ID suffix
	}{
		{"zoo", zooModel, map[string]want{
			"conv.weight": {"Conv", 0, 1}, "deconv.weight": {"ConvTranspose", 1, 0},
			"gemm.weight": {"Gemm", 1, 0}, "mm.weight": {"MatMul", 1, 0}, "fc.weight": {"Gemm", 0, 1},
		}},
		{"mlp", onnxbuild.MLP, map[string]want{"fc1.weight": {"Gemm", 0, 1}, "fc2.weight": {"Gemm", 1, 0}, "fc3.weight": {"MatMul", 1, 0}}},
		{"const", onnxbuild.ConstWeights, map[string]want{"conv2d_0.w_0": {"Conv", 0, 1}, "fc_0.w_0": {"MatMul", 1, 0}}},
		{"if", onnxbuild.IfModel, map[string]want{"then_branch/then.weight": {"MatMul", 1, 0}, "else_branch/else.weight": {"MatMul", 1, 0}}},
		{"float16 via Cast", onnxbuild.Float16Weights, map[string]want{"fc.weight": {"Gemm", 0, 1}}},
		{"float64 via Cast", onnxbuild.Float64Weights, map[string]want{"fc.weight": {"MatMul", 1, 0}}},
		{"cnn", onnxbuild.CNN, map[string]want{"conv1.weight": {"Conv", 0, 1}, "conv2.weight": {"Conv", 0, 1},
			"dw.weight": {"Conv", 0, 1}, "pw.weight": {"Conv", 0, 1}, "fc.weight": {"Gemm", 0, 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts, err := Targets(decode(t, c.model()), Selection{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, tg := range ts {
				var w want
				var ok bool
				for suffix, ww := range c.want {
					if tg.ID() == suffix || strings.HasSuffix(tg.ID(), "/"+suffix) {
						w, ok = ww, true
					}
				}
				if !ok {
					t.Errorf("unexpected target %s (%s)", tg.ID(), tg.Op)
					continue
				}
				got[tg.ID()] = true
				if tg.Op != w.op || tg.OutAxis != w.out || tg.InAxis != w.in {
					t.Errorf("%s: %s out %d in %d, want %s out %d in %d", tg.ID(), tg.Op, tg.OutAxis, tg.InAxis, w.op, w.out, w.in)
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("targets %v, want %d: %v", got, len(c.want), c.want)
			}
		})
	}
}

// checkUntouched fails if a parameter that is not a pruned target changed.
func checkUntouched(t *testing.T, before, after map[string][]float32, plan *Plan) {
	t.Helper()
	pruned := map[string]bool{}
	for _, e := range plan.Params {
		if e.Pattern != Dense {
			pruned[e.ID] = true
		}
	}
	for id, w := range before {
		if !pruned[id] && !slices.Equal(w, after[id]) {
			t.Errorf("%s changed but is not pruned", id)
		}
	}
}

// TestElementSparsity checks the achieved sparsity (within one element per
// tensor for layer scope, overall for global), that the lowest |w| went
// (within each tensor, or over all), and that nothing else changed.
func TestElementSparsity(t *testing.T) {
	for _, model := range []func() *onnx.ModelProto{zooModel, onnxbuild.CNN, onnxbuild.IfModel, onnxbuild.Float16Weights} {
		for _, scope := range []Scope{Layer, Global} {
			for _, s := range []float64{0, 0.3, 0.5, 0.9, 0.999} {
				m := decode(t, model())
				before := snapshot(t, m)
				plan := mustPrune(t, m, WithSparsity(s), WithScope(scope))
				after := snapshot(t, m)
				checkUntouched(t, before, after, plan)
				var total, zeros int
				maxPruned, minKept := 0.0, math.Inf(1)
				for _, e := range plan.Params {
					z := 0
					lmax, lmin := 0.0, math.Inf(1)
					for i, v := range after[e.ID] {
						if v == 0 {
							z++
							lmax = max(lmax, abs(before[e.ID][i]))
						} else {
							lmin = min(lmin, abs(v))
							if v != before[e.ID][i] {
								t.Fatalf("%s[%d] changed from %v to %v", e.ID, i, before[e.ID][i], v)
							}
						}
					}
					if int64(z) != e.ZerosAfter {
						t.Errorf("%s: %d zeros, plan says %d", e.ID, z, e.ZerosAfter)
					}
					total += len(after[e.ID])
					zeros += z
					if scope == Layer {
						if d := math.Abs(float64(z) - s*float64(len(after[e.ID]))); d > 1 {
							t.Errorf("layer %g: %s has %d zeros of %d", s, e.ID, z, len(after[e.ID]))
						}
						if lmax > lmin {
							t.Errorf("layer %g: %s pruned |w| = %g but kept %g", s, e.ID, lmax, lmin)
						}
					}
					maxPruned, minKept = max(maxPruned, lmax), min(minKept, lmin)
				}
				if scope == Global {
					if d := math.Abs(float64(zeros) - s*float64(total)); d > 1 {
						t.Errorf("global %g: %d zeros of %d", s, zeros, total)
					}
					if maxPruned > minKept {
						t.Errorf("global %g: pruned |w| = %g but kept %g", s, maxPruned, minKept)
					}
				}
			}
		}
	}
}

// TestNM checks that every group of M along the input-channel axis keeps at
// most N nonzeros, the lowest |w| of each group went, and layers whose axis
// M does not divide stay dense and are listed.
func TestNM(t *testing.T) {
	for _, pat := range []Pattern{{Kind: NM, N: 2, M: 4}, {Kind: NM, N: 1, M: 4}, {Kind: NM, N: 3, M: 8}, {Kind: NM, N: 1, M: 2}} {
		t.Run(pat.String(), func(t *testing.T) {
			m := decode(t, zooModel())
			before := snapshot(t, m)
			plan := mustPrune(t, m, WithPattern(pat))
			after := snapshot(t, m)
			checkUntouched(t, before, after, plan)
			for _, e := range plan.Params {
				if e.Shape[e.InAxis]%int64(pat.M) != 0 {
					if e.Pattern != Dense || e.Reason == "" {
						t.Errorf("%s: axis %d of %v is not a multiple of %d, yet pattern %q", e.ID, e.InAxis, e.Shape, pat.M, e.Pattern)
					}
					continue
				}
				groups := map[int][]int{}
				for i := range after[e.ID] {
					k := groupKey(unravel(i, e.Shape), e.Shape, map[int]int{e.InAxis: pat.M})
					groups[k] = append(groups[k], i)
				}
				for _, g := range groups {
					if len(g) != pat.M {
						t.Fatalf("%s: a group of %d", e.ID, len(g))
					}
					nz := 0
					maxPruned, minKept := 0.0, math.Inf(1)
					for _, i := range g {
						if v := after[e.ID][i]; v != 0 {
							nz++
							minKept = min(minKept, abs(v))
						} else {
							maxPruned = max(maxPruned, abs(before[e.ID][i]))
						}
					}
					if nz > pat.N {
						t.Fatalf("%s: group %v keeps %d nonzeros, pattern %s", e.ID, g, nz, pat)
					}
					if maxPruned > minKept {
						t.Fatalf("%s: group %v pruned |w| %g, kept %g", e.ID, g, maxPruned, minKept)
					}
				}
			}
			if plan.Totals.Pruned == 0 {
				t.Error("nothing pruned")
			}
		})
	}
}

// TestBlocks checks blocks go whole, the count, and the block-norm order.
func TestBlocks(t *testing.T) {
	for _, imp := range []Importance{Magnitude{}, L2{}} {
		for _, pat := range []Pattern{{Kind: Block, R: 1, C: 4}, {Kind: Block, R: 4, C: 1}, {Kind: Block, R: 2, C: 2}, {Kind: Block, R: 8, C: 1}} {
			for _, scope := range []Scope{Layer, Global} {
				t.Run(fmt.Sprintf("%s/%s/%s", imp.Name(), pat, scope), func(t *testing.T) {
					m := decode(t, zooModel())
					before := snapshot(t, m)
					plan := mustPrune(t, m, WithPattern(pat), WithSparsity(0.6), WithScope(scope), WithImportance(imp))
					after := snapshot(t, m)
					checkUntouched(t, before, after, plan)
					var blocks, pruned int64
					maxPruned, minKept := 0.0, math.Inf(1)
					for _, e := range plan.Params {
						if e.Pattern == Dense {
							if e.Shape[e.OutAxis]%int64(pat.R) == 0 && e.Shape[e.InAxis]%int64(pat.C) == 0 {
								t.Errorf("%s %v left dense", e.ID, e.Shape)
							}
							continue
						}
						norms := map[int]float64{}
						zero := map[int]int{}
						size := map[int]int{e.OutAxis: pat.R, e.InAxis: pat.C}
						if e.OutAxis == e.InAxis {
							t.Fatal("same axes")
						}
						for i, v := range before[e.ID] {
							k := groupKey(unravel(i, e.Shape), e.Shape, size)
							if imp.Norm() == 2 {
								norms[k] += float64(v) * float64(v)
							} else {
								norms[k] += abs(v)
							}
							if after[e.ID][i] == 0 {
								zero[k]++
							} else if after[e.ID][i] != v {
								t.Fatalf("%s[%d] changed", e.ID, i)
							}
						}
						var lp int64
						lmax, lmin := 0.0, math.Inf(1)
						for k, n := range norms {
							switch zero[k] {
							case pat.R * pat.C:
								lp++
								lmax = max(lmax, n)
							case 0:
								lmin = min(lmin, n)
							default:
								t.Fatalf("%s: block %d is partly zero (%d)", e.ID, k, zero[k])
							}
						}
						if lp != e.PrunedUnits || int64(len(norms)) != e.Units {
							t.Errorf("%s: %d of %d blocks zero, plan says %d of %d", e.ID, lp, len(norms), e.PrunedUnits, e.Units)
						}
						if scope == Layer && lmax > lmin*(1+1e-6) {
							t.Errorf("%s: pruned a block of norm %g, kept %g", e.ID, lmax, lmin)
						}
						if scope == Layer && math.Abs(float64(lp)-0.6*float64(len(norms))) > 1 {
							t.Errorf("%s: %d of %d blocks", e.ID, lp, len(norms))
						}
						blocks += e.Units
						pruned += lp
						maxPruned, minKept = max(maxPruned, lmax), min(minKept, lmin)
					}
					if scope == Global {
						if math.Abs(float64(pruned)-0.6*float64(blocks)) > 1 {
							t.Errorf("%d of %d blocks", pruned, blocks)
						}
						if maxPruned > minKept*(1+1e-6) {
							t.Errorf("pruned a block of norm %g, kept %g", maxPruned, minKept)
						}
					}
				})
			}
		}
	}
}

// TestDeterministic prunes fresh copies twice: the bytes are the same, and
// so are the structure and every non-weight byte of the input.
func TestDeterministic(t *testing.T) {
	for _, opts := range [][]Option{
		{WithSparsity(0.7)},
		{WithSparsity(0.7), WithScope(Layer)},
		{WithPattern(Pattern{Kind: NM, N: 2, M: 4})},
		{WithPattern(Pattern{Kind: Block, R: 1, C: 4}), WithSparsity(0.5)},
	} {
		a, b := decode(t, zooModel()), decode(t, zooModel())
		mustPrune(t, a, opts...)
		mustPrune(t, b, opts...)
		if !bytes.Equal(marshal(t, a), marshal(t, b)) {
			t.Error("two runs differ")
		}
		if !proto.Equal(withoutPayloads(t, a.Proto), withoutPayloads(t, zooModel())) {
			t.Error("pruning changed the model's structure")
		}
	}
}

// TestExistingZeros: pruning a pruned model to the same sparsity changes
// nothing; to a higher one keeps the zeros it had.
func TestExistingZeros(t *testing.T) {
	for _, opts := range [][]Option{
		{WithSparsity(0.5)},
		{WithSparsity(0.5), WithScope(Layer)},
		{WithPattern(Pattern{Kind: NM, N: 2, M: 4})},
		{WithPattern(Pattern{Kind: Block, R: 2, C: 2}), WithSparsity(0.5)},
	} {
		m := decode(t, zooModel())
		mustPrune(t, m, opts...)
		once := marshal(t, m)
		plan := mustPrune(t, m, opts...)
		if !bytes.Equal(once, marshal(t, m)) {
			t.Errorf("%s %s: pruning again changed the model", plan.Pattern, plan.Scope)
		}
	}
	m := decode(t, onnxbuild.CNN())
	mustPrune(t, m, WithSparsity(0.5), WithScope(Layer))
	half := snapshot(t, m)
	plan := mustPrune(t, m, WithSparsity(0.8), WithScope(Layer))
	more := snapshot(t, m)
	for _, e := range plan.Params {
		for i, v := range half[e.ID] {
			if v == 0 && more[e.ID][i] != 0 {
				t.Fatalf("%s[%d] was zero and is %v", e.ID, i, more[e.ID][i])
			}
		}
		if math.Abs(float64(e.ZerosAfter)-0.8*float64(e.Elements)) > 1 {
			t.Errorf("%s: %d zeros of %d", e.ID, e.ZerosAfter, e.Elements)
		}
	}
}

// TestReplay writes the plan as JSON, reads it back and applies it to a
// fresh copy: the same bytes. A plan that does not fit changes nothing.
func TestReplay(t *testing.T) {
	for _, opts := range [][]Option{
		{WithSparsity(0.8)},
		{WithSparsity(0.8), WithLayerBounds(0.2, 0.85)},
		{WithSparsity(0.6), WithScope(Layer), WithImportance(L2{})},
		{WithPattern(Pattern{Kind: NM, N: 1, M: 4})},
		{WithPattern(Pattern{Kind: Block, R: 4, C: 1}), WithSparsity(0.5), WithImportance(L2{})},
	} {
		m := decode(t, zooModel())
		plan := mustPrune(t, m, opts...)
		var buf bytes.Buffer
		if err := plan.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadPlan(&buf)
		if err != nil {
			t.Fatal(err)
		}
		fresh := decode(t, zooModel())
		if err := Apply(fresh, back); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(marshal(t, m), marshal(t, fresh)) {
			t.Errorf("%s %s: replayed plan gives other weights", plan.Pattern, plan.Scope)
		}
		if back.Totals != plan.Totals {
			t.Errorf("replay totals %+v, run %+v", back.Totals, plan.Totals)
		}
	}
	// A plan whose shapes do not match: an error, and the model untouched.
	m := decode(t, zooModel())
	plan := mustPrune(t, m, WithSparsity(0.5))
	plan.Params[len(plan.Params)-1].Shape = []int64{12, 4}
	plan.Params[len(plan.Params)-1].Units = 48
	fresh := decode(t, zooModel())
	orig := marshal(t, fresh)
	if err := Apply(fresh, plan); !errors.Is(err, ErrPlan) {
		t.Errorf("Apply of a mismatched plan: %v, want ErrPlan", err)
	}
	if !bytes.Equal(orig, marshal(t, fresh)) {
		t.Error("a failed Apply changed the model")
	}
}

func TestLayerBounds(t *testing.T) {
	m := decode(t, zooModel())
	plan := mustPrune(t, m, WithSparsity(0.6), WithLayerBounds(0.4, 0.7))
	var zeros, total int64
	for _, e := range plan.Params {
		lo, hi := math.RoundToEven(0.4*float64(e.Elements)), math.RoundToEven(0.7*float64(e.Elements))
		if z := float64(e.ZerosAfter); z < lo || z > hi {
			t.Errorf("%s: %d zeros of %d, bounds [%g, %g]", e.ID, e.ZerosAfter, e.Elements, lo, hi)
		}
		zeros += e.ZerosAfter
		total += e.Elements
	}
	if math.Abs(float64(zeros)-0.6*float64(total)) > 1 {
		t.Errorf("%d zeros of %d", zeros, total)
	}
	_, err := mustNew(t, WithSparsity(0.9), WithLayerBounds(0, 0.5)).Plan(decode(t, zooModel()))
	if !errors.Is(err, ErrInfeasible) {
		t.Errorf("max 0.5 for a global 0.9: %v, want ErrInfeasible", err)
	}
}

func mustNew(t *testing.T, opts ...Option) *Pruner {
	t.Helper()
	p, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestErrors(t *testing.T) {
	re := regexp.MustCompile
	for _, c := range []struct {
		name string
		opts []Option
		want error
	}{
		{"no sparsity", nil, ErrInvalid},
		{"sparsity 1", []Option{WithSparsity(1)}, ErrInvalid},
		{"negative", []Option{WithSparsity(-0.1)}, ErrInvalid},
		{"NaN", []Option{WithSparsity(math.NaN())}, ErrInvalid},
		{"2:4 at 0.7", []Option{WithSparsity(0.7), WithPattern(Pattern{Kind: NM, N: 2, M: 4})}, ErrInvalid},
		{"bounds with layer scope", []Option{WithSparsity(0.5), WithScope(Layer), WithLayerBounds(0, 0.9)}, ErrInvalid},
		{"bad bounds", []Option{WithSparsity(0.5), WithLayerBounds(0.6, 0.4)}, ErrInvalid},
		{"bad op type", []Option{WithSparsity(0.5), WithSelection(Selection{OpTypes: []string{"Add"}})}, ErrInvalid},
		{"bad pattern", []Option{WithPattern(Pattern{Kind: NM, N: 4, M: 4})}, ErrInvalid},
		{"include nothing", []Option{WithSparsity(0.5), WithSelection(Selection{Include: []*regexp.Regexp{re("nope")}})}, ErrNoMatch},
		{"include a bias", []Option{WithSparsity(0.5), WithSelection(Selection{Include: []*regexp.Regexp{re("conv.bias")}})}, ErrNoMatch},
		{"exclude nothing", []Option{WithSparsity(0.5), WithSelection(Selection{Exclude: []*regexp.Regexp{re("nope")}})}, ErrNoMatch},
		{"exclude all", []Option{WithSparsity(0.5), WithSelection(Selection{Exclude: []*regexp.Regexp{re("weight")}})}, ErrNoMatch},
		{"no ConvTranspose in include", []Option{WithSparsity(0.5), WithSelection(Selection{OpTypes: []string{"Conv"}, Include: []*regexp.Regexp{re("fc")}})}, ErrNoMatch},
		{"nothing fits 16:32", []Option{WithPattern(Pattern{Kind: NM, N: 16, M: 32})}, ErrNoTarget},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := decode(t, zooModel())
			orig := marshal(t, m)
			pr, err := New(c.opts...)
			if err == nil {
				_, err = pr.Prune(m)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !bytes.Equal(orig, marshal(t, m)) {
				t.Error("a failed run changed the model")
			}
		})
	}
}

func TestSelectionFilters(t *testing.T) {
	m := decode(t, zooModel())
	sel := Selection{OpTypes: []string{"Conv", "Gemm"}, Exclude: []*regexp.Regexp{regexp.MustCompile(`^fc\.`)}}
	plan := mustPrune(t, m, WithSparsity(0.5), WithSelection(sel))
	var ids []string
	for _, e := range plan.Params {
		ids = append(ids, e.ID)
	}
	if want := []string{"conv.weight", "gemm.weight"}; !slices.Equal(ids, want) {
		t.Errorf("pruned %v, want %v", ids, want)
	}
	// A node name selects its weight.
	ts, err := Targets(decode(t, zooModel()), Selection{Include: []*regexp.Regexp{regexp.MustCompile(`^MatMul`)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].ID() != "mm.weight" {
		t.Errorf("include by node name: %d targets", len(ts))
	}
}

// TestFloat16Weights prunes weights stored as float16 and float64 (read
// through Cast): the zeros land in the stored tensor.
func TestFloat16Weights(t *testing.T) {
	for _, build := range []func() *onnx.ModelProto{onnxbuild.Float16Weights, onnxbuild.Float64Weights} {
		m := decode(t, build())
		plan := mustPrune(t, m, WithSparsity(0.5), WithScope(Layer))
		if len(plan.Params) != 1 {
			t.Fatalf("%d params pruned", len(plan.Params))
		}
		back := decode(t, m.Proto) // re-read from bytes
		for _, p := range back.Params() {
			if p.ID == plan.Params[0].ID {
				if got := p.NumElements() - p.Nonzeros(); got != plan.Params[0].ZerosAfter || got != 16 {
					t.Errorf("%s %s: %d zeros stored, plan %d", p.ID, p.DataType(), got, plan.Params[0].ZerosAfter)
				}
			}
		}
	}
}
