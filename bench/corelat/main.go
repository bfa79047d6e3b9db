// Command corelat measures what one hand-off between two cores costs on
// this machine: two OS threads pass a counter back and forth through one
// atomic word (each spins until it sees the other's value), and the mean
// round trip is printed, best of -reps repetitions of -n round trips.
// It is the floor under every barrier of a parallel region: a fork/join
// cannot cost less than about one round trip. On one CCX of a Zen CPU a
// round trip takes well under 100 ns; across CCDs (or sockets, or a VM
// whose vCPUs sit there) several hundred. docs/benchmarks.md § Threads
// reads the threads table against it.
//
//	go run ./bench/corelat
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

func main() {
	n := flag.Int("n", 200000, "round trips per repetition")
	reps := flag.Int("reps", 5, "repetitions (best is kept)")
	flag.Parse()
	if *n < 1 || *reps < 1 {
		fmt.Fprintln(os.Stderr, "corelat: -n and -reps must be ≥ 1")
		os.Exit(2)
	}
	if runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "corelat: needs at least 2 CPUs")
		os.Exit(1)
	}
	runtime.GOMAXPROCS(2)
	best := time.Duration(1 << 62)
	for range *reps {
		best = min(best, pingPong(int64(*n)))
	}
	fmt.Printf("core-to-core round trip %.0f ns (best of %d × %d)\n",
		float64(best.Nanoseconds())/float64(*n), *reps, *n)
}

// pingPong times n round trips between this thread and another one.
func pingPong(n int64) time.Duration {
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
	defer runtime.UnlockOSThread()
	start := time.Now()
	for i := int64(1); i <= n; i++ {
		word.Store(2*i - 1)
		for word.Load() != 2*i {
		}
	}
	el := time.Since(start)
	<-done
	return el
}
