package sparse

import (
	"errors"
	"fmt"
	"math"
)

// CSR is a Rows × Cols matrix in compressed sparse row form: the nonzeros of
// row r are Values[RowPtr[r]:RowPtr[r+1]], in columns ColIdx[RowPtr[r]:RowPtr[r+1]],
// strictly increasing.
type CSR struct {
	Rows, Cols int
	RowPtr     []int32 // len Rows+1, RowPtr[0] == 0, non-decreasing
	ColIdx     []int32 // len NNZ
	Values     []float32
}

// ErrInvalid is wrapped by the Validate methods.
var ErrInvalid = errors.New("sparse: invalid matrix")

func f32bits(v float32) uint32 { return math.Float32bits(v) }

// NewCSR returns the CSR form of the row-major rows × cols matrix dense.
// An element is stored when its bit pattern is not all zero (so -0 is kept).
// It panics if len(dense) != rows*cols.
func NewCSR(dense []float32, rows, cols int) *CSR {
	if rows < 0 || cols < 0 || len(dense) != rows*cols || rows*cols > maxIndex {
		panic("sparse: NewCSR: bad dimensions")
	}
	nnz := 0
	for _, v := range dense {
		if !isZero(v) {
			nnz++
		}
	}
	c := &CSR{Rows: rows, Cols: cols, RowPtr: make([]int32, rows+1), ColIdx: make([]int32, 0, nnz), Values: make([]float32, 0, nnz)}
	for r := 0; r < rows; r++ {
		row := dense[r*cols : (r+1)*cols]
		for j, v := range row {
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

// Dense writes the matrix into dst (len Rows*Cols), row-major, zeros
// included. It panics if dst has the wrong length.
func (c *CSR) Dense(dst []float32) {
	if len(dst) != c.Rows*c.Cols {
		panic("sparse: CSR.Dense: bad dst length")
	}
	clear(dst)
	for r := 0; r < c.Rows; r++ {
		row := dst[r*c.Cols:]
		for k := c.RowPtr[r]; k < c.RowPtr[r+1]; k++ {
			row[c.ColIdx[k]] = c.Values[k]
		}
	}
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
