package engine_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/prune"
	"gorgonia.org/tensor"
)

// sparseShapes are the input shapes of the sparse-vs-dense comparison.
var sparseShapes = map[string][]int{
	"ppocr_det": {1, 3, 320, 320},
	"ppocr_cls": {1, 3, 48, 192},
	"lenet300":  {3, 1, 28, 28},
	"lenet5":    {3, 1, 28, 28},
}

// TestSparseMatchesDenseRealModels prunes every real model at 0.5, 0.9 and
// 0.95 (global magnitude; 0.9 and 0.95 also in every layer, which
// leaves fewer models collapsed), 2:4, and 0.9 in blocks of 4×1 and 1×4, runs it with every eligible weight on
// the sparse kernels (SparseAlways) and all dense (SparseOff) and requires
// the outputs to agree within 1e-5 of the output scale; the sparse plan
// must have run some weight sparse. The MNIST models run by default; the
// others (seconds each) with EDGEPRUNE_TRAIN_LONG=1.
func TestSparseMatchesDenseRealModels(t *testing.T) {
	long := os.Getenv("EDGEPRUNE_TRAIN_LONG") != "" && !testing.Short()
	for _, rm := range testmodels.All(t) {
		if !long && rm.Name != "lenet300" && rm.Name != "lenet5" {
			continue
		}
		for _, pat := range []string{"0.5", "0.9", "0.95", "0.9/layer", "0.95/layer", "2:4", "block=4x1", "block=1x4"} {
			t.Run(rm.Name+"/"+pat, func(t *testing.T) {
				m, err := onnxio.ReadFile(rm.Path)
				if err != nil {
					t.Fatal(err)
				}
				opts := []prune.Option{prune.WithScope(prune.Global), prune.WithSparsity(0.5)}
				if p, err := prune.ParsePattern(pat); err == nil {
					// N:M keeps its own sparsity; blocks are pruned to 0.9.
					opts = append(opts, prune.WithPattern(p))
					if p.Kind == prune.Block {
						opts[1] = prune.WithSparsity(0.9)
					}
				} else {
					sp, scope, _ := strings.Cut(pat, "/")
					opts[1] = prune.WithSparsity(map[string]float64{"0.5": 0.5, "0.9": 0.9, "0.95": 0.95}[sp])
					if scope == "layer" {
						opts[0] = prune.WithScope(prune.Layer)
					}
				}
				pr, err := prune.New(opts...)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pr.Prune(m); err != nil {
					t.Fatal(err)
				}
				shape, ok := sparseShapes[rm.Name]
				if !ok {
					shape = []int{1, 3, 224, 224}
				}
				name := m.Info().Inputs[0].Name
				r := rand.New(rand.NewPCG(11, uint64(len(rm.Name))))
				x := make([]float32, 1)
				for _, d := range shape {
					x = make([]float32, len(x)*d)
				}
				for i := range x {
					x[i] = r.Float32()
				}
				in := map[string]*tensor.Dense{name: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(x))}
				x2 := make([]float32, len(x))
				for i := range x2 {
					x2[i] = r.Float32()
				}
				in2 := map[string]*tensor.Dense{name: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(x2))}
				run := func(mode engine.SparseMode) (map[string]*tensor.Dense, engine.Report) {
					p, err := engine.Compile(m, engine.WithInputShape(name, shape...), engine.WithSparse(mode))
					if err != nil {
						t.Fatal(err)
					}
					out, err := p.Run(context.Background(), in)
					if err != nil {
						t.Fatal(err)
					}
					return out, p.Report()
				}
				dense, _ := run(engine.SparseOff)
				// A one-shot prune at 90% can leave a model whose output no
				// longer depends on its input (every activation dead): the
				// comparison then says little, so say so.
				pd, err := engine.Compile(m, engine.WithInputShape(name, shape...), engine.WithSparse(engine.SparseOff))
				if err != nil {
					t.Fatal(err)
				}
				other, err := pd.Run(context.Background(), in2)
				if err != nil {
					t.Fatal(err)
				}
				for k, d := range dense {
					if relErr32(d.Data().([]float32), other[k].Data().([]float32)) == 0 {
						t.Logf("output %q is the same for two random inputs: the pruned model collapsed", k)
					}
				}
				sp, rep := run(engine.SparseAlways)
				nsp, nblock := 0, 0
				for _, n := range rep.Nodes {
					if n.Kernel != "" {
						nsp++
					}
					if strings.HasPrefix(pat, "block") && n.Kernel == "sparse "+pat {
						nblock++
					}
				}
				if strings.HasPrefix(pat, "block") && nblock == 0 {
					t.Errorf("no node reports the pattern %s", pat)
				}
				if nsp == 0 {
					t.Fatalf("no node ran sparse")
				}
				for k, d := range dense {
					e := relErr32(d.Data().([]float32), sp[k].Data().([]float32))
					t.Logf("%d sparse nodes; output %q: max|sparse−dense|/max|dense| = %.3g", nsp, k, e)
					if e > 1e-5 || math.IsNaN(e) {
						t.Errorf("output %q: sparse vs dense %.3g > 1e-5", k, e)
					}
				}
			})
		}
	}
}

func relErr32(ref, got []float32) float64 {
	var d, s float64
	for i := range ref {
		d = math.Max(d, math.Abs(float64(ref[i])-float64(got[i])))
		s = math.Max(s, math.Abs(float64(ref[i])))
	}
	if s == 0 {
		return d
	}
	return d / s
}
