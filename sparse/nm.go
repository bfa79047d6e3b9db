package sparse

import (
	"fmt"
	"math/bits"
)

// NM is a Rows × Cols matrix with N:M structured sparsity: every group of M
// consecutive elements of a row keeps N slots. Values holds the kept slots
// in row-major order (N per group; a kept slot may hold zero), and Pos their
// positions within the group, log2(M) bits each, packed LSB first: position
// k occupies bits [k·b, k·b+b) of the little-endian bit stream Pos, b =
// PosBits(M). Positions within a group are strictly increasing.
type NM struct {
	Rows, Cols int
	N, M       int
	Values     []float32 // len Rows*Cols/M*N
	Pos        []byte    // len ceil(len(Values)*PosBits(M)/8)
}

// PosBits is the number of bits a position in a group of m takes.
func PosBits(m int) int { return bits.Len(uint(m - 1)) }

// ValidNM reports whether n:m is a supported pattern: m a power of two in
// [2, 16] and 1 <= n <= m.
func ValidNM(n, m int) bool {
	return m >= 2 && m <= 16 && m&(m-1) == 0 && n >= 1 && n <= m
}

// FitsNM reports whether the row-major rows × cols matrix dense can be held
// in n:m form: cols is a multiple of m and no group has more than n
// nonzeros.
func FitsNM(dense []float32, rows, cols, n, m int) bool {
	if !ValidNM(n, m) || cols%m != 0 || len(dense) != rows*cols {
		return false
	}
	for g := 0; g < len(dense); g += m {
		c := 0
		for _, v := range dense[g : g+m] {
			if !isZero(v) {
				c++
			}
		}
		if c > n {
			return false
		}
	}
	return true
}

// NewNM returns the n:m form of dense. In each group the nonzero slots are
// kept, then the lowest zero slots until N are kept. It panics unless
// FitsNM(dense, rows, cols, n, m).
func NewNM(dense []float32, rows, cols, n, m int) *NM {
	if !FitsNM(dense, rows, cols, n, m) {
		panic("sparse: NewNM: matrix does not fit n:m")
	}
	b := PosBits(m)
	kept := len(dense) / m * n
	s := &NM{Rows: rows, Cols: cols, N: n, M: m, Values: make([]float32, 0, kept), Pos: make([]byte, (kept*b+7)/8)}
	k := 0
	for g := 0; g < len(dense); g += m {
		grp := dense[g : g+m]
		nz := 0
		for _, v := range grp {
			if !isZero(v) {
				nz++
			}
		}
		fill := n - nz // zero slots to keep, lowest first
		for j, v := range grp {
			if isZero(v) {
				if fill == 0 {
					continue
				}
				fill--
			}
			s.Values = append(s.Values, v)
			putBits(s.Pos, k*b, b, uint(j))
			k++
		}
	}
	return s
}

// Position returns the in-group position of kept slot k.
func (s *NM) Position(k int) int { return int(getBits(s.Pos, k*PosBits(s.M), PosBits(s.M))) }

// Dense writes the matrix into dst (len Rows*Cols).
func (s *NM) Dense(dst []float32) {
	if len(dst) != s.Rows*s.Cols {
		panic("sparse: NM.Dense: bad dst length")
	}
	clear(dst)
	for k, v := range s.Values {
		g := k / s.N
		dst[g*s.M+s.Position(k)] = v
	}
}

// MulVec sets dst = A·x, summing the kept slots of each row in order.
func (s *NM) MulVec(dst, x []float32) {
	if len(dst) != s.Rows || len(x) != s.Cols {
		panic("sparse: NM.MulVec: bad lengths")
	}
	perRow := s.Cols / s.M * s.N
	for r := range dst {
		var sum float32
		for k := r * perRow; k < (r+1)*perRow; k++ {
			g := k / s.N
			sum += s.Values[k] * x[g*s.M+s.Position(k)-r*s.Cols]
		}
		dst[r] = sum
	}
}

// Validate checks lengths and that positions increase within each group.
func (s *NM) Validate() error {
	if !ValidNM(s.N, s.M) || s.Rows < 0 || s.Cols < 0 || s.Cols%s.M != 0 {
		return fmt.Errorf("%w: %d:%d form of %d×%d", ErrInvalid, s.N, s.M, s.Rows, s.Cols)
	}
	kept := s.Rows * s.Cols / s.M * s.N
	b := PosBits(s.M)
	if len(s.Values) != kept || len(s.Pos) != (kept*b+7)/8 {
		return fmt.Errorf("%w: %d:%d: %d values and %d position bytes, want %d and %d", ErrInvalid, s.N, s.M, len(s.Values), len(s.Pos), kept, (kept*b+7)/8)
	}
	for k := 0; k < kept; k++ {
		p := s.Position(k)
		if p >= s.M || (k%s.N > 0 && p <= s.Position(k-1)) {
			return fmt.Errorf("%w: %d:%d: slot %d has position %d out of order", ErrInvalid, s.N, s.M, k, p)
		}
	}
	return nil
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
