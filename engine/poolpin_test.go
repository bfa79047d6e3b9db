package engine

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	oexec "os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// The pool's counters see every item of a region once, split between the
// caller and the workers.
func TestPoolStatsCountEveryItem(t *testing.T) {
	old := poolStatsOn
	poolStatsOn = true
	defer func() { poolStatsOn = old }()
	for _, n := range []int{7, 100, 1001} {
		s0 := ReadPoolStats()
		seen := make([]int32, n)
		// Every chunk waits (up to a second) until two are running at once,
		// so a worker takes part and both counts are exercised.
		var entered atomic.Int32
		parallelForChunks(n, 2, min(n, 9), func(lo, hi int) {
			entered.Add(1)
			for t0 := time.Now(); entered.Load() < 2 && time.Since(t0) < time.Second; {
			}
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		s1 := ReadPoolStats()
		if s1.WorkerItems == s0.WorkerItems || s1.CallerItems == s0.CallerItems {
			t.Errorf("n=%d: caller ran %d items, workers %d: want both > 0", n, s1.CallerItems-s0.CallerItems, s1.WorkerItems-s0.WorkerItems)
		}
		got := (s1.CallerItems - s0.CallerItems) + (s1.WorkerItems - s0.WorkerItems)
		if got != int64(n) || s1.Regions-s0.Regions != 1 {
			t.Errorf("n=%d: counted %d items in %d regions, want %d in 1", n, got, s1.Regions-s0.Regions, n)
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: item %d ran %d times", n, i, c)
			}
		}
	}
}

// EDGEPRUNE_POOL_PIN=lock and =affinity give the same bits as 1 thread:
// each runs TestPoolPinChild in a new process (the switch is read at start,
// and affinity stays with the threads it was set on).
func TestPoolPinBitwise(t *testing.T) {
	testmodels.Shared(t, "tv/mobilenet_v3_small.onnx") // skips without the model
	for _, mode := range []string{"lock", "affinity"} {
		cmd := oexec.Command(os.Args[0], "-test.run", "^TestPoolPinChild$", "-test.v")
		cmd.Env = append(os.Environ(), "EDGEPRUNE_POOL_PIN="+mode, "EDGEPRUNE_POOL_PIN_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("EDGEPRUNE_POOL_PIN=%s: %v\n%s", mode, err, out)
		}
	}
}

func TestPoolPinChild(t *testing.T) {
	if os.Getenv("EDGEPRUNE_POOL_PIN_CHILD") == "" {
		t.Skip("run by TestPoolPinBitwise")
	}
	m, err := onnxio.ReadFile(testmodels.Shared(t, "tv/mobilenet_v3_small.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	forceParallel(t)
	in0 := m.Info().Inputs[0]
	shape := []int{1, 3, 224, 224}
	x := randSlice(rand.New(rand.NewPCG(3, 4)), numel(shape))
	var ref []float32
	for _, threads := range []int{1, runtime.NumCPU(), 3} {
		p, err := Compile(m, WithInputShape(in0.Name, shape...), WithThreads(threads))
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Run(context.Background(), map[string]*tensor.Dense{in0.Name: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(x))})
		if err != nil {
			t.Fatal(err)
		}
		got := out[p.Outputs()[0].Name].Data().([]float32)
		if ref == nil {
			ref = append([]float32(nil), got...)
			continue
		}
		for i := range ref {
			if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
				t.Fatalf("%s, %d threads: output %d = %v, 1 thread %v", os.Getenv("EDGEPRUNE_POOL_PIN"), threads, i, got[i], ref[i])
			}
		}
	}
	if poolPin == pinAffinity && runtime.NumCPU() >= 2 && allowedCPUs() == runtime.NumCPU() && ReadPoolStats().Pinned == 0 {
		t.Error("EDGEPRUNE_POOL_PIN=affinity pinned no thread")
	}
}

// BenchmarkForkJoin is one region of 8 empty chunks on 2 threads: the
// hand-out, the shared counters and the join, nothing else (docs/
// benchmarks.md, Threads, s10-modes: read it beside bench/corelat).
func BenchmarkForkJoin(b *testing.B) {
	var sink atomic.Int64
	for b.Loop() {
		parallelForChunks(8, 2, 8, func(lo, hi int) { sink.Add(0) })
	}
}
