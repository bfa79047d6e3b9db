package engine

import "math"

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
	flops := int64(numel(out))
	if k.linear {
		flops *= 3 * int64(r)
	}
	return &built{k: k, out: one(x.dt, out), alias: -1, flops: flops}, nil
}

func (k *resizeKernel) forward(_ *exec, in, out []*data) {
	src, dst := in[0].f, out[0].f
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
