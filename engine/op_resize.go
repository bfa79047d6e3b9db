package engine

import (
	"math"
	"sync"
)

// resizeKernel is ONNX Resize (and opset-10 Resize) in nearest and linear
// modes. For each output coordinate x along axis d, the source coordinate is
// given by coordinate_transformation_mode (half_pixel by default from opset
// 11, asymmetric in opset 10):
//
//	nearest: out[x] = in[round_mode(src(x))]
//	linear:  out[x] = (1−w)·in[i0] + w·in[i1],  i0 = floor(src(x)), w = src(x) − i0
//
// applied to every axis (n-linear interpolation).
type resizeKernel struct {
	in, out []int
	linear  bool
	// Per axis and output coordinate: source indices and weight of i1.
	i0, i1 [][]int
	w      [][]float32
	// planar: only the last two axes change (NCHW images), which
	// forwardPlanar resizes plane by plane.
	planar bool
	// addIdx, when not 0, is the input of a tensor of the output's shape
	// added to each output row as it is made (an Add after the Resize,
	// fuseResizeAdd; planar only): out = a + resize(x), the Add's bits.
	addIdx int
}

// isPlanar reports whether every axis but the last two maps each index to
// itself.
func (k *resizeKernel) isPlanar() bool {
	r := len(k.out)
	if r < 2 {
		return false
	}
	for d := 0; d < r-2; d++ {
		if k.in[d] != k.out[d] {
			return false
		}
		for i := range k.i0[d] {
			if k.i0[d][i] != i || (k.i1[d][i] != i && k.w[d][i] != 0) {
				return false
			}
		}
	}
	return true
}

func buildResize(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	x := b.in[0]
	if x.isInt() {
		return nil, notImpl("integer Resize")
	}
	r := len(x.shape)
	mode := b.attrString("mode", "nearest")
	if mode != "nearest" && mode != "linear" {
		return nil, notImpl("Resize mode %q", mode)
	}
	if b.attrInt("antialias", 0) != 0 {
		return nil, notImpl("Resize antialias")
	}
	if b.has("axes") {
		return nil, notImpl("Resize axes")
	}
	if p := b.attrString("keep_aspect_ratio_policy", "stretch"); p != "stretch" {
		return nil, notImpl("Resize keep_aspect_ratio_policy %q", p)
	}
	ctm := b.attrString("coordinate_transformation_mode", "half_pixel")
	nearestMode := b.attrString("nearest_mode", "round_prefer_floor")
	var scales []float32
	var sizes []int64
	var err error
	if b.opset < 11 {
		// Opset 10 Resize has no such attributes: it indexes like Upsample.
		ctm, nearestMode = "asymmetric", "floor"
		if scales, _, err = b.constFloats(1); err != nil {
			return nil, err
		}
	} else {
		if scales, _, err = b.constFloats(2); err != nil {
			return nil, err
		}
		if sizes, _, err = b.constInts(3); err != nil {
			return nil, err
		}
	}
	switch ctm {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn":
	default:
		return nil, notImpl("Resize coordinate_transformation_mode %q", ctm)
	}
	out := make([]int, r)
	sc := make([]float64, r)
	switch {
	case len(sizes) > 0:
		if len(sizes) != r {
			return nil, invalid("Resize sizes %v for rank %d", sizes, r)
		}
		for d := range out {
			out[d] = int(sizes[d])
			sc[d] = float64(out[d]) / float64(x.shape[d])
		}
	case len(scales) > 0:
		if len(scales) != r {
			return nil, invalid("Resize scales %v for rank %d", scales, r)
		}
		for d := range out {
			if scales[d] <= 0 {
				return nil, invalid("Resize scales %v", scales)
			}
			sc[d] = float64(scales[d])
			out[d] = int(math.Floor(float64(x.shape[d]) * float64(scales[d])))
		}
	default:
		return nil, invalid("Resize needs scales or sizes")
	}
	if err := checkShape(out); err != nil {
		return nil, err
	}
	if b.opset < 11 && mode == "nearest" {
		// As ONNX's opset-10 reference tests expect: nearest indexes with
		// the effective scale output size / input size.
		for d := range sc {
			if x.shape[d] > 0 {
				sc[d] = float64(out[d]) / float64(x.shape[d])
			}
		}
	}
	k := &resizeKernel{in: x.shape, out: out, linear: mode == "linear"}
	for d := 0; d < r; d++ {
		n, m := x.shape[d], out[d]
		i0, i1, w := make([]int, m), make([]int, m), make([]float32, m)
		for o := 0; o < m; o++ {
			var s float64
			switch ctm {
			case "half_pixel":
				s = (float64(o)+0.5)/sc[d] - 0.5
			case "pytorch_half_pixel":
				if m > 1 {
					s = (float64(o)+0.5)/sc[d] - 0.5
				}
			case "align_corners":
				if m > 1 {
					s = float64(o) * float64(n-1) / float64(m-1)
				}
			case "asymmetric":
				s = float64(o) / sc[d]
			case "tf_half_pixel_for_nn":
				s = (float64(o) + 0.5) / sc[d]
			}
			if k.linear {
				s = min(max(s, 0), float64(n-1))
				f := math.Floor(s)
				i0[o] = int(f)
				i1[o] = min(i0[o]+1, n-1)
				w[o] = float32(s - f)
				continue
			}
			var v float64
			switch nearestMode {
			case "round_prefer_floor":
				if s-math.Floor(s) == 0.5 {
					v = math.Floor(s)
				} else {
					v = math.Round(s)
				}
			case "round_prefer_ceil":
				v = math.Round(s)
			case "floor":
				v = math.Floor(s)
			case "ceil":
				v = math.Ceil(s)
			default:
				return nil, notImpl("Resize nearest_mode %q", nearestMode)
			}
			i0[o] = min(max(int(v), 0), n-1)
			i1[o] = i0[o]
		}
		k.i0, k.i1, k.w = append(k.i0, i0), append(k.i1, i1), append(k.w, w)
	}
	k.planar = k.isPlanar()
	flops := int64(numel(out))
	if k.linear {
		flops *= 3 * int64(r)
	}
	bt := &built{k: k, out: one(x.dt, out), alias: -1, flops: flops}
	if k.planar && k.linear {
		bt.scratch = 2 * out[r-1]
	}
	return bt, nil
}

func (k *resizeKernel) forward(x *exec, in, out []*data) {
	if k.planar {
		var add []float32
		if k.addIdx > 0 {
			add = in[k.addIdx].f
		}
		k.forwardPlanar(x, in[0].f, out[0].f, add, x.scratch)
		return
	}
	k.forwardRef(in[0].f, out[0].f)
}

// forwardPlanar computes the same as forwardRef, in the same order of
// operations, for planar resizes: per output row, the two source rows are
// interpolated along x (an output row whose source rows repeat the previous
// one's is copied), then blended along y.
// scratch holds two output rows (built.scratch). Planes are split between
// threads; the chunk holding plane 0 uses scratch, the others rows from
// resizeRows. add, when not nil, is added to the output (addIdx).
func (k *resizeKernel) forwardPlanar(x *exec, src, dst, add, scratch []float32) {
	r := len(k.out)
	ow := k.out[r-1]
	planes := numel(k.out[:r-2])
	threads := x.threads
	if len(dst) < parallelMinElems {
		threads = 1
	}
	parallelFor(planes, threads, func(lo, hi int) {
		if !k.linear {
			k.planarPlanes(src, dst, add, lo, hi, nil, nil)
			return
		}
		if lo == 0 {
			k.planarPlanes(src, dst, add, lo, hi, scratch[:ow], scratch[ow:2*ow])
			return
		}
		bufp := resizeRows.Get().(*[]float32)
		if len(*bufp) < 2*ow {
			*bufp = make([]float32, 2*ow)
		}
		k.planarPlanes(src, dst, add, lo, hi, (*bufp)[:ow], (*bufp)[ow:2*ow])
		resizeRows.Put(bufp)
	})
}

var resizeRows = sync.Pool{New: func() any { return new([]float32) }}

// planarPlanes is forwardPlanar for planes lo..hi, with ta and tb two rows
// of scratch (linear modes); add, when not nil, is added to each row.
func (k *resizeKernel) planarPlanes(src, dst, add []float32, lo, hi int, ta, tb []float32) {
	r := len(k.out)
	h, w, oh, ow := k.in[r-2], k.in[r-1], k.out[r-2], k.out[r-1]
	y0, y1, wy := k.i0[r-2], k.i1[r-2], k.w[r-2]
	x0, x1, wx := k.i0[r-1], k.i1[r-1], k.w[r-1]
	rep := k.repeatX()
	// row interpolates source row sy along x into d.
	row := func(d []float32, sy int, sp []float32) {
		s := sp[sy*w : (sy+1)*w]
		d = d[:len(x0)]
		switch rep {
		case 2: // PP-OCR's 2× nearest upsampling
			d = d[:2*len(s)]
			for i, v := range s {
				d[2*i], d[2*i+1] = v, v
			}
			return
		case 1:
			copy(d, s)
			return
		}
		if !k.linear {
			for ox, i := range x0 {
				d[ox] = s[i]
			}
			return
		}
		for ox, i := range x0 {
			a := s[i]
			if k.linear && wx[ox] != 0 && x1[ox] != i {
				a += wx[ox] * (s[x1[ox]] - a)
			}
			d[ox] = a
		}
	}
	for p := lo; p < hi; p++ {
		sp := src[p*h*w : (p+1)*h*w]
		dp := dst[p*oh*ow : (p+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			drow := dp[oy*ow : (oy+1)*ow]
			switch {
			case add == nil && oy > 0 && y0[oy] == y0[oy-1] && y1[oy] == y1[oy-1] && wy[oy] == wy[oy-1]:
				copy(drow, dp[(oy-1)*ow:oy*ow])
			case !k.linear || wy[oy] == 0 || y1[oy] == y0[oy]:
				row(drow, y0[oy], sp)
			default:
				row(ta, y0[oy], sp)
				row(tb, y1[oy], sp)
				for ox := range drow {
					drow[ox] = ta[ox] + wy[oy]*(tb[ox]-ta[ox])
				}
			}
			if add != nil {
				o := (p*oh + oy) * ow
				vecAdd(drow, add[o:o+ow], drow)
			}
		}
	}
}

// repeatX is f when every source column is repeated f times, in order,
// along the last axis (nearest, x0[ox] = ox/f; 1 or 2 only), else 0.
func (k *resizeKernel) repeatX() int {
	r := len(k.out)
	w, ow := k.in[r-1], k.out[r-1]
	if k.linear || (ow != w && ow != 2*w) {
		return 0
	}
	f := ow / w
	for ox, i := range k.i0[r-1] {
		if i != ox/f {
			return 0
		}
	}
	return f
}

// forwardRef is the reference loop: every output element is the n-linear
// interpolation (interp) of its source taps.
func (k *resizeKernel) forwardRef(src, dst []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	r := len(k.out)
	is := stridesOf(k.in)
	idx := make([]int, r)
	// Only axes whose two taps differ need interpolation.
	for o := 0; o < n; o++ {
		if !k.linear {
			off := 0
			for d, i := range idx {
				off += k.i0[d][i] * is[d]
			}
			dst[o] = src[off]
		} else {
			dst[o] = k.interp(src, is, idx, 0, 0)
		}
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < k.out[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// interp computes the n-linear interpolation recursively over axes d...
func (k *resizeKernel) interp(src []float32, is, idx []int, d, off int) float32 {
	if d == len(idx) {
		return src[off]
	}
	i := idx[d]
	a := k.interp(src, is, idx, d+1, off+k.i0[d][i]*is[d])
	w := k.w[d][i]
	if w == 0 || k.i1[d][i] == k.i0[d][i] {
		return a
	}
	b := k.interp(src, is, idx, d+1, off+k.i1[d][i]*is[d])
	return a + w*(b-a)
}
