package sparse

// Bitmap is a Rows × Cols matrix as a presence mask and the stored values:
// element i (row-major) is stored when bit i%8 of Mask[i/8] is set, and the
// stored values are Values in row-major order. Padding bits are zero.
type Bitmap struct {
	Rows, Cols int
	Mask       []byte // len ⌈Rows·Cols/8⌉
	Values     []float32
}

// EncodeBitmap returns the bitmap form of the row-major rows × cols matrix
// dense. It panics if len(dense) != rows*cols.
func EncodeBitmap(dense []float32, rows, cols int) *Bitmap {
	if rows < 0 || cols < 0 || len(dense) != rows*cols {
		panic("sparse: EncodeBitmap: bad dimensions")
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

// Decode writes the matrix into dst (len Rows*Cols). It panics if dst has
// the wrong length.
func (b *Bitmap) Decode(dst []float32) {
	if len(dst) != b.Rows*b.Cols {
		panic("sparse: Bitmap.Decode: bad dst length")
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

// Validate checks the mask (ValidateMask) against the values.
func (b *Bitmap) Validate() error {
	if b.Rows < 0 || b.Cols < 0 {
		return ValidateMask(b.Mask, -1, len(b.Values))
	}
	return ValidateMask(b.Mask, b.Rows*b.Cols, len(b.Values))
}
