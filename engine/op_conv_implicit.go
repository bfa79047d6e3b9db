package engine

// Implicit-GEMM convolution: the same product as gemmForward, W_g times
// im2col(x_g), with the im2col matrix never formed. Its row p = (c, ky, kx)
// restricted to one output row is a contiguous run of the channel's padded
// plane (paddedPlane), or of the input itself for a 1×1, stride-1,
// unpadded convolution, so the micro-kernel reads B in place (runTaps)
// through a table of row offsets instead of packed panels.

// implicitOK reports whether the implicit path suits k: constant weights
// to be packed for kern (nil when they are not constant), a kernel with
// runTaps, and output rows that fill the kernel's column panels well (a
// 1×1 convolution is one row of OH·OW).
func (k *convKernel) implicitOK(kern *microKernel) bool {
	if k.depthwise || kern == nil || kern.runTaps == nil {
		return false
	}
	if k.pointwise || k.subsample() {
		return true
	}
	if k.plane == nil {
		return false
	}
	nr := kern.nr
	return 5*k.ow >= 4*((k.ow+nr-1)/nr*nr) // ≥ 80% of the columns used
}

// subsample reports whether k is a 1×1, stride-2, unpadded convolution of
// an input with even sides (the downsampling of a residual block): the
// implicit path then multiplies by phase 0 of phaseSplit, the input's even
// rows and columns, as a 1×1 convolution of OH·OW positions in one row.
func (k *convKernel) subsample() bool {
	return phaseSplit != nil && k.kh == 1 && k.kw == 1 && k.sh == 2 && k.sw == 2 &&
		k.pt == 0 && k.pl == 0 && k.pb == 0 && k.pr == 0 && k.h%2 == 0 && k.w%2 == 0
}

// setupImplicit fills the offset table and returns the scratch (floats) the
// implicit path needs: the padded planes of one group.
func (k *convKernel) setupImplicit() int {
	cg := k.c / k.group
	if k.pointwise {
		hw := k.h * k.w
		for c := 0; c < cg; c++ {
			k.tapOffs = append(k.tapOffs, c*hw)
		}
		return 0
	}
	if k.subsample() {
		for c := 0; c < cg; c++ {
			k.tapOffs = append(k.tapOffs, c*k.oh*k.ow)
		}
		return cg * k.h * k.w // the four phases
	}
	pp := k.plane
	for c := 0; c < cg; c++ {
		for _, o := range pp.offs {
			k.tapOffs = append(k.tapOffs, c*pp.planeSz+o)
		}
	}
	return cg * pp.planeSz
}

func (k *convKernel) implicitForward(x *exec, src, bias, dst []float32) {
	cg, mg := k.c/k.group, k.m/k.group
	hw, np := k.h*k.w, k.oh*k.ow
	for n := 0; n < k.n; n++ {
		for g := 0; g < k.group; g++ {
			xg := src[(n*k.c+g*cg)*hw : (n*k.c+(g+1)*cg)*hw]
			og := dst[(n*k.m+g*mg)*np : (n*k.m+(g+1)*mg)*np]
			// B's rows for output row r start at base[r*rstride + tapOffs[p]].
			base, rows, rlen, rstride := xg, 1, np, 0
			if k.subsample() {
				base = x.scratch[:cg*hw]
				threads := x.threads
				if len(base) < parallelMinElems {
					threads = 1
				}
				psz := cg * hw / 4
				parallelFor(cg, threads, func(lo, hi int) {
					phaseSplit(base[lo*hw/4:], xg[lo*hw:hi*hw], (hi-lo)*k.h, k.w, psz)
				})
				base = base[:psz]
			} else if pp := k.plane; pp != nil && !k.pointwise {
				base = x.scratch[:cg*pp.planeSz]
				clear(base)
				threads := x.threads
				if len(base) < parallelMinElems {
					threads = 1
				}
				parallelFor(cg, threads, func(lo, hi int) {
					for c := lo; c < hi; c++ {
						pp.fill(base[c*pp.planeSz:(c+1)*pp.planeSz], xg[c*hw:(c+1)*hw])
					}
				})
				rows, rlen, rstride = k.oh, k.ow, k.sh*pp.pw
			}
			var bg []float32
			if bias != nil {
				bg = bias[g*mg : (g+1)*mg]
			}
			k.implicitGEMM(x, k.packed[g], base, rows, rlen, rstride, og, bg)
		}
	}
}

// implicitGEMM computes og[m, r*rlen+j] for m < M, r < rows, j < rlen:
// Σ_p A[m,p]·base[r*rstride+tapOffs[p]+j], plus bias, clamped by k.act.
func (k *convKernel) implicitGEMM(x *exec, pa *packedA, base []float32, rows, rlen, rstride int, og, bias []float32) {
	kern := pa.kern
	mr, nr := kern.mr, kern.nr
	m, kk := pa.m, pa.k
	np := rows * rlen
	// The kernel reads base only where this bound says.
	maxOff := 0
	for _, o := range k.tapOffs {
		maxOff = max(maxOff, o)
	}
	if (rows-1)*rstride+maxOff+rlen > len(base) {
		panic("engine: implicit convolution reads outside its input")
	}
	nch := (rlen + nr - 1) / nr
	threads := x.threads
	if m*np*kk < parallelMinMACs {
		threads = 1
	}
	parallelFor(rows*nch, threads, func(lo, hi int) {
		var ep kernEpi
		for u := lo; u < hi; u++ {
			r, j0 := u/nch, u%nch*nr
			cols := min(nr, rlen-j0)
			b := base[r*rstride+j0:]
			for i0 := 0; i0 < m; i0 += mr {
				ep.rows, ep.mask = int32(min(mr, m-i0)), 1<<cols-1
				c := og[i0*np+r*rlen+j0:]
				for p0 := 0; p0 < kk; p0 += gemmKC {
					kc := min(gemmKC, kk-p0)
					ep.flags = 0
					if p0 > 0 {
						ep.flags |= epAccum
					}
					if bias != nil && p0 == 0 {
						ep.flags |= epBias
						ep.bias, ep.biasS = &bias[i0], bias[i0:i0+int(ep.rows)]
					}
					if k.act != nil && p0+kc == kk {
						ep.flags |= epClamp
						ep.lo, ep.hi = k.act.lo, k.act.hi
					}
					apan := pa.data[p0*pa.mp+i0*kc : p0*pa.mp+i0*kc+mr*kc]
					kern.runTaps(kc, apan, b, k.tapOffs[p0:p0+kc], c, np, &ep)
				}
			}
		}
	})
}
