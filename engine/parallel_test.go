package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// TestParallelForCoversOnce checks that parallelFor hands every index to
// fn exactly once, in chunks within [0, n), for any thread and chunk count,
// from concurrent callers and from inside a region.
func TestParallelForCoversOnce(t *testing.T) {
	check := func(n, threads, chunks int, nested bool) error {
		seen := make([]atomic.Int32, n)
		var bad atomic.Bool
		parallelForChunks(n, threads, chunks, func(lo, hi int) {
			if lo < 0 || hi > n || lo >= hi {
				bad.Store(true)
				return
			}
			if nested {
				parallelFor(hi-lo, threads, func(a, b int) {
					for i := lo + a; i < lo+b; i++ {
						seen[i].Add(1)
					}
				})
				return
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
		})
		if bad.Load() {
			return fmt.Errorf("n %d threads %d chunks %d: chunk outside [0, n)", n, threads, chunks)
		}
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				return fmt.Errorf("n %d threads %d chunks %d nested %v: index %d run %d times", n, threads, chunks, nested, i, c)
			}
		}
		return nil
	}
	for _, n := range []int{0, 1, 2, 3, 7, 64, 1000} {
		for _, threads := range []int{1, 2, 3, 8} {
			for _, chunks := range []int{1, 2, 5, 4 * threads, n} {
				if chunks < 1 {
					continue
				}
				for _, nested := range []bool{false, true} {
					if err := check(n, threads, min(chunks, max(n, 1)), nested); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := check(97, 3, 12, i%2 == 0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestRegionClaimEnds checks the chunk hand-out of a region: the caller's
// claims come from the first chunk up and the workers' from the last one
// down, whatever the interleaving, every chunk once, none past the end.
func TestRegionClaimEnds(t *testing.T) {
	for _, n := range []int64{1, 2, 7, 8} {
		for _, pattern := range []string{"cw", "ccw", "wwwc", "c", "w"} {
			r := &region{nchunks: n}
			var got []int64
			var caller, worker []int64
			for i := 0; ; i++ {
				isCaller := pattern[i%len(pattern)] == 'c'
				c, ok := r.claim(isCaller)
				if !ok {
					break
				}
				got = append(got, c)
				if isCaller {
					caller = append(caller, c)
				} else {
					worker = append(worker, c)
				}
			}
			if int64(len(got)) != n {
				t.Fatalf("n %d, %q: %d chunks handed out, want %d", n, pattern, len(got), n)
			}
			for i, c := range caller {
				if c != int64(i) {
					t.Fatalf("n %d, %q: caller's chunks %v, want 0, 1, 2, …", n, pattern, caller)
				}
			}
			for i, c := range worker {
				if c != n-1-int64(i) {
					t.Fatalf("n %d, %q: workers' chunks %v, want %d, %d, …", n, pattern, worker, n-1, n-2)
				}
			}
			if _, ok := r.claim(true); ok {
				t.Fatalf("n %d, %q: a claim after the last chunk succeeded", n, pattern)
			}
		}
	}
}

// TestThreadsBitwise runs real models on 1, 2 and 3 threads and requires
// the same outputs bit for bit: every kernel computes each output element
// in one order whatever the split (parallel.go). It covers the portable
// kernels when run on arm64/armv7 (scripts/cross.sh runs it under qemu).
func TestThreadsBitwise(t *testing.T) {
	cases := []struct {
		name  string
		path  func(testing.TB) string
		shape []int
	}{
		{"lenet5", func(t testing.TB) string { return testmodels.Shared(t, "mnist/lenet5.onnx") }, nil},
		{"mobilenet_v3_small", func(t testing.TB) string { return testmodels.Shared(t, "tv/mobilenet_v3_small.onnx") }, nil},
		// Every implicit path of resnet18 (rows, linear, phased, subsample),
		// whose fills and units of work are cut per thread.
		{"resnet18", func(t testing.TB) string { return testmodels.Shared(t, "tv/resnet18.onnx") }, nil},
		{"ppocr_cls", func(t testing.TB) string { return testmodels.OCR(t, "cls") }, []int{1, 3, 48, 192}},
		{"ppocr_det", func(t testing.TB) string { return testmodels.OCR(t, "det") }, []int{1, 3, 96, 128}},
	}
	forceParallel(t) // every node on all threads, whatever this machine's costs
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := onnxio.ReadFile(c.path(t))
			if err != nil {
				t.Fatal(err)
			}
			in0 := m.Info().Inputs[0]
			shape := c.shape
			if shape == nil {
				ds, err := in0.DefaultShape()
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ds {
					shape = append(shape, int(d))
				}
			}
			x := randSlice(rand.New(rand.NewPCG(3, 4)), numel(shape))
			var ref []float32
			for _, threads := range []int{1, 2, 3} {
				p, err := Compile(m, WithInputShape(in0.Name, shape...), WithThreads(threads))
				if err != nil {
					t.Fatal(err)
				}
				in := map[string]*tensor.Dense{in0.Name: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(x))}
				out, err := p.Run(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				got := out[p.Outputs()[0].Name].Data().([]float32)
				if threads == 1 {
					ref = append([]float32(nil), got...)
					continue
				}
				for i := range ref {
					if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("threads %d: output[%d] = %v, 1 thread gave %v (want bit for bit the same)", threads, i, got[i], ref[i])
					}
				}
			}
			t.Logf("%v: %d outputs equal bit for bit on 1, 2 and 3 threads", shape, len(ref))
		})
	}
}
