package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/onnxio"
)

// TestSparseCostTable times every sparse-eligible node of the pruned
// models in EDGEPRUNE_SPARSE_CALIB (comma-separated path=NAME:D0x...
// pairs) dense and sparse and prints, per node, the shape, the density,
// both times and the cost model's prediction: the data the rates in
// op_sparse_cost.go were read from. A measurement, not a check: run it
// through the benchmark lock.
func TestSparseCostTable(t *testing.T) {
	spec := os.Getenv("EDGEPRUNE_SPARSE_CALIB")
	if spec == "" {
		t.Skip("measurement: set EDGEPRUNE_SPARSE_CALIB=model.onnx=input:1x3x224x224,...")
	}
	for _, item := range strings.Split(spec, ",") {
		path, in, _ := strings.Cut(item, "=")
		name, dims, _ := strings.Cut(in, ":")
		var shape []int
		for _, d := range strings.Split(dims, "x") {
			var v int
			fmt.Sscan(d, &v)
			shape = append(shape, v)
		}
		m, err := onnxio.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		times := map[SparseMode][]float64{}
		var total = map[SparseMode]float64{}
		var progs = map[SparseMode]*Program{}
		for _, mode := range []SparseMode{SparseOff, SparseAlways, SparseAuto} {
			p, err := Compile(m, WithInputShape(name, shape...), WithSparse(mode), WithThreads(1))
			if err != nil {
				t.Fatal(err)
			}
			nt, tot, err := p.NodeTimes(context.Background(), RandomInputs(p), 2, 15, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range nt {
				times[mode] = append(times[mode], float64(d.Nanoseconds()))
			}
			total[mode] = float64(tot.Nanoseconds())
			progs[mode] = p
		}
		fmt.Printf("# %s %v: total dense %.0f µs, always-sparse %.0f µs, auto %.0f µs\n", filepath.Base(path), shape,
			total[SparseOff]/1e3, total[SparseAlways]/1e3, total[SparseAuto]/1e3)
		fmt.Printf("%-28s %-7s %6s %6s %6s %7s %10s %10s %10s %10s %5s\n", "node", "kind", "rows", "cols", "n", "density", "dense_us", "sparse_us", "pred_d", "pred_s", "auto")
		p := progs[SparseAlways]
		for i, s := range p.main.steps {
			sk, ok := s.k.(sparseKernel)
			if !ok {
				continue
			}
			ws, _ := sk.sparseWeights()
			if ws == nil {
				continue
			}
			rows, nnz := 0, 0
			for _, w := range ws {
				rows += w.a.Rows
				nnz += w.nnz
			}
			cols := ws[0].a.Cols
			n := int(s.macs / int64(rows*cols))
			ck, isConv := s.k.(*convKernel)
			kind, ck2 := "gemm", costGemm
			if isConv {
				kind, ck2 = "conv1x1", costConv1x1
				if !ck.pointwise {
					kind, ck2 = "convkxk", costConvKxK
				}
			}
			pd, ps := sparseCost(rows, cols, nnz, n, ck2)
			auto := "dense"
			if k, _ := progs[SparseAuto].main.steps[i].k.(sparseKernel); k != nil {
				if w, _ := k.sparseWeights(); w != nil {
					auto = "sparse"
				}
			}
			fmt.Printf("%-28.28s %-7s %6d %6d %6d %7.3f %10.1f %10.1f %10.1f %10.1f %5s\n", s.name, kind, rows, cols, n, float64(nnz)/float64(rows*cols),
				times[SparseOff][s.id]/1e3, times[SparseAlways][s.id]/1e3, pd/1e3, ps/1e3, auto)
		}
	}
}
