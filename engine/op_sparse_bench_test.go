package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edgeprune/edgeprune/sparse"
)

// BenchmarkSparseKernels times spmm on Conv-like shapes (rows × cols
// weight, n output positions) at several densities beside the dense
// prepacked SGEMM of the same product; bytes are the nonzeros' values and
// indices. MAC/ns per nonzero is reported as nzMAC/ns.
func BenchmarkSparseKernels(b *testing.B) {
	for _, sz := range [][3]int{{128, 1152, 784}, {64, 576, 3136}, {300, 784, 64}, {96, 16, 12544}, {144, 24, 3136}, {384, 64, 196}} {
		rows, cols, n := sz[0], sz[1], sz[2]
		rng := rand.New(rand.NewPCG(1, 1))
		x := randVec(rng, cols*n)
		dst := make([]float32, rows*n)
		for _, density := range []float64{0.1, 0.3} {
			w := randSparse(rng, rows, cols, density)
			s := newSpWeight(sparse.EncodeCSR(w, rows, cols))
			b.Run(fmt.Sprintf("spmm/%dx%dx%d/d%.1f", rows, cols, n, density), func(b *testing.B) {
				b.SetBytes(int64(s.a.NNZ()) * 8)
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					s.spmm(dst, n, x, n, n, nil, false, nil, 1)
				}
				b.ReportMetric(float64(s.a.NNZ())*float64(n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "nzMAC/ns")
			})
			if spmmRows == nil {
				continue
			}
			// The same through one call per row (spmmRow), for comparison.
			b.Run(fmt.Sprintf("spmm-rowcalls/%dx%dx%d/d%.1f", rows, cols, n, density), func(b *testing.B) {
				saved := spmmRows
				spmmRows = nil
				defer func() { spmmRows = saved }()
				for i := 0; i < b.N; i++ {
					s.spmm(dst, n, x, n, n, nil, false, nil, 1)
				}
				b.ReportMetric(float64(s.a.NNZ())*float64(n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "nzMAC/ns")
			})
		}
		w := randVec(rng, rows*cols)
		pa := packAll(activeKernel(), false, rows, cols, 1, w, cols, nil)
		b.Run(fmt.Sprintf("dense/%dx%dx%d", rows, cols, n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				gemmPacked(pa, false, n, x, n, dst, n, false, nil, nil, nil, 1)
			}
			b.ReportMetric(float64(rows*cols*n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "MAC/ns")
		})
	}
}

// BenchmarkSparse1x1 times spmm against the dense prepacked SGEMM on the
// 1×1 Conv shapes of mobilenet_v2 (rows × cols weight, n positions) at the
// densities that global magnitude pruning to 90% leaves in them (27–67%):
// the range where the sparse kernel must beat dense for mobilenet_v2 to
// gain. Reports nzMAC/ns (nonzeros only) and effMAC/ns (dense-equivalent).
func BenchmarkSparse1x1(b *testing.B) {
	for _, sz := range [][4]int{{96, 16, 12544, 39}, {24, 96, 3136, 65}, {144, 24, 3136, 33}, {24, 144, 3136, 65},
		{32, 192, 784, 63}, {64, 384, 196, 50}, {96, 576, 196, 41}, {160, 960, 49, 30}} {
		rows, cols, n, pct := sz[0], sz[1], sz[2], sz[3]
		rng := rand.New(rand.NewPCG(1, 1))
		x := randVec(rng, cols*n)
		dst := make([]float32, rows*n)
		a := sparse.EncodeCSR(randSparse(rng, rows, cols, float64(pct)/100), rows, cols)
		// Column blocks of 64 and 128 beside none (kb0), where the weight
		// is wide enough to have them.
		for _, kb := range []int{0, 64, 128} {
			if kb > 0 && cols <= spmmKBlockMin {
				continue
			}
			s := newSpWeight(a)
			if kb == 0 {
				s.kptr, s.kblocks = nil, 0
			} else {
				saved := spmmKBlock
				spmmKBlock = kb
				s.setKBlocks()
				spmmKBlock = saved
			}
			b.Run(fmt.Sprintf("spmm/%dx%dx%d/d%d/kb%d", rows, cols, n, pct, kb), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					s.spmm(dst, n, x, n, n, nil, false, nil, 1)
				}
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(float64(s.a.NNZ())*float64(n)/ns, "nzMAC/ns")
				b.ReportMetric(float64(rows*cols*n)/ns, "effMAC/ns")
			})
		}
		w := randVec(rng, rows*cols)
		pa := packAll(activeKernel(), false, rows, cols, 1, w, cols, nil)
		b.Run(fmt.Sprintf("dense/%dx%dx%d", rows, cols, n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				gemmPacked(pa, false, n, x, n, dst, n, false, nil, nil, nil, 1)
			}
			b.ReportMetric(float64(rows*cols*n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "MAC/ns")
		})
	}
}

// BenchmarkSpmvForms times the two forms of the batch-1 kernel (gather
// SELL, permute blocks) on lenet300's layer shapes and others at 70–97%
// sparsity, reporting ns per nonzero (gather) and the permute form's
// steps and entries, from which permPays's rates are read.
func BenchmarkSpmvForms(b *testing.B) {
	for _, sz := range [][2]int{{300, 784}, {100, 300}, {10, 100}, {512, 512}, {1000, 256}} {
		rows, cols := sz[0], sz[1]
		rng := rand.New(rand.NewPCG(3, 3))
		for _, density := range []float64{0.03, 0.05, 0.1, 0.2, 0.3} {
			a := sparse.EncodeCSR(randSparse(rng, rows, cols, density), rows, cols)
			x := randVec(rng, cols)
			dst := make([]float32, rows)
			for _, form := range []int{sellGather, sellPermute} {
				p := newSellPackForm(a, form)
				name := "gather"
				if p.pm != nil {
					name = "permute"
				} else if form == sellPermute {
					continue
				}
				buf := make([]float32, p.scratch())
				b.Run(fmt.Sprintf("%s/%dx%d/d%.2f", name, rows, cols, density), func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						p.spmv(dst, x, nil, false, buf, 1)
					}
					ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					b.ReportMetric(float64(a.NNZ()), "nnz")
					if p.pm != nil {
						b.ReportMetric(float64(p.pm.steps()), "steps")
						b.ReportMetric(float64(p.pm.entries()), "entries")
					}
					b.ReportMetric(ns/float64(a.NNZ()), "ns/nz")
				})
			}
		}
	}
}
