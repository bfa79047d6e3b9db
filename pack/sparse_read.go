package pack

import (
	"fmt"
	"math"
	"slices"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"github.com/edgeprune/edgeprune/sparse"
)

// SparseModel is a pack read for execution without unpacking (ReadSparse):
// the model, in which the tensors of Sparse have no payload, and those
// tensors' data as sparse matrices.
type SparseModel struct {
	Model *onnxio.Model
	// Sparse holds, per tensor of Model left without payload, its data as
	// a d0 × (d1·d2·…) CSR matrix (dims [d0, d1, …]).
	Sparse map[*onnx.TensorProto]*sparse.CSR
}

// ReadSparse reads the rest of the pack, checks it as ReadModel does, and
// returns the model with every float32 tensor of rank ≥ 2 that the pack
// stores sparse (csr, bitmap or N:M) and keep accepts (nil: all) held as a
// CSR matrix instead of a dense payload: its positions and values are read
// straight from the pack's streams, never as a dense array. N:M slots that
// hold zero are dropped. It may be called once, instead of ReadModel.
func (rd *Reader) ReadSparse(keep func(TensorInfo) bool) (*SparseModel, error) {
	if rd.done {
		return nil, fmt.Errorf("pack: ReadSparse called after the model was read")
	}
	rd.done = true
	if err := rd.readRest(); err != nil {
		return nil, err
	}
	sk, err := rd.readSkeleton()
	if err != nil {
		return nil, err
	}
	out := &SparseModel{Sparse: map[*onnx.TensorProto]*sparse.CSR{}}
	cur := &cursor{s: &rd.sec}
	for i := range rd.entries {
		e := &rd.entries[i]
		t := sk.rows[i]
		if e.enc != EncDense && e.dtype == onnxio.Float && e.width == 4 && len(e.dims) >= 2 && e.dims[0] > 0 &&
			(keep == nil || keep(e.info())) {
			a, err := decodeCSR(e, cur)
			if err != nil {
				return nil, err
			}
			out.Sparse[t] = a
			continue
		}
		data, err := decodePayload(e, cur, make([]byte, e.count*e.width), nil)
		if err != nil {
			return nil, err
		}
		setField(t, e.field, data, e.count)
	}
	// The model's checks see the sparse tensors as empty: their dims were
	// checked against the table and the limits when it was read.
	saved := map[*onnx.TensorProto][]int64{}
	for t := range out.Sparse {
		saved[t], t.Dims = t.Dims, []int64{0}
	}
	m, err := onnxio.FromProto(sk.proto, onnxio.WithLimits(onnxio.Limits{MaxTensorBytes: rd.l.MaxTensorBytes}))
	for t, d := range saved {
		t.Dims = d
	}
	if err != nil {
		return nil, &SectionError{Section: "skeleton", Offset: rd.h.Sections[1].Offset, Err: ErrMalformed, Reason: err.Error()}
	}
	out.Model = m
	return out, nil
}

// decodeCSR reads a sparse float32 payload as a dims[0] × rest CSR.
func decodeCSR(e *entry, c *cursor) (*sparse.CSR, error) {
	bad := func(format string, args ...any) error {
		return &SectionError{Section: "table", Tensor: e.id, Err: ErrMalformed, Reason: fmt.Sprintf(format, args...)}
	}
	rows := int(e.dims[0])
	cols := e.count / rows
	var index []byte
	var scan func(fn func(k, p int)) error
	switch e.enc {
	case EncCSR:
		index = c.take(KindGaps, e.indexLen)
		scan = func(fn func(k, p int)) error { return sparse.ScanGaps(index, e.count, e.nnz, fn) }
	case EncBitmap:
		index = c.take(KindBitmap, e.indexLen)
		scan = func(fn func(k, p int)) error { return sparse.ScanMask(index, e.count, e.nnz, fn) }
	case EncNM:
		l, err := e.layout()
		if err != nil {
			return nil, bad("%v", err)
		}
		index = c.take(KindNM, e.indexLen)
		scan = func(fn func(k, p int)) error { return l.ScanPositions(index, e.count, fn) }
	default:
		return nil, bad("encoding %v is not sparse", e.enc)
	}
	value, err := storedValues(e, c, nil)
	if err != nil {
		return nil, err
	}
	a := &sparse.CSR{Rows: rows, Cols: cols, RowPtr: make([]int32, rows+1)}
	// Count the nonzeros of each row, then place them.
	if err := scan(func(k, p int) {
		if value(k) != 0 {
			a.RowPtr[p/cols+1]++
		}
	}); err != nil {
		return nil, bad("%v", err)
	}
	for r := 0; r < rows; r++ {
		a.RowPtr[r+1] += a.RowPtr[r]
	}
	nnz := int(a.RowPtr[rows])
	a.ColIdx, a.Values = make([]int32, nnz), make([]float32, nnz)
	next := slices.Clone(a.RowPtr[:rows])
	sorted := true
	_ = scan(func(k, p int) {
		v := value(k)
		if v == 0 {
			return
		}
		r := p / cols
		j := next[r]
		if j > a.RowPtr[r] && a.ColIdx[j-1] >= int32(p%cols) {
			sorted = false
		}
		a.ColIdx[j], a.Values[j] = int32(p%cols), math.Float32frombits(uint32(v))
		next[r]++
	})
	if !sorted { // N:M along a strided axis: slots are not in row order
		for r := 0; r < rows; r++ {
			lo, hi := a.RowPtr[r], a.RowPtr[r+1]
			idx := make([]int, hi-lo)
			for i := range idx {
				idx[i] = int(lo) + i
			}
			slices.SortFunc(idx, func(x, y int) int { return int(a.ColIdx[x] - a.ColIdx[y]) })
			ci, vs := make([]int32, len(idx)), make([]float32, len(idx))
			for i, k := range idx {
				ci[i], vs[i] = a.ColIdx[k], a.Values[k]
			}
			copy(a.ColIdx[lo:hi], ci)
			copy(a.Values[lo:hi], vs)
		}
	}
	if err := a.Validate(); err != nil {
		return nil, bad("%v", err)
	}
	return a, nil
}
