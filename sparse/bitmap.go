package sparse

import (
	"fmt"
	"math/bits"
)

// Bitmap is a Rows × Cols matrix as a presence bitmap and the stored values:
// element i (row-major) is stored when bit i%8 of Mask[i/8] is set, and the
// stored values are Values in row-major order. Padding bits are zero.
type Bitmap struct {
	Rows, Cols int
	Mask       []byte // len ceil(Rows*Cols/8)
	Values     []float32
}

// NewBitmap returns the bitmap form of the row-major rows × cols matrix
// dense (elements with a nonzero bit pattern are stored). It panics if
// len(dense) != rows*cols.
func NewBitmap(dense []float32, rows, cols int) *Bitmap {
	if rows < 0 || cols < 0 || len(dense) != rows*cols {
		panic("sparse: NewBitmap: bad dimensions")
	}
	b := &Bitmap{Rows: rows, Cols: cols, Mask: make([]byte, (len(dense)+7)/8)}
	for i, v := range dense {
		if !isZero(v) {
			b.Mask[i>>3] |= 1 << (i & 7)
			b.Values = append(b.Values, v)
		}
	}
	return b
}

// NNZ is the number of stored values.
func (b *Bitmap) NNZ() int { return len(b.Values) }

// Dense writes the matrix into dst (len Rows*Cols). It panics if dst has
// the wrong length.
func (b *Bitmap) Dense(dst []float32) {
	if len(dst) != b.Rows*b.Cols {
		panic("sparse: Bitmap.Dense: bad dst length")
	}
	k := 0
	for i := range dst {
		if b.Mask[i>>3]&(1<<(i&7)) != 0 {
			dst[i] = b.Values[k]
			k++
		} else {
			dst[i] = 0
		}
	}
}

// MulVec sets dst = A·x (the same sums, in the same order, as CSR.MulVec).
func (b *Bitmap) MulVec(dst, x []float32) {
	if len(dst) != b.Rows || len(x) != b.Cols {
		panic("sparse: Bitmap.MulVec: bad lengths")
	}
	k := 0
	for r := range dst {
		var s float32
		for j := 0; j < b.Cols; j++ {
			i := r*b.Cols + j
			if b.Mask[i>>3]&(1<<(i&7)) != 0 {
				s += b.Values[k] * x[j]
				k++
			}
		}
		dst[r] = s
	}
}

// Validate checks that the mask has the right length, zero padding, and
// one value per set bit.
func (b *Bitmap) Validate() error {
	n := b.Rows * b.Cols
	if b.Rows < 0 || b.Cols < 0 || len(b.Mask) != (n+7)/8 {
		return fmt.Errorf("%w: bitmap %d×%d with %d mask bytes", ErrInvalid, b.Rows, b.Cols, len(b.Mask))
	}
	if n%8 != 0 && b.Mask[len(b.Mask)-1]>>(n%8) != 0 {
		return fmt.Errorf("%w: bitmap padding bits set", ErrInvalid)
	}
	if c := PopCount(b.Mask); c != len(b.Values) {
		return fmt.Errorf("%w: bitmap has %d bits set and %d values", ErrInvalid, c, len(b.Values))
	}
	return nil
}

// PopCount is the number of set bits in mask.
func PopCount(mask []byte) int {
	n := 0
	for _, m := range mask {
		n += bits.OnesCount8(m)
	}
	return n
}
