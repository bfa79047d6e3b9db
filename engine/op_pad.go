package engine

// padKernel is ONNX Pad. For every output index, each coordinate i maps to
// the input coordinate i − begin[d]; outside [0, n) it is the constant
// (mode constant), mirrored without the edge (reflect), clamped (edge) or
// wrapped (wrap). Negative pads crop.
type padKernel struct {
	in, out []int
	begin   []int
	mode    string
	fv      float32
	iv      int64
}

func buildPad(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	x := b.in[0]
	r := len(x.shape)
	k := &padKernel{in: x.shape, mode: b.attrString("mode", "constant")}
	var pads []int64
	switch {
	case b.opset < 2:
		pads, _ = b.attrInts("paddings")
		k.fv = b.attrFloat("value", 0)
	case b.opset < 11:
		pads, _ = b.attrInts("pads")
		k.fv = b.attrFloat("value", 0)
	default:
		p, ok, err := b.constInts(1)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, invalid("Pad without pads")
		}
		pads = p
		if cv := b.input(2); cv != nil {
			if cv.konst == nil {
				return nil, notImpl("Pad constant_value not known at compile time")
			}
			if cv.isInt() {
				k.iv = cv.konst.i[0]
			} else if len(cv.konst.f) > 0 {
				k.fv = cv.konst.f[0]
			}
		}
		if axes, ok, err := b.constInts(3); err != nil {
			return nil, err
		} else if ok {
			full := make([]int64, 2*r)
			if len(pads) != 2*len(axes) {
				return nil, invalid("Pad pads %v for axes %v", pads, axes)
			}
			for i, a := range axes {
				ax, err := normAxis(a, r)
				if err != nil {
					return nil, err
				}
				full[ax], full[r+ax] = pads[i], pads[len(axes)+i]
			}
			pads = full
		}
	}
	if len(pads) != 2*r {
		return nil, invalid("Pad pads %v for rank %d", pads, r)
	}
	switch k.mode {
	case "constant", "reflect", "edge", "wrap":
	default:
		return nil, notImpl("Pad mode %q", k.mode)
	}
	k.out = make([]int, r)
	k.begin = make([]int, r)
	for d := 0; d < r; d++ {
		k.begin[d] = int(pads[d])
		k.out[d] = x.shape[d] + int(pads[d]) + int(pads[r+d])
		if k.out[d] < 0 {
			return nil, invalid("Pad %v of %v", pads, x.shape)
		}
		if k.mode != "constant" && x.shape[d] == 0 && k.out[d] > 0 {
			return nil, invalid("Pad mode %s of an empty axis", k.mode)
		}
	}
	return &built{k: k, out: one(x.dt, k.out), alias: -1}, nil
}

func (k *padKernel) forward(_ *exec, in, out []*data) {
	n := numel(k.out)
	is := stridesOf(k.in)
	idx := make([]int, len(k.out))
	for o := 0; o < n; o++ {
		src, inside := 0, true
		for d, i := range idx {
			c, size := i-k.begin[d], k.in[d]
			if c < 0 || c >= size {
				switch k.mode {
				case "constant":
					inside = false
				case "edge":
					c = min(max(c, 0), size-1)
				case "wrap":
					c = ((c % size) + size) % size
				case "reflect":
					if size == 1 {
						c = 0
					} else {
						period := 2 * (size - 1)
						c = ((c % period) + period) % period
						if c >= size {
							c = period - c
						}
					}
				}
			}
			src += c * is[d]
		}
		if out[0].f != nil {
			if inside {
				out[0].f[o] = in[0].f[src]
			} else {
				out[0].f[o] = k.fv
			}
		} else {
			if inside {
				out[0].i[o] = in[0].i[src]
			} else {
				out[0].i[o] = k.iv
			}
		}
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < k.out[d] {
				break
			}
			idx[d] = 0
		}
	}
}
