// Command costnoise measures the noise floor of latency measurements on
// this machine, for the cost model (docs/profiles.md, Cost model): the same
// dense model timed repeatedly (the spread of the median of each repeat),
// and the sum of per-node times (engine.Program.NodeTimes) beside whole runs
// (profile.MeasureRuns: wall clock and the thread's CPU time).
//
//	go build -o /tmp/costnoise ./bench/costnoise
//	bench/priority-run /tmp/costnoise -repeats 8 -runs 20 ../shared/models/tv/resnet18.onnx ...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
)

func main() {
	repeats := flag.Int("repeats", 8, "repeats of each measurement")
	runs := flag.Int("runs", 20, "timed runs per measurement (after 3 warm-ups)")
	threads := flag.Int("threads", 1, "engine threads")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: costnoise [-repeats N] [-runs N] [-threads N] MODEL.onnx...")
		os.Exit(2)
	}
	ctx := context.Background()
	fmt.Printf("%-22s %8s %7s %8s %7s | %8s %7s %8s %7s | %8s %8s %7s\n", "model", "wall med", "spread", "wall min", "spread",
		"CPU med", "spread", "CPU min", "spread", "NT total", "Σ nodes", "spread")
	for _, path := range flag.Args() {
		m, err := onnxio.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		p, err := engine.Compile(m, engine.WithThreads(*threads))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		in := engine.RandomInputs(p)
		var med, mn, cmed, cmn, tot, sum []float64
		for r := 0; r < *repeats; r++ {
			t, err := profile.MeasureRuns(ctx, p, in, *threads, 3, *runs)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			med = append(med, t.Wall[len(t.Wall)/2])
			mn = append(mn, t.Wall[0])
			if len(t.CPU) > 0 {
				cmed = append(cmed, t.CPU[len(t.CPU)/2])
				cmn = append(cmn, t.CPU[0])
			}
			nt, total, err := p.NodeTimes(ctx, in, 3, *runs, 0.5)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			var s float64
			for _, d := range nt {
				s += float64(d) / 1e6
			}
			tot = append(tot, float64(total)/1e6)
			sum = append(sum, s)
		}
		fmt.Printf("%-22s %8.3f %6.1f%% %8.3f %6.1f%% | %8.3f %6.1f%% %8.3f %6.1f%% | %8.3f %8.3f %6.1f%%\n", filepath.Base(path),
			mid(med), spread(med), mid(mn), spread(mn), mid(cmed), spread(cmed), mid(cmn), spread(cmn), mid(tot), mid(sum), spread(sum))
	}
}

// mid is the median; spread is (max − min) / median, in percent.
func mid(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

func spread(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	return (slices.Max(x) - slices.Min(x)) / mid(x) * 100
}
