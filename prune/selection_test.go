package prune

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// sliceSource is a source over fixed scores, scanned in chunks of size
// chunk (to check results do not depend on chunking).
type sliceSource struct {
	s     []float32
	chunk int
}

func (s *sliceSource) units() int { return len(s.s) }

func (s *sliceSource) scan(fn func(int, []float32)) error {
	for off := 0; off < len(s.s); off += s.chunk {
		fn(off, s.s[off:min(off+s.chunk, len(s.s))])
	}
	return nil
}

// prunedSet lists the units a cut selects.
func prunedSet(s []float32, c cut) []bool {
	out := make([]bool, len(s))
	ties := c.Ties
	for i, v := range s {
		k := key(v)
		if k < c.Key || (k == c.Key && ties > 0) {
			if k == c.Key {
				ties--
			}
			out[i] = true
		}
	}
	return out
}

// less orders units by score as key does, then by position.
func less(a, b float32, ia, ib int) bool {
	ka, kb := key(a), key(b)
	if ka != kb {
		return ka < kb
	}
	return ia < ib
}

// lowestRef is the reference selection: a full sort by (score, position).
func lowestRef(s []float32, k int) []bool {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if less(s[a], s[b], a, b) {
			return -1
		}
		return 1
	})
	out := make([]bool, len(s))
	for _, i := range idx[:k] {
		out[i] = true
	}
	return out
}

// randomScores draws n scores with many ties (few distinct values), some
// zeros, negatives, infinities and NaN when wild.
func randomScores(r *rand.Rand, n int, wild bool) []float32 {
	s := make([]float32, n)
	levels := 1 + r.IntN(20)
	for i := range s {
		switch {
		case r.IntN(4) == 0:
			s[i] = float32(r.IntN(levels)) / 8 // ties
		default:
			s[i] = float32(r.ExpFloat64())
		}
		if wild {
			switch r.IntN(40) {
			case 0:
				s[i] = -s[i]
			case 1:
				s[i] = float32(math.Inf(1))
			case 2:
				s[i] = float32(math.Inf(-1))
			case 3:
				s[i] = float32(math.NaN())
			case 4:
				s[i] = float32(math.Copysign(0, -1))
			}
		}
	}
	return s
}

func TestKeyOrder(t *testing.T) {
	vals := []float32{float32(math.Inf(-1)), -math.MaxFloat32, -1, -math.SmallestNonzeroFloat32, 0,
		math.SmallestNonzeroFloat32, 1e-30, 0.5, 1, math.MaxFloat32, float32(math.Inf(1))}
	for i := 1; i < len(vals); i++ {
		if key(vals[i-1]) >= key(vals[i]) {
			t.Errorf("key(%g) = %#x ≥ key(%g) = %#x", vals[i-1], key(vals[i-1]), vals[i], key(vals[i]))
		}
	}
	if key(float32(math.Copysign(0, -1))) != key(0) {
		t.Error("-0 and +0 have different keys")
	}
	nan := float32(math.NaN())
	if key(nan) <= key(float32(math.Inf(1))) || key(-nan) != key(nan) {
		t.Error("NaN does not sort above +Inf")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		a := math.Float32frombits(r.Uint32())
		b := math.Float32frombits(r.Uint32())
		if a != a || b != b {
			continue
		}
		if (a < b) != (key(a) < key(b)) {
			t.Fatalf("%g < %g is %v, keys %#x %#x", a, b, a < b, key(a), key(b))
		}
	}
}

// TestSelectLowest checks the radix selection against a full sort, with
// ties, special values and several chunk sizes.
func TestSelectLowest(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 300 {
		n := 1 + r.IntN(3000)
		s := randomScores(r, n, trial%2 == 1)
		k := r.IntN(n + 1)
		want := lowestRef(s, k)
		for _, chunk := range []int{1, 7, n} {
			c, err := selectLowest(&sliceSource{s, chunk}, k)
			if err != nil {
				t.Fatal(err)
			}
			if got := prunedSet(s, c); !slices.Equal(got, want) {
				t.Fatalf("trial %d: n=%d k=%d chunk=%d: selection differs from sort", trial, n, k, chunk)
			}
			if p, _ := c.pruned(&sliceSource{s, chunk}); p != k {
				t.Fatalf("trial %d: cut prunes %d, want %d", trial, p, k)
			}
		}
	}
}

// globalRef is the reference for selectGlobal: walk all units sorted by
// (score, target, position) until Σ clamp(count) reaches k; each target
// then loses its clamp(count) lowest units.
func globalRef(ss [][]float32, lo, hi []int, k int) [][]bool {
	type unit struct {
		s    float32
		l, i int
	}
	var all []unit
	for l, s := range ss {
		for i, v := range s {
			all = append(all, unit{v, l, i})
		}
	}
	slices.SortFunc(all, func(a, b unit) int {
		if key(a.s) != key(b.s) {
			if key(a.s) < key(b.s) {
				return -1
			}
			return 1
		}
		if a.l != b.l {
			return a.l - b.l
		}
		return a.i - b.i
	})
	cnt := make([]int, len(ss))
	f := func() int {
		t := 0
		for l, c := range cnt {
			t += min(max(c, lo[l]), hi[l])
		}
		return t
	}
	for _, u := range all {
		if f() >= k {
			break
		}
		cnt[u.l]++
	}
	out := make([][]bool, len(ss))
	for l, s := range ss {
		out[l] = lowestRef(s, min(max(cnt[l], lo[l]), hi[l]))
	}
	return out
}

func TestSelectGlobal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 300 {
		L := 1 + r.IntN(6)
		ss := make([][]float32, L)
		srcs := make([]source, L)
		lo, hi := make([]int, L), make([]int, L)
		total, sumLo, sumHi := 0, 0, 0
		for l := range L {
			n := 1 + r.IntN(500)
			ss[l] = randomScores(r, n, trial%3 == 0)
			srcs[l] = &sliceSource{ss[l], 1 + r.IntN(n)}
			total += n
			if trial%2 == 1 { // bounds
				lo[l] = r.IntN(n/2 + 1)
				hi[l] = lo[l] + r.IntN(n-lo[l]+1)
			} else {
				lo[l], hi[l] = 0, n
			}
			sumLo += lo[l]
			sumHi += hi[l]
		}
		k := sumLo + r.IntN(sumHi-sumLo+1)
		want := globalRef(ss, lo, hi, k)
		cuts, counts, err := selectGlobal(srcs, lo, hi, k)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0
		for l := range L {
			got := prunedSet(ss[l], cuts[l])
			if !slices.Equal(got, want[l]) {
				t.Fatalf("trial %d: target %d of %d: selection differs from the reference (k=%d, lo=%v, hi=%v)", trial, l, L, k, lo, hi)
			}
			if counts[l] < lo[l] || counts[l] > hi[l] {
				t.Fatalf("trial %d: target %d loses %d, bounds [%d, %d]", trial, l, counts[l], lo[l], hi[l])
			}
			sum += counts[l]
		}
		if sum != k {
			t.Fatalf("trial %d: %d units pruned, want %d", trial, sum, k)
		}
		_ = total
	}
}
