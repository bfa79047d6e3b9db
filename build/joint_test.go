package build

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/pack"
	"github.com/edgeprune/edgeprune/profile"
)

// A synthetic sensitivity table: two structured groups (keep 1, 0.5,
// 0.25), each thinning one unstructured layer by its keep fraction, the
// layers' options sorted by packed size (dense, fp16, codebook, 90% +
// codebook). The model is 1400 bytes: layer a 800, layer b 400, the rest
// 200.
func syntheticTable() ([]GroupResult, [][][]float64) {
	s := func(damage float64, file int64) Option { return Option{Damage: damage, DeltaFile: file} }
	u := func(damage float64, file int64) Option {
		o := s(damage, file)
		o.Unstructured = &UOption{}
		return o
	}
	groups := []GroupResult{
		{Roots: []string{"A"}, Options: []Option{s(0, 0), s(0.02, -400), s(0.3, -600)}},
		{Roots: []string{"B"}, Options: []Option{s(0, 0), s(0.03, -200), s(0.4, -300)}},
		{Kind: "unstructured", Layer: "a", Options: []Option{u(0, 0), u(0.001, -400), u(0.1, -700), u(0.5, -780)}},
		{Kind: "unstructured", Layer: "b", Options: []Option{u(0, 0), u(0.001, -200), u(0.1, -350), u(0.5, -390)}},
	}
	keep := []float64{1, 0.5, 0.25}
	frac := make([][][]float64, 2)
	for g := range 2 {
		for _, k := range keep {
			row := []float64{1, 1}
			row[g] = k
			frac[g] = append(frac[g], row)
		}
	}
	return groups, frac
}

// syntheticEvaluator's exact model is the joint table's sum added to the
// dense model's latency and file size (the "true" costs: thinning a coded
// layer saves its coded bytes' fraction).
func syntheticEvaluator(groups []GroupResult, frac [][][]float64, dense Metrics) (*evaluator, *evaluated) {
	truth := jointKnapsack(groups, frac)
	e := &evaluator{frac: frac}
	e.exact = func(choice []int) (*evaluated, error) {
		c := make([]int, len(groups))
		copy(c, choice)
		_, sum := truth.sum(c)
		return &evaluated{choice: c, met: Metrics{LatencyMS: dense.LatencyMS + sum[costMS], FileBytes: dense.FileBytes + int64(math.Round(sum[costFile]))}}, nil
	}
	d, _ := e.exact(nil)
	return e, d
}

// solveStaged is the solver the joint knapsack replaced, kept as the
// baseline: (1) the structured choice under every budget but the file
// size, (2) with it fixed, the layers' options under all budgets (their
// costs scaled by the fraction of the layer the structured choice kept),
// (3) when even every layer's smallest option misses the file, (1) again
// with a file target scaled by the shortfall (≤ 3 times).
func solveStaged(e *evaluator, groups []GroupResult, dense *evaluated, b budgets) ([]int, *evaluated, error) {
	nG := slices.IndexFunc(groups, func(g GroupResult) bool { return g.Kind != "" })
	t1 := b
	t1.file = 0
	var best *evaluated
	for round := 0; round < 4; round++ {
		sc, _, _, err := e.solve(groups[:nG], dense, t1)
		if err != nil {
			return nil, nil, err
		}
		base, err := e.exactModel(append(slices.Clone(sc[:nG]), make([]int, len(groups)-nG)...))
		if err != nil {
			return nil, nil, err
		}
		// The structured groups pinned at their choice, then the layers
		// (the joint knapsack scales them by the pinned level).
		var g2 []GroupResult
		for g, gr := range groups[:nG] {
			p := gr
			p.Options = make([]Option, len(gr.Options))
			for k := range p.Options {
				p.Options[k] = Option{Keep: gr.Options[k].Keep, Damage: math.Inf(1)}
			}
			p.Options[sc[g]].Damage = 0
			g2 = append(g2, p)
		}
		g2 = append(g2, groups[nG:]...)
		choice, ev, _, err := e.solve(g2, base, b)
		if err != nil {
			return nil, nil, err
		}
		best = ev
		_, _, _, fileOver := b.violation(ev.met)
		if b.met(ev.met) || fileOver == 0 || b.file == 0 {
			return choice, ev, nil
		}
		floor := true
		for j, k := range choice[nG:] {
			floor = floor && k == len(groups[nG+j].Options)-1
		}
		if !floor {
			return choice, ev, nil
		}
		t1.file = float64(base.met.FileBytes) * b.file / float64(ev.met.FileBytes) * 0.97
	}
	return best.choice, best, nil
}

// The joint knapsack trades channels for file size where a layer option
// would cost more damage; the staged solve, whose structured stage ignores
// the file budget, cannot: on the synthetic table under a 500-byte budget
// both meet it, and the joint choice has the lower damage.
func TestJointBeatsStagedUnderFileBudget(t *testing.T) {
	groups, frac := syntheticTable()
	e, dense := syntheticEvaluator(groups, frac, Metrics{FileBytes: 1400})
	b := budgets{file: 500, margin: 0.9}
	k := jointKnapsack(groups, frac)

	sc, sev, err := solveStaged(e, groups, dense, b)
	if err != nil {
		t.Fatal(err)
	}
	jc, jev, _, err := e.solve(groups, dense, b)
	if err != nil {
		t.Fatal(err)
	}
	sd, _ := k.sum(sc)
	jd, _ := k.sum(jc)
	t.Logf("staged %v: damage %.3f, %d bytes; joint %v: damage %.3f, %d bytes", sc, sd, sev.met.FileBytes, jc, jd, jev.met.FileBytes)
	if !b.met(sev.met) || !b.met(jev.met) {
		t.Fatalf("a solve misses the budget: staged %d, joint %d bytes > 500", sev.met.FileBytes, jev.met.FileBytes)
	}
	if sc[0] != 0 || sc[1] != 0 {
		t.Errorf("staged thinned channels %v: its structured stage ignores the file budget", sc[:2])
	}
	if jd >= sd {
		t.Errorf("joint damage %.4f ≥ staged %.4f", jd, sd)
	}
	// The best choice of the table by enumeration: the joint solve is a
	// Lagrangian relaxation, so it may miss it, but not by much here.
	bestD := math.Inf(1)
	for c := range choices(groups) {
		if d, sum := k.sum(c); 1400+sum[costFile] <= 500 && d < bestD {
			bestD = d
		}
	}
	if jd > bestD+0.05 {
		t.Errorf("joint damage %.4f, the table's optimum %.4f", jd, bestD)
	}
}

// choices enumerates every choice of the groups.
func choices(groups []GroupResult) func(func([]int) bool) {
	return func(yield func([]int) bool) {
		c := make([]int, len(groups))
		for {
			if !yield(slices.Clone(c)) {
				return
			}
			i := 0
			for ; i < len(c); i++ {
				if c[i]++; c[i] < len(groups[i].Options) {
					break
				}
				c[i] = 0
			}
			if i == len(c) {
				return
			}
		}
	}
}

// The joint cost of a thinned, coded layer is the kept fraction of its
// coded size, counted once: a at keep 0.5 and codebook (−700 of 800)
// holds 0.5·100 bytes, so the file is 1400 − 400 (channels) − 350.
func TestJointKnapsackSum(t *testing.T) {
	groups, frac := syntheticTable()
	k := jointKnapsack(groups, frac)
	d, sum := k.sum([]int{1, 0, 2, 0})
	if want := 0.02 + 0.1; math.Abs(d-want) > 1e-12 {
		t.Errorf("damage %g, want %g", d, want)
	}
	if want := -400.0 - 350; sum[costFile] != want {
		t.Errorf("file delta %g, want %g", sum[costFile], want)
	}
	// Without a price every group stays dense; at a high price on the
	// file every group and layer goes to its smallest.
	if c := k.pick([4]float64{}); !slices.Equal(c, []int{0, 0, 0, 0}) {
		t.Errorf("pick at w=0: %v, want dense", c)
	}
	if c := k.pick([4]float64{costFile: 1e6}); !slices.Equal(c, []int{2, 2, 3, 3}) {
		t.Errorf("pick at a high file price: %v, want the smallest", c)
	}
	// pick is the argmin of the Lagrangian over every choice.
	w := [4]float64{costFile: 3e-4}
	c := k.pick(w)
	d0, s0 := k.sum(c)
	for o := range choices(groups) {
		if d1, s1 := k.sum(o); d1+dot(w, s1) < d0+dot(w, s0)-1e-12 {
			t.Fatalf("pick %v (%.5f) is not the argmin: %v has %.5f", c, d0+dot(w, s0), o, d1+dot(w, s1))
		}
	}
}

// A fine-tuned model's coded layers are coded again before verification:
// what the build verifies and writes as model.onnx is what model.epk
// decodes to. The "fine-tuning" here moves every weight off its code.
func TestBuildCodesAfterFinetune(t *testing.T) {
	path := testmodels.Shared(t, "mnist/lenet300.onnx")
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	abs, err := filepath.Abs("../configs/host-amd64.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(dir, "t.yaml")
	if err := os.WriteFile(prof, []byte(`schema: edgeprune/profile/v1
name: t
extends: `+abs+`
budgets:
  file_mb: {max: 0.1}
search:
  structured: {keep: [1, 0.5]}
  unstructured: {sparsity: [0.75], coding: [exact, codebook:4]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Load(prof)
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	ft := func(_ context.Context, m *onnxio.Model) (*FinetuneReport, error) {
		for _, prm := range m.Params() {
			v, _, err := prm.Float32()
			if err != nil || len(v) < 1024 {
				continue
			}
			for i := range v {
				if v[i] != 0 { // pruned zeros are held, as the real loop holds them
					v[i] += 1e-4 * float32(i%97)
				}
			}
			if err := prm.SetFloat32(v, prm.Shape()); err != nil {
				return nil, err
			}
			moved++
		}
		return &FinetuneReport{}, nil
	}
	res, err := Build(context.Background(), p, "lenet300", m, Options{Threads: 1, Finetune: ft})
	if err != nil {
		t.Fatal(err)
	}
	if moved == 0 {
		t.Fatal("the fine-tuner moved no weight")
	}
	built := map[string][]float32{}
	for _, prm := range res.BuiltModel().Params() {
		v, _, _ := prm.Float32()
		built[prm.ID] = v
	}
	coded := 0
	for _, g := range res.Groups {
		if g.Kind != "unstructured" || g.Options[g.Choice].Unstructured.Coding != "codebook" {
			continue
		}
		coded++
		distinct := map[float32]bool{}
		for _, x := range built[g.Roots[0]] {
			distinct[x] = true
		}
		if len(distinct) > 17 { // 16 codes and the zeros
			t.Errorf("%s: %d distinct values after fine-tuning, want ≤ 16 codes and zero", g.Roots[0], len(distinct))
		}
	}
	if coded == 0 {
		t.Fatalf("no layer coded codebook:4 under a 0.1 MB budget: %+v", res.Layers)
	}
	rd, err := pack.NewReader(bytes.NewReader(res.Packed()))
	if err != nil {
		t.Fatal(err)
	}
	dm, err := rd.ReadModel()
	if err != nil {
		t.Fatal(err)
	}
	for _, prm := range dm.Params() {
		d, _, _ := prm.Float32()
		b := built[prm.ID]
		if len(d) != len(b) {
			t.Fatalf("%s: %d values unpacked, %d built", prm.ID, len(d), len(b))
		}
		for i := range d {
			if d[i] != b[i] {
				t.Fatalf("%s[%d]: unpacked %g, built (verified) %g", prm.ID, i, d[i], b[i])
			}
		}
	}
}

// Two exceeded budgets, one multiplier: pricing both pays for file bytes
// the latency's choice already saves (fp16 on the thinned layer, damage
// 0.001 for nothing). Trying each subset of the budgets as the priced one
// keeps the least damage: keep level 1 alone meets both.
func TestSolveTwoBudgetsNoOvershoot(t *testing.T) {
	s := func(d, ms float64, file int64) Option { return Option{Damage: d, DeltaMS: ms, DeltaFile: file} }
	u := func(d float64, file int64) Option {
		o := s(d, 0, file)
		o.Unstructured = &UOption{}
		return o
	}
	groups := []GroupResult{
		{Roots: []string{"A"}, Options: []Option{s(0, 0, 0), s(0.01, -10, -500), s(0.3, -15, -700)}},
		{Kind: "unstructured", Layer: "a", Options: []Option{u(0, 0), u(0.001, -400), u(0.05, -700)}},
	}
	frac := [][][]float64{{{1}, {0.5}, {0.25}}}
	e, dense := syntheticEvaluator(groups, frac, Metrics{LatencyMS: 20, FileBytes: 1000})
	b := budgets{latency: 12, file: 600, margin: 1}
	choice, ev, _, err := e.solve(groups, dense, b)
	if err != nil {
		t.Fatal(err)
	}
	if !b.met(ev.met) {
		t.Fatalf("%v misses the budgets: %+v", choice, ev.met)
	}
	if !slices.Equal(choice, []int{1, 0}) {
		d, _ := jointKnapsack(groups, frac).sum(choice)
		t.Errorf("choice %v (damage %.4f), want [1 0] (damage 0.01)", choice, d)
	}
}
