package engine

import "sync"

// Swapped convolution, for layers with few output positions (14², 7²):
// the same product as gemmForward computed transposed,
//
//	Cᵀ [OH·OW × M/G] = im2col(x_g)ᵀ · W_gᵀ,
//
// so that the micro-kernel's 32-wide panels run along output channels
// (multiples of 32 in most networks) and its 8-row panels along output
// positions (49 = 6·8+1 fills 88% of them where 32-wide panels fill 77%).
// Wᵀ is packed at compile time (packedB); im2colᵀ is packed per run in
// 8-position panels; Cᵀ is transposed into the output with the bias and
// activation.

// packedB is op(B) (k×n) packed for one micro-kernel: for the depth block
// starting at p0 (kc = min(gemmKC, k−p0) deep), panel jp (columns
// jp..jp+nr) is data[p0*np+jp*kc:][:nr*kc], element [p*nr+q], zero past n.
type packedB struct {
	k, n, np int // np: n rounded up to nr
	data     []float32
}

func packAllB(kern *microKernel, trans bool, k, n int, b []float32, ldb int) *packedB {
	nr := kern.nr
	np := (n + nr - 1) / nr * nr
	pb := &packedB{k: k, n: n, np: np, data: make([]float32, np*k)}
	for p0 := 0; p0 < k; p0 += gemmKC {
		kc := min(gemmKC, k-p0)
		packB(trans, b, ldb, p0, kc, 0, n, nr, pb.data[p0*np:p0*np+np*kc])
	}
	return pb
}

// swappedMaxPositions bounds the layers that take the swapped path (its
// im2col transpose is packed whole).
const swappedMaxPositions = 256

// Costs of data movement in multiply-adds of the micro-kernel (which does
// 32 per cycle on AVX-512): a float copied (im2col, packing) and a float
// moved by the scalar transposition into the output.
const (
	copyCost      = 4
	transposeCost = 64
)

// swappedOK reports whether the swapped path is cheaper than the path k
// would take otherwise: the micro-kernel's work divided by how well the
// panels are filled, plus the data it moves. kern is the micro-kernel the
// constant weights would be packed for (nil when they are not constant).
func (k *convKernel) swappedOK(kern *microKernel) bool {
	if !k.swappedFits(kern) {
		return false
	}
	np := k.oh * k.ow
	mr, nr := kern.mr, kern.nr
	mg, kk := k.m/k.group, k.c/k.group*k.kh*k.kw
	fill := func(n, w int) float64 { return float64(n) / float64((n+w-1)/w*w) }
	macs := float64(np) * float64(mg) * float64(kk)
	moved := float64(kk) * float64(np) // one pass over im2col
	var normal float64
	switch {
	case k.implicitOK(kern) && k.pointwise:
		normal = macs / fill(np, nr)
	case k.implicitOK(kern) && k.subsample():
		normal = macs/fill(np, nr) + 2*copyCost*4*moved // the phase split reads and writes the whole input
	case k.implicitOK(kern):
		normal = macs / fill(k.ow, nr)
	default: // im2col, then packing B
		normal = macs/fill(np, nr) + 2*copyCost*moved
	}
	swapped := macs/(fill(np, mr)*fill(mg, nr)) + copyCost*moved + float64(np*mg)*transposeCost
	if !k.pointwise {
		swapped += copyCost * moved // im2col
	}
	return swapped < normal
}

// swappedFits reports whether the swapped path can run k: constant
// weights packed for a partial 8-row kernel (packA8), at most
// swappedMaxPositions output positions.
func (k *convKernel) swappedFits(kern *microKernel) bool {
	return !k.depthwise && kern != nil && kern.partial && kern.mr == 8 && k.oh*k.ow <= swappedMaxPositions
}

// setupSwapped packs Wᵀ per group and returns the scratch (floats) the
// swapped path needs: im2col (unless 1×1), its packed transpose, and Cᵀ.
func (k *convKernel) setupSwapped(w []float32) int {
	kern := activeKernel()
	k.swapKern = kern
	cg, mg := k.c/k.group, k.m/k.group
	kk := cg * k.kh * k.kw
	for g := 0; g < k.group; g++ {
		k.swapped = append(k.swapped, packAllB(kern, true, kk, mg, w[g*mg*kk:], kk))
	}
	np := k.oh * k.ow
	npp := (np + kern.mr - 1) / kern.mr * kern.mr
	s := npp * kk
	if !k.pointwise {
		s += kk * np
	}
	return s
}

// swappedCtMax bounds the Cᵀ blocks one unit of the swapped path holds at
// once (floats: 128 KiB, well inside L2 beside a depth block of colᵀ).
const swappedCtMax = 1 << 15

// ctPool holds the per-goroutine blocks of Cᵀ (positions × nr each).
var ctPool = sync.Pool{New: func() any { return new([]float32) }}

func (k *convKernel) swappedForward(x *exec, src, bias, res, dst []float32) {
	kern := k.swapKern
	mr, nr := kern.mr, kern.nr
	cg, mg := k.c/k.group, k.m/k.group
	kk := cg * k.kh * k.kw
	np := k.oh * k.ow
	npp := (np + mr - 1) / mr * mr
	ap := x.scratch[:npp*kk]
	for n := 0; n < k.n; n++ {
		for g := 0; g < k.group; g++ {
			xg := src[(n*k.c+g*cg)*k.h*k.w:]
			og := dst[(n*k.m+g*mg)*np : (n*k.m+(g+1)*mg)*np]
			col := xg
			if !k.pointwise {
				col = x.scratch[npp*kk : npp*kk+kk*np]
				k.im2col(x, xg, col)
			}
			// The size floor counts the multiply-adds the kernel does:
			// mr positions a panel, however few are real. Counting the
			// real ones left PP-OCR det's squeeze-and-excitation 1×1
			// convolutions on 1×1 maps (mg·kk 9–37 k, 8× that in the
			// kernel, 20–35 µs here with their subnormal weights) on one
			// goroutine in 2-thread plans: 2 threads 31–33 → 23 µs
			// (Conv.22), 17–20 → 9–14 (Conv.26, Conv.27).
			threads := x.threads
			if npp*mg*kk < parallelMinMACs {
				threads = 1
			}
			// ap: colᵀ in panels of mr positions, per depth block.
			parallelFor(npp/mr, threads, func(lo, hi int) {
				for p0 := 0; p0 < kk; p0 += gemmKC {
					kc := min(gemmKC, kk-p0)
					for i0 := lo * mr; i0 < hi*mr; i0 += mr {
						packA8(ap[p0*npp+i0*kc:p0*npp+i0*kc+mr*kc], col[p0*np+i0:], np, kc, min(mr, np-i0))
					}
				}
			})
			pb := k.swapped[g]
			nb := (mg + nr - 1) / nr
			// Units of work: a block of nr channels times a piece of the
			// positions (whole mr panels), pieces only when there are too
			// few channel blocks to go round the threads.
			npan, pieces := npp/mr, 1
			if threads > 1 && nb < chunksPerThread*threads {
				pieces = min(npan, (chunksPerThread*threads+nb-1)/nb)
			}
			ppp := (npan + pieces - 1) / pieces // panels per piece
			pieces = (npan + ppp - 1) / ppp
			// Without pieces, a unit takes several channel blocks and runs
			// them depth block by depth block, so that each depth block of
			// colᵀ (npp·kc floats, about L2's size or less) is read from L3
			// once per unit rather than once per channel block: colᵀ of a
			// 3×3 layer at 14² is 1.8 MB and was streamed nb times. Their
			// Cᵀ blocks (np·nr each) stay within swappedCtMax floats, and
			// there are still two units per thread to share out. The sums
			// run over the depth blocks in the same order, so the grouping
			// does not change a bit.
			cpu := 1 // channel blocks per unit
			if pieces == 1 {
				cpu = max(1, min(swappedCtMax/(np*nr), nb/(2*threads)))
				if threads == 1 {
					cpu = max(1, min(swappedCtMax/(np*nr), nb))
				}
			}
			nu := (nb + cpu - 1) / cpu
			parallelFor(nu*pieces, threads, func(lo, hi int) {
				ctp := ctPool.Get().(*[]float32)
				if len(*ctp) < cpu*np*nr {
					*ctp = make([]float32, cpu*np*nr)
				}
				var ep kernEpi
				for u := lo; u < hi; u++ {
					b0, b1 := u/pieces*cpu, min((u/pieces+1)*cpu, nb)
					ilo, ihi := u%pieces*ppp*mr, min((u%pieces+1)*ppp*mr, np)
					for p0 := 0; p0 < kk; p0 += gemmKC {
						kc := min(gemmKC, kk-p0)
						for jb := b0; jb < b1; jb++ {
							j0 := jb * nr
							ct := (*ctp)[(jb-b0)*np*nr : (jb-b0+1)*np*nr] // Cᵀ for channels j0..j0+nr, row stride nr
							cols := min(nr, mg-j0)
							bpan := pb.data[p0*pb.np+j0*kc : p0*pb.np+j0*kc+nr*kc]
							for i0 := ilo; i0 < ihi; i0 += mr {
								ep.flags = 0
								if p0 > 0 {
									ep.flags = epAccum
								}
								ep.rows, ep.mask = int32(min(mr, np-i0)), 1<<cols-1
								kern.run(kc, ap[p0*npp+i0*kc:p0*npp+i0*kc+mr*kc], bpan, ct[i0*nr:], nr, &ep)
							}
						}
					}
					// The blocks into the output planes.
					for jb := b0; jb < b1; jb++ {
						j0 := jb * nr
						ct := (*ctp)[(jb-b0)*np*nr : (jb-b0+1)*np*nr]
						for q := 0; q < min(nr, mg-j0); q++ {
							var b float32
							if bias != nil {
								b = bias[g*mg+j0+q]
							}
							orow := og[(j0+q)*np+ilo : (j0+q)*np+ihi]
							for i := range orow {
								orow[i] = ct[(ilo+i)*nr+q] + b
							}
							if res != nil {
								o := (n*k.m + g*mg + j0 + q) * np
								vecAdd(orow, orow, res[o+ilo:o+ihi])
							}
							k.act.apply(orow)
						}
					}
				}
				ctPool.Put(ctp)
			})
		}
	}
}
