package engine

// Backward of Gemm, Y = alpha·op(A)·op(B) + beta·C:
//
//	d op(A) = alpha·δ·op(B)ᵀ,  d op(B) = alpha·op(A)ᵀ·δ,  dC = beta·δ summed over C's broadcast axes
//
// each an SGEMM accumulating into the gradient (beta 1).
func (k *gemmKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	a, b, d := in[0].f, in[1].f, dOut[0].f
	m, n, kk, al := k.m, k.n, k.k, k.alpha
	if dIn[0] != nil {
		da := dIn[0].f
		switch {
		case !k.transA && !k.transB:
			sgemm(false, true, m, kk, n, al, d, n, b, n, 1, da, kk, x.threads)
		case !k.transA && k.transB:
			sgemm(false, false, m, kk, n, al, d, n, b, kk, 1, da, kk, x.threads)
		case k.transA && !k.transB:
			sgemm(false, true, kk, m, n, al, b, n, d, n, 1, da, m, x.threads)
		default:
			sgemm(true, true, kk, m, n, al, b, kk, d, n, 1, da, m, x.threads)
		}
	}
	if dIn[1] != nil {
		db := dIn[1].f
		switch {
		case !k.transB && !k.transA:
			sgemm(true, false, kk, n, m, al, a, kk, d, n, 1, db, n, x.threads)
		case !k.transB && k.transA:
			sgemm(false, false, kk, n, m, al, a, m, d, n, 1, db, n, x.threads)
		case k.transB && !k.transA:
			sgemm(true, false, n, kk, m, al, d, n, a, kk, 1, db, kk, x.threads)
		default:
			sgemm(true, true, n, kk, m, al, d, n, a, m, 1, db, kk, x.threads)
		}
	}
	if len(dIn) > 2 && dIn[2] != nil && k.cb != nil {
		unbroadcastAdd(k.cb, 0, dIn[2].f, d, k.beta)
	}
}

// tapeNeeds: the backward of Gemm reads A and B, not Y.
func (k *gemmKernel) tapeNeeds() (in, out uint64) { return 0b011, 0 }

// unbroadcastAdd adds s·src (of the broadcast output shape bc iterates)
// into dst, the input operand slot of bc, summing over its broadcast axes.
func unbroadcastAdd(bc *bcast, slot int, dst, src []float32, s float32) {
	bc.rows(func(off int, offs []int, n int, step []int) {
		o, st := offs[slot], step[slot]
		row := src[off : off+n]
		if st == 0 {
			var acc float64
			for _, v := range row {
				acc += float64(v)
			}
			dst[o] += s * float32(acc)
			return
		}
		for j, v := range row {
			dst[o+j*st] += s * v
		}
	})
}

// Backward of MatMul, per batch: dA = δ·Bᵀ, dB = Aᵀ·δ, summed over the
// batches an operand is broadcast along.
func (k *matmulKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	a, b, d := in[0].f, in[1].f, dOut[0].f
	m, n, kk := k.m, k.n, k.k
	if k.fold {
		if dIn[0] != nil {
			sgemm(false, true, k.batch*m, kk, n, 1, d, n, b, n, 1, dIn[0].f, kk, x.threads)
		}
		if dIn[1] != nil {
			sgemm(true, false, kk, n, k.batch*m, 1, a, kk, d, n, 1, dIn[1].f, n, x.threads)
		}
		return
	}
	for i := 0; i < k.batch; i++ {
		di := d[i*m*n:]
		if dIn[0] != nil {
			sgemm(false, true, m, kk, n, 1, di, n, b[k.bOff[i]:], n, 1, dIn[0].f[k.aOff[i]:], kk, x.threads)
		}
		if dIn[1] != nil {
			sgemm(true, false, kk, n, m, 1, a[k.aOff[i]:], kk, di, n, 1, dIn[1].f[k.bOff[i]:], n, x.threads)
		}
	}
}

func (k *matmulKernel) tapeNeeds() (in, out uint64) { return 0b11, 0 }
