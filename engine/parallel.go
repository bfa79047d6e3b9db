package engine

import (
	"sync"
	"sync/atomic"
	"time"
)

// Parallel regions run on a persistent pool of worker goroutines shared by
// every Program. A region is cut into chunks that the calling goroutine and
// up to threads−1 workers take in turn from a shared counter, so a worker
// that starts late (its core busy with something else) takes less or
// nothing, and the region never waits for a chunk nobody has started.
// Workers that run out of chunks spin while the region is still running
// and for a short while after (workerSpin) before parking, so the next
// region, usually the next node of the same run, finds them awake: waking
// a parked worker costs the OS a thread wake-up, tens of microseconds, the
// time of a whole small layer.
//
// Every element of a kernel's output is computed by one chunk, in the same
// order whichever goroutine runs it, so results do not depend on the
// thread count or on who ran what (TestThreadsBitwise).

// workerSpin is how long an idle worker polls for the next region before
// parking. It covers the gaps between a run's nodes (the single-threaded
// ones included) and costs at most this much CPU after the last region.
const workerSpin = 200 * time.Microsecond

// chunksPerThread is how many chunks parallelFor cuts a region into per
// thread (when it has that many items): enough for one goroutine to take
// over from a late one, few enough that the per-chunk overhead (an atomic
// add, a buffer from a sync.Pool) stays far below a chunk's work.
const chunksPerThread = 4

// Below these sizes a kernel runs on one goroutine: a region costs about a
// microsecond to hand out and collect when the workers are spinning, and
// these are a few microseconds of work (2¹⁵ floats of an element-wise pass
// or a copy, 2¹⁶ multiply-adds of the micro-kernel).
const (
	parallelMinElems = 1 << 15
	parallelMinMACs  = 1 << 16
)

type region struct {
	fn      func(lo, hi int)
	n       int          // items
	nchunks int64        // chunk c is items [c·n/nchunks, (c+1)·n/nchunks)
	taken   atomic.Int64 // chunks claimed, from either end
	front   atomic.Int64 // chunks the caller took, from the first one up
	back    atomic.Int64 // chunks the workers took, from the last one down
	done    atomic.Int64 // chunks finished
	waiting atomic.Bool  // the caller is parked on wake
	wake    chan struct{}
}

// work runs chunks until none are left and reports whether it finished
// the region's last chunk. The caller takes chunks from the first one up,
// the workers from the last one down (a claim on taken first, so the two
// ends never hand out the same chunk): with two goroutines on time, the
// caller computes the first half of every region and its helper the
// second, the same halves from one node and one run to the next, so a node
// whose split matches the one before reads mostly what its own core wrote.
// Taking chunks in turn from one counter gave each goroutine a different
// mix in every region. A late helper still leaves the caller to take
// the rest, as before.
func (r *region) work(caller bool) bool {
	last := false
	for {
		c, ok := r.claim(caller)
		if !ok {
			return last
		}
		lo, hi := int(c)*r.n/int(r.nchunks), int(c+1)*r.n/int(r.nchunks)
		if poolStatsOn {
			countChunk(caller, hi-lo)
		}
		r.fn(lo, hi)
		if r.done.Add(1) == r.nchunks {
			last = true
		}
	}
}

// claim hands out the next chunk for the caller (from the first one up) or
// a worker (from the last one down), or reports that none is left.
func (r *region) claim(caller bool) (int64, bool) {
	if r.taken.Add(1) > r.nchunks {
		return 0, false
	}
	if caller {
		return r.front.Add(1) - 1, true
	}
	return r.nchunks - r.back.Add(1), true
}

// regionHook, when set, runs every region in the pool's place: Crossing
// (locality.go) runs the chunks in order on the calling goroutine and notes
// which thread each would have gone to. Nil in every other run.
var regionHook atomic.Pointer[func(n, nchunks, threads int, fn func(lo, hi int))]

var pool struct {
	mu      sync.Mutex
	workers atomic.Int32
	regions chan *region
}

func init() {
	pool.regions = make(chan *region, 256)
}

// ensureWorkers starts workers until there are at least n.
func ensureWorkers(n int) {
	if int(pool.workers.Load()) >= n {
		return
	}
	pool.mu.Lock()
	for int(pool.workers.Load()) < n {
		i := int(pool.workers.Add(1)) - 1
		go worker(i)
	}
	pool.mu.Unlock()
}

func worker(i int) {
	pinWorker(i)
	var prev *region // the last region this worker took chunks of
	tid := 0         // EDGEPRUNE_POOL_STATS: the OS thread of the last region
	for {
		var r *region
		select {
		case r = <-pool.regions:
		default:
			deadline := time.Now().Add(workerSpin)
			for i := 0; r == nil; i++ {
				select {
				case r = <-pool.regions:
				default:
					if i%64 != 63 {
						break
					}
					if prev != nil && prev.done.Load() != prev.nchunks {
						// The caller is still in its last chunks of
						// prev (a chunk of a large convolution takes
						// longer than workerSpin): the next region
						// follows, so the spin starts when prev ends.
						deadline = time.Now().Add(workerSpin)
						continue
					}
					prev = nil // not kept alive while parked
					if time.Now().After(deadline) {
						if poolStatsOn {
							poolCounters.workerParks.Add(1)
						}
						r = <-pool.regions
					}
				}
			}
		}
		prev = r
		if poolStatsOn {
			if t := gettid(); t != tid {
				if tid != 0 {
					poolCounters.workerTIDChanges.Add(1)
				}
				tid = t
				poolCounters.workerTID.Store(int64(t))
			}
		}
		if r.work(false) && r.waiting.Load() {
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}
}

// parallelFor runs fn over [0, n) in contiguous chunks, on the calling
// goroutine and up to threads−1 pool workers (see region). fn must not
// depend on which goroutine runs which chunk.
func parallelFor(n, threads int, fn func(lo, hi int)) {
	parallelForChunks(n, threads, min(n, chunksPerThread*threads), fn)
}

// parallelForChunks is parallelFor with the number of chunks given (at most
// n): for callers whose items are already coarse blocks.
func parallelForChunks(n, threads, chunks int, fn func(lo, hi int)) {
	threads = min(threads, n, chunks)
	if threads <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	if h := regionHook.Load(); h != nil {
		(*h)(n, min(chunks, n), threads, fn)
		return
	}
	// Chunks of ⌊n/chunks⌋ or ⌈n/chunks⌉ items. (Chunks of ⌈n/chunks⌉
	// and a short last one could leave an odd number of them: resnet18's
	// 28² convolutions, 14 units of work, ran as 7 chunks of 2, 8 units on
	// one goroutine and 6 on the other.)
	r := &region{fn: fn, n: n, nchunks: int64(min(chunks, n))}
	ensureWorkers(threads - 1)
	if poolPin == pinAffinity {
		if unpin := pinCaller(threads); unpin != nil {
			defer unpin()
		}
	}
	if poolStatsOn {
		poolCounters.regions.Add(1)
		if t := int64(gettid()); callerTID.Swap(t) != t {
			poolCounters.callerTIDChanges.Add(1)
		}
	}
	for i := 0; i < threads-1; i++ {
		select {
		case pool.regions <- r:
		default: // every slot taken: run with fewer helpers
		}
	}
	r.work(true)
	if r.done.Load() == r.nchunks {
		return
	}
	// A worker is finishing a chunk: poll, then park.
	deadline := time.Now().Add(workerSpin)
	for i := 0; r.done.Load() != r.nchunks; i++ {
		if i%64 == 63 && time.Now().After(deadline) {
			r.wake = make(chan struct{}, 1)
			r.waiting.Store(true)
			if poolStatsOn {
				poolCounters.callerParks.Add(1)
			}
			for r.done.Load() != r.nchunks {
				<-r.wake
			}
			return
		}
	}
}
