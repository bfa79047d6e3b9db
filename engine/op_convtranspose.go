package engine

// convTransposeKernel is ONNX ConvTranspose for 1-D and 2-D inputs. The
// reference (the adjoint of Conv) scatters every input element:
//
//	for n, g, c < C/G, iy, ix, m < M/G, ky, kx:
//	    oy, ox := iy·sh − pt + ky·dh, ix·sw − pl + kx·dw
//	    out[n, g·M/G+m, oy, ox] += x[n, g·C/G+c, iy, ix] · W[g·C/G+c, m, ky, kx]
//
// starting from the bias. The fast path forms col = W_gᵀ·x_g with SGEMM
// and adds it back with col2im.
type convTransposeKernel struct {
	convGeom
	n, c, m, group int
	hasBias        bool
	// direct: the kernel tiles the output exactly (kernel = stride, no
	// dilation, padding or output padding), so every output element comes
	// from one tap and col2im is a copy with the bias added.
	direct bool
}

func buildConvTranspose(b *buildCtx) (*built, error) {
	if err := b.need(2); err != nil {
		return nil, err
	}
	x, w := b.in[0], b.in[1]
	if x.isInt() || len(x.shape) < 3 || len(x.shape) > 4 || len(w.shape) != len(x.shape) {
		return nil, notImpl("ConvTranspose of input %v %v, weight %v", x.dt, x.shape, w.shape)
	}
	if err := b.floatInputs(1, 2); err != nil {
		return nil, err
	}
	group := int(b.attrInt("group", 1))
	n, c := x.shape[0], x.shape[1]
	if group < 1 || c%group != 0 || w.shape[0] != c {
		return nil, invalid("ConvTranspose channels: input %v, weight %v, group %d", x.shape, w.shape, group)
	}
	m := w.shape[1] * group
	ns := len(x.shape) - 2
	kernel := w.shape[2:]
	getInts := func(name string, def int) []int {
		v, ok := b.attrInts(name)
		out := make([]int, ns)
		for i := range out {
			out[i] = def
			if ok && i < len(v) {
				out[i] = int(v[i])
			}
		}
		return out
	}
	strides, dil, outPad := getInts("strides", 1), getInts("dilations", 1), getInts("output_padding", 0)
	pads := make([]int, 2*ns)
	if v, ok := b.attrInts("pads"); ok {
		if len(v) != 2*ns {
			return nil, invalid("pads %v", v)
		}
		pads = ints(v)
	}
	in := x.shape[2:]
	outShape := make([]int, ns)
	autoPad := b.attrString("auto_pad", "NOTSET")
	os, hasOS := b.attrInts("output_shape")
	if hasOS && len(os) > ns {
		os = os[len(os)-ns:]
	}
	for i := 0; i < ns; i++ {
		if strides[i] < 1 || dil[i] < 1 {
			return nil, invalid("strides %v dilations %v", strides, dil)
		}
		dk := (kernel[i]-1)*dil[i] + 1
		full := strides[i]*(in[i]-1) + outPad[i] + dk
		switch {
		case hasOS:
			if len(os) != ns {
				return nil, invalid("output_shape %v", os)
			}
			outShape[i] = int(os[i])
			total := full - outShape[i]
			if total < 0 {
				total = 0
			}
			if autoPad == "SAME_UPPER" {
				pads[i], pads[ns+i] = total/2, total-total/2
			} else {
				pads[i], pads[ns+i] = total-total/2, total/2
			}
		case autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER":
			outShape[i] = in[i] * strides[i]
			total := max(0, full-outShape[i])
			if autoPad == "SAME_UPPER" {
				pads[i], pads[ns+i] = total/2, total-total/2
			} else {
				pads[i], pads[ns+i] = total-total/2, total/2
			}
		default:
			if autoPad == "VALID" {
				pads[i], pads[ns+i] = 0, 0
			}
			outShape[i] = full - pads[i] - pads[ns+i]
		}
		if outShape[i] < 1 {
			return nil, invalid("ConvTranspose output size %v", outShape)
		}
	}
	g := convGeom{spatial: ns, transposed: true}
	if ns == 1 {
		g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pl, g.oh, g.ow = 1, in[0], 1, kernel[0], 1, strides[0], 1, dil[0], pads[0], 1, outShape[0]
	} else {
		g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw = in[0], in[1], kernel[0], kernel[1], strides[0], strides[1], dil[0], dil[1]
		g.pt, g.pl, g.oh, g.ow = pads[0], pads[1], outShape[0], outShape[1]
	}
	k := &convTransposeKernel{convGeom: g, n: n, c: c, m: m, group: group}
	if bias := b.input(2); bias != nil {
		if numel(bias.shape) != m {
			return nil, invalid("bias %v for %d channels", bias.shape, m)
		}
		k.hasBias = true
	}
	k.direct = g.kh == g.sh && g.kw == g.sw && g.dh == 1 && g.dw == 1 && g.pt == 0 && g.pl == 0 &&
		g.oh == g.h*g.sh && g.ow == g.w*g.sw
	macs := int64(n) * int64(c) * int64(g.h*g.w) * int64(m/group*g.kh*g.kw)
	return &built{k: k, out: one(x.dt, append([]int{n, m}, outShape...)), alias: -1, macs: macs, flops: 2 * macs,
		scratch: m / group * g.kh * g.kw * g.h * g.w}, nil
}

func (k *convTransposeKernel) forward(x *exec, in, out []*data) {
	src, w, dst := in[0].f, in[1].f, out[0].f
	cg, mg := k.c/k.group, k.m/k.group
	hw, ohw := k.h*k.w, k.oh*k.ow
	rows := mg * k.kh * k.kw
	col := x.scratch[:rows*hw]
	for n := 0; n < k.n; n++ {
		for g := 0; g < k.group; g++ {
			og := dst[(n*k.m+g*mg)*ohw : (n*k.m+(g+1)*mg)*ohw]
			if k.direct {
				var bias []float32
				if k.hasBias {
					bias = in[2].f[g*mg : (g+1)*mg]
				}
				sgemm(true, false, rows, hw, cg, 1, w[g*cg*rows:], rows, src[(n*k.c+g*cg)*hw:], hw, 0, col, hw, x.threads)
				k.col2imDirect(x, col, bias, og)
				continue
			}
			for m := 0; m < mg; m++ {
				var b0 float32
				if k.hasBias {
					b0 = in[2].f[g*mg+m]
				}
				fill(og[m*ohw:(m+1)*ohw], b0)
			}
			// col[(m,ky,kx), (iy,ix)] = Σ_c W[g·cg+c, (m,ky,kx)] · x[g·cg+c, (iy,ix)]
			sgemm(true, false, rows, hw, cg, 1, w[g*cg*rows:], rows, src[(n*k.c+g*cg)*hw:], hw, 0, col, hw, x.threads)
			// col2im, parallel over output channels (disjoint planes).
			threads := x.threads
			if rows*hw < 1<<15 {
				threads = 1
			}
			parallelFor(mg, threads, func(lo, hi int) {
				for m := lo; m < hi; m++ {
					plane := og[m*ohw : (m+1)*ohw]
					for ky := 0; ky < k.kh; ky++ {
						for kx := 0; kx < k.kw; kx++ {
							crow := col[((m*k.kh+ky)*k.kw+kx)*hw:]
							for iy := 0; iy < k.h; iy++ {
								oy := iy*k.sh - k.pt + ky*k.dh
								if oy < 0 || oy >= k.oh {
									continue
								}
								orow := plane[oy*k.ow : (oy+1)*k.ow]
								for ix := 0; ix < k.w; ix++ {
									ox := ix*k.sw - k.pl + kx*k.dw
									if ox >= 0 && ox < k.ow {
										orow[ox] += crow[iy*k.w+ix]
									}
								}
							}
						}
					}
				}
			})
		}
	}
}

// col2imDirect writes og[m, iy·sh+ky, ix·sw+kx] = bias[m] + col[(m,ky,kx),
// (iy,ix)]: the general col2im when each output element has one tap (the
// bias plus one term, added in the same order). The goroutines split the
// output rows of all the channels taken together, not the channels: PP-OCR
// det's last ConvTranspose has one output channel (320² floats), which a
// split over channels left to one core.
func (k *convTransposeKernel) col2imDirect(x *exec, col, bias, og []float32) {
	mg := k.m / k.group
	hw, ohw := k.h*k.w, k.oh*k.ow
	threads := x.threads
	if mg*ohw < 1<<15 {
		threads = 1
	}
	parallelFor(mg*k.oh, threads, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			m, oy := r/k.oh, r%k.oh
			var b0 float32
			if bias != nil {
				b0 = bias[m]
			}
			iy, ky := oy/k.sh, oy%k.sh
			orow := og[m*ohw+oy*k.ow : m*ohw+(oy+1)*k.ow]
			for kx := 0; kx < k.kw; kx++ {
				crow := col[((m*k.kh+ky)*k.kw+kx)*hw+iy*k.w:][:k.w]
				o := orow[kx:]
				for ix, v := range crow {
					o[ix*k.sw] = b0 + v
				}
			}
		}
	})
}
