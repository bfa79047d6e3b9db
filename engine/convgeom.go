package engine

// convGeom is the spatial geometry shared by Conv, ConvTranspose and the
// pools, for up to 2 spatial dimensions (1-D is treated as H = 1).
type convGeom struct {
	h, w       int // input
	kh, kw     int
	sh, sw     int
	dh, dw     int
	pt, pl     int // pads at the start
	pb, pr     int // pads at the end
	oh, ow     int // output
	spatial    int // number of spatial dims in the model (1 or 2)
	ceil       bool
	transposed bool
}

// spatialAttrs reads kernel_shape/strides/dilations/pads/auto_pad for a node
// whose input has the given spatial dims and kernel dims (from the weight,
// or the kernel_shape attribute for pools).
func spatialAttrs(b *buildCtx, in, kernel []int, ceil bool) (*convGeom, error) {
	ns := len(in)
	if ns < 1 || ns > 2 {
		return nil, notImpl("%d spatial dimensions (1 or 2 supported)", ns)
	}
	if len(kernel) != ns {
		return nil, invalid("kernel has %d dims for %d spatial dims", len(kernel), ns)
	}
	get := func(name string, def int, n int) ([]int, error) {
		v, ok := b.attrInts(name)
		if !ok {
			out := make([]int, n)
			for i := range out {
				out[i] = def
			}
			return out, nil
		}
		if len(v) != n {
			return nil, invalid("%s has %d values, want %d", name, len(v), n)
		}
		return ints(v), nil
	}
	strides, err := get("strides", 1, ns)
	if err != nil {
		return nil, err
	}
	dil, err := get("dilations", 1, ns)
	if err != nil {
		return nil, err
	}
	pads, err := get("pads", 0, 2*ns)
	if err != nil {
		return nil, err
	}
	for i := 0; i < ns; i++ {
		if strides[i] < 1 || dil[i] < 1 || kernel[i] < 1 || pads[i] < 0 || pads[ns+i] < 0 {
			return nil, invalid("bad strides %v / dilations %v / kernel %v / pads %v", strides, dil, kernel, pads)
		}
	}
	autoPad := b.attrString("auto_pad", "NOTSET")
	out := make([]int, ns)
	for i := 0; i < ns; i++ {
		dk := (kernel[i]-1)*dil[i] + 1
		switch autoPad {
		case "NOTSET", "":
			num := in[i] + pads[i] + pads[ns+i] - dk
			if num < 0 {
				return nil, invalid("kernel %v larger than padded input %v", kernel, in)
			}
			if ceil {
				out[i] = (num+strides[i]-1)/strides[i] + 1
				// The last window must start inside the input or left pad.
				if (out[i]-1)*strides[i] >= in[i]+pads[i] {
					out[i]--
				}
			} else {
				out[i] = num/strides[i] + 1
			}
		case "VALID":
			pads[i], pads[ns+i] = 0, 0
			if in[i] < dk {
				return nil, invalid("kernel %v larger than input %v", kernel, in)
			}
			out[i] = (in[i]-dk)/strides[i] + 1
		case "SAME_UPPER", "SAME_LOWER":
			out[i] = (in[i] + strides[i] - 1) / strides[i]
			total := max(0, (out[i]-1)*strides[i]+dk-in[i])
			if autoPad == "SAME_UPPER" {
				pads[i], pads[ns+i] = total/2, total-total/2
			} else {
				pads[i], pads[ns+i] = total-total/2, total/2
			}
		default:
			return nil, invalid("auto_pad %q", autoPad)
		}
	}
	g := &convGeom{spatial: ns, ceil: ceil}
	if ns == 1 {
		g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw = 1, in[0], 1, kernel[0], 1, strides[0], 1, dil[0]
		g.pl, g.pr, g.oh, g.ow = pads[0], pads[1], 1, out[0]
	} else {
		g.h, g.w, g.kh, g.kw = in[0], in[1], kernel[0], kernel[1]
		g.sh, g.sw, g.dh, g.dw = strides[0], strides[1], dil[0], dil[1]
		g.pt, g.pl, g.pb, g.pr = pads[0], pads[1], pads[2], pads[3]
		g.oh, g.ow = out[0], out[1]
	}
	return g, nil
}

func (g *convGeom) outSpatial() []int {
	if g.spatial == 1 {
		return []int{g.ow}
	}
	return []int{g.oh, g.ow}
}

// validRange returns the output positions [lo, hi) along one axis for which
// the input position o*s - p + k*d lies in [0, n).
func validRange(out, n, s, p, kd int) (lo, hi int) {
	// o*s >= p - kd  =>  o >= ceil((p-kd)/s)
	num := p - kd
	if num <= 0 {
		lo = 0
	} else {
		lo = (num + s - 1) / s
	}
	// o*s - p + kd <= n-1  =>  o <= floor((n-1+p-kd)/s)
	num = n - 1 + p - kd
	if num < 0 {
		return lo, lo
	}
	hi = min(num/s+1, out)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}
