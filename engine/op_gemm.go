package engine

// gemmKernel is ONNX Gemm: Y = alpha·op(A)·op(B) + beta·C, with C
// unidirectionally broadcast to [M, N]. The reference is sgemmRef.
type gemmKernel struct {
	m, n, k        int
	transA, transB bool
	alpha, beta    float32
	cb             *bcast    // C broadcast to [M, N], nil without C
	rowOffs        []int     // gemv without transB: offsets of B's rows
	sp             *spWeight // B (times alpha) run sparse (op_sparse_gemm.go), or nil
}

func buildGemm(b *buildCtx) (*built, error) {
	if err := b.need(2); err != nil {
		return nil, err
	}
	a, bb := b.in[0], b.in[1]
	if a.isInt() || bb.isInt() || len(a.shape) != 2 || len(bb.shape) != 2 {
		return nil, notImpl("Gemm of %v %v and %v %v", a.dt, a.shape, bb.dt, bb.shape)
	}
	k := &gemmKernel{transA: b.attrInt("transA", 0) != 0, transB: b.attrInt("transB", 0) != 0,
		alpha: b.attrFloat("alpha", 1), beta: b.attrFloat("beta", 1)}
	k.m, k.k = a.shape[0], a.shape[1]
	if k.transA {
		k.m, k.k = k.k, k.m
	}
	kb, n := bb.shape[0], bb.shape[1]
	if k.transB {
		kb, n = n, kb
	}
	if kb != k.k {
		return nil, invalid("Gemm inner dimensions %v × %v", a.shape, bb.shape)
	}
	k.n = n
	out := []int{k.m, k.n}
	if c := b.input(2); c != nil && k.beta != 0 {
		if err := b.floatInputs(2); err != nil {
			return nil, err
		}
		if s, err := broadcastShapes(out, c.shape); err != nil || !sameShape(s, out) {
			return nil, invalid("Gemm C %v does not broadcast to %v", c.shape, out)
		}
		k.cb = newBcast(out, c.shape)
	}
	macs := int64(k.m) * int64(k.n) * int64(k.k)
	bt := &built{k: k, out: one(a.dt, out), alias: -1, macs: macs, flops: 2 * macs}
	if k.sp = b.sparseWeight(1, k.n, k.k, k.m, k.transB, k.alpha, costGemm); k.sp != nil {
		bt.scratch = k.sp.gemmSetup(k.m, k.k, k.transA)
		return bt, nil
	}
	if k.m <= gemvRows && !k.transA && !k.transB {
		for p := 0; p < k.k; p++ {
			k.rowOffs = append(k.rowOffs, p*k.n)
		}
		bt.scratch = k.n
	}
	return bt, nil
}

func (k *gemmKernel) forward(x *exec, in, out []*data) {
	a, b, y := in[0].f, in[1].f, out[0].f
	beta := float32(0)
	if k.cb != nil {
		c := in[2].f
		k.cb.rows(func(off int, offs []int, n int, step []int) {
			for j := 0; j < n; j++ {
				y[off+j] = k.beta * c[offs[0]+j*step[0]]
			}
		})
		beta = 1
	}
	if k.sp != nil {
		k.sp.gemm(x, a, k.transA, k.m, k.k, y, beta != 0)
		return
	}
	if k.m <= gemvRows && !k.transA {
		k.gemv(x, a, b, y, beta != 0)
		return
	}
	lda, ldb := k.k, k.n
	if k.transA {
		lda = k.m
	}
	if k.transB {
		ldb = k.k
	}
	sgemm(k.transA, k.transB, k.m, k.n, k.k, k.alpha, a, lda, b, ldb, beta, y, k.n, x.threads)
}

// gemvRows is the most rows of A (batch of a fully connected layer) for
// which Gemm computes each row as a vector-matrix product instead of a
// packed SGEMM: packing B, read once, would cost more than the product.
const gemvRows = 4

// gemv computes y = alpha·A·op(B) (+ y when accum) for A's few rows: with
// transB each output is a dot product of contiguous rows; without, each
// output row is a tapRow over B's rows (k.rowOffs), into scratch first when
// accumulating.
func (k *gemmKernel) gemv(x *exec, a, b, y []float32, accum bool) {
	threads := x.threads
	if k.m*k.n*k.k < parallelMinMACs || accum && !k.transB {
		threads = 1
	}
	// Columns of y in blocks of gemvCols, split between threads; each
	// output is computed alike whichever block holds it.
	const gemvCols = 64
	nb := (k.n + gemvCols - 1) / gemvCols
	parallelFor(nb, threads, func(lo, hi int) {
		j0, j1 := lo*gemvCols, min(hi*gemvCols, k.n)
		for i := 0; i < k.m; i++ {
			arow, yrow := a[i*k.k:(i+1)*k.k], y[i*k.n+j0:i*k.n+j1]
			if k.transB {
				for j := range yrow {
					d := k.alpha * vecDot(arow, b[(j0+j)*k.k:(j0+j+1)*k.k])
					if accum {
						d += yrow[j]
					}
					yrow[j] = d
				}
				continue
			}
			t := yrow
			if accum {
				t = x.scratch[:j1-j0] // threads == 1 here
			}
			tapRow(t, b[j0:], k.rowOffs, arow, &kernEpi{})
			if k.alpha != 1 {
				vecMulScalar(t, t, k.alpha)
			}
			if accum {
				vecAdd(yrow, yrow, t)
			}
		}
	})
}

// matmulKernel is ONNX MatMul (numpy matmul): batched over the broadcast
// leading dimensions, with 1-D operands promoted and the added dimension
// removed afterwards. For each batch index:
//
//	out[..., i, j] = Σ_p A[..., i, p] · B[..., p, j]
type matmulKernel struct {
	m, n, k int
	batch   int   // number of [M, N] products
	aOff    []int // per batch: offset of its A matrix
	bOff    []int
	fold    bool      // B is one matrix: the batch folds into M
	sp      *spWeight // B run sparse (op_sparse_gemm.go), or nil
}

func buildMatMul(b *buildCtx) (*built, error) {
	if err := b.need(2); err != nil {
		return nil, err
	}
	a, bb := b.in[0], b.in[1]
	if a.isInt() || bb.isInt() || len(a.shape) == 0 || len(bb.shape) == 0 {
		return nil, notImpl("MatMul of %v %v and %v %v", a.dt, a.shape, bb.dt, bb.shape)
	}
	as, bs := cloneInts(a.shape), cloneInts(bb.shape)
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k, kb, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-2], bs[len(bs)-1]
	if k != kb {
		return nil, invalid("MatMul inner dimensions %v × %v", a.shape, bb.shape)
	}
	batch, err := broadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return nil, err
	}
	out := append(cloneInts(batch), m, n)
	mk := &matmulKernel{m: m, n: n, k: k, batch: numel(batch)}
	mk.fold = numel(bs[:len(bs)-2]) == 1
	if !mk.fold {
		bc := newBcast(batch, as[:len(as)-2], bs[:len(bs)-2])
		bc.rows(func(_ int, offs []int, cnt int, step []int) {
			for j := 0; j < cnt; j++ {
				mk.aOff = append(mk.aOff, (offs[0]+j*step[0])*m*k)
				mk.bOff = append(mk.bOff, (offs[1]+j*step[1])*k*n)
			}
		})
		if mk.batch == 0 {
			mk.aOff, mk.bOff = nil, nil
		}
	} else if numel(as[:len(as)-2]) != mk.batch {
		// A is broadcast along batch dims B lacks: not a plain fold.
		mk.fold = false
		for i := 0; i < mk.batch; i++ {
			mk.aOff = append(mk.aOff, 0)
			mk.bOff = append(mk.bOff, 0)
		}
	}
	// Drop the promoted dimensions.
	if len(a.shape) == 1 {
		out = append(out[:len(out)-2], out[len(out)-1])
	}
	if len(bb.shape) == 1 {
		out = out[:len(out)-1]
	}
	macs := int64(mk.batch) * int64(m) * int64(n) * int64(k)
	bt := &built{k: mk, out: one(a.dt, out), alias: -1, macs: macs, flops: 2 * macs}
	if mk.fold && len(bb.shape) == 2 {
		if mk.sp = b.sparseWeight(1, n, k, mk.batch*m, false, 1, costGemm); mk.sp != nil {
			bt.scratch = mk.sp.gemmSetup(mk.batch*m, k, false)
		}
	} else if bb.konst != nil {
		bb.konst.densify()
	}
	return bt, nil
}

func (k *matmulKernel) forward(x *exec, in, out []*data) {
	a, b, y := in[0].f, in[1].f, out[0].f
	if k.sp != nil {
		k.sp.gemm(x, a, false, k.batch*k.m, k.k, y, false)
		return
	}
	if k.fold {
		sgemm(false, false, k.batch*k.m, k.n, k.k, 1, a, k.k, b, k.n, 0, y, k.n, x.threads)
		return
	}
	for i := 0; i < k.batch; i++ {
		sgemm(false, false, k.m, k.n, k.k, 1, a[k.aOff[i]:], k.k, b[k.bOff[i]:], k.n, 0, y[i*k.m*k.n:], k.n, x.threads)
	}
}
