package engine

// Conv with constant weights run sparse: per group, the [M/G, C/G·kh·kw]
// weight rows as a spWeight times the input (1×1 stride-1 unpadded: the
// input planes themselves; otherwise im2col into scratch), bias and the
// fused activation applied as rows are stored.

// buildSparse decides whether k runs its constant weights sparse and, if
// so, sets it up (k.sp, scratch, the padded plane for im2col).
func (k *convKernel) buildSparse(b *buildCtx, bt *built) bool {
	cg, mg := k.c/k.group, k.m/k.group
	kk := cg * k.kh * k.kw
	kind := costConvKxK
	if k.pointwise {
		kind = costConv1x1
	}
	sw := b.sparseWeight(1, k.m, kk, k.oh*k.ow, true, 1, kind)
	if sw == nil {
		return false
	}
	for g := 0; g < k.group; g++ {
		k.sp = append(k.sp, newSpWeight(subRows(sw.a, g*mg, (g+1)*mg)))
	}
	if !k.pointwise {
		if planeOK(&k.convGeom) {
			k.plane = newPaddedPlane(&k.convGeom)
		}
		bt.scratch = kk * k.oh * k.ow
	}
	return true
}

func (k *convKernel) sparseWeights() ([]*spWeight, int64) {
	if k.sp == nil {
		return nil, 0
	}
	return k.sp, int64(k.m) * int64(k.c/k.group*k.kh*k.kw)
}
