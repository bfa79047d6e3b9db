package engine

// convKernel is a 1-D or 2-D convolution (ONNX Conv). The reference loop
// (convRef) is, for batch n, output channel m in group g, output (oy, ox):
//
//	out[n,m,oy,ox] = B[m] + Σ_{c<C/G, ky, kx} x[n, g·C/G+c, oy·sh−pt+ky·dh, ox·sw−pl+kx·dw] · W[m,c,ky,kx]
//
// with x = 0 outside the input. The fast paths lower each group to one
// SGEMM, W_g [M/G × K] times im2col(x_g) [K × OH·OW], K = C/G·kh·kw, with
// constant weights packed at compile time, in one of three ways chosen when
// the plan is built: im2col and packed B (gemmForward; no im2col for 1×1,
// stride-1, unpadded convolutions), im2col read in place through row
// offsets (implicitForward; for stride 1, over all the output rows as one
// row of the padded plane), or the transposed product (swappedForward).
// Depthwise convolutions (G = C = M) run tap rows over padded planes,
// parallel over channels.
type convKernel struct {
	convGeom
	n, c, m, group int
	hasBias        bool
	depthwise      bool
	pointwise      bool
	// rowsSplit: on several threads the im2col path's product splits the
	// output channels, not the positions (gemmPackedSplit), as the
	// depthwise convolution that alone reads the output splits them
	// (fuse sets it).
	rowsSplit bool
	// act, when set, clamps the output to [lo, hi] as it is produced: a
	// following Relu or Clip fused in by the compiler (fuse.go).
	act *clampAct
	// residIn, when not 0, is the index among the step's inputs of a
	// tensor of the output's shape added to the output after the bias and
	// before act: a following residual Add fused in (fuse.go), as
	// (conv + bias) + r, the unfused graph's rounding.
	residIn int
	// packed holds, per group, the constant weights packed for the SGEMM
	// micro-kernel once at compile time (nil when the weights are computed
	// at run time).
	packed []*packedA
	// plane lays out input planes for depthwiseForward and im2col, when the
	// horizontal stride allows.
	plane *paddedPlane
	// flat, when set, runs the depthwise convolution flat (op_conv_dw.go).
	flat *dwFlat
	// implicit selects implicitForward, which reads the input through
	// tapOffs (op_conv_implicit.go) instead of forming im2col.
	implicit bool
	tapOffs  []int
	// linear, with implicit, runs the implicit product over the output
	// positions of the padded plane's rows taken as one row (implicitLinearOK).
	linear bool
	// swapped, when set, holds per group the packed Wᵀ of swappedForward
	// (op_conv_swapped.go), for swapKern; packed is then nil.
	swapped  []*packedB
	swapKern *microKernel
	// swt, when set, runs the swapped implicit product (op_conv_swtaps.go)
	// over the linear path's tap offsets; packed is then nil.
	swt *swTaps
	// repack: run-time weights (a Trainable's parameter) are packed once
	// per forward into packBuf instead of once per image (op_conv_grad.go).
	repack  bool
	packBuf [][]float32
	// sp, when set, holds per group the constant weights run sparse
	// (op_sparse_conv.go); packed is then nil.
	sp []*spWeight
}

// residualOK reports whether k's path adds a residual (residIn) to its
// output: every dense path; not the depthwise or sparse ones.
func (k *convKernel) residualOK() bool {
	return !k.depthwise && k.flat == nil && k.sp == nil
}

// clampAct is an activation out = min(max(x, lo), hi) fused into the op
// producing x.
type clampAct struct{ lo, hi float32 }

func (a *clampAct) apply(s []float32) {
	if a != nil {
		clampRange(s, s, a.lo, a.hi)
	}
}

func buildConv(b *buildCtx) (*built, error) {
	if err := b.need(2); err != nil {
		return nil, err
	}
	x, w := b.in[0], b.in[1]
	if x.isInt() || w.isInt() {
		return nil, notImpl("integer Conv")
	}
	if err := b.floatInputs(2); err != nil {
		return nil, err
	}
	if len(x.shape) < 3 || len(w.shape) != len(x.shape) {
		return nil, invalid("Conv input %v and weight %v", x.shape, w.shape)
	}
	group := int(b.attrInt("group", 1))
	n, c, m := x.shape[0], x.shape[1], w.shape[0]
	if group < 1 || c%group != 0 || m%group != 0 || w.shape[1] != c/group {
		return nil, invalid("Conv channels: input %v, weight %v, group %d", x.shape, w.shape, group)
	}
	kshape := w.shape[2:]
	if ks, ok := b.attrInts("kernel_shape"); ok && !sameShape(ints(ks), kshape) {
		return nil, invalid("kernel_shape %v disagrees with weight %v", ks, w.shape)
	}
	g, err := spatialAttrs(b, x.shape[2:], kshape, false)
	if err != nil {
		return nil, err
	}
	k := &convKernel{convGeom: *g, n: n, c: c, m: m, group: group}
	if bias := b.input(2); bias != nil {
		if numel(bias.shape) != m {
			return nil, invalid("Conv bias %v for %d channels", bias.shape, m)
		}
		k.hasBias = true
	}
	k.depthwise = group == c && m == c && group > 1
	k.pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.pb == 0 && g.pr == 0
	out := append([]int{n, m}, g.outSpatial()...)
	macs := int64(n) * int64(m) * int64(g.oh*g.ow) * int64(c/group*g.kh*g.kw)
	bt := &built{k: k, out: one(x.dt, out), alias: -1, macs: macs, flops: 2 * macs}
	if k.depthwise {
		w.konst.densify()
	} else if k.buildSparse(b, bt) {
		return bt, nil
	}
	// Only the form of the weights the chosen path reads is packed: W for
	// the GEMM path, W in depth blocks for the implicit one, Wᵀ for the
	// swapped one (packing several and dropping all but one held them all
	// at once while compiling).
	var kern *microKernel
	if !k.depthwise && w.konst != nil {
		kern = activeKernel()
	}
	if planeOK(g) && !k.pointwise {
		k.plane = newPaddedPlane(&k.convGeom)
	}
	k.flat = newDWFlat(k)
	k.repack = b.c != nil && b.c.train != nil && w.konst == nil && !k.depthwise
	var wf []float32
	if w.konst != nil {
		wf = w.konst.f
	}
	p := k.rulePath(kern)
	if want := b.convPath(); want != "" && want != p && k.pathOK(want, kern) {
		p = want
	}
	bt.scratch = k.setupPath(p, kern, wf)
	return bt, nil
}

// packDense packs the constant weights w per group for the SGEMM
// micro-kernel (k.packed).
func (k *convKernel) packDense(kern *microKernel, w []float32) {
	mg, kk := k.m/k.group, k.c/k.group*k.kh*k.kw
	k.packed = nil
	for gi := 0; gi < k.group; gi++ {
		k.packed = append(k.packed, packAll(kern, false, mg, kk, 1, w[gi*mg*kk:], kk, nil))
	}
}

func (k *convKernel) forward(x *exec, in, out []*data) {
	if k.repack {
		k.packWeights(in[1].f)
	}
	var bias, res []float32
	if k.hasBias {
		bias = in[2].f
	}
	if k.residIn > 0 {
		res = in[k.residIn].f
	}
	switch {
	case k.sp != nil:
		k.gemmForward(x, in[0].f, nil, bias, nil, out[0].f) // im2col, then k.sp's sparse product (no dense weight)
	case k.swt != nil:
		k.swTapsForward(x, in[0].f, bias, res, out[0].f)
	case k.swapped != nil:
		k.swappedForward(x, in[0].f, bias, res, out[0].f)
	case k.implicit:
		k.implicitForward(x, in[0].f, bias, res, out[0].f)
	case k.flat != nil:
		k.depthwiseFlat(x, in[0].f, in[1].f, bias, out[0].f)
	case k.depthwise:
		k.depthwiseForward(x, in[0].f, in[1].f, bias, out[0].f)
	default:
		k.gemmForward(x, in[0].f, in[1].f, bias, res, out[0].f)
	}
}

// convRef is the reference loop of convKernel.
func (k *convKernel) convRef(src, w, bias, dst []float32) {
	cg, mg := k.c/k.group, k.m/k.group
	for n := 0; n < k.n; n++ {
		for m := 0; m < k.m; m++ {
			g := m / mg
			for oy := 0; oy < k.oh; oy++ {
				for ox := 0; ox < k.ow; ox++ {
					var s float32
					if bias != nil {
						s = bias[m]
					}
					for c := 0; c < cg; c++ {
						for ky := 0; ky < k.kh; ky++ {
							iy := oy*k.sh - k.pt + ky*k.dh
							if iy < 0 || iy >= k.h {
								continue
							}
							for kx := 0; kx < k.kw; kx++ {
								ix := ox*k.sw - k.pl + kx*k.dw
								if ix < 0 || ix >= k.w {
									continue
								}
								s += src[((n*k.c+g*cg+c)*k.h+iy)*k.w+ix] * w[((m*cg+c)*k.kh+ky)*k.kw+kx]
							}
						}
					}
					dst[((n*k.m+m)*k.oh+oy)*k.ow+ox] = s
				}
			}
		}
	}
}

// gemmForward is im2col (none for 1×1) and one product per group: the
// sparse weights k.sp when the layer runs sparse (w is then nil), else the
// prepacked weights, else SGEMM on w. res, when not nil, is added after
// the bias (not with k.sp: residualOK).
func (k *convKernel) gemmForward(x *exec, src, w, bias, res, dst []float32) {
	cg, mg := k.c/k.group, k.m/k.group
	kk := cg * k.kh * k.kw
	np := k.oh * k.ow
	for n := 0; n < k.n; n++ {
		for g := 0; g < k.group; g++ {
			xg := src[(n*k.c+g*cg)*k.h*k.w:]
			og := dst[(n*k.m+g*mg)*np : (n*k.m+(g+1)*mg)*np]
			var rg []float32
			if res != nil {
				rg = res[(n*k.m+g*mg)*np : (n*k.m+(g+1)*mg)*np]
			}
			col := xg
			if !k.pointwise {
				col = x.scratch[:kk*np]
				k.im2col(x, xg, col)
			}
			if k.sp != nil || k.packed != nil {
				var bg []float32
				if bias != nil {
					bg = bias[g*mg : (g+1)*mg]
				}
				if k.sp != nil { // sparse weights (op_sparse_conv.go)
					k.sp[g].spmm(og, np, col, np, np, bg, false, k.act, x.threads)
				} else {
					gemmPackedSplit(k.packed[g], false, np, col, np, og, np, false, bg, rg, k.act, x.threads, k.rowsSplit)
				}
				continue
			}
			beta := float32(0)
			if bias != nil {
				for m := 0; m < mg; m++ {
					fill(og[m*np:(m+1)*np], bias[g*mg+m])
				}
				beta = 1
			}
			sgemm(false, false, mg, np, kk, 1, w[g*mg*kk:], kk, col, np, beta, og, np, x.threads)
			if rg != nil {
				vecAdd(og, og, rg)
			}
			k.act.apply(og)
		}
	}
}

// im2col writes col[(c·kh+ky)·kw+kx, oy·OW+ox] = x[c, iy, ix] (0 in the
// padding): with a paddedPlane per channel, every row segment is a copy;
// otherwise im2colStrided.
func (k *convKernel) im2col(x *exec, src, col []float32) {
	pp := k.plane
	if pp == nil {
		k.im2colStrided(x, src, col)
		return
	}
	cg := k.c / k.group
	np := k.oh * k.ow
	taps := k.kh * k.kw
	threads := x.threads
	if cg*taps*np < parallelMinElems {
		threads = 1
	}
	parallelFor(cg, threads, func(lo, hi int) {
		bufp, plane := pp.getPlane(0)
		for c := lo; c < hi; c++ {
			pp.fill(plane, src[c*k.h*k.w:(c+1)*k.h*k.w])
			for t, o := range pp.offs {
				row := col[(c*taps+t)*np : (c*taps+t+1)*np]
				for oy := 0; oy < k.oh; oy++ {
					copy(row[oy*k.ow:(oy+1)*k.ow], pp.row(plane, oy)[o:])
				}
			}
		}
		planePool.Put(bufp)
	})
}

// im2colStrided is im2col for any stride.
func (k *convKernel) im2colStrided(x *exec, src, col []float32) {
	cg := k.c / k.group
	np := k.oh * k.ow
	rows := cg * k.kh * k.kw
	threads := x.threads
	if rows*np < parallelMinElems {
		threads = 1
	}
	parallelFor(rows, threads, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c, rem := r/(k.kh*k.kw), r%(k.kh*k.kw)
			ky, kx := rem/k.kw, rem%k.kw
			xc := src[c*k.h*k.w : (c+1)*k.h*k.w]
			row := col[r*np : (r+1)*np]
			xlo, xhi := validRange(k.ow, k.w, k.sw, k.pl, kx*k.dw)
			for oy := 0; oy < k.oh; oy++ {
				orow := row[oy*k.ow : (oy+1)*k.ow]
				iy := oy*k.sh - k.pt + ky*k.dh
				if iy < 0 || iy >= k.h {
					clear(orow)
					continue
				}
				clear(orow[:xlo])
				clear(orow[xhi:])
				xrow := xc[iy*k.w : (iy+1)*k.w]
				off := -k.pl + kx*k.dw
				if k.sw == 1 {
					copy(orow[xlo:xhi], xrow[xlo+off:xhi+off])
				} else {
					for ox := xlo; ox < xhi; ox++ {
						orow[ox] = xrow[ox*k.sw+off]
					}
				}
			}
		}
	})
}

// depthwiseForward computes one output plane per channel, parallel over
// channels. For horizontal strides 1 and 2 it copies the channel into a
// paddedPlane and computes each output row with tapRow, bias and activation
// included; other strides take depthwiseStrided.
func (k *convKernel) depthwiseForward(x *exec, src, w, bias, dst []float32) {
	pp := k.plane
	if pp == nil {
		k.depthwiseStrided(x, src, w, bias, dst)
		return
	}
	np := k.oh * k.ow
	threads := x.threads
	if k.n*k.c*np*k.kh*k.kw < parallelMinElems {
		threads = 1
	}
	parallelFor(k.n*k.c, threads, func(lo, hi int) {
		bufp, plane := pp.getPlane(0)
		var ep kernEpi
		if k.act != nil {
			ep.flags, ep.lo, ep.hi = epClamp, k.act.lo, k.act.hi
		}
		for nc := lo; nc < hi; nc++ {
			c := nc % k.c
			oc := dst[nc*np : (nc+1)*np]
			wc := w[c*k.kh*k.kw : (c+1)*k.kh*k.kw]
			ep.flags &^= epBias
			if bias != nil {
				ep.flags |= epBias
				ep.bias = &bias[c]
			}
			pp.fill(plane, src[nc*k.h*k.w:(nc+1)*k.h*k.w])
			tapRows(oc, k.ow, k.oh, k.ow, plane, k.sh*pp.pw, pp.offs, wc, &ep)
		}
		planePool.Put(bufp)
	})
}

// depthwiseStrided is depthwiseForward for any stride: for each kernel tap,
// a strided axpy over the valid output span.
func (k *convKernel) depthwiseStrided(x *exec, src, w, bias, dst []float32) {
	np := k.oh * k.ow
	threads := x.threads
	if k.n*k.c*np*k.kh*k.kw < parallelMinElems {
		threads = 1
	}
	parallelFor(k.n*k.c, threads, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			c := nc % k.c
			xc := src[nc*k.h*k.w : (nc+1)*k.h*k.w]
			oc := dst[nc*np : (nc+1)*np]
			wc := w[c*k.kh*k.kw : (c+1)*k.kh*k.kw]
			var b0 float32
			if bias != nil {
				b0 = bias[c]
			}
			fill(oc, b0)
			for ky := 0; ky < k.kh; ky++ {
				ylo, yhi := validRange(k.oh, k.h, k.sh, k.pt, ky*k.dh)
				for kx := 0; kx < k.kw; kx++ {
					wv := wc[ky*k.kw+kx]
					xlo, xhi := validRange(k.ow, k.w, k.sw, k.pl, kx*k.dw)
					if xlo >= xhi {
						continue
					}
					off := -k.pl + kx*k.dw
					for oy := ylo; oy < yhi; oy++ {
						iy := oy*k.sh - k.pt + ky*k.dh
						orow := oc[oy*k.ow+xlo : oy*k.ow+xhi]
						xrow := xc[iy*k.w:]
						if k.sw == 1 {
							xs := xrow[xlo+off : xhi+off]
							for j := range orow {
								orow[j] += wv * xs[j]
							}
						} else {
							base := xlo*k.sw + off
							for j := range orow {
								orow[j] += wv * xrow[base+j*k.sw]
							}
						}
					}
				}
			}
			k.act.apply(oc)
		}
	})
}

func fill(s []float32, v float32) {
	if v == 0 {
		clear(s)
		return
	}
	for i := range s {
		s[i] = v
	}
}
