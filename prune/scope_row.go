package prune

import "slices"

// The row scope: every output row of a target — the elements at one index
// of its output-channel axis (Conv [O,I,kh,kw]: one filter; Gemm B [N,K]
// with transB: one row) — loses round(s·len(row)) elements (half to even,
// as Python's round), its lowest-scoring ones, ties broken by position.
// This is Wanda's comparison group (locuslab/wanda prunes each output row
// of W to the sparsity on its own).

// rowGeom is the row structure of a target: rows along OutAxis, each of
// rowLen elements at stride inner within blocks of outer.
type rowGeom struct {
	rows, rowLen int
	inner        int // product of the dims after OutAxis
}

func newRowGeom(t *Target) rowGeom {
	g := rowGeom{rows: int(t.Shape[t.OutAxis]), inner: 1}
	for _, d := range t.Shape[t.OutAxis+1:] {
		g.inner *= int(d)
	}
	g.rowLen = t.NumElements() / max(g.rows, 1)
	return g
}

// index is the flat index of element j of row r.
func (g rowGeom) index(r, j int) int {
	outer, in := j/g.inner, j%g.inner
	return (outer*g.rows+r)*g.inner + in
}

// rowPruned is how many elements of t the row scope prunes at sparsity s.
func rowPruned(t *Target, s float64) int {
	g := newRowGeom(t)
	return g.rows * roundHalfEven(s, g.rowLen)
}

// rowScores is a source over scores held in memory.
type rowScores []float32

func (s rowScores) units() int { return len(s) }
func (s rowScores) scan(fn func(int, []float32)) error {
	fn(0, s)
	return nil
}

// applyRows zeroes, in every output row of t, the round(s·len) elements
// that score lowest under imp (existing zeros first).
func applyRows(t *Target, imp Importance, s float64, w []float32) error {
	scores := make([]float32, len(w))
	for off := 0; off < len(w); off += chunkElems {
		end := min(off+chunkElems, len(w))
		scoreChunk(imp, scores[off:end], w[off:end], t, off)
	}
	g := newRowGeom(t)
	k := roundHalfEven(s, g.rowLen)
	row := make(rowScores, g.rowLen)
	for r := range g.rows {
		for j := range row {
			row[j] = scores[g.index(r, j)]
		}
		c, err := selectLowest(row, k)
		if err != nil {
			return err
		}
		ties := c.Ties
		for j, v := range row {
			kv := key(v)
			if kv < c.Key || (kv == c.Key && ties > 0) {
				if kv == c.Key {
					ties--
				}
				w[g.index(r, j)] = 0
			}
		}
	}
	return nil
}

// rowScopeOK reports whether a plan's scope and pattern go together.
func rowScopeOK(scope, pattern string) bool {
	return scope != Row.String() || slices.Contains([]string{"", "element"}, pattern)
}
