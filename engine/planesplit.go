package engine

// Consecutive nodes on two goroutines hand their activations over in the
// caches: a node that reads what the other core wrote pays a line transfer
// between the cores for every 64 bytes (100–500 ns a round trip on the
// 2-vCPU VMs of docs/benchmarks.md § Threads, Session 8), and one that
// writes lines the other core holds pays to take them back. A mobilenet_v2
// block of four nodes, each 1.5–1.9× faster on 2 goroutines alone, ran
// slower on 2 than on 1 (bench/ceiling). So the kernels of a convolutional
// network split its NCHW activations alike: by positions within every
// channel plane, the first positions to the calling goroutine (region.work
// hands the caller the first chunks, the helper the last). The implicit
// 1×1 and 3×3 convolutions' units are already position-major, the flat
// depthwise kernel splits its planes (depthwiseFlat), and the element-wise
// kernels split theirs here, so an activation mostly stays in the cache of
// the core that wrote it, for the next node and the next run.

// planeSplitMin is the smallest plane (floats) split by positions; smaller
// planes (7², 1×1) split flat, by channels.
const planeSplitMin = 128


// planeOf is the plane size to split a tensor of this shape by: H·W of an
// [N, C, H, W] tensor with more than one channel and a plane of at least
// planeSplitMin floats, else 0 (split flat).
func planeOf(shape []int) int {
	if len(shape) != 4 || shape[1] < 2 {
		return 0
	}
	if p := shape[2] * shape[3]; p >= planeSplitMin {
		return p
	}
	return 0
}

// planeFor runs fn over [0, n) on up to threads goroutines. With plane > 0
// (n a multiple of it) a chunk is a range of positions [p0, p1) taken in
// every plane (fn(c·plane+p0, c·plane+p1) for each plane c, in order), in
// two chunks per goroutine of whole 16-float blocks, as depthwiseFlat cuts
// its planes; otherwise parallelFor's flat chunks. fn must compute each
// element the same way whichever range it is given.
func planeFor(n, plane, threads int, fn func(lo, hi int)) {
	if plane <= 0 || threads <= 1 || n%plane != 0 || n == plane {
		parallelFor(n, threads, fn)
		return
	}
	nplanes := n / plane
	nb := (plane + 15) / 16
	parallelForChunks(nb, threads, min(nb, 2*threads), func(lo, hi int) {
		p0, p1 := lo*16, min(hi*16, plane)
		for c := 0; c < nplanes; c++ {
			fn(c*plane+p0, c*plane+p1)
		}
	})
}
