package prune

import (
	"math"
)

// Selection of the k lowest-scoring units, in O(n) and deterministically.
//
// Scores are float32; key maps each to a uint32 with the same order, and a
// three-round radix selection (11, 11 and 10 bits of the key, one histogram
// pass each) finds the key T of the k-th lowest unit without sorting. Units
// scoring below T are pruned, then units scoring exactly T in position order
// until k are: ties are broken by position, so a mask depends only on the
// scores, on every machine.
//
// Over several targets (global scope) the units are ordered by score, then
// target order, then position, and each target's count can be held between
// a lower and an upper bound: the rounds then find the lowest T at which
// Σ clamp(count below T, lo, hi) reaches k. Either way, the pruned units of
// each target are exactly its lowest-scoring units, in its own order; that is
// why a plan only needs to record how many units each target loses.

// source yields a target's unit scores, chunk by chunk, in unit order.
type source interface {
	units() int
	// scan calls fn with consecutive chunks of unit scores; base is the
	// index of the chunk's first unit.
	scan(fn func(base int, scores []float32)) error
}

// key maps a score to a uint32 of the same order: -0 and +0 share a key,
// NaN is above +Inf.
func key(s float32) uint32 {
	b := math.Float32bits(s)
	switch {
	case s == 0:
		return 1 << 31
	case s != s:
		return math.MaxUint32
	case b>>31 != 0:
		return ^b
	}
	return b | 1<<31
}

// cut says which units of a target are pruned: every unit whose key is below
// Key, then the first Ties units whose key equals Key.
type cut struct {
	Key  uint32
	Ties int
}

// pruned is the number of units the cut prunes, given the scores.
func (c cut) pruned(s source) (int, error) {
	n, ties := 0, 0
	err := s.scan(func(_ int, sc []float32) {
		for _, v := range sc {
			k := key(v)
			if k < c.Key {
				n++
			} else if k == c.Key && ties < c.Ties {
				ties++
				n++
			}
		}
	})
	return n, err
}

var radixRounds = [...]struct{ shift, bits uint }{{21, 11}, {10, 11}, {0, 10}}

const radixBins = 1 << 11

// selectLowest returns the cut pruning the k lowest-scoring units of s.
func selectLowest(s source, k int) (cut, error) {
	cuts, _, err := selectGlobal([]source{s}, []int{0}, []int{s.units()}, k)
	if err != nil {
		return cut{}, err
	}
	return cuts[0], nil
}

// selectGlobal chooses k units over srcs, the lowest-scoring first, with
// target l losing between lo[l] and hi[l] units. It needs
// 0 ≤ lo[l] ≤ hi[l] ≤ srcs[l].units() and Σlo ≤ k ≤ Σhi (callers check).
// It returns, per target, the cut and the number of units it prunes.
func selectGlobal(srcs []source, lo, hi []int, k int) ([]cut, []int, error) {
	L := len(srcs)
	below := make([]int, L)
	cum := make([]int, L)
	hist := make([]uint32, L*radixBins)
	clamp := func(l, c int) int { return min(max(c, lo[l]), hi[l]) }
	var prefix, mask uint32
	for _, r := range radixRounds {
		clear(hist)
		nd := uint32(1) << r.bits
		for l, s := range srcs {
			h := hist[l*radixBins : l*radixBins+int(nd)]
			err := s.scan(func(_ int, sc []float32) {
				for _, v := range sc {
					kv := key(v)
					if kv&mask == prefix {
						h[(kv>>r.shift)&(nd-1)]++
					}
				}
			})
			if err != nil {
				return nil, nil, err
			}
		}
		// The smallest digit d at which F = Σ clamp(count ≤ d) reaches k.
		copy(cum, below)
		f := 0
		for l := range L {
			f += clamp(l, cum[l])
		}
		// F(max key) = Σhi ≥ k, so some digit reaches k.
		d := uint32(0)
		for ; ; d++ {
			for l := range L {
				if c := int(hist[l*radixBins+int(d)]); c != 0 {
					f -= clamp(l, cum[l])
					cum[l] += c
					f += clamp(l, cum[l])
				}
			}
			if f >= k || d == nd-1 {
				break
			}
		}
		for l := range L {
			below[l] = cum[l] - int(hist[l*radixBins+int(d)])
		}
		prefix |= d << r.shift
		mask |= (nd - 1) << r.shift
	}
	// below[l] units of target l score under T = prefix. Take units scoring
	// exactly T in order until F reaches k.
	t := prefix
	cnt := append([]int(nil), below...)
	f := 0
	for l := range L {
		f += clamp(l, cnt[l])
	}
	for l, s := range srcs {
		if f >= k {
			break
		}
		err := s.scan(func(_ int, sc []float32) {
			for _, v := range sc {
				if f >= k {
					return
				}
				if key(v) == t {
					if cnt[l] >= lo[l] && cnt[l] < hi[l] {
						f++
					}
					cnt[l]++
				}
			}
		})
		if err != nil {
			return nil, nil, err
		}
	}
	cuts := make([]cut, L)
	counts := make([]int, L)
	for l, s := range srcs {
		counts[l] = clamp(l, cnt[l])
		if counts[l] == cnt[l] {
			cuts[l] = cut{Key: t, Ties: cnt[l] - below[l]}
			continue
		}
		// A bound binds: the target loses its counts[l] lowest units.
		c, err := selectLowest(s, counts[l])
		if err != nil {
			return nil, nil, err
		}
		cuts[l] = c
	}
	return cuts, counts, nil
}
