package engine

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// forceParallel makes plans compiled until the test ends give every node
// all their threads (the cheapest fork/join the tunables allow), so that
// tests of the parallel kernels reach them whatever this machine's (or
// qemu's) measured costs would choose.
func forceParallel(t *testing.T) {
	f := ActiveTunables()
	f.ForkJoinNs = 1
	useTunables(t, f)
}

// useTunables makes tun the tunables of plans compiled until the test
// ends (no start-up measurement replaces them), then restores the previous.
func useTunables(t *testing.T, tun Tunables) {
	tunables.once.Do(func() {})
	prev := tunables.cur.Load()
	tunables.cur.Store(&tun)
	t.Cleanup(func() { tunables.cur.Store(prev) })
}

func TestNodeThreads(t *testing.T) {
	tun := DefaultTunables()
	// A node runs on N goroutines exactly when N saves parallelPayoff
	// fork/joins: at 2 threads, t₁/2 ≥ 4·ForkJoinNs.
	edge := int64(2 * parallelPayoff * tun.ForkJoinNs / tun.NsPerMAC)
	for _, c := range []struct {
		macs, elems int64
		threads     int
		want        int
	}{
		{0, 0, 2, 1},
		{0, 64, 4, 1},          // a 7² element-wise node
		{edge - 1000, 0, 2, 1}, // just below the payoff
		{edge + 1000, 0, 2, 2}, // just above
		{1 << 30, 1 << 20, 1, 1},
		{1 << 30, 1 << 20, 8, 8},
		{0, 1 << 20, 2, 2}, // a large element-wise node
	} {
		if got := nodeThreads(c.macs, c.elems, c.threads, tun); got != c.want {
			t.Errorf("nodeThreads(macs %d, elems %d, threads %d) = %d, want %d", c.macs, c.elems, c.threads, got, c.want)
		}
	}
}

// TestScheduleThreads compiles a real model at 1 and 2 threads with fixed
// tunables: every node's choice is the cost model's, the conv layers with
// the most multiply-adds get 2, the tiny ones 1, and 1 thread means 1.
func TestScheduleThreads(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.Shared(t, "tv/mobilenet_v3_small.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	tun := DefaultTunables()
	useTunables(t, tun)
	for _, threads := range []int{1, 2} {
		p, err := Compile(m, WithThreads(threads))
		if err != nil {
			t.Fatal(err)
		}
		var one, n int
		var big NodeCost
		for _, nc := range p.Report().Nodes {
			if nc.MACs > big.MACs {
				big = nc
			}
			var elems int64
			for _, s := range append(append([][]int{}, nc.Inputs...), nc.Outputs...) {
				if s != nil {
					elems += int64(numel(s))
				}
			}
			if nc.Threads == 1 {
				one++
			} else {
				n++
			}
			if threads == 1 && nc.Threads != 1 {
				t.Fatalf("1 thread: node %s has %d", nc.Name, nc.Threads)
			}
			if nc.Threads != 1 && nc.Threads != threads {
				t.Fatalf("node %s: %d threads in a %d-thread plan", nc.Name, nc.Threads, threads)
			}
			// Weights count in the report's inputs but not in the model's
			// elems, so a node given 1 thread may not exceed the payoff
			// even counting them... the other way: a node with N must.
			if nc.Threads == threads && threads > 1 && nodeThreads(nc.MACs, elems, threads, tun) != threads {
				t.Errorf("node %s (%s, %d MACs, %d elems incl. weights) runs on %d threads below the payoff", nc.Name, nc.Op, nc.MACs, elems, nc.Threads)
			}
		}
		if threads == 2 {
			if big.Threads != 2 {
				t.Errorf("largest node %s (%d MACs) runs on %d threads, want 2", big.Name, big.MACs, big.Threads)
			}
			if one == 0 || n == 0 {
				t.Errorf("2 threads: %d nodes on 1, %d on 2; want both kinds in mobilenet_v3_small", one, n)
			}
			t.Logf("mobilenet_v3_small, 2 threads: %d nodes on 2 goroutines, %d on 1", n, one)
		}
	}
}

func TestTunablesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "tunables.json")
	want := DefaultTunables()
	want.ForkJoinNs, want.GemmNC = 2345, 1024
	if err := SaveTunables(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTunables(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("loaded %+v, saved %+v", got, want)
	}
	other := want
	other.CPU = "some other CPU"
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), want.CPU, other.CPU, 1)), 0o644)
	if _, err := LoadTunables(path); !errors.Is(err, ErrTunablesOtherMachine) {
		t.Fatalf("file from another CPU: err %v, want ErrTunablesOtherMachine", err)
	}
	bad := want
	bad.GemmNC, bad.ForkJoinNs = 100, math.NaN()
	err = SaveTunables(path, bad)
	if err == nil || !strings.Contains(err.Error(), "gemm_nc = 100") || !strings.Contains(err.Error(), "fork_join_ns") {
		t.Fatalf("invalid tunables: err %v, want one naming gemm_nc and fork_join_ns", err)
	}
	os.WriteFile(path, []byte(`{"cpu": "x", "fork_join_us": 3}`), 0o644)
	if _, err := LoadTunables(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("unknown field: err %v, want one naming the file", err)
	}
}

// TestMeasureSchedule checks that the start-up measurement gives values
// the tunables accept, and that a fork/join costs more than ten
// multiply-adds (about 2 µs against 0.02 ns here; a preemption in the
// middle of the multiply-adds' timing, on a loaded machine, makes them at
// most a few ns). The element-wise rate is not checked against anything:
// one preemption in its 40 µs window moves it by orders of magnitude.
func TestMeasureSchedule(t *testing.T) {
	m := measureSchedule(DefaultTunables(), 3)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if !(m.ForkJoinNs > 10*m.NsPerMAC) {
		t.Fatalf("measured %+v: a fork/join should cost more than ten multiply-adds", m)
	}
	t.Logf("fork/join %.0f ns, %.4f ns/MAC, %.3f ns/float", m.ForkJoinNs, m.NsPerMAC, m.NsPerElem)
}
