package engine

// A plan decides per node how many goroutines its kernel may use: all of
// the plan's threads, or one. Going parallel saves at best t₁(1 − 1/N) of
// a node that takes t₁ on one goroutine, and costs at least one parallel
// region (ForkJoinNs; kernels that split per group or per depth block run
// several), plus what a late helper costs when the other core is busy with
// another process. So a node runs on N goroutines only when the saving is
// at least parallelPayoff regions' cost, with t₁ predicted from its
// multiply-adds and the floats it reads and writes, at this machine's
// measured rates (Tunables). Small nodes — the 7² and 14² element-wise
// chains, a small classifier head, shape arithmetic — then run on the
// calling goroutine, and the spinning helper is not asked for them.
//
// The kernels keep their own size floors (parallelMinElems,
// parallelMinMACs) for the regions inside a node; this choice comes first.
// Results do not depend on it: every kernel computes the same bits on any
// number of goroutines (TestThreadsBitwise).

// parallelPayoff is the saving, in fork/join costs, that a node must
// promise before it runs on more than one goroutine.
const parallelPayoff = 2

// nodeThreads is the cost model's choice for a node of macs multiply-adds
// that reads and writes elems values, in a plan of threads goroutines.
func nodeThreads(macs, elems int64, threads int, t Tunables) int {
	if threads <= 1 {
		return 1
	}
	t1 := float64(macs)*t.NsPerMAC + float64(elems)*t.NsPerElem
	if t1*(1-1/float64(threads)) < parallelPayoff*t.ForkJoinNs {
		return 1
	}
	return threads
}

// scheduleThreads sets every step's thread count (step.threads) for a plan
// of threads goroutines.
func scheduleThreads(pr *program, values []*value, threads int, t Tunables) {
	for i := range pr.steps {
		s := &pr.steps[i]
		var elems int64
		for _, ids := range [][]int{s.in, s.out} {
			for _, id := range ids {
				if id >= 0 && values[id].konst == nil {
					elems += int64(numel(values[id].shape))
				}
			}
		}
		s.threads = nodeThreads(s.macs, elems, threads, t)
		if s.sub != nil {
			s.threads = threads // an If: its branch's nodes choose
		}
		for _, sub := range s.sub {
			scheduleThreads(sub, values, threads, t)
		}
	}
}
