package engine

import "sync"

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

// implicitKC bounds the depth blocks of the implicit path over padded
// planes: the kh·kw taps of a channel read kh rows of its plane, so the B
// rows of a whole block of 64 channels of a 3×3 convolution, about 26 KB
// for a panel, stay in L1 beside the A panel, and the kernel's epilogue
// (which adds the block into C) runs once per block.
var implicitKC = 576

// setupImplicit fills the offset table and returns the scratch (floats) the
// implicit path needs: the padded planes of one group. It packs the
// constant weights w for kern: for a path over padded planes in depth
// blocks of up to implicitKC, of even depth.
func (k *convKernel) setupImplicit(kern *microKernel, w []float32) int {
	mg, kk := k.m/k.group, k.c/k.group*k.kh*k.kw
	k.packed = make([]*packedA, k.group)
	if k.pointwise || k.subsample() {
		for g := range k.packed {
			k.packed[g] = packAll(kern, false, mg, kk, 1, w[g*mg*kk:], kk, nil)
		}
	} else {
		kcmax := implicitKC
		if kern.tapsKC > 0 {
			kcmax = min(kcmax, kern.tapsKC)
		}
		nblk := (kk + kcmax - 1) / kcmax
		kcb := (kk + nblk - 1) / nblk
		for g := range k.packed {
			k.packed[g] = packAllKC(kern, false, mg, kk, kcb, 1, w[g*mg*kk:], kk, nil)
		}
	}
	return k.setupLinearTaps()
}

// setupLinearTaps fills the tap offset table of the implicit paths and
// returns the scratch (floats) they fill: the padded planes (or phases) of
// one group.
func (k *convKernel) setupLinearTaps() int {
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
	if (k.linear || k.swt != nil) && k.phased() { // the swapped implicit path reads the linear one's phases
		ph, L := k.phaseRows(), k.linearRow()
		for c := 0; c < cg; c++ {
			for ky := 0; ky < k.kh; ky++ {
				for kx := 0; kx < k.kw; kx++ {
					k.tapOffs = append(k.tapOffs, (4*c+2*(ky%2)+kx%2)*ph*L+ky/2*L+kx/2)
				}
			}
		}
		return cg * 4 * ph * L
	}
	pp := k.plane
	for c := 0; c < cg; c++ {
		for _, o := range pp.offs {
			k.tapOffs = append(k.tapOffs, c*pp.planeSz+o)
		}
	}
	return cg * pp.planeSz
}

// implicitLinearOK reports whether the linear form of the implicit path
// suits k. With a stride of 1, output position (oy, ox) of tap t reads
// plane[oy·pw + ox + offs[t]] of the padded plane, so the positions
// oy·pw + ox of all the rows are one row of linearLen columns, of which the
// pw − OW past each output row's end are computed and dropped. With a
// stride of 2 (no dilation) the padded input is split into its four
// phases (even/odd rows × even/odd columns, linearRow columns each), and
// tap (ky, kx) reads phase (ky mod 2, kx mod 2) at a constant offset
// (ky/2 rows, kx/2 columns) from the output position: again one row. Panels
// of the micro-kernel's width then run across output rows: resnet18's 56²
// fills 96% of them instead of 88%, 14² 88% instead of 44%.
func (k *convKernel) implicitLinearOK(kern *microKernel) bool {
	return kern != nil && kern.runTaps != nil && k.linearGeom()
}

// linearGeom reports whether k's geometry allows the linear path.
func (k *convKernel) linearGeom() bool {
	if k.depthwise || k.pointwise || k.subsample() {
		return false
	}
	return k.plane != nil && k.sh == 1 && k.sw == 1 || k.phased()
}

// phased reports whether the linear path reads k's input split in phases.
func (k *convKernel) phased() bool {
	return k.sh == 2 && k.sw == 2 && k.dh == 1 && k.dw == 1
}

// linearRow is the row length of the linear path's positions: the padded
// plane's, or a phase's (OW plus the taps' reach, (kw−1)/2, past it).
func (k *convKernel) linearRow() int {
	if k.phased() {
		return k.ow + (k.kw-1)/2
	}
	return k.plane.pw
}

// phaseRows is the rows of one phase: OH plus the taps' reach below.
func (k *convKernel) phaseRows() int { return k.oh + (k.kh-1)/2 }

// fillPhases writes the h×w channel x into its four phases at dst (each
// phaseRows × linearRow, phase (a, b) at (2a+b)·phaseRows·linearRow):
// padded position (py, px) = (iy+pt, ix+pl) goes to phase (py mod 2,
// px mod 2), row py/2, column px/2. What falls in the padding is left as it
// is (zero: the caller clears dst); what lies past a phase is never read.
func (k *convKernel) fillPhases(dst, x []float32) {
	ph, L := k.phaseRows(), k.linearRow()
	b0, j0 := k.pl%2, k.pl/2       // even ix
	b1, j1 := 1-b0, (k.pl+1)/2     // odd ix
	ne := min((k.w+1)/2, L-j0)     // even elements inside the phase
	no := max(0, min(k.w/2, L-j1)) // odd ones
	pairs := max(0, min(ne, no))
	for iy := 0; iy < k.h; iy++ {
		py := iy + k.pt
		a, i := py%2, py/2
		if i >= ph {
			break
		}
		xrow := x[iy*k.w : (iy+1)*k.w]
		re := dst[((2*a+b0)*ph+i)*L : ((2*a+b0)*ph+i+1)*L]
		ro := dst[((2*a+b1)*ph+i)*L : ((2*a+b1)*ph+i+1)*L]
		if pairs > 0 {
			deinterleave(re[j0:j0+pairs], ro[j1:j1+pairs], xrow)
		}
		for e := pairs; e < ne; e++ {
			re[j0+e] = xrow[2*e]
		}
		for o := pairs; o < no; o++ {
			ro[j1+o] = xrow[2*o+1]
		}
	}
}

// linearMinFill is the least share of the micro-kernel's columns the
// linear path must fill to be taken over the others: on resnet18 it beat
// the swapped path at 7² (fill 77%) by 3–9% at 1 thread and 20–25% at 2,
// and at 14² (88%) by 7–15% and 30%. A stride-2 convolution whose output
// rows fill the panels (implicitOK: resnet18's stem and 56²→28², the
// 224²→112² stem of mobilenet_v2) keeps the row path, which was as fast or
// up to 20% faster there (interleaved runs of BenchmarkConvPaths' layers).
const linearMinFill = 0.7

// linearFill is the share of the micro-kernel's columns that hold output
// positions on the linear path.
func (k *convKernel) linearFill(kern *microKernel) float64 {
	nr := kern.nr
	ll := k.linearLen()
	return float64(k.oh*k.ow) / float64((ll+nr-1)/nr*nr)
}

// linearLen is the length of the linear path's row: the output positions
// up to the last one, OW per row of linearRow.
func (k *convKernel) linearLen() int { return (k.oh-1)*k.linearRow() + k.ow }

func (k *convKernel) implicitForward(x *exec, src, bias, res, dst []float32) {
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
				psz := cg * hw / 4
				fillChannels(x, len(base), cg, func(lo, hi int) {
					phaseSplit(base[lo*hw/4:], xg[lo*hw:hi*hw], (hi-lo)*k.h, k.w, psz)
				})
				base = base[:psz]
			} else if k.linear && k.phased() {
				base = k.fillLinear(x, xg) // the four phases of each channel
			} else if pp := k.plane; pp != nil && !k.pointwise {
				base = x.scratch[:cg*pp.planeSz]
				fillPlanes(x, pp, base, xg, cg)
				rows, rlen, rstride = k.oh, k.ow, k.sh*pp.pw
			}
			var bg, rg []float32
			if bias != nil {
				bg = bias[g*mg : (g+1)*mg]
			}
			if res != nil {
				rg = res[(n*k.m+g*mg)*np : (n*k.m+(g+1)*mg)*np]
			}
			if k.linear {
				k.implicitGEMM(x, k.packed[g], base, 1, k.linearLen(), 0, og, np, k.linearRow(), bg, rg)
				continue
			}
			k.implicitGEMM(x, k.packed[g], base, rows, rlen, rstride, og, np, 0, bg, rg)
		}
	}
}

// fillPlanes lays out the cg input planes of x (h×w each, one after the
// other) as padded planes in base, across x's threads: a channel per
// item, or with fewer channels than chunks (PP-OCR det's first
// convolution, 3 of them on 2 threads: 2 planes on one core, 1 on the
// other) bands of padded rows, band by band across the channels, so that
// each core lays out the top or the bottom rows, which the product's units
// (runs of output rows, the first ones to the caller) then read.
func fillPlanes(x *exec, pp *paddedPlane, base, src []float32, cg int) {
	hw := pp.g.h * pp.g.w
	threads := x.threads
	if len(base) < parallelMinElems {
		threads = 1
	}
	if threads == 1 || cg >= chunksPerThread*threads {
		fillChannels(x, len(base), cg, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				plane := base[c*pp.planeSz : (c+1)*pp.planeSz]
				pp.clearPad(plane)
				pp.fill(plane, src[c*hw:(c+1)*hw])
			}
		})
		return
	}
	bands := min(pp.ph, (chunksPerThread*threads+cg-1)/cg)
	parallelFor(bands*cg, threads, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			b, c := u/cg, u%cg
			plane := base[c*pp.planeSz : (c+1)*pp.planeSz]
			pp.fillRows(plane, src[c*hw:(c+1)*hw], b*pp.ph/bands, (b+1)*pp.ph/bands)
		}
	})
}

// fillChannels runs fill over the cg channels of an input being copied
// into a scratch of size floats: across x's threads, or on one goroutine
// when the copy is too small to pay for a parallel region.
func fillChannels(x *exec, size, cg int, fill func(lo, hi int)) {
	threads := x.threads
	if size < parallelMinElems {
		threads = 1
	}
	parallelFor(cg, threads, fill)
}

// implicitGEMM computes og[m*ldc + r*rlen+j] for m < M, r < rows, j < rlen:
// Σ_p A[m,p]·base[r*rstride+tapOffs[p]+j], plus bias, plus res (laid out
// as og) when not nil, clamped by k.act.
// With lrow > 0 (the linear path: rows = 1, ldc = OH·OW) column j of the
// one row is output position (j/lrow, j%lrow), stored only when j%lrow <
// OW: each unit of work runs into a block of its own (linTile) and stores
// the positions it computed, so no output of one thread is read by another.
//
// The columns of each row are cut into panels of the kernel's width nr.
// A unit of work is a block of panels (implicitPanelsPerBlock) times a
// block of rows of A (whole mr panels, split only to give threads enough
// units); it runs depth block by depth block, rows of A inside, panels
// innermost: the A panel (mr×kc) is read once per depth block and stays in
// L1 across the block's panels, the B rows of the depth block (read in
// place) stay in L1 or L2 across the rows of A, and each weight is read
// from memory once per block of panels (once per layer at 14² and 7², where
// the weights are megabytes and the panels few). Every output sums its
// depth blocks in the same order whatever the split, so the bits do not
// depend on the threads.
func (k *convKernel) implicitGEMM(x *exec, pa *packedA, base []float32, rows, rlen, rstride int, og []float32, ldc, lrow int, bias, res []float32) {
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
	npan := rows * nch
	threads := x.threads
	if m*np*kk < parallelMinMACs {
		threads = 1
	}
	ppb := min(npan, implicitPanelsPerBlock)
	nb := (npan + ppb - 1) / ppb
	mpan := (m + mr - 1) / mr
	mb := 1
	if threads > 1 && nb < chunksPerThread*threads {
		mb = min(mpan, (chunksPerThread*threads+nb-1)/nb)
	}
	rowsMajor := false
	if k.rowsSplit && threads > 1 && mpan >= 2*threads {
		// The output channels split between the threads, as the
		// depthwise convolution after splits them (splitForDepthwise):
		// a row block a thread, its units taken block of panels by block.
		mb, rowsMajor = threads, true
	}
	pmb := (mpan + mb - 1) / mb // mr panels per row block
	mb = (mpan + pmb - 1) / pmb
	tw := ppb * nr // a linear unit's block: pmb·mr rows of tw
	// Contiguous runs of units per chunk (chunksPerThread a thread, as
	// parallelFor cuts): a chunk per unit alternated neighbouring units
	// between the cores, whose output blocks share cache lines at their
	// edges (stored, then accumulated depth block after depth block):
	// PP-OCRv4 det's 24×96 3×3 convolutions at 80² did not scale at all
	// on 2 threads (1.75–1.95 ms against 1.71–1.78 on 1).
	parallelForChunks(nb*mb, threads, min(nb*mb, chunksPerThread*threads), func(lo, hi int) {
		var ep kernEpi
		var tp *[]float32
		if lrow > 0 {
			tp = linTile.Get().(*[]float32)
			if len(*tp) < pmb*mr*tw {
				*tp = make([]float32, pmb*mr*tw)
			}
		}
		for u := lo; u < hi; u++ {
			jb, ib := u/mb, u%mb
			if rowsMajor {
				jb, ib = u%nb, u/nb
			}
			u0, u1 := jb*ppb, min((jb+1)*ppb, npan)
			ia, iz := ib*pmb*mr, min((ib+1)*pmb*mr, m)
			for p0 := 0; p0 < kk; p0 += pa.kcb {
				kc := min(pa.kcb, kk-p0)
				offs := k.tapOffs[p0 : p0+kc]
				ablk := pa.data[p0*pa.mp:]
				for i0 := ia; i0 < iz; i0 += mr {
					apan := ablk[i0*kc : i0*kc+mr*kc]
					ep.rows = int32(min(mr, m-i0))
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
					if res != nil && p0+kc == kk {
						ep.flags |= epResid
					}
					fl := ep.flags
					for v := u0; v < u1; v++ {
						r, j0 := v/nch, v%nch*nr
						ep.mask = 1<<min(nr, rlen-j0) - 1
						if lrow > 0 {
							if oy := j0 / lrow; j0+nr <= oy*lrow+k.ow {
								// The panel lies in one output row.
								o := i0*ldc + oy*k.ow + j0 - oy*lrow
								if fl&epResid != 0 {
									ep.residS = res[o:]
								}
								kern.runTaps(kc, apan, base[j0:], offs, og[o:], ldc, &ep)
								continue
							}
							// Into the block: the residual and the clamp
							// are applied as it is stored (below).
							ep.flags = fl
							if fl&epResid != 0 {
								ep.flags &^= epResid | epClamp
							}
							kern.runTaps(kc, apan, base[j0:], offs, (*tp)[(i0-ia)*tw+(v-u0)*nr:], tw, &ep)
							ep.flags = fl
							continue
						}
						o := i0*ldc + r*rlen + j0
						if fl&epResid != 0 {
							ep.residS = res[o:]
						}
						kern.runTaps(kc, apan, base[r*rstride+j0:], offs, og[o:], ldc, &ep)
					}
				}
			}
			if lrow > 0 {
				// The positions of the panels that spanned output rows,
				// from the block into the output rows.
				ow := k.ow
				for v := u0; v < u1; v++ {
					j0 := v * nr
					c1 := min(j0+nr, rlen)
					if oy := j0 / lrow; j0+nr <= oy*lrow+ow {
						continue
					}
					for i := ia; i < iz; i++ {
						t := (*tp)[(i-ia)*tw+(v-u0)*nr : (i-ia)*tw+(v-u0+1)*nr]
						for oy := j0 / lrow; oy*lrow < c1; oy++ {
							a, b := max(j0, oy*lrow), min(c1, oy*lrow+ow)
							if a >= b {
								continue
							}
							o := og[i*ldc+oy*ow+a-oy*lrow : i*ldc+oy*ow+b-oy*lrow]
							if res == nil {
								copy(o, t[a-j0:b-j0])
								continue
							}
							vecAdd(o, t[a-j0:b-j0], res[i*ldc+oy*ow+a-oy*lrow:i*ldc+oy*ow+b-oy*lrow])
							k.act.apply(o)
						}
					}
				}
			}
		}
		if tp != nil {
			linTile.Put(tp)
		}
	})
}

// linTile holds the linear path's per-goroutine output blocks.
var linTile = sync.Pool{New: func() any { return new([]float32) }}

// implicitPanelsPerBlock is how many column panels a unit of implicitGEMM
// takes: their B rows of one depth block (nr·kc floats each) are read once
// per row of A panels.
var implicitPanelsPerBlock = 2
