package sparse

import (
	"fmt"
	"math"
)

// CSR is a Rows × Cols matrix in compressed sparse row form: the stored
// elements of row r are Values[RowPtr[r]:RowPtr[r+1]], in columns
// ColIdx[RowPtr[r]:RowPtr[r+1]], strictly increasing.
type CSR struct {
	Rows, Cols int
	RowPtr     []int32 // len Rows+1, RowPtr[0] == 0, non-decreasing
	ColIdx     []int32 // len NNZ
	Values     []float32
}

func f32bits(v float32) uint32 { return math.Float32bits(v) }

// EncodeCSR returns the CSR form of the row-major rows × cols matrix dense.
// It panics if len(dense) != rows*cols.
func EncodeCSR(dense []float32, rows, cols int) *CSR {
	if rows < 0 || cols < 0 || len(dense) != rows*cols || rows*cols > maxIndex {
		panic("sparse: EncodeCSR: bad dimensions")
	}
	nnz := 0
	for _, v := range dense {
		if !isZero(v) {
			nnz++
		}
	}
	c := &CSR{Rows: rows, Cols: cols, RowPtr: make([]int32, rows+1), ColIdx: make([]int32, 0, nnz), Values: make([]float32, 0, nnz)}
	for r := 0; r < rows; r++ {
		for j, v := range dense[r*cols : (r+1)*cols] {
			if !isZero(v) {
				c.ColIdx = append(c.ColIdx, int32(j))
				c.Values = append(c.Values, v)
			}
		}
		c.RowPtr[r+1] = int32(len(c.Values))
	}
	return c
}

// NNZ is the number of stored values.
func (c *CSR) NNZ() int { return len(c.Values) }

// Decode writes the matrix into dst (len Rows*Cols), row-major, zeros
// included. It panics if dst has the wrong length.
func (c *CSR) Decode(dst []float32) {
	if len(dst) != c.Rows*c.Cols {
		panic("sparse: CSR.Decode: bad dst length")
	}
	clear(dst)
	for r := 0; r < c.Rows; r++ {
		row := dst[r*c.Cols:]
		for k := c.RowPtr[r]; k < c.RowPtr[r+1]; k++ {
			row[c.ColIdx[k]] = c.Values[k]
		}
	}
}

// AppendGaps appends c's positions (r·Cols + column, row-major) as gaps,
// the byte form of [AppendGaps].
func (c *CSR) AppendGaps(dst []byte) []byte {
	prev := -1
	for r := 0; r < c.Rows; r++ {
		for k := c.RowPtr[r]; k < c.RowPtr[r+1]; k++ {
			p := r*c.Cols + int(c.ColIdx[k])
			dst = appendGap(dst, p-prev-1)
			prev = p
		}
	}
	return dst
}

// DecodeCSRGaps builds the rows × cols CSR matrix whose positions are the
// gaps (one per value) and whose values are values (kept, not copied).
func DecodeCSRGaps(rows, cols int, gaps []byte, values []float32) (*CSR, error) {
	if rows < 0 || cols < 0 || int64(rows)*int64(cols) > maxIndex {
		return nil, fmt.Errorf("%w: CSR %d×%d", ErrInvalid, rows, cols)
	}
	c := &CSR{Rows: rows, Cols: cols, RowPtr: make([]int32, rows+1), ColIdx: make([]int32, len(values)), Values: values}
	err := ScanGaps(gaps, rows*cols, len(values), func(k, p int) {
		c.ColIdx[k] = int32(p % cols)
		c.RowPtr[p/cols+1]++
	})
	if err != nil {
		return nil, err
	}
	for r := 0; r < rows; r++ {
		c.RowPtr[r+1] += c.RowPtr[r]
	}
	return c, nil
}

// MulVec sets dst = A·x, the reference loop:
//
//	for r := range dst {
//		var s float32
//		for k := RowPtr[r]; k < RowPtr[r+1]; k++ {
//			s += Values[k] * x[ColIdx[k]]
//		}
//		dst[r] = s
//	}
//
// It panics if len(dst) != Rows or len(x) != Cols.
func (c *CSR) MulVec(dst, x []float32) {
	if len(dst) != c.Rows || len(x) != c.Cols {
		panic("sparse: CSR.MulVec: bad lengths")
	}
	for r := range dst {
		var s float32
		for k := c.RowPtr[r]; k < c.RowPtr[r+1]; k++ {
			s += c.Values[k] * x[c.ColIdx[k]]
		}
		dst[r] = s
	}
}

// Validate checks the structure (for a CSR built from untrusted data).
func (c *CSR) Validate() error {
	if c.Rows < 0 || c.Cols < 0 || len(c.RowPtr) != c.Rows+1 || len(c.ColIdx) != len(c.Values) {
		return fmt.Errorf("%w: CSR %d×%d with %d row pointers, %d columns, %d values", ErrInvalid, c.Rows, c.Cols, len(c.RowPtr), len(c.ColIdx), len(c.Values))
	}
	if c.RowPtr[0] != 0 || int(c.RowPtr[c.Rows]) != len(c.Values) {
		return fmt.Errorf("%w: CSR row pointers span [%d, %d], want [0, %d]", ErrInvalid, c.RowPtr[0], c.RowPtr[c.Rows], len(c.Values))
	}
	for r := 0; r < c.Rows; r++ {
		lo, hi := c.RowPtr[r], c.RowPtr[r+1]
		if hi < lo {
			return fmt.Errorf("%w: CSR row %d: row pointers decrease", ErrInvalid, r)
		}
		prev := int32(-1)
		for k := lo; k < hi; k++ {
			j := c.ColIdx[k]
			if j <= prev || int(j) >= c.Cols {
				return fmt.Errorf("%w: CSR row %d: column %d out of order or range", ErrInvalid, r, j)
			}
			prev = j
		}
	}
	return nil
}
