package engine

import "sync"

// paddedPlane lays out a copy of one input plane (h×w) for the direct
// kernels (depthwise Conv, im2col, MaxPool): the padding is explicit, and
// for a horizontal stride of 2 each row holds its even padded columns
// followed by its odd ones, so that for every output row oy and kernel tap
// t = ky·kw+kx the inputs the tap reads along the row are the contiguous run
//
//	plane[oy·sh·pw + offs[t] : … + ow]
//
// which is x[oy·sh−pt+ky·dh, ox·sw−pl+kx·dw] for ox < ow, or the pad value.
type paddedPlane struct {
	g       *convGeom
	ph, pw  int // padded rows and row length
	pwe     int // with stride 2: the even columns stored first
	offs    []int
	planeSz int
}

// planeOK reports whether g's horizontal stride allows a paddedPlane.
func planeOK(g *convGeom) bool { return g.sw == 1 || g.sw == 2 }

func newPaddedPlane(g *convGeom) *paddedPlane {
	pp := &paddedPlane{g: g}
	pp.ph = max(g.pt+g.h, (g.oh-1)*g.sh+(g.kh-1)*g.dh+1)
	pp.pw = max(g.pl+g.w, (g.ow-1)*g.sw+(g.kw-1)*g.dw+1)
	pp.pwe = pp.pw
	if g.sw == 2 {
		pp.pwe = (pp.pw + 1) / 2
	}
	for ky := 0; ky < g.kh; ky++ {
		for kx := 0; kx < g.kw; kx++ {
			pp.offs = append(pp.offs, ky*g.dh*pp.pw+pp.col(kx*g.dw))
		}
	}
	pp.planeSz = pp.ph * pp.pw
	return pp
}

// col is where padded column c of a row is stored.
func (pp *paddedPlane) col(c int) int {
	if pp.g.sw == 1 || c%2 == 0 {
		return c / pp.g.sw
	}
	return pp.pwe + c/2
}

// row returns the start of the runs for output row oy.
func (pp *paddedPlane) row(plane []float32, oy int) []float32 {
	return plane[oy*pp.g.sh*pp.pw:]
}

// clearPad zeroes what fill does not write: the rows above and below the
// input and the columns beside it. With fill, it sets the whole plane.
func (pp *paddedPlane) clearPad(plane []float32) {
	g := pp.g
	clear(plane[:g.pt*pp.pw])
	clear(plane[(g.pt+g.h)*pp.pw : pp.ph*pp.pw])
	for iy := g.pt; iy < g.pt+g.h; iy++ {
		prow := plane[iy*pp.pw : (iy+1)*pp.pw]
		if g.sw == 1 {
			clear(prow[:g.pl])
			clear(prow[g.pl+g.w:])
			continue
		}
		for c := 0; c < g.pl; c++ {
			prow[pp.col(c)] = 0
		}
		for c := g.pl + g.w; c < pp.pw; c++ {
			prow[pp.col(c)] = 0
		}
	}
}

// fill copies the h×w plane x into the interior of plane; the padding is
// left as it is (set by getPlane, or zeroed by clearPad).
func (pp *paddedPlane) fill(plane, x []float32) {
	g := pp.g
	for iy := 0; iy < g.h; iy++ {
		prow := plane[(iy+g.pt)*pp.pw : (iy+g.pt+1)*pp.pw]
		xrow := x[iy*g.w : (iy+1)*g.w]
		if g.sw == 1 {
			copy(prow[g.pl:], xrow)
			continue
		}
		// x[ix] goes to padded column ix+pl; the even and the odd ix each
		// form one run: split the pairs, then the last odd element.
		if pairs := len(xrow) / 2; pairs > 0 {
			deinterleave(prow[pp.col(g.pl):pp.col(g.pl)+pairs], prow[pp.col(g.pl+1):pp.col(g.pl+1)+pairs], xrow)
		}
		if len(xrow)%2 == 1 {
			prow[pp.col(g.pl+len(xrow)-1)] = xrow[len(xrow)-1]
		}
	}
}

// fillRows sets the padded rows py0..py1 of plane: the pad value 0 where
// clearPad puts it, x's row elsewhere, as clearPad and fill do for every
// row (the same values: TestPaddedPlaneFillRows).
func (pp *paddedPlane) fillRows(plane, x []float32, py0, py1 int) {
	g := pp.g
	for py := py0; py < py1; py++ {
		prow := plane[py*pp.pw : (py+1)*pp.pw]
		iy := py - g.pt
		if iy < 0 || iy >= g.h {
			clear(prow)
			continue
		}
		if g.sw == 1 {
			clear(prow[:g.pl])
			clear(prow[g.pl+g.w:])
			copy(prow[g.pl:], x[iy*g.w:(iy+1)*g.w])
			continue
		}
		for c := 0; c < g.pl; c++ {
			prow[pp.col(c)] = 0
		}
		for c := g.pl + g.w; c < pp.pw; c++ {
			prow[pp.col(c)] = 0
		}
		xrow := x[iy*g.w : (iy+1)*g.w]
		if pairs := len(xrow) / 2; pairs > 0 {
			deinterleave(prow[pp.col(g.pl):pp.col(g.pl)+pairs], prow[pp.col(g.pl+1):pp.col(g.pl+1)+pairs], xrow)
		}
		if len(xrow)%2 == 1 {
			prow[pp.col(g.pl+len(xrow)-1)] = xrow[len(xrow)-1]
		}
	}
}

var planePool = sync.Pool{New: func() any { return new([]float32) }}

// getPlane returns a pooled buffer for one plane with every element set to
// pad; give it back with planePool.Put.
func (pp *paddedPlane) getPlane(pad float32) (*[]float32, []float32) {
	bufp := planePool.Get().(*[]float32)
	if len(*bufp) < pp.planeSz {
		*bufp = make([]float32, pp.planeSz)
	}
	plane := (*bufp)[:pp.planeSz]
	fill(plane, pad)
	return bufp, plane
}
