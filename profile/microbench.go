package profile

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
)

// MeasureBandwidth copies a buffer much larger than the caches with
// threads goroutines, best of reps, and returns GB/s of traffic (each
// copied byte is read once and written once, so 2 bytes per byte copied).
func MeasureBandwidth(threads, reps int) float64 {
	const n = 32 << 20 // bytes per buffer
	src := make([]byte, n)
	dst := make([]byte, n)
	for i := range src {
		src[i] = byte(i)
	}
	best := time.Duration(1 << 62)
	for r := 0; r < reps; r++ {
		t0 := time.Now()
		var wg sync.WaitGroup
		chunk := n / threads
		for t := 0; t < threads; t++ {
			wg.Add(1)
			go func(lo int) {
				defer wg.Done()
				copy(dst[lo:lo+chunk], src[lo:lo+chunk])
			}(t * chunk)
		}
		wg.Wait()
		best = min(best, time.Since(t0))
	}
	return 2 * float64(n) / best.Seconds() / 1e9
}

// MeasurePeak times a 512×512×512 MatMul in the engine with threads and
// returns its GFLOP/s (best of reps runs after warm-up): the engine's
// reachable peak on this machine, the roof of the cost model.
func MeasurePeak(ctx context.Context, threads, reps int) (float64, error) {
	const n = 512
	b := onnxbuild.New(13)
	x := b.Input("x", onnxbuild.Float, n, n)
	r := rand.New(rand.NewPCG(3, 4))
	w := make([]float32, n*n)
	for i := range w {
		w[i] = r.Float32() - 0.5
	}
	wn := b.Init("w", []int64{n, n}, w)
	b.Node("MatMul", []string{x, wn}, []string{"y"})
	b.Output("y", onnxbuild.Float, n, n)
	m, err := onnxio.FromProto(b.Model())
	if err != nil {
		return 0, err
	}
	p, err := engine.Compile(m, engine.WithThreads(threads))
	if err != nil {
		return 0, err
	}
	t, err := engine.Measure(ctx, p, engine.RandomInputs(p), 2, reps)
	if err != nil {
		return 0, err
	}
	return 2 * n * n * n / t.Min.Seconds() / 1e9, nil
}
