// Command nodescale times every node of a model at 1 and at N threads
// (engine.Program.NodeTimes, same random inputs) and lists where the
// second thread is lost: per node, the time at 1 and N threads, the
// speed-up, and the time above a perfect split (tN − t1/N), largest first;
// then the same summed per op type; and how much of the time is in nodes
// the scheduler keeps on one goroutine. Issue 15, docs/benchmarks.md "Threads".
//
//	go build -o /tmp/nodescale ./bench/nodescale
//	bench/priority-run /tmp/nodescale -runs 30 -top 15 MODEL.onnx [NAME=1,3,320,320]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/shapespec"
	"github.com/edgeprune/edgeprune/onnxio"
)

func main() {
	runs := flag.Int("runs", 30, "timed runs per thread count (after 5 warm-ups)")
	threads := flag.Int("threads", 2, "the N compared with 1 thread")
	q := flag.Float64("q", 0.25, "quantile of the runs per node (0 fastest, 0.5 median)")
	top := flag.Int("top", 15, "nodes listed")
	all := flag.Bool("all", false, "every node on N threads (not the scheduler's per-node choice)")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: nodescale [-runs N] [-threads N] [-q Q] [-top K] MODEL.onnx [INPUT=D0,D1,...]...")
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
	ctx := context.Background()
	var times [2][]time.Duration
	var totals [2]time.Duration
	var reps [2]engine.Report
	for i, t := range []int{1, *threads} {
		p, err := engine.Compile(m, append(slices.Clone(shapes), engine.WithThreads(t))...)
		check(err)
		if *all && t > 1 {
			n := p.NodeThreads()
			for j := range n {
				n[j] = t
			}
			check(p.SetNodeThreads(n))
		}
		reps[i] = p.Report()
		times[i], totals[i], err = p.NodeTimes(ctx, engine.RandomInputs(p), 5, *runs, *q)
		check(err)
	}
	n := float64(*threads)
	type row struct {
		name, op, shape string
		threads         int
		t1, tn, lost    float64
	}
	var rows []row
	ops := map[string]*row{}
	var s1, sn, single float64
	nsingle := 0
	// The two plans may differ (a fusion taken at one thread count only):
	// nodes are matched by name, and one missing from the 1-thread plan
	// counts 0 there.
	one := map[string]time.Duration{}
	for i, nc := range reps[0].Nodes {
		one[nc.Name] = times[0][i]
	}
	if len(reps[0].Nodes) != len(reps[1].Nodes) {
		fmt.Printf("the plans differ: %d nodes at 1 thread, %d at %d\n", len(reps[0].Nodes), len(reps[1].Nodes), *threads)
	}
	for i, nc := range reps[1].Nodes {
		t1, tn := us(one[nc.Name]), us(times[1][i])
		if t1 == 0 && tn == 0 {
			continue
		}
		s1 += t1
		sn += tn
		sh := ""
		if len(nc.Outputs) > 0 {
			sh = fmt.Sprint(nc.Outputs[0])
		}
		r := row{nc.Name, nc.Op, sh, nc.Threads, t1, tn, tn - t1/n}
		if nc.Threads == 1 {
			single += t1
			nsingle++
		}
		rows = append(rows, r)
		o := ops[nc.Op]
		if o == nil {
			o = &row{op: nc.Op}
			ops[nc.Op] = o
		}
		o.t1 += t1
		o.tn += tn
		o.lost += r.lost
	}
	fmt.Printf("%s: total %.0f → %.0f µs (%.2f×), Σ nodes %.0f → %.0f µs (%.2f×), %d timed nodes, quantile %.2f of %d runs\n",
		flag.Arg(0), us(totals[0]), us(totals[1]), us(totals[0])/us(totals[1]), s1, sn, s1/sn, len(rows), *q, *runs)
	// The nodes the scheduler keeps on one goroutine leave the other cores
	// idle: their time bounds what running independent branches side by
	// side could add on top of the per-node split.
	fmt.Printf("scheduler (%d threads): %d of %d nodes on 1 goroutine, %.0f µs at 1 thread (%.1f%% of Σ nodes)\n",
		*threads, nsingle, len(rows), single, 100*single/s1)
	slices.SortFunc(rows, func(a, b row) int { return cmpDesc(a.lost, b.lost) })
	fmt.Printf("\n%-36s %-18s %-18s %3s %8s %8s %6s %8s\n", "node", "op", "output", "thr", "1 µs", fmt.Sprintf("%d µs", *threads), "×", "lost µs")
	for _, r := range rows[:min(*top, len(rows))] {
		fmt.Printf("%-36.36s %-18.18s %-18.18s %3d %8.1f %8.1f %6.2f %8.1f\n", r.name, r.op, r.shape, r.threads, r.t1, r.tn, r.t1/r.tn, r.lost)
	}
	var byOp []*row
	for _, o := range ops {
		byOp = append(byOp, o)
	}
	slices.SortFunc(byOp, func(a, b *row) int { return cmpDesc(a.lost, b.lost) })
	fmt.Printf("\n%-18s %8s %8s %6s %8s\n", "op", "1 µs", fmt.Sprintf("%d µs", *threads), "×", "lost µs")
	for _, o := range byOp {
		fmt.Printf("%-18.18s %8.0f %8.0f %6.2f %8.0f\n", o.op, o.t1, o.tn, o.t1/o.tn, o.lost)
	}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodescale:", err)
		os.Exit(1)
	}
}
