package engine

import (
	"fmt"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"github.com/edgeprune/edgeprune/sparse"
)

// SparseMode says when Compile runs a constant weight of Gemm, MatMul or
// Conv on the sparse kernels.
type SparseMode int

const (
	// SparseAuto (the default) runs a weight sparse when the cost model
	// (sparseCost) predicts it at least sparseMargin times faster than the
	// dense kernel at the plan's shapes.
	SparseAuto SparseMode = iota
	// SparseOff runs every weight dense.
	SparseOff
	// SparseAlways runs every eligible weight sparse, whatever its density
	// (for tests and measurements).
	SparseAlways
)

func (m SparseMode) String() string {
	switch m {
	case SparseAuto:
		return "auto"
	case SparseOff:
		return "off"
	case SparseAlways:
		return "always"
	}
	return fmt.Sprintf("SparseMode(%d)", int(m))
}

// ParseSparseMode reads "auto", "off" or "always".
func ParseSparseMode(s string) (SparseMode, error) {
	for _, m := range []SparseMode{SparseAuto, SparseOff, SparseAlways} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("sparse mode %q: want auto, off or always", s)
}

// WithSparse sets when weights run on the sparse kernels (default
// SparseAuto).
func WithSparse(m SparseMode) Option {
	return func(c *config) error {
		if m < SparseAuto || m > SparseAlways {
			return fmt.Errorf("engine: WithSparse(%d): unknown mode", int(m))
		}
		c.sparse = m
		return nil
	}
}

// WithSparseWeights gives the data of some stored tensors of the model as
// sparse matrices instead of their (absent) payload: tensor t, of dims
// [d0, d1, ...], is w[t], a d0 × (d1·…) CSR. A weight that runs sparse is
// then never held dense; any other reader of t gets a dense copy. This is
// how a pack compiles without unpacking:
//
//	rd, err := pack.NewReader(f)
//	sm, err := rd.ReadSparse(nil)
//	p, err := engine.Compile(sm.Model, engine.WithSparseWeights(sm.Sparse))
func WithSparseWeights(w map[*onnx.TensorProto]*sparse.CSR) Option {
	return func(c *config) error {
		for t, a := range w {
			n, err := onnxio.NumElements(t.GetDims())
			if err != nil || len(t.GetDims()) == 0 || a == nil || int64(a.Rows) != t.GetDims()[0] || int64(a.Rows)*int64(a.Cols) != n {
				return fmt.Errorf("engine: WithSparseWeights: tensor %q %v: matrix does not match its dims", t.GetName(), t.GetDims())
			}
			if err := a.Validate(); err != nil {
				return fmt.Errorf("engine: WithSparseWeights: tensor %q: %w", t.GetName(), err)
			}
		}
		c.sparseW = w
		return nil
	}
}

// constValue is constValue for the compiler: a tensor given sparse
// (WithSparseWeights) becomes a value holding its CSR, dense only for
// training.
func (c *compiler) constValue(t *onnx.TensorProto) (*value, error) {
	if c == nil {
		return constValue(t)
	}
	a, ok := c.sparseW[t]
	if !ok {
		return constValue(t)
	}
	if dt := onnxio.DataType(t.GetDataType()); dt != onnxio.Float {
		return nil, notImpl("tensor %q: sparse %v", t.GetName(), dt)
	}
	shape := ints(t.GetDims())
	if err := checkShape(shape); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	v := &value{name: t.GetName(), dt: onnxio.Float, shape: shape, konst: &data{shape: shape, sp: a}, producer: -1}
	if c.train != nil {
		v.konst.densify()
	}
	return v, nil
}

// densify decodes a sparse-held constant (data.sp) into d.f, for a reader
// that needs it dense; the CSR stays for sparse readers.
func (d *data) densify() {
	if d != nil && d.f == nil && d.sp != nil {
		d.f = make([]float32, d.sp.Rows*d.sp.Cols)
		d.sp.Decode(d.f)
	}
}

// sparseSlot reports whether input slot j of op reads its weight through
// sparseWeight (so a sparse-held constant there need not be densified
// before the builder runs).
func sparseSlot(op string, j int) bool {
	return j == 1 && (op == "Gemm" || op == "MatMul" || op == "Conv")
}

// sparseWeight returns the constant input j of b as a spWeight with rows =
// outputs and columns = the reduction index, when the cost model says it
// pays for a product with n columns (n = 1: a vector), or nil, leaving the
// input dense. outFirst says the tensor is stored [outputs, reduction]
// (Gemm transB, Conv's [M, C/G·kh·kw]); otherwise [reduction, outputs].
// scale multiplies the values (Gemm's alpha); kind selects the cost model's kernel.
func (b *buildCtx) sparseWeight(j, rows, cols, n int, outFirst bool, scale float32, kind costKind) *spWeight {
	v := b.input(j)
	if v == nil || v.konst == nil || v.isInt() || b.c == nil || b.c.train != nil || rows*cols == 0 {
		if v != nil && v.konst != nil {
			v.konst.densify()
		}
		return nil
	}
	d := v.konst
	nnz := 0
	if d.sp != nil {
		nnz = d.sp.NNZ()
	} else {
		for _, x := range d.f {
			if x != 0 {
				nnz++
			}
		}
	}
	mode := b.c.sparse
	if mode == SparseOff || (mode == SparseAuto && !sparsePays(rows, cols, nnz, n, kind)) {
		d.densify()
		return nil
	}
	var a *sparse.CSR
	switch {
	case d.sp != nil && outFirst:
		a = d.sp
	case d.sp != nil:
		a = transposeCSR(d.sp)
	case outFirst:
		a = sparse.EncodeCSR(d.f, rows, cols)
	default:
		a = transposeCSR(sparse.EncodeCSR(d.f, cols, rows))
	}
	if scale != 1 {
		vals := make([]float32, len(a.Values))
		for i, x := range a.Values {
			vals[i] = scale * x
		}
		a = &sparse.CSR{Rows: a.Rows, Cols: a.Cols, RowPtr: a.RowPtr, ColIdx: a.ColIdx, Values: vals}
	}
	return newSpWeight(a)
}

// sparseKernel is implemented by kernels that may run a weight sparse.
type sparseKernel interface {
	// sparseWeights returns the weights the kernel runs sparse (nil when
	// dense) and how many dense elements they stand for.
	sparseWeights() (ws []*spWeight, dense int64)
}

// sparseNodeInfo is a node's NodeCost.Kernel and Density.
func sparseNodeInfo(k kernel) (string, float64) {
	sk, ok := k.(sparseKernel)
	if !ok {
		return "", 0
	}
	ws, dense := sk.sparseWeights()
	if ws == nil {
		return "", 0
	}
	nnz := 0
	for _, w := range ws {
		nnz += w.nnz
	}
	return "sparse " + ws[0].pattern, float64(nnz) / float64(max(dense, 1))
}

// weightBytes is Report.WeightBytes and SparseWeightBytes: every constant
// value's data, the packed copies of Conv weights and the sparse weights
// of kernels, each storage counted once.
func (p *Program) weightBytes() (total, sparseBytes int64) {
	seenF := map[*float32]bool{}
	addF := func(f []float32) {
		if len(f) > 0 && !seenF[&f[0]] {
			seenF[&f[0]] = true
			total += int64(len(f)) * 4
		}
	}
	seenCSR := map[*sparse.CSR]bool{}
	addCSR := func(a *sparse.CSR) {
		if a == nil || seenCSR[a] {
			return
		}
		seenCSR[a] = true
		b := int64(len(a.RowPtr)) * 4
		if len(a.Values) > 0 && !seenF[&a.Values[0]] {
			seenF[&a.Values[0]] = true
			b += int64(len(a.Values))*4 + int64(len(a.ColIdx))*4
		}
		total += b
		sparseBytes += b
	}
	for _, v := range p.values {
		if v.konst == nil {
			continue
		}
		addF(v.konst.f)
		total += int64(len(v.konst.i)) * 8
		addCSR(v.konst.sp)
	}
	var walk func(pr *program)
	walk = func(pr *program) {
		for _, s := range pr.steps {
			if sk, ok := s.k.(sparseKernel); ok {
				ws, _ := sk.sparseWeights()
				for _, w := range ws {
					addCSR(w.a)
					if w.sell != nil {
						total += w.sell.bytes()
						sparseBytes += w.sell.bytes()
					}
				}
			}
			if ck, ok := s.k.(*convKernel); ok {
				for _, pa := range ck.packed {
					addF(pa.data)
				}
				for _, pb := range ck.swapped {
					addF(pb.data)
				}
				if ck.swt != nil {
					for _, w := range ck.swt.w {
						addF(w)
					}
				}
			}
			for _, sub := range s.sub {
				walk(sub)
			}
		}
	}
	walk(p.main)
	return total, sparseBytes
}
