package build

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
)

// The sensitivity pass's shortcuts (the held cut, the preparation one
// group ahead) change no value of the table: a build with them gives bit
// for bit the damages and costs of every option, and the same chosen
// model, as the plain pass (plainSensitivity), with structured groups and
// unstructured layers, on two threads; on bncnn with adaptive BN
// re-estimating the statistics in the preparation.
func TestSensitivityShortcutsKeepTable(t *testing.T) {
	for _, path := range []string{"../testdata/demo/demonet.onnx", "lenet5", "bncnn"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if path == "lenet5" || path == "bncnn" {
				path = testmodels.Shared(t, "mnist/"+path+".onnx")
			}
			abs, err := filepath.Abs("../configs/host-amd64.yaml")
			if err != nil {
				t.Fatal(err)
			}
			prof := filepath.Join(t.TempDir(), "p.yaml")
			if err := os.WriteFile(prof, []byte(`schema: edgeprune/profile/v1
name: t
extends: `+abs+`
budgets:
  latency_ms: {fraction_of_original: 0.7, statistic: p50}
search:
  structured: {keep: [1, 0.5]}
  unstructured: {sparsity: [0.5, 0.9], coding: [exact, fp16, codebook:4], min_params: 1}
`), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := profile.Load(prof)
			if err != nil {
				t.Fatal(err)
			}
			build := func(plain bool) *Result {
				t.Helper()
				plainSensitivity = plain
				defer func() { plainSensitivity = false }()
				m, err := onnxio.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				res, err := Build(context.Background(), p, "t", m, Options{Threads: 2, Calib: randomBatches(t, m, 2, 3)})
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			want, got := build(true), build(false)
			if filepath.Base(path) == "bncnn.onnx" && (got.AdaptiveBN == nil || !got.AdaptiveBN.Enabled || got.AdaptiveBN.Variants == 0) {
				t.Fatalf("bncnn: adaptive BN %+v: want it on", got.AdaptiveBN)
			}
			t.Logf("phases: plain %v, with the shortcuts %v", want.Phases, got.Phases)
			if len(got.Groups) != len(want.Groups) {
				t.Fatalf("%d groups and layers, plain %d", len(got.Groups), len(want.Groups))
			}
			layers := 0
			for i, g := range got.Groups {
				w := want.Groups[i]
				if g.Kind == "unstructured" {
					layers++
				}
				if len(g.Options) != len(w.Options) {
					t.Fatalf("group %v: %d options, plain %d", g.Roots, len(g.Options), len(w.Options))
				}
				for k, o := range g.Options {
					wo := w.Options[k]
					if math.Float64bits(o.Damage) != math.Float64bits(wo.Damage) || o.DeltaMS != wo.DeltaMS || o.DeltaRAM != wo.DeltaRAM ||
						o.DeltaFile != wo.DeltaFile || o.Kept != wo.Kept || o.Priced != wo.Priced || !reflect.DeepEqual(o.Unstructured, wo.Unstructured) {
						t.Errorf("group %v option %d: %+v, plain %+v", g.Roots, k, o, wo)
					}
				}
			}
			if layers == 0 || len(got.Groups) == layers {
				t.Fatalf("%d groups of which %d layers: want both kinds", len(got.Groups), layers)
			}
			if !reflect.DeepEqual(got.Layers, want.Layers) {
				t.Errorf("chosen layers differ:\n%+v\nplain:\n%+v", got.Layers, want.Layers)
			}
		})
	}
}
