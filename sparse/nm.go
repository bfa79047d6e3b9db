package sparse

import (
	"fmt"
	"math/bits"
)

// MaxM bounds M in N:M: positions then take at most 8 bits.
const MaxM = 256

// ValidNM reports whether n:m is a supported pattern: 2 ≤ m ≤ MaxM and
// 1 ≤ n < m.
func ValidNM(n, m int) bool { return m >= 2 && m <= MaxM && n >= 1 && n < m }

// PosBits is the number of bits an in-group position takes for groups of m.
func PosBits(m int) int { return bits.Len(uint(m - 1)) }

// NMLayout is N:M structured sparsity along one axis of a row-major tensor:
// along that axis, at every fixed index of the other axes, the elements are
// taken M at a time, and each such group keeps N slots. With Stride the
// product of the dims after the axis, the flattened tensor is a sequence of
// slabs of M·Stride elements, and group g is the M elements
//
//	Elem(g, q) = (g / Stride)·M·Stride + g % Stride + q·Stride,  q = 0 … M−1
//
// (Stride 1: M consecutive elements). Kept slots are the group's nonzeros,
// then its lowest zero slots until there are N; they are numbered k = 0, 1,
// … group after group, slot k belonging to group k / N. Their in-group
// positions q, strictly increasing within a group, are stored in PosBits(M)
// bits each, LSB first: slot k at bits [k·b, k·b+b) of the byte stream.
type NMLayout struct {
	N, M   int
	Stride int
}

// NMAlong returns the n:m layout along axis of a tensor with the given dims.
// For a weight, the axis is the input-channel (reduction) axis of the op
// that consumes it: 1 for Conv [O, I, kh, kw] (Stride kh·kw), 0 for
// ConvTranspose [I, O, kh, kw], the K axis of a Gemm or MatMul B.
func NMAlong(dims []int64, axis, n, m int) (NMLayout, error) {
	if !ValidNM(n, m) {
		return NMLayout{}, fmt.Errorf("%w: %d:%d (want 1 ≤ N < M ≤ %d)", ErrInvalid, n, m, MaxM)
	}
	if axis < 0 || axis >= len(dims) {
		return NMLayout{}, fmt.Errorf("%w: %d:%d along axis %d of a rank-%d tensor", ErrInvalid, n, m, axis, len(dims))
	}
	if dims[axis] <= 0 || dims[axis]%int64(m) != 0 {
		return NMLayout{}, fmt.Errorf("%w: %d:%d along axis %d of %v: %d is not a positive multiple of %d", ErrInvalid, n, m, axis, dims, dims[axis], m)
	}
	stride := int64(1)
	for _, d := range dims[axis+1:] {
		if d <= 0 || stride > maxIndex/d {
			return NMLayout{}, fmt.Errorf("%w: %d:%d along axis %d of %v: bad dims", ErrInvalid, n, m, axis, dims)
		}
		stride *= d
	}
	return NMLayout{N: n, M: m, Stride: int(stride)}, nil
}

func (l NMLayout) String() string { return fmt.Sprintf("%d:%d stride %d", l.N, l.M, l.Stride) }

// Check reports whether l applies to a tensor of count elements: a valid
// pattern and a whole number of slabs.
func (l NMLayout) Check(count int) error {
	if !ValidNM(l.N, l.M) || l.Stride < 1 || l.Stride > maxIndex || count < 0 || count%(l.M*l.Stride) != 0 {
		return fmt.Errorf("%w: %v for %d elements", ErrInvalid, l, count)
	}
	return nil
}

// Elem is the element index of slot q of group g.
func (l NMLayout) Elem(g, q int) int {
	return (g/l.Stride)*l.M*l.Stride + g%l.Stride + q*l.Stride
}

// Kept is the number of kept slots of a tensor of count elements.
func (l NMLayout) Kept(count int) int { return count / l.M * l.N }

// PosLen is the number of position bytes of a tensor of count elements.
func (l NMLayout) PosLen(count int) int { return (l.Kept(count)*PosBits(l.M) + 7) / 8 }

// Fits reports whether the elements of mask (a presence mask of count
// elements) have at most N nonzeros in every group.
func (l NMLayout) Fits(mask []byte, count int) bool {
	if l.Check(count) != nil {
		return false
	}
	for g := 0; g < count/l.M; g++ {
		c := 0
		for q := 0; q < l.M; q++ {
			if bit(mask, l.Elem(g, q)) {
				c++
			}
		}
		if c > l.N {
			return false
		}
	}
	return true
}

func bit(mask []byte, i int) bool { return mask[i>>3]&(1<<(i&7)) != 0 }

// AppendPositions appends the positions of the kept slots of mask (a
// presence mask of count elements), or returns ok == false when l does not
// fit.
func (l NMLayout) AppendPositions(dst, mask []byte, count int) (out []byte, ok bool) {
	if !l.Fits(mask, count) {
		return dst, false
	}
	b := PosBits(l.M)
	start := len(dst)
	dst = append(dst, make([]byte, l.PosLen(count))...)
	pos := dst[start:]
	k := 0
	for g := 0; g < count/l.M; g++ {
		fill := l.N
		for q := 0; q < l.M; q++ {
			if bit(mask, l.Elem(g, q)) {
				fill--
			}
		}
		for q := 0; q < l.M; q++ {
			if !bit(mask, l.Elem(g, q)) {
				if fill == 0 {
					continue
				}
				fill--
			}
			putBits(pos, k*b, b, uint(q))
			k++
		}
	}
	return dst, true
}

// ScanPositions validates the positions pos of a tensor of count elements
// (length PosLen, each below M, increasing within a group, padding bits
// zero) and calls fn(k, e) for kept slot k at element e, in slot order.
func (l NMLayout) ScanPositions(pos []byte, count int, fn func(k, e int)) error {
	if err := l.Check(count); err != nil {
		return err
	}
	if len(pos) != l.PosLen(count) {
		return fmt.Errorf("%w: %v: %d position bytes for %d elements, want %d", ErrInvalid, l, len(pos), count, l.PosLen(count))
	}
	b := PosBits(l.M)
	kept := l.Kept(count)
	prev := -1
	for k := 0; k < kept; k++ {
		q := int(getBits(pos, k*b, b))
		if k%l.N == 0 {
			prev = -1
		}
		if q >= l.M || q <= prev {
			return fmt.Errorf("%w: %v: slot %d at position %d, out of order or range", ErrInvalid, l, k, q)
		}
		prev = q
		fn(k, l.Elem(k/l.N, q))
	}
	if used := kept * b; used%8 != 0 && pos[len(pos)-1]>>(used%8) != 0 {
		return fmt.Errorf("%w: %v: position padding bits set", ErrInvalid, l)
	}
	return nil
}

// NM is a Rows × Cols matrix (row-major) with N:M structured sparsity laid
// out by Layout: Values holds the kept slots in slot order (a kept slot may
// hold zero), Pos their positions.
type NM struct {
	Rows, Cols int
	Layout     NMLayout
	Values     []float32 // len Layout.Kept(Rows·Cols)
	Pos        []byte    // len Layout.PosLen(Rows·Cols)
}

// EncodeNM returns the n:m form of the row-major rows × cols matrix dense,
// or an error when l does not fit it.
func EncodeNM(dense []float32, rows, cols int, l NMLayout) (*NM, error) {
	if rows < 0 || cols < 0 || len(dense) != rows*cols {
		return nil, fmt.Errorf("%w: %d values for %d×%d", ErrInvalid, len(dense), rows, cols)
	}
	mask := make([]byte, (len(dense)+7)/8)
	for i, v := range dense {
		if !isZero(v) {
			mask[i>>3] |= 1 << (i & 7)
		}
	}
	pos, ok := l.AppendPositions(nil, mask, len(dense))
	if !ok {
		return nil, fmt.Errorf("%w: %d×%d matrix does not fit %v", ErrInvalid, rows, cols, l)
	}
	s := &NM{Rows: rows, Cols: cols, Layout: l, Pos: pos, Values: make([]float32, l.Kept(len(dense)))}
	if err := l.ScanPositions(pos, len(dense), func(k, e int) { s.Values[k] = dense[e] }); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks the layout, the lengths and the positions.
func (s *NM) Validate() error {
	if s.Rows < 0 || s.Cols < 0 {
		return fmt.Errorf("%w: NM %d×%d", ErrInvalid, s.Rows, s.Cols)
	}
	n := s.Rows * s.Cols
	if err := s.Layout.Check(n); err != nil {
		return err
	}
	if len(s.Values) != s.Layout.Kept(n) {
		return fmt.Errorf("%w: %v: %d values, want %d", ErrInvalid, s.Layout, len(s.Values), s.Layout.Kept(n))
	}
	return s.Layout.ScanPositions(s.Pos, n, func(int, int) {})
}

// each calls fn for every kept slot (s is valid).
func (s *NM) each(fn func(k, e int)) {
	l := s.Layout
	b := PosBits(l.M)
	for k := range s.Values {
		fn(k, l.Elem(k/l.N, int(getBits(s.Pos, k*b, b))))
	}
}

// Decode writes the matrix into dst (len Rows*Cols).
func (s *NM) Decode(dst []float32) {
	if len(dst) != s.Rows*s.Cols {
		panic("sparse: NM.Decode: bad dst length")
	}
	clear(dst)
	s.each(func(k, e int) { dst[e] = s.Values[k] })
}

// MulVec sets dst = A·x, adding the kept slots in slot order:
//
//	dst = 0
//	for each kept slot k at element e: dst[e/Cols] += Values[k] * x[e%Cols]
func (s *NM) MulVec(dst, x []float32) {
	if len(dst) != s.Rows || len(x) != s.Cols {
		panic("sparse: NM.MulVec: bad lengths")
	}
	clear(dst)
	s.each(func(k, e int) { dst[e/s.Cols] += s.Values[k] * x[e%s.Cols] })
}

// putBits stores the low w bits of v at bit offset off of the LSB-first
// bit stream buf.
func putBits(buf []byte, off, w int, v uint) {
	for i := 0; i < w; i++ {
		if v&(1<<i) != 0 {
			buf[(off+i)>>3] |= 1 << ((off + i) & 7)
		}
	}
}

func getBits(buf []byte, off, w int) uint {
	var v uint
	for i := 0; i < w; i++ {
		if buf[(off+i)>>3]&(1<<((off+i)&7)) != 0 {
			v |= 1 << i
		}
	}
	return v
}
