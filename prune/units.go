package prune

import (
	"math"

	"github.com/edgeprune/edgeprune/sparse"
)

// Units: how a target's elements group into the units that are scored and
// pruned together, and how a cut on those units zeroes weights.

// chunkElems is the number of elements scored per Importance.Score call.
const chunkElems = 1 << 14

var negInf = float32(math.Inf(-1))

// scoreChunk scores w (elements off.. of t) into dst and sends elements that
// are already zero to the front of the order: existing zeros count, whatever
// the importance.
func scoreChunk(imp Importance, dst, w []float32, t *Target, off int) {
	imp.Score(dst, w, t, off)
	for i, v := range w[:len(dst)] {
		if v == 0 {
			dst[i] = negInf
		}
	}
}

// elementSource scores single elements, chunk by chunk, without holding a
// score per element.
type elementSource struct {
	t   *Target
	imp Importance
	w   []float32
	buf []float32
}

func (s *elementSource) units() int { return len(s.w) }

func (s *elementSource) scan(fn func(int, []float32)) error {
	for off := 0; off < len(s.w); off += len(s.buf) {
		end := min(off+len(s.buf), len(s.w))
		sc := s.buf[:end-off]
		scoreChunk(s.imp, sc, s.w[off:end], s.t, off)
		fn(off, sc)
	}
	return nil
}

// applyElements zeroes the elements a cut selects and returns how many.
func applyElements(s *elementSource, c cut) int {
	n, ties := 0, c.Ties
	_ = s.scan(func(base int, sc []float32) {
		w := s.w[base : base+len(sc)]
		for i, v := range sc {
			k := key(v)
			if k < c.Key || (k == c.Key && ties > 0) {
				if k == c.Key {
					ties--
				}
				w[i] = 0
				n++
			}
		}
	})
	return n
}

// blockGeom is the block structure of a target: R along OutAxis, C along
// InAxis, 1 along every other axis. Blocks are numbered in row-major order
// of the block grid.
type blockGeom struct {
	dims, div, bstride []int
	blocks             int
}

func newBlockGeom(t *Target, p Pattern) *blockGeom {
	r := len(t.Shape)
	g := &blockGeom{dims: make([]int, r), div: make([]int, r), bstride: make([]int, r), blocks: 1}
	for a, d := range t.Shape {
		g.dims[a], g.div[a] = int(d), 1
	}
	g.div[t.OutAxis] = p.R
	g.div[t.InAxis] = p.C
	for a := r - 1; a >= 0; a-- {
		g.bstride[a] = g.blocks
		g.blocks *= g.dims[a] / g.div[a]
	}
	return g
}

// blockWalk steps through the elements in row-major order, tracking the
// block of the current element in b.
type blockWalk struct {
	g   *blockGeom
	idx []int
	b   int
}

func (g *blockGeom) walk() *blockWalk { return &blockWalk{g: g, idx: make([]int, len(g.dims))} }

func (w *blockWalk) next() {
	g := w.g
	for a := len(w.idx) - 1; a >= 0; a-- {
		w.idx[a]++
		if w.idx[a] < g.dims[a] {
			if w.idx[a]%g.div[a] == 0 {
				w.b += g.bstride[a]
			}
			return
		}
		w.b -= (g.dims[a]/g.div[a] - 1) * g.bstride[a]
		w.idx[a] = 0
	}
}

// blockSource holds one score per block: the GroupNorm-norm of the block's
// element scores, or -Inf for a block that is already all zero.
type blockSource struct {
	g      *blockGeom
	scores []float32
}

func (s *blockSource) units() int { return len(s.scores) }

func (s *blockSource) scan(fn func(int, []float32)) error {
	fn(0, s.scores)
	return nil
}

func newBlockSource(t *Target, imp Importance, p Pattern, w, buf []float32) *blockSource {
	g := newBlockGeom(t, p)
	acc := make([]float64, g.blocks)
	nonzero := make([]bool, g.blocks)
	l2 := imp.Norm() == 2
	bw := g.walk()
	for off := 0; off < len(w); off += len(buf) {
		end := min(off+len(buf), len(w))
		sc := buf[:end-off]
		imp.Score(sc, w[off:end], t, off)
		for i, v := range sc {
			s := float64(v)
			if l2 {
				s *= s
			}
			acc[bw.b] += s
			if w[off+i] != 0 {
				nonzero[bw.b] = true
			}
			bw.next()
		}
	}
	scores := make([]float32, g.blocks)
	for b, a := range acc {
		switch {
		case !nonzero[b]:
			scores[b] = negInf
		case l2:
			scores[b] = float32(math.Sqrt(a))
		default:
			scores[b] = float32(a)
		}
	}
	return &blockSource{g: g, scores: scores}
}

// applyBlocks zeroes the blocks a cut selects and returns how many blocks.
func applyBlocks(s *blockSource, c cut, w []float32) int {
	pruned := make([]bool, len(s.scores))
	n, ties := 0, c.Ties
	for b, v := range s.scores {
		k := key(v)
		if k < c.Key || (k == c.Key && ties > 0) {
			if k == c.Key {
				ties--
			}
			pruned[b] = true
			n++
		}
	}
	bw := s.g.walk()
	for i := range w {
		if pruned[bw.b] {
			w[i] = 0
		}
		bw.next()
	}
	return n
}

// applyNM keeps at most n nonzeros in every group of m weights along
// t.InAxis, the groups of sparse.NMAlong(t.Shape, t.InAxis, n, m): in each
// group it zeroes the m−n lowest-scoring weights (ties by position). It
// returns the number of weights it chose to zero. Pattern.fits has checked
// that the layout applies.
//
// Groups lie in slabs of m·Stride contiguous elements, slab after slab, so
// weights are scored a whole number of slabs at a time.
func applyNM(t *Target, imp Importance, n, m int, w, buf []float32) int {
	l, err := sparse.NMAlong(t.Shape, t.InAxis, n, m)
	if err != nil {
		panic("prune: applyNM on a target the pattern does not fit: " + err.Error())
	}
	slab := m * l.Stride
	chunk := max(1, len(buf)/slab) * slab
	if chunk > len(buf) {
		buf = make([]float32, chunk)
	}
	keys := make([]uint32, m)
	order := make([]int, m)
	drop := m - n
	zeroed := 0
	for off := 0; off < len(w); off += chunk {
		end := min(off+chunk, len(w))
		sc := buf[:end-off]
		scoreChunk(imp, sc, w[off:end], t, off)
		// The chunk starts on a slab boundary: group j of its slab at s0 is
		// the layout's Elem(g, q) = s0 + j + q·Stride, walked without
		// divisions.
		for s0 := 0; s0 < len(sc); s0 += slab {
			for j := range l.Stride {
				base := s0 + j
				for q := range m {
					keys[q] = key(sc[base+q*l.Stride])
					order[q] = q
				}
				// Stable insertion sort by key: ties stay in position order.
				for q := 1; q < m; q++ {
					x, kx, p := order[q], keys[order[q]], q
					for p > 0 && keys[order[p-1]] > kx {
						order[p] = order[p-1]
						p--
					}
					order[p] = x
				}
				for _, q := range order[:drop] {
					w[off+base+q*l.Stride] = 0
				}
				zeroed += drop
			}
		}
	}
	return zeroed
}
