package build

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"gorgonia.org/tensor"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/pack"
	"github.com/edgeprune/edgeprune/profile"
)

// TestUnstructuredSpace: on lenet300, every pattern's options are offered,
// applying one gives the layer that sparsity in that pattern and the coded
// values the package will decode, the other layers and the structured part
// untouched; a choice's package decodes to the chosen model's weights.
func TestUnstructuredSpace(t *testing.T) {
	path := testmodels.Shared(t, "mnist/lenet300.onnx")
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSpace(m, []float64{1, .5}, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &profile.UnstructuredSearch{Sparsity: []float64{0.75}, Patterns: []string{"element", "2:4", "block=4x1"}, Coding: []string{"exact", "codebook:3"}, MinParams: 1024}
	if err := s.AddUnstructured(m, u); err != nil {
		t.Fatal(err)
	}
	if len(s.ULayers) != 2 || s.ULayers[0].ID != "fc1.weight" || s.ULayers[1].ID != "fc2.weight" {
		t.Fatalf("layers %+v, want fc1.weight and fc2.weight (fc3 has 1,000 < 1,024 weights)", s.ULayers)
	}
	// dense, 0.75 element, 0.5 2:4, 0.75 block=4x1; each exact and codebook:3.
	if n := len(s.ULayers[0].Opts); n != 8 {
		t.Fatalf("%d options, want 8: %v", n, s.ULayers[0].Opts)
	}
	nG := len(s.Groups)
	for k, o := range s.ULayers[0].Opts {
		choice := s.Uniform(0)
		choice[nG] = k
		got, _, err := s.Model(choice)
		if err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		params := map[string]*onnxio.Param{}
		for _, p := range got.Params() {
			params[p.ID] = p
		}
		w, _, _ := params["fc1.weight"].Float32()
		zeros := 0
		distinct := map[float32]bool{}
		for _, x := range w {
			if x == 0 {
				zeros++
			} else {
				distinct[x] = true
			}
		}
		if sp := float64(zeros) / float64(len(w)); sp < o.Sparsity-0.01 || sp > o.Sparsity+0.01 {
			t.Errorf("%s: sparsity %.3f", o, sp)
		}
		if o.Pattern == "2:4" {
			for i := 0; i < len(w); i += 4 {
				nz := 0
				for _, x := range w[i : i+4] {
					if x != 0 {
						nz++
					}
				}
				if nz > 2 {
					t.Fatalf("2:4: %d nonzeros in group %d", nz, i/4)
				}
			}
		}
		if o.Coding == "codebook" && len(distinct) > 8 {
			t.Errorf("%s: %d distinct nonzeros, want ≤ 8", o, len(distinct))
		}
		if o.Coding == "exact" && o.Sparsity == 0 && len(distinct) < 1000 {
			t.Errorf("dense exact changed the weights")
		}
		w2, _, _ := params["fc2.weight"].Float32()
		for _, x := range w2 {
			if x == 0 {
				t.Fatalf("%s: fc2.weight was changed", o)
			}
		}
		// The package decodes to exactly these weights.
		_, uc := s.splitChoice(choice)
		b, err := s.packModel(got, uc)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := pack.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		dm, err := rd.ReadModel()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range dm.Params() {
			if p.ID == "fc1.weight" {
				d, _, _ := p.Float32()
				for i := range d {
					if d[i] != w[i] {
						t.Fatalf("%s: unpacked fc1.weight[%d] %g, built %g", o, i, d[i], w[i])
					}
				}
			}
		}
	}
}

// composeDamage adds the coding's damage on the dense weight, scaled by
// the ratio of the coding errors, to the sparse weight's damage.
func TestComposeDamage(t *testing.T) {
	for _, c := range []struct{ dS, dC, eO, eD, want float64 }{
		{0.1, 0.2, 1, 2, 0.2},
		{0.1, 0.2, 2, 2, 0.3},
		{0.1, 0.3, 0, 0, 0.1}, // lossless coding
		{0.05, 0, 3, 1, 0.05},
	} {
		if got := composeDamage(c.dS, c.dC, c.eO, c.eD); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("composeDamage(%g, %g, %g, %g) = %g, want %g", c.dS, c.dC, c.eO, c.eD, got, c.want)
		}
	}
	if r := spearman([]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}); r != 1 {
		t.Errorf("spearman of the same order %g, want 1", r)
	}
	if r := spearman([]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}); math.Abs(r+1) > 1e-12 {
		t.Errorf("spearman of the reverse order %g, want -1", r)
	}
	if r := ranks([]float64{5, 1, 5, 2}); !slices.Equal(r, []float64{3.5, 1, 3.5, 2}) {
		t.Errorf("ranks with a tie %v, want [3.5 1 3.5 2]", r)
	}
}

// TestComposedSensitivity: on lenet300 with its weights set to eight
// values a 4-bit codebook and fp16 both hold exactly (so coding changes
// nothing, on the dense weight or a sparse one), the composed table equals
// the measured one option by option, from 3 runs per layer instead of 8;
// on the original weights, the sparse fp16 options composed are within 1%
// of their measured damage (fp16's error is tiny and independent of the
// pruning's), and the dense fp16 option, priced from codebook:4's, is
// within a factor 3 of its own (it is 10⁻⁴ of the other options' damage,
// or less: see docs/profiles.md).
func TestComposedSensitivity(t *testing.T) {
	path := testmodels.Shared(t, "mnist/lenet300.onnx")
	orig, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 16*784)
	for i := range x {
		x[i] = rng.Float32()
	}
	calib := []engine.Batch{{Inputs: map[string]*tensor.Dense{orig.Graph().GetInput()[0].GetName(): tensor.New(tensor.WithShape(16, 1, 28, 28), tensor.WithBacking(x))}}}
	dir := t.TempDir()
	abs, err := filepath.Abs("../configs/host-amd64.yaml")
	if err != nil {
		t.Fatal(err)
	}
	build := func(m *onnxio.Model, sens string) *Result {
		t.Helper()
		prof := filepath.Join(dir, sens+".yaml")
		if err := os.WriteFile(prof, []byte(`schema: edgeprune/profile/v1
name: t
extends: `+abs+`
budgets:
  file_mb: {max: 10}
search:
  structured: {keep: [1, 0.5]}
  unstructured: {sparsity: [0.5, 0.9], coding: [exact, fp16, codebook:4], sensitivity: `+sens+`}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := profile.Load(prof)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Build(context.Background(), p, "lenet300", m, Options{Threads: 1, Calib: calib})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	layers := func(r *Result) []GroupResult {
		var out []GroupResult
		for _, g := range r.Groups {
			if g.Kind == "unstructured" {
				out = append(out, g)
			}
		}
		return out
	}

	lossless, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lossless.Params() {
		if p.ID != "fc1.weight" && p.ID != "fc2.weight" {
			continue
		}
		v, _, err := p.Float32()
		if err != nil {
			t.Fatal(err)
		}
		q := make([]float32, len(v))
		for i, w := range v {
			k := min(4, 1+int(math.Abs(float64(w))*40)) // 1..4, by magnitude
			q[i] = float32(k) / 32 * float32(math.Copysign(1, float64(w)))
		}
		if err := p.SetFloat32(q, p.Shape()); err != nil {
			t.Fatal(err)
		}
	}
	meas, comp := build(lossless, "measured"), build(lossless, "composed")
	lm, lc := layers(meas), layers(comp)
	if len(lm) != 2 || len(lc) != 2 {
		t.Fatalf("%d and %d layers, want 2 (fc1, fc2)", len(lm), len(lc))
	}
	// 3 sparsities (dense, 0.5, 0.9) × 3 codings = 9 options, 8 run
	// measured; composed, the 4 sparse coded ones and dense fp16 are not.
	if meas.UnstructuredRuns != 16 || meas.UnstructuredComposed != 0 || comp.UnstructuredRuns != 6 || comp.UnstructuredComposed != 10 {
		t.Fatalf("runs measured %d (+%d composed), composed %d (+%d composed); want 16+0 and 6+10",
			meas.UnstructuredRuns, meas.UnstructuredComposed, comp.UnstructuredRuns, comp.UnstructuredComposed)
	}
	for i := range lm {
		if len(lm[i].Options) != 9 || len(lc[i].Options) != 9 {
			t.Fatalf("%s: %d and %d options, want 9", lm[i].Layer, len(lm[i].Options), len(lc[i].Options))
		}
		for k, om := range lm[i].Options {
			oc := lc[i].Options[k]
			if *om.Unstructured != *oc.Unstructured {
				t.Fatalf("%s option %d: %s measured, %s composed", lm[i].Layer, k, om.Unstructured, oc.Unstructured)
			}
			sparseCoded := om.Unstructured.Sparsity > 0 && om.Unstructured.CodingName() != "exact"
			if (oc.Priced == "composed") != (sparseCoded || (om.Unstructured.Sparsity == 0 && om.Unstructured.Coding == "fp16")) {
				t.Errorf("%s %s: priced %q", lm[i].Layer, oc.Unstructured, oc.Priced)
			}
			if math.Abs(om.Damage-oc.Damage) > 1e-9*math.Max(om.Damage, 1e-9) {
				t.Errorf("%s %s: measured damage %g, composed %g", lm[i].Layer, om.Unstructured, om.Damage, oc.Damage)
			}
			if om.DeltaFile != oc.DeltaFile || om.DeltaMS != oc.DeltaMS || om.DeltaRAM != oc.DeltaRAM {
				t.Errorf("%s %s: costs measured (file %d, %g ms, ram %d), composed (file %d, %g ms, ram %d)", lm[i].Layer, om.Unstructured,
					om.DeltaFile, om.DeltaMS, om.DeltaRAM, oc.DeltaFile, oc.DeltaMS, oc.DeltaRAM)
			}
			if sparseCoded && om.Damage == 0 {
				t.Errorf("%s %s: zero damage measured for a sparse option", lm[i].Layer, om.Unstructured)
			}
		}
	}

	// On the real weights too, an option composed without building its
	// model (codedTwin) costs what the built model costs.
	realMeas := layers(build(orig, "measured"))
	for i, g := range layers(build(orig, "composed")) {
		for k, oc := range g.Options {
			om := realMeas[i].Options[k]
			if om.DeltaFile != oc.DeltaFile || om.DeltaMS != oc.DeltaMS || om.DeltaRAM != oc.DeltaRAM {
				t.Errorf("real weights, %s %s: costs measured (file %d, %g ms, ram %d), composed (file %d, %g ms, ram %d)", g.Layer, om.Unstructured,
					om.DeltaFile, om.DeltaMS, om.DeltaRAM, oc.DeltaFile, oc.DeltaMS, oc.DeltaRAM)
			}
		}
	}
	for _, g := range realMeas {
		for _, o := range g.Options {
			if o.Unstructured.Coding != "fp16" {
				continue
			}
			t.Logf("%s %s: composed %g, measured %g", g.Layer, o.Unstructured, o.ComposedDamage, o.Damage)
			if rel := math.Abs(o.ComposedDamage-o.Damage) / o.Damage; o.Unstructured.Sparsity > 0 && !(rel < 0.01) {
				t.Errorf("%s %s: composed %g, measured %g (relative error %.3g)", g.Layer, o.Unstructured, o.ComposedDamage, o.Damage, rel)
			}
			if r := o.ComposedDamage / o.Damage; o.Unstructured.Sparsity == 0 && !(r > 1.0/3 && r < 3) {
				t.Errorf("%s dense fp16: composed %g, measured %g", g.Layer, o.ComposedDamage, o.Damage)
			}
		}
	}
}
