// Command planab times one model's per-node thread plans side by side in
// one process, in windows, each window bracketed by the core-to-core round
// trip (as bench/corelat measures it), so that the VM's two placements
// (docs/benchmarks.md, Threads, "Session 10 (s10-modes)") can be read
// apart: per window, the round trip before and after, then the median of
// -runs runs of each plan in turn. The plans: "one", the model compiled
// for 1 thread; "plan", compiled for -threads with its per-node choice
// (the cost model's, or the tune record's with -record); "allN", every
// node on -threads; "convN", Conv and ConvTranspose nodes on -threads, the
// rest on 1; "all1", the -threads plan with every node on 1; "adapt", the
// -threads plan choosing run by run between its per-node choice and one
// goroutine (engine.WithAdaptiveThreads; the others run without).
// Issue 15, "Session 11 (s11-adapt)".
//
//	go build -o /tmp/planab ./bench/planab
//	bench/priority-run /tmp/planab -windows 30 -runs 10 MODEL.onnx [NAME=1,3,320,320]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/shapespec"
	"github.com/edgeprune/edgeprune/onnxio"
)

func main() {
	runs := flag.Int("runs", 10, "timed runs of each plan per window")
	windows := flag.Int("windows", 20, "windows")
	threads := flag.Int("threads", 2, "the plan's threads")
	record := flag.String("record", "", "tune record (edgeprune tune --model) for the -threads plan")
	flag.Parse()
	if flag.NArg() < 1 || *runs < 1 || *windows < 1 || *threads < 2 {
		fmt.Fprintln(os.Stderr, "usage: planab [-runs N] [-windows N] [-threads N] [-record FILE] MODEL.onnx [INPUT=D0,D1,...]...")
		os.Exit(2)
	}
	m, err := onnxio.ReadFile(flag.Arg(0))
	check(err)
	var shapes []engine.Option
	for _, a := range flag.Args()[1:] {
		o, err := shapespec.Option(a)
		check(err)
		shapes = append(shapes, o)
	}
	one, err := engine.Compile(m, append(slices.Clone(shapes), engine.WithThreads(1))...)
	check(err)
	opts := append(slices.Clone(shapes), engine.WithThreads(*threads))
	if *record != "" {
		tc, err := engine.LoadThreadChoice(*record)
		check(err)
		opts = append(opts, engine.WithTuneRecord(tc))
	}
	pa, err := engine.Compile(m, append(slices.Clone(opts), engine.WithAdaptiveThreads(true))...)
	check(err)
	opts = append(opts, engine.WithAdaptiveThreads(false))
	pn, err := engine.Compile(m, opts...)
	check(err)
	planN := pn.NodeThreads()
	rep := pn.Report()
	uniform := func(t int) []int {
		n := slices.Clone(planN)
		for i := range n {
			n[i] = t
		}
		return n
	}
	convN := uniform(1)
	for i, nc := range rep.Nodes {
		if strings.HasPrefix(nc.Op, "Conv") {
			convN[i] = *threads
		}
	}
	type arm struct {
		name  string
		p     *engine.Program
		nodes []int
	}
	arms := []arm{{"one", one, nil}, {"plan", pn, planN}, {"allN", pn, uniform(*threads)}, {"convN", pn, convN}, {"all1", pn, uniform(1)}, {"adapt", pa, nil}}
	ctx := context.Background()
	in := engine.RandomInputs(one)
	for _, a := range arms {
		for range 3 {
			if a.nodes != nil {
				check(a.p.SetNodeThreads(a.nodes))
			}
			_, err := a.p.Run(ctx, in)
			check(err)
		}
	}
	fmt.Printf("%s, %s, load %s, %d nodes, plan on N: %d\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), cpuName(), loadavg(), len(planN), count(planN))
	fmt.Printf("%-8s %6s %6s", "UTC", "rt ns", "rt ns")
	for _, a := range arms {
		fmt.Printf(" %8s", a.name)
	}
	fmt.Println()
	for range *windows {
		c0 := roundTrip()
		ms := make([]float64, len(arms))
		for i, a := range arms {
			if a.nodes != nil {
				check(a.p.SetNodeThreads(a.nodes))
			}
			t := make([]time.Duration, *runs)
			for r := range t {
				t0 := time.Now()
				_, err := a.p.Run(ctx, in)
				t[r] = time.Since(t0)
				check(err)
			}
			slices.Sort(t)
			ms[i] = float64(t[len(t)/2].Nanoseconds()) / 1e6
		}
		c1 := roundTrip()
		fmt.Printf("%-8s %6.0f %6.0f", time.Now().UTC().Format("15:04:05"), c0, c1)
		for _, v := range ms {
			fmt.Printf(" %8.3f", v)
		}
		fmt.Println()
	}
	fmt.Printf("load after %s; adapt: %+v\n", loadavg(), pa.AdaptStats())
}

func count(n []int) int {
	c := 0
	for _, t := range n {
		if t > 1 {
			c++
		}
	}
	return c
}

// roundTrip is bench/corelat's measurement, best of 3 × 20000 round trips, in ns.
func roundTrip() float64 {
	best := time.Duration(1 << 62)
	const n = 20000
	for range 3 {
		var word atomic.Int64
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for i := int64(1); i <= n; i++ {
				for word.Load() != 2*i-1 {
				}
				word.Store(2 * i)
			}
			close(done)
		}()
		runtime.LockOSThread()
		t0 := time.Now()
		for i := int64(1); i <= n; i++ {
			word.Store(2*i - 1)
			for word.Load() != 2*i {
			}
		}
		el := time.Since(t0)
		runtime.UnlockOSThread()
		<-done
		best = min(best, el)
	}
	return float64(best.Nanoseconds()) / n
}

func cpuName() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			_, v, _ := strings.Cut(l, ":")
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "planab:", err)
		os.Exit(1)
	}
}
