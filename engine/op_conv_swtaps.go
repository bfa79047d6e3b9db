package engine

// Swapped implicit convolution: the transposed product of the swapped path,
//
//	Cᵀ [OH·OW × M/G] = im2col(x_g)ᵀ · W_gᵀ,
//
// with the micro-kernel's 32-wide panels along output channels and its 8
// rows along output positions, and im2colᵀ never formed: as on the linear
// implicit path, tap p of output position (oy, ox) is the input at
// base[pos + tapOffs[p]] of the padded planes (or the stride-2 phases),
// pos = oy·linearRow + ox. The kernel takes one such offset per row, so a
// block's 8 rows are 8 consecutive output positions (OW per output row):
// no computed column is dropped, where the linear path computes the
// linearRow − OW columns past each output row and pads its last panel
// (resnet18's 7² fills 77% of its panels, its 14² 88%; here 88% and 98%,
// and 100% from 28² up). Wᵀ is packed at compile time in depth blocks. The
// kernel stores the full 8×32 blocks of the last depth block transposed
// into the output planes, with the bias and the activation (epSwT); the
// other blocks (partial, or of earlier depth blocks) go to a Cᵀ block of
// the unit's own, and the partial ones from there into the output.

// swTapsKernel, when not nil, is the micro-kernel of the swapped implicit
// path (AVX-512: kernel8x32SwTapsAVX512). It computes what swTapsRef does.
var swTapsKernel func(kc int, pos []int, base []float32, offs []int, b, c []float32, ldc int, ep *kernEpi, o []float32, ldo int, pf []float32)

// epSwT is a flag of swTapsKernel's epilogue (beside epAccum, epBias and
// epClamp): store the block transposed into o.
const epSwT = 1 << 8

// swTapsRef is the reference of swTapsKernel: the first ep.rows rows and
// the columns in ep.mask of the 8×32 block at c (row stride ldc) receive
//
//	C[r,q] = Σ_{p<kc} base[pos[r]+offs[p]] · b[p·32+q]   (+ C[r,q] with epAccum)
//
// (ep's bias and clamp are not taken). With epSwT (a full block) C is
// read, not written, and o[q·ldo+r] receives clamp((C[r,q] + bias[q]) +
// R[q·ldo+r]) (the bias with epBias, R = ep.residS with epResid, the clamp
// with epClamp).
func swTapsRef(kc int, pos []int, base []float32, offs []int, b, c []float32, ldc int, ep *kernEpi, o []float32, ldo int, _ []float32) {
	for r := 0; r < int(ep.rows); r++ {
		for q := 0; q < 32; q++ {
			if ep.mask>>q&1 == 0 {
				continue
			}
			var s float32
			for p := 0; p < kc; p++ {
				s += base[pos[r]+offs[p]] * b[p*32+q]
			}
			if ep.flags&epAccum != 0 {
				s += c[r*ldc+q]
			}
			if ep.flags&epSwT == 0 {
				c[r*ldc+q] = s
				continue
			}
			if ep.flags&epBias != 0 {
				s += ep.biasS[q]
			}
			if ep.flags&epResid != 0 {
				s += ep.residS[q*ldo+r]
			}
			if ep.flags&epClamp != 0 {
				s = min(max(s, ep.lo), ep.hi)
			}
			o[q*ldo+r] = s
		}
	}
}

// swTaps is the compiled state of the swapped implicit path.
type swTaps struct {
	pos []int       // per output position, and up to a multiple of 8 (the last one repeated): its offset in the linear row
	w   [][]float32 // per group: Wᵀ in panels of 32 channels per depth block (packedB's layout with kcb for gemmKC)
	kcb int         // the depth blocks' depth
	mp  int         // M/G rounded up to 32
}

// swTapsKC bounds the depth blocks of the swapped implicit path: a panel of
// Wᵀ (32·kc floats, 24 KiB at 192) stays in L1 across the blocks of
// positions of a unit of work.
var swTapsKC = 256

// swTapsTiles is how many blocks of 8 positions a unit of work takes
// when the weights are small (see swTapsSplit).
var swTapsTiles = 8

// swTapsBigW is the size in bytes of a group's packed Wᵀ from which the
// swapped implicit path runs all the positions in one piece (see
// swTapsSplit): half a core's L2 on Zen 4 and 5 (1 MiB), which also holds
// the input planes and the Cᵀ blocks.
var swTapsBigW = 512 << 10

// swTapsPrefetchW is the size in bytes of a group's packed Wᵀ from which
// the swapped implicit path prefetches into L2 the next panel of weights
// its unit of work reads, while it computes the current one. Weights that
// do not stay in the caches (resnet18's 7² layers: 9.4 MB each, read once
// a run) otherwise arrive at the first block of each panel, a fetch from
// memory the computation waits for: 1650 → 1400 µs a 7² layer at 1 thread
// (docs/benchmarks.md, "Threads", session 10).
var swTapsPrefetchW = 512 << 10

// swTapsSplit cuts the work of swTapsGEMM (nt blocks of 8 positions, nb
// panels of 32 channels, wBytes of packed weights) for the threads into
// pieces of tpp position blocks times cs sets of bps channel panels.
//
// A unit of work streams its panels' weights once per piece, so small
// pieces (swTapsTiles blocks, a Cᵀ block that stays in L1/L2) suit small
// weights, and weights larger than L2 would be re-read from L3 or memory
// by every piece: resnet18's 14² layers (2.4 MB a layer) ran 4 pieces,
// its 28² layers (0.6–1.2 MB) 13. From swTapsBigW up the positions are
// split only as far as the threads need units (the panels come first),
// so each weight is read once per run.
func swTapsSplit(nt, nb, wBytes, threads int) (tpp, cs, bps int) {
	tpp = min(nt, swTapsTiles)
	if wBytes >= swTapsBigW {
		pieces := (threads + nb - 1) / nb
		tpp = (nt + pieces - 1) / pieces
	}
	pieces := (nt + tpp - 1) / tpp
	cs = 1 // channel-panel sets
	if threads > 1 && pieces < chunksPerThread*threads {
		cs = min(nb, (chunksPerThread*threads+pieces-1)/pieces)
	}
	bps = (nb + cs - 1) / cs // channel panels per set
	cs = (nb + bps - 1) / bps
	return tpp, cs, bps
}

// swTapsOK reports whether the swapped implicit path can run k: the
// kernel, constant weights to be packed (kern not nil), and the linear
// path's geometry (the tap offsets and the filled planes are the same).
func (k *convKernel) swTapsOK(kern *microKernel) bool {
	return swTapsKernel != nil && kern != nil && k.linearGeom()
}

// swTapsBetter reports whether k, which swTapsOK, should take the swapped
// implicit path: when it fills the micro-kernel's blocks at least as well
// as the implicit paths (linear or by rows) would. Measured on resnet18's
// layers (BenchmarkConvPaths, AVX-512, Zen 5; docs/benchmarks.md,
// "Threads", session 9) it was faster than the linear path on every 3×3
// layer and the 7×7 stem at 1 thread, by 4–15%, where it fills 100% of
// them against 77–96%.
func (k *convKernel) swTapsBetter(kern *microKernel) bool {
	other := 0.0
	if k.implicitLinearOK(kern) {
		other = k.linearFill(kern)
	}
	if k.implicitOK(kern) && !k.pointwise && !k.subsample() {
		nr := kern.nr
		other = max(other, float64(k.ow)/float64((k.ow+nr-1)/nr*nr))
	}
	mg, mr := k.m/k.group, kern.mr
	other *= float64(mg) / float64((mg+mr-1)/mr*mr)
	return k.swTapsFill() >= other
}

// swTapsFill is the share of the kernel's work that computes outputs: its
// rows along the positions, its columns along the channels.
func (k *convKernel) swTapsFill() float64 {
	np, mg := k.oh*k.ow, k.m/k.group
	return float64(np) / float64((np+7)/8*8) * float64(mg) / float64((mg+31)/32*32)
}

// setupSwTaps packs Wᵀ per group, fills the offset tables and returns the
// scratch (floats) the path needs: the padded planes of one group.
func (k *convKernel) setupSwTaps(w []float32) int {
	cg, mg := k.c/k.group, k.m/k.group
	kk := cg * k.kh * k.kw
	nblk := (kk + swTapsKC - 1) / swTapsKC
	st := &swTaps{kcb: (kk + nblk - 1) / nblk, mp: (mg + 31) / 32 * 32}
	for g := 0; g < k.group; g++ {
		data := make([]float32, st.mp*kk)
		for p0 := 0; p0 < kk; p0 += st.kcb {
			kc := min(st.kcb, kk-p0)
			packB(true, w[g*mg*kk:], kk, p0, kc, 0, mg, 32, data[p0*st.mp:p0*st.mp+st.mp*kc])
		}
		st.w = append(st.w, data)
	}
	np, lrow := k.oh*k.ow, k.linearRow()
	for i := 0; i < (np+7)/8*8; i++ {
		j := min(i, np-1)
		st.pos = append(st.pos, j/k.ow*lrow+j%k.ow)
	}
	k.swt = st
	return k.setupLinearTaps()
}

func (k *convKernel) swTapsForward(x *exec, src, bias, res, dst []float32) {
	cg, mg := k.c/k.group, k.m/k.group
	hw, np := k.h*k.w, k.oh*k.ow
	for n := 0; n < k.n; n++ {
		for g := 0; g < k.group; g++ {
			xg := src[(n*k.c+g*cg)*hw : (n*k.c+(g+1)*cg)*hw]
			og := dst[(n*k.m+g*mg)*np : (n*k.m+(g+1)*mg)*np]
			base := k.fillLinear(x, xg)
			var bg, rg []float32
			if bias != nil {
				bg = bias[g*mg : (g+1)*mg]
			}
			if res != nil {
				rg = res[(n*k.m+g*mg)*np : (n*k.m+(g+1)*mg)*np]
			}
			k.swTapsGEMM(x, k.swt.w[g], base, og, bg, rg)
		}
	}
}

// fillLinear copies the group's input xg into the scratch as the linear
// path reads it (the padded planes, or the four phases of each channel)
// and returns it.
func (k *convKernel) fillLinear(x *exec, xg []float32) []float32 {
	cg, hw := k.c/k.group, k.h*k.w
	if k.phased() {
		csz := 4 * k.phaseRows() * k.linearRow()
		base := x.scratch[:cg*csz]
		fillChannels(x, len(base), cg, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				clear(base[c*csz : (c+1)*csz])
				k.fillPhases(base[c*csz:(c+1)*csz], xg[c*hw:(c+1)*hw])
			}
		})
		return base
	}
	pp := k.plane
	base := x.scratch[:cg*pp.planeSz]
	fillChannels(x, len(base), cg, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			plane := base[c*pp.planeSz : (c+1)*pp.planeSz]
			pp.clearPad(plane)
			pp.fill(plane, xg[c*hw:(c+1)*hw])
		}
	})
	return base
}

// swTapsGEMM stores into og (M/G planes of OH·OW) Cᵀ = im2col(x)ᵀ·Wᵀ read
// through the offsets, plus bias, plus res (laid out as og) when not nil,
// clamped by k.act. A unit of work is a
// piece of swTapsTiles blocks of 8 positions times a range of the 32-wide
// channel panels (all of them unless the threads need more units); it runs
// depth block by depth block, channel panels inside, position blocks
// innermost, into a Cᵀ block of its own, then transposes that into the
// output planes. Every output sums its depth blocks in the same order
// whatever the split, so the bits do not depend on the threads.
func (k *convKernel) swTapsGEMM(x *exec, wp []float32, base, og, bias, res []float32) {
	st := k.swt
	mg := k.m / k.group
	kk := k.c / k.group * k.kh * k.kw
	np := k.oh * k.ow
	maxOff := 0
	for _, o := range k.tapOffs {
		maxOff = max(maxOff, o)
	}
	if st.pos[len(st.pos)-1]+maxOff >= len(base) {
		panic("engine: swapped implicit convolution reads outside its input")
	}
	threads := x.threads
	if mg*np*kk < parallelMinMACs {
		threads = 1
	}
	nt, nb := len(st.pos)/8, st.mp/32
	tpp, cs, bps := swTapsSplit(nt, nb, 4*len(wp), threads)
	prefetch := 4*len(wp) >= swTapsPrefetchW
	pieces := (nt + tpp - 1) / tpp
	parallelForChunks(pieces*cs, threads, min(pieces*cs, chunksPerThread*threads), func(lo, hi int) {
		ctp := ctPool.Get().(*[]float32)
		if need := bps * tpp * 8 * 32; len(*ctp) < need {
			*ctp = make([]float32, need)
		}
		ct := *ctp
		var ep kernEpi
		for u := lo; u < hi; u++ {
			pc, sc := u/cs, u%cs
			t0, t1 := pc*tpp, min((pc+1)*tpp, nt)
			b0, b1 := sc*bps, min((sc+1)*bps, nb)
			rows := (t1 - t0) * 8
			for p0 := 0; p0 < kk; p0 += st.kcb {
				kc := min(st.kcb, kk-p0)
				offs := k.tapOffs[p0 : p0+kc]
				flags := 0
				if p0 > 0 {
					flags = epAccum
				}
				last := p0+kc == kk
				for jb := b0; jb < b1; jb++ {
					bpan := wp[p0*st.mp+jb*32*kc : p0*st.mp+(jb+1)*32*kc]
					ep.mask = 1<<min(32, mg-jb*32) - 1
					cb := ct[(jb-b0)*rows*32:]
					// The panel this unit reads next, prefetched half a
					// panel a block (the halves in turn) while this one
					// computes.
					var next []float32
					if prefetch {
						switch {
						case jb+1 < b1:
							next = wp[p0*st.mp+(jb+1)*32*kc:]
						case p0+kc < kk:
							next = wp[(p0+kc)*st.mp+b0*32*min(st.kcb, kk-p0-kc):]
						}
					}
					for t := t0; t < t1; t++ {
						var pf []float32
						if next != nil {
							pf = next[(t-t0)%2*min(16*kc, len(next)-1):]
						}
						ep.rows = int32(min(8, np-t*8))
						ep.flags = flags
						if !last || ep.rows < 8 || ep.mask != 1<<32-1 {
							swTapsKernel(kc, st.pos[t*8:t*8+8], base, offs, bpan, cb[(t-t0)*8*32:], 32, &ep, nil, 0, pf)
							continue
						}
						// A full block, in its last depth block: stored
						// transposed into the output planes.
						ep.flags |= epSwT
						if bias != nil {
							ep.flags |= epBias
							ep.bias, ep.biasS = &bias[jb*32], bias[jb*32:jb*32+32]
						}
						if res != nil {
							ep.flags |= epResid
							ep.residS = res[jb*32*np+t*8:]
						}
						if k.act != nil {
							ep.flags |= epClamp
							ep.lo, ep.hi = k.act.lo, k.act.hi
						}
						swTapsKernel(kc, st.pos[t*8:t*8+8], base, offs, bpan, cb[(t-t0)*8*32:], 32, &ep, og[jb*32*np+t*8:], np, pf)
					}
				}
			}
			// The other blocks into the output planes: a partial panel of
			// channels, the positions of a partial last block.
			for jb := b0; jb < b1; jb++ {
				cb := ct[(jb-b0)*rows*32:]
				i0, i1 := t0*8, min(t1*8, np)
				if mg-jb*32 >= 32 {
					i0 = max(i0, np/8*8)
				}
				for q := 0; q < min(32, mg-jb*32) && i0 < i1; q++ {
					var b float32
					if bias != nil {
						b = bias[jb*32+q]
					}
					orow := og[(jb*32+q)*np+i0 : (jb*32+q)*np+i1]
					for i := range orow {
						orow[i] = cb[(i0-t0*8+i)*32+q] + b
					}
					if res != nil {
						vecAdd(orow, orow, res[(jb*32+q)*np+i0:(jb*32+q)*np+i1])
					}
					k.act.apply(orow)
				}
			}
		}
		ctPool.Put(ctp)
	})
}
