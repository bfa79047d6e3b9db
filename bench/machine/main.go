// Command machine prints the two roofs the sparse benchmark is read
// against, measured in the same run: the engine's SGEMM peak (a 512³
// MatMul, profile.MeasurePeak) and the copy bandwidth (a 32 MiB copy,
// profile.MeasureBandwidth, read + write traffic), on one thread, as JSON:
// {"sgemm_gflops": …, "copy_gbs": …}. bench/sparse_vs_dense.sh runs it
// before its table, so the GFLOP/s there are fractions of this machine
// under the same load.
//
//	go build -o /tmp/machine ./bench/machine && /tmp/machine -reps 20
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/edgeprune/edgeprune/profile"
)

func main() {
	reps := flag.Int("reps", 20, "repetitions of each measurement (best is kept)")
	threads := flag.Int("threads", 1, "threads")
	flag.Parse()
	if *reps < 1 || *threads < 1 {
		fmt.Fprintln(os.Stderr, "machine: -reps and -threads must be ≥ 1")
		os.Exit(2)
	}
	peak, err := profile.MeasurePeak(context.Background(), *threads, *reps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "machine:", err)
		os.Exit(1)
	}
	bw := profile.MeasureBandwidth(*threads, *reps)
	json.NewEncoder(os.Stdout).Encode(map[string]float64{"sgemm_gflops": peak, "copy_gbs": bw})
}
