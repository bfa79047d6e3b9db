package engine

// Backward of ConvTranspose, per image n and group g. The forward is
// out = col2im(W_gᵀ·x_g) (+ bias); its adjoint reads δ through the same
// geometry, dcol = im2col(δ) [M/G·kh·kw × H·W], and then
//
//	dx_g += W_g · dcol,   dW_g += x_g · dcolᵀ,   dB[m] += Σ δ[n, m, ·]
//
// (two SGEMMs).
func (k *convTransposeKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	src, w, d := in[0].f, in[1].f, dOut[0].f
	cg, mg := k.c/k.group, k.m/k.group
	hw, ohw := k.h*k.w, k.oh*k.ow
	rows := mg * k.kh * k.kw
	if k.hasBias && len(dIn) > 2 && dIn[2] != nil {
		db := dIn[2].f
		for n := 0; n < k.n; n++ {
			for m := 0; m < k.m; m++ {
				db[m] += vecSum(d[(n*k.m+m)*ohw : (n*k.m+m+1)*ohw])
			}
		}
	}
	if dIn[0] == nil && dIn[1] == nil {
		return
	}
	dcol := x.scratch[:rows*hw]
	for n := 0; n < k.n; n++ {
		for g := 0; g < k.group; g++ {
			dg := d[(n*k.m+g*mg)*ohw : (n*k.m+(g+1)*mg)*ohw]
			// dcol[(m,ky,kx), (iy,ix)] = δ[m, iy·sh−pt+ky·dh, ix·sw−pl+kx·dw] (0 outside)
			threads := x.threads
			if rows*hw < 1<<15 {
				threads = 1
			}
			parallelFor(rows, threads, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					m, rem := r/(k.kh*k.kw), r%(k.kh*k.kw)
					ky, kx := rem/k.kw, rem%k.kw
					plane := dg[m*ohw : (m+1)*ohw]
					crow := dcol[r*hw : (r+1)*hw]
					for iy := 0; iy < k.h; iy++ {
						oy := iy*k.sh - k.pt + ky*k.dh
						row := crow[iy*k.w : (iy+1)*k.w]
						if oy < 0 || oy >= k.oh {
							clear(row)
							continue
						}
						orow := plane[oy*k.ow : (oy+1)*k.ow]
						for ix := range row {
							ox := ix*k.sw - k.pl + kx*k.dw
							if ox >= 0 && ox < k.ow {
								row[ix] = orow[ox]
							} else {
								row[ix] = 0
							}
						}
					}
				}
			})
			if dIn[0] != nil {
				sgemm(false, false, cg, hw, rows, 1, w[g*cg*rows:], rows, dcol, hw, 1, dIn[0].f[(n*k.c+g*cg)*hw:], hw, x.threads)
			}
			if dIn[1] != nil {
				sgemm(false, true, cg, rows, hw, 1, src[(n*k.c+g*cg)*hw:], hw, dcol, hw, 1, dIn[1].f[g*cg*rows:], rows, x.threads)
			}
		}
	}
}

func (k *convTransposeKernel) gradScratch(int) int {
	return k.m / k.group * k.kh * k.kw * k.h * k.w
}

// tapeNeeds: x and W.
func (k *convTransposeKernel) tapeNeeds() (in, out uint64) { return 0b011, 0 }
