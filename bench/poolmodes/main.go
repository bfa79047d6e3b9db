// Command poolmodes diagnoses the per-process 2-thread modes (docs/
// benchmarks.md, Threads, "Session 10 (s10-modes)"): it compiles a model,
// times RUNS runs, and meanwhile samples every OS thread of its own process
// from /proc/self/task (the CPU each last ran on, its CPU time and its time
// waiting on a run queue, from schedstat). It prints one line: the median,
// the engine pool's counters (run it with EDGEPRUNE_POOL_STATS=1), and for
// the two busiest threads their CPU and run-queue wait per run and the
// share of samples in which both last ran on the same CPU. Run it as many
// processes, e.g.
//
//	for i in $(seq 20); do EDGEPRUNE_POOL_STATS=1 /tmp/poolmodes -model M; done
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

type thread struct {
	cpuNS, waitNS int64 // schedstat fields 1 and 2
	processor     int   // stat field 39
}

func sample() map[int]thread {
	out := map[int]thread{}
	dirs, _ := filepath.Glob("/proc/self/task/*")
	for _, d := range dirs {
		tid, _ := strconv.Atoi(filepath.Base(d))
		st, err1 := os.ReadFile(d + "/stat")
		ss, err2 := os.ReadFile(d + "/schedstat")
		if err1 != nil || err2 != nil {
			continue
		}
		s := string(st)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
		var t thread
		t.processor, _ = strconv.Atoi(f[39-3])
		g := strings.Fields(string(ss))
		t.cpuNS, _ = strconv.ParseInt(g[0], 10, 64)
		t.waitNS, _ = strconv.ParseInt(g[1], 10, 64)
		out[tid] = t
	}
	return out
}

// steal is each CPU's steal time from /proc/stat, in clock ticks (10 ms).
func steal() [2]int64 {
	var out [2]int64
	b, _ := os.ReadFile("/proc/stat")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 8 && (f[0] == "cpu0" || f[0] == "cpu1") {
			out[f[0][3]-'0'], _ = strconv.ParseInt(f[8], 10, 64)
		}
	}
	return out
}

func numGC() uint32 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.NumGC
}

func main() {
	model := flag.String("model", "../shared/models/tv/mobilenet_v2.onnx", "ONNX model")
	threads := flag.Int("threads", 2, "threads")
	runs := flag.Int("runs", 100, "timed runs")
	every := flag.Duration("every", 2*time.Millisecond, "sampling period")
	alt := flag.Int("alt", 0, "compile 1 thread too and alternate ALT runs of each, RUNS/ALT/2 times: print both medians a window")
	window := flag.Int("window", 0, "also print the median of every WINDOW consecutive runs (0: not)")
	flag.Parse()
	m, err := onnxio.ReadFile(*model)
	if err != nil {
		panic(err)
	}
	p, err := engine.Compile(m, engine.WithThreads(*threads))
	if err != nil {
		panic(err)
	}
	in := engine.RandomInputs(p)
	ctx := context.Background()
	if *alt > 0 {
		alternate(ctx, m, p, in, *alt, *runs)
		return
	}
	for i := 0; i < 5; i++ {
		if _, err := p.Run(ctx, in); err != nil {
			panic(err)
		}
	}
	before := sample()
	st0 := engine.ReadPoolStats()
	var (
		mu      sync.Mutex
		samples []map[int]thread
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(*every):
			}
			s := sample()
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
		}
	}()
	ds := make([]time.Duration, *runs)
	var (
		wst  = engine.ReadPoolStats()
		wsl  = steal()
		wgc  = numGC()
		wthr = sample()
	)
	for i := range ds {
		if *window > 0 && i > 0 && i%*window == 0 {
			w := slices.Clone(ds[i-*window : i])
			slices.Sort(w)
			st, sl, gc, thr := engine.ReadPoolStats(), steal(), numGC(), sample()
			c, k := thr[int(st.CallerTID)], thr[int(st.WorkerTID)]
			fmt.Printf("win %3d median %.2f ms | parks %3d wTIDchg %2d cTIDchg %2d gc %d | steal ms cpu0 %.1f cpu1 %.1f | caller tid %d on cpu %d wait %.2f ms | worker tid %d on cpu %d wait %.2f ms | threads %d\n",
				i / *window, w[(len(w)-1)/2].Seconds()*1e3, st.WorkerParks-wst.WorkerParks, st.WorkerTIDChanges-wst.WorkerTIDChanges, st.CallerTIDChanges-wst.CallerTIDChanges, gc-wgc,
				float64(sl[0]-wsl[0])*10, float64(sl[1]-wsl[1])*10,
				st.CallerTID%1000, c.processor, float64(c.waitNS-wthr[int(st.CallerTID)].waitNS)/1e6,
				st.WorkerTID%1000, k.processor, float64(k.waitNS-wthr[int(st.WorkerTID)].waitNS)/1e6, len(thr))
			wst, wsl, wgc, wthr = st, sl, gc, thr
		}
		t0 := time.Now()
		if _, err := p.Run(ctx, in); err != nil {
			panic(err)
		}
		ds[i] = time.Since(t0)
	}
	close(stop)
	wg.Wait()
	after := sample()
	st := engine.ReadPoolStats()
	if *window > 0 {
		fmt.Print("window medians ms:")
		for i := 0; i+*window <= len(ds); i += *window {
			w := slices.Clone(ds[i : i+*window])
			slices.Sort(w)
			fmt.Printf(" %.2f", w[(len(w)-1)/2].Seconds()*1e3)
		}
		fmt.Println()
	}
	slices.Sort(ds)
	// The two threads that used the most CPU during the timed runs.
	type busy struct {
		tid           int
		cpuNS, waitNS int64
	}
	var bs []busy
	for tid, a := range after {
		b := before[tid]
		bs = append(bs, busy{tid, a.cpuNS - b.cpuNS, a.waitNS - b.waitNS})
	}
	slices.SortFunc(bs, func(x, y busy) int { return int(y.cpuNS - x.cpuNS) })
	same, both := 0, 0
	cpus := map[int]map[int]int{}
	if len(bs) >= 2 {
		for _, s := range samples {
			a, oka := s[bs[0].tid]
			b, okb := s[bs[1].tid]
			if oka && okb {
				both++
				if a.processor == b.processor {
					same++
				}
			}
			for _, x := range bs[:2] {
				if t, ok := s[x.tid]; ok {
					if cpus[x.tid] == nil {
						cpus[x.tid] = map[int]int{}
					}
					cpus[x.tid][t.processor]++
				}
			}
		}
	}
	r := float64(*runs)
	fmt.Printf("median_ms %.3f min_ms %.3f p25 %.3f p75 %.3f | regions/run %.0f workerParks/run %.2f callerParks/run %.2f workerTIDchg %d callerTIDchg %d pinned %d | threads %d",
		ds[(len(ds)-1)/2].Seconds()*1e3, ds[0].Seconds()*1e3, ds[len(ds)/4].Seconds()*1e3, ds[3*len(ds)/4].Seconds()*1e3,
		float64(st.Regions-st0.Regions)/r, float64(st.WorkerParks-st0.WorkerParks)/r, float64(st.CallerParks-st0.CallerParks)/r,
		st.WorkerTIDChanges-st0.WorkerTIDChanges, st.CallerTIDChanges-st0.CallerTIDChanges, st.Pinned, len(after))
	for _, x := range bs[:min(3, len(bs))] {
		fmt.Printf(" | tid%d cpu %.2f ms/run wait %.3f ms/run on %v", x.tid%1000, float64(x.cpuNS)/r/1e6, float64(x.waitNS)/r/1e6, cpus[x.tid])
	}
	fmt.Printf(" | same-CPU samples %d/%d\n", same, both)
}

// alternate times windows of n runs of a 1-thread program of m and of p in
// turn, in this process, and prints each pair's medians and their ratio:
// whether a slow 2-thread window has a slow 1-thread neighbour (the machine)
// or not (the split).
func alternate(ctx context.Context, m *onnxio.Model, p *engine.Program, in map[string]*tensor.Dense, n, runs int) {
	p1, err := engine.Compile(m, engine.WithThreads(1))
	if err != nil {
		panic(err)
	}
	med := func(q *engine.Program) float64 {
		ds := make([]time.Duration, n)
		for i := range ds {
			t0 := time.Now()
			if _, err := q.Run(ctx, in); err != nil {
				panic(err)
			}
			ds[i] = time.Since(t0)
		}
		slices.Sort(ds)
		return ds[(n-1)/2].Seconds() * 1e3
	}
	p1b, err := engine.Compile(m, engine.WithThreads(1))
	if err != nil {
		panic(err)
	}
	inb := engine.RandomInputs(p1b)
	// pair: p1 here and p1b on another goroutine at once, each on its own
	// OS thread: two single-thread runs side by side, nothing shared but
	// the machine (what two cores give when the split costs nothing).
	pair := func() float64 {
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for i := 0; i < n+2; i++ {
				if _, err := p1b.Run(ctx, inb); err != nil {
					panic(err)
				}
			}
			close(done)
		}()
		runtime.LockOSThread()
		v := med(p1)
		runtime.UnlockOSThread()
		<-done
		return v
	}
	med(p1)
	for w := 0; w < runs/n/2; w++ {
		a := med(p1)
		pr := pair()
		s0 := engine.ReadPoolStats()
		b := med(p)
		s1 := engine.ReadPoolStats()
		ci, wi := s1.CallerItems-s0.CallerItems, s1.WorkerItems-s0.WorkerItems
		share := 0.0
		if ci+wi > 0 {
			share = float64(wi) / float64(ci+wi)
		}
		fmt.Printf("1t %.2f pair %.2f 2t %.2f ratio %.2f wshare %.2f parks %d\n", a, pr, b, a/b, share, s1.WorkerParks-s0.WorkerParks)
	}
}
