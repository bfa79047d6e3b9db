// Command pathab times one model compiled with two tune records (edgeprune
// tune --model -o FILE; see bench/conv_paths_ab.sh) in one process,
// alternated: rounds of runs timed runs of each plan in turn, on the same
// random inputs, and prints per plan the median over rounds of each
// round's median run (by the thread's CPU time at 1 thread, else by the
// clock), the spread, and the ratio b/a; it also checks that the
// two plans' outputs agree within 1e-4 of their scale (Conv paths change
// only the rounding of sums). Compile it first, time it through the lock:
//
//	go build -o /tmp/pathab ./bench/pathab && bench/priority-run /tmp/pathab -m MODEL -a A.json -b B.json -threads 2
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/shapespec"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
)

func main() {
	path := flag.String("m", "", "model")
	shape := flag.String("shape", "", "NAME=1,3,224,224 (default: the model's, batch 1)")
	a := flag.String("a", "", "tune record A")
	b := flag.String("b", "", "tune record B")
	threads := flag.Int("threads", 1, "plan threads (the records' threads)")
	rounds := flag.Int("rounds", 15, "alternated rounds")
	runs := flag.Int("runs", 20, "timed runs per plan per round")
	flag.Parse()
	if err := run(*path, *shape, *a, *b, *threads, *rounds, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "pathab:", err)
		os.Exit(1)
	}
}

func run(path, shape, fa, fb string, threads, rounds, runs int) error {
	m, err := onnxio.ReadFile(path)
	if err != nil {
		return err
	}
	opts := []engine.Option{engine.WithThreads(threads)}
	if shape != "" {
		o, err := shapespec.Option(shape)
		if err != nil {
			return fmt.Errorf("-%w", err)
		}
		opts = append(opts, o)
	}
	var plans []*engine.Program
	for _, f := range []string{fa, fb} {
		rec, err := engine.LoadThreadChoice(f)
		if err != nil {
			return err
		}
		p, err := engine.Compile(m, append(slices.Clip(opts), engine.WithTuneRecord(rec))...)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		plans = append(plans, p)
	}
	ctx := context.Background()
	in := engine.RandomInputs(plans[0])
	outA, err := plans[0].Run(ctx, in)
	if err != nil {
		return err
	}
	outB, err := plans[1].Run(ctx, in)
	if err != nil {
		return err
	}
	for name, ta := range outA {
		x, y := ta.Data().([]float32), outB[name].Data().([]float32)
		var scale, diff float64
		for i := range x {
			scale = math.Max(scale, math.Abs(float64(x[i])))
			diff = math.Max(diff, math.Abs(float64(x[i])-float64(y[i])))
		}
		fmt.Printf("output %s: max |a−b| %.3g of max |a| %.3g\n", name, diff, scale)
		if diff > 1e-4*scale {
			return fmt.Errorf("output %s: the plans differ by %.3g (scale %.3g)", name, diff, scale)
		}
	}
	// Per round and plan, the median run: by the thread's CPU time with
	// one thread (what the run takes on an idle core, however often the
	// shared machine preempted it: profile.MeasureRuns), else by the clock.
	med := make([][]float64, 2)
	for range rounds {
		for i, p := range plans {
			r, err := profile.MeasureRuns(ctx, p, in, threads, 2, runs)
			if err != nil {
				return err
			}
			med[i] = append(med[i], r.Quantile(0.5))
		}
	}
	clock := "wall clock"
	if threads == 1 {
		clock = "thread CPU time"
	}
	var mid [2]float64
	for i, name := range []string{"a", "b"} {
		s := slices.Clone(med[i])
		slices.Sort(s)
		mid[i] = s[len(s)/2]
		fmt.Printf("%s %s: median %.2f ms by %s (rounds' medians %.2f–%.2f, quartiles %.2f–%.2f)\n", name, []string{fa, fb}[i],
			mid[i], clock, s[0], s[len(s)-1], s[len(s)/4], s[3*len(s)/4])
	}
	// Paired: per round, b's median over a's.
	var ratios []float64
	for r := range med[0] {
		ratios = append(ratios, med[1][r]/med[0][r])
	}
	slices.Sort(ratios)
	fmt.Printf("b/a: %.3f (median of %d rounds' ratios %.3f; their quartiles %.3f–%.3f)\n", mid[1]/mid[0], len(ratios),
		ratios[len(ratios)/2], ratios[len(ratios)/4], ratios[3*len(ratios)/4])
	return nil
}
