package engine

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// Diagnostics and an experimental placement switch for the worker pool
// (docs/benchmarks.md, Threads, "Session 10 (s10-modes)"). Both are read
// once from the environment and are off by default:
//
//	EDGEPRUNE_POOL_STATS=1       count parks, wake-ups and the OS threads
//	                             each goroutine ran regions on (PoolStats)
//	EDGEPRUNE_POOL_PIN=lock      each worker goroutine locked to its OS thread
//	EDGEPRUNE_POOL_PIN=affinity  lock, and bind worker i's thread to CPU i+1
//	                             and the caller's thread, while it runs a
//	                             region, to CPU 0 — only where the process
//	                             may use every CPU and the region has as
//	                             many threads as there are CPUs
//
// Placement does not change which chunk computes which element, so results
// stay bitwise the same (TestThreadsBitwise, TestPoolPinBitwise).

const (
	pinNone = iota
	pinLock
	pinAffinity
)

var (
	poolPin      = parsePoolPin(os.Getenv("EDGEPRUNE_POOL_PIN"))
	poolStatsOn  = os.Getenv("EDGEPRUNE_POOL_STATS") != ""
	poolCounters struct {
		regions, workerParks, callerParks, workerTIDChanges, callerTIDChanges atomic.Int64
		pinned, workerTID                                                     atomic.Int64
		callerItems, workerItems                                              atomic.Int64
	}
	callerPinned sync.Map // OS thread id → struct{}: threads already bound to CPU 0
)

func parsePoolPin(s string) int {
	switch s {
	case "lock":
		return pinLock
	case "affinity":
		return pinAffinity
	}
	return pinNone
}

// PoolStats is what EDGEPRUNE_POOL_STATS=1 counted since the process
// started (all zero without it).
type PoolStats struct {
	Regions          int64 // parallel regions run
	WorkerParks      int64 // a worker stopped spinning and blocked on the channel
	CallerParks      int64 // a caller blocked waiting for a worker's last chunk
	WorkerTIDChanges int64 // a worker ran a region on another OS thread than its last one
	CallerTIDChanges int64 // a caller ran a region on another OS thread than its last one
	Pinned           int64 // threads bound to a CPU (EDGEPRUNE_POOL_PIN=affinity)
	CallerItems      int64 // items of the regions' chunks the callers ran
	WorkerItems      int64 // items of the regions' chunks the workers ran
	WorkerTID        int64 // the OS thread a worker last ran a region on
	CallerTID        int64 // the OS thread a caller last ran a region on
}

// ReadPoolStats returns the pool's counters.
func ReadPoolStats() PoolStats {
	c := &poolCounters
	return PoolStats{c.regions.Load(), c.workerParks.Load(), c.callerParks.Load(),
		c.workerTIDChanges.Load(), c.callerTIDChanges.Load(), c.pinned.Load(),
		c.callerItems.Load(), c.workerItems.Load(),
		c.workerTID.Load(), callerTID.Load()}
}

// pinAllowed reports whether affinity pinning applies to a region of
// threads: every CPU allowed to the process, one thread per CPU.
func pinAllowed(threads int) bool {
	n := runtime.NumCPU()
	return threads == n && n >= 2 && allowedCPUs() == n
}

var allowedOnce = sync.OnceValue(func() int { return cpuCount() })

func allowedCPUs() int { return allowedOnce() }

// pinWorker places worker i's thread (at its start, when pinning is on).
func pinWorker(i int) {
	if poolPin == pinNone {
		return
	}
	runtime.LockOSThread() // for the worker's whole life
	if poolPin == pinAffinity && pinAllowed(runtime.NumCPU()) {
		if setAffinity(1 + i%(runtime.NumCPU()-1)) {
			poolCounters.pinned.Add(1)
		}
	}
}

// pinCaller binds the calling goroutine's thread to CPU 0 for a region and
// returns the function that releases the goroutine from the thread.
func pinCaller(threads int) func() {
	if poolPin != pinAffinity || !pinAllowed(threads) {
		return nil
	}
	runtime.LockOSThread()
	tid := gettid()
	if _, ok := callerPinned.Load(tid); !ok {
		if setAffinity(0) {
			poolCounters.pinned.Add(1)
		}
		callerPinned.Store(tid, struct{}{})
	}
	return runtime.UnlockOSThread
}

var callerTID atomic.Int64 // EDGEPRUNE_POOL_STATS: the OS thread of the last region's caller

// countChunk adds a chunk's items to its runner's count (an item is a unit
// of the region, whatever it costs).
func countChunk(caller bool, items int) {
	if caller {
		poolCounters.callerItems.Add(int64(items))
	} else {
		poolCounters.workerItems.Add(int64(items))
	}
}
