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
				gemmPacked(pa, false, n, x, n, dst, n, false, nil, nil, 1)
			}
			b.ReportMetric(float64(rows*cols*n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "MAC/ns")
		})
	}
}
