package engine

import "sort"

// arenaItem is a buffer of size elements, live from step birth to step end
// (inclusive), to be given an offset in one arena.
type arenaItem struct{ id, birth, end, size int }

// placeBestFit lays items out in one arena, in the order given (callers sort
// them by birth): each goes into the smallest gap between the blocks still
// live at its birth that holds it, else after the last. place receives each
// item's offset as it is decided. It returns the arena's size. The forward
// buffer plan (plan.go) and the gradient arena (trainable.go) both use it.
func placeBestFit(items []arenaItem, place func(it arenaItem, off int)) int {
	type block struct{ off, size, end int }
	var live []block
	peak := 0
	for _, it := range items {
		kept := live[:0]
		for _, b := range live {
			if b.end >= it.birth {
				kept = append(kept, b)
			}
		}
		live = kept
		sort.Slice(live, func(a, b int) bool { return live[a].off < live[b].off })
		best, bestGap, prev := -1, 0, 0
		for _, b := range live {
			if gap := b.off - prev; gap >= it.size && (best < 0 || gap < bestGap) {
				best, bestGap = prev, gap
			}
			prev = b.off + b.size
		}
		if best < 0 {
			best = prev
		}
		place(it, best)
		live = append(live, block{best, it.size, it.end})
		peak = max(peak, best+it.size)
	}
	return peak
}
