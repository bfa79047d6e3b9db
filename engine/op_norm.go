package engine

import "math"

// batchNormKernel is inference-mode BatchNormalization:
//
//	out[n,c,...] = (x[n,c,...] − mean[c]) / sqrt(var[c] + ε) · scale[c] + B[c]
//
// folded at build time into out = x·a[c] + b[c] when the statistics are
// constants.
type batchNormKernel struct {
	n, c, inner int
	eps         float32
}

func buildBatchNorm(b *buildCtx) (*built, error) {
	if err := b.need(5); err != nil {
		return nil, err
	}
	x := b.in[0]
	if x.isInt() || len(x.shape) < 2 {
		return nil, notImpl("BatchNormalization of %v %v", x.dt, x.shape)
	}
	if err := b.floatInputs(1, 2, 3, 4); err != nil {
		return nil, err
	}
	if b.c != nil && b.c.train != nil && b.c.train.bn == BNTrain {
		return buildBatchNormTrain(b) // op_norm_grad.go
	}
	if b.attrInt("training_mode", 0) != 0 {
		return nil, notImpl("BatchNormalization training_mode=1")
	}
	if b.opset < 6 && b.has("spatial") && b.attrInt("spatial", 1) == 0 {
		return nil, notImpl("BatchNormalization spatial=0")
	}
	c := x.shape[1]
	for i := 1; i < 5; i++ {
		if numel(b.in[i].shape) != c {
			return nil, invalid("BatchNormalization input %d has shape %v for %d channels", i, b.in[i].shape, c)
		}
	}
	k := &batchNormKernel{n: x.shape[0], c: c, inner: numel(x.shape[2:]), eps: b.attrFloat("epsilon", 1e-5)}
	return &built{k: k, out: one(x.dt, x.shape), alias: -1, flops: 2 * int64(numel(x.shape))}, nil
}

func (k *batchNormKernel) forward(x *exec, in, out []*data) {
	src, scale, bias, mean, variance, dst := in[0].f, in[1].f, in[2].f, in[3].f, in[4].f, out[0].f
	threads := x.threads
	if k.n*k.c*k.inner < parallelMinElems {
		threads = 1
	}
	parallelFor(k.n*k.c, threads, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			c := p % k.c
			a := scale[c] / float32(math.Sqrt(float64(variance[c])+float64(k.eps)))
			bb := bias[c] - mean[c]*a
			off := p * k.inner
			vecScaleShift(dst[off:off+k.inner], src[off:off+k.inner], a, bb) // v*a + bb
		}
	})
}

// instanceNormKernel normalises every (n, c) plane over its spatial extent:
//
//	out = (x − mean) / sqrt(var + ε) · scale[c] + B[c]
type instanceNormKernel struct {
	n, c, inner int
	eps         float64
}

func buildInstanceNorm(b *buildCtx) (*built, error) {
	if err := b.need(3); err != nil {
		return nil, err
	}
	x := b.in[0]
	if x.isInt() || len(x.shape) < 3 {
		return nil, notImpl("InstanceNormalization of %v %v", x.dt, x.shape)
	}
	if err := b.floatInputs(1, 2); err != nil {
		return nil, err
	}
	k := &instanceNormKernel{n: x.shape[0], c: x.shape[1], inner: numel(x.shape[2:]), eps: float64(b.attrFloat("epsilon", 1e-5))}
	return &built{k: k, out: one(x.dt, x.shape), alias: -1, flops: 5 * int64(numel(x.shape))}, nil
}

func (k *instanceNormKernel) forward(x *exec, in, out []*data) {
	src, scale, bias, dst := in[0].f, in[1].f, in[2].f, out[0].f
	for nc := 0; nc < k.n*k.c; nc++ {
		c := nc % k.c
		s, d := src[nc*k.inner:(nc+1)*k.inner], dst[nc*k.inner:(nc+1)*k.inner]
		mean, inv := meanInvStd(s, k.eps)
		a := float32(inv) * scale[c]
		bb := bias[c] - float32(mean)*a
		for i, v := range s {
			d[i] = v*a + bb
		}
	}
}

// meanInvStd returns the mean of s and 1/sqrt(variance + eps), in float64.
func meanInvStd(s []float32, eps float64) (mean, inv float64) {
	var sum float64
	for _, v := range s {
		sum += float64(v)
	}
	mean = sum / float64(len(s))
	var sq float64
	for _, v := range s {
		d := float64(v) - mean
		sq += d * d
	}
	return mean, 1 / math.Sqrt(sq/float64(len(s))+eps)
}

// layerNormKernel is LayerNormalization over the dimensions from axis on:
//
//	out[o, i] = (x[o, i] − mean_o) / sqrt(var_o + ε) · scale[i] + B[i]
//
// with scale and B broadcast to the normalised shape. Optional outputs
// Mean and InvStdDev have the input's shape with the normalised dims set to 1.
type layerNormKernel struct {
	outer, inner int
	eps          float64
	sb, bb       *bcast // scale / B broadcast to the inner block
}

func buildLayerNorm(b *buildCtx) (*built, error) {
	if err := b.need(2); err != nil {
		return nil, err
	}
	x := b.in[0]
	if x.isInt() || len(x.shape) == 0 {
		return nil, notImpl("LayerNormalization of %v %v", x.dt, x.shape)
	}
	if err := b.floatInputs(1, 2); err != nil {
		return nil, err
	}
	axis, err := normAxis(b.attrInt("axis", -1), len(x.shape))
	if err != nil {
		return nil, err
	}
	if b.attrInt("stash_type", 1) != 1 {
		return nil, notImpl("LayerNormalization stash_type %d", b.attrInt("stash_type", 1))
	}
	innerShape := x.shape[axis:]
	k := &layerNormKernel{outer: numel(x.shape[:axis]), inner: numel(innerShape), eps: float64(b.attrFloat("epsilon", 1e-5))}
	if s, err := broadcastShapes(innerShape, b.in[1].shape); err != nil || !sameShape(s, innerShape) {
		return nil, invalid("scale %v does not broadcast to %v", b.in[1].shape, innerShape)
	}
	k.sb = newBcast(innerShape, b.in[1].shape)
	if bias := b.input(2); bias != nil {
		if s, err := broadcastShapes(innerShape, bias.shape); err != nil || !sameShape(s, innerShape) {
			return nil, invalid("B %v does not broadcast to %v", bias.shape, innerShape)
		}
		k.bb = newBcast(innerShape, bias.shape)
	}
	stat := cloneInts(x.shape)
	for i := axis; i < len(stat); i++ {
		stat[i] = 1
	}
	return &built{k: k, out: []outSpec{{x.dt, x.shape}, {x.dt, stat}, {x.dt, stat}}, alias: -1,
		flops: 6 * int64(numel(x.shape))}, nil
}

func (k *layerNormKernel) forward(x *exec, in, out []*data) {
	src, dst := in[0].f, out[0].f
	scale := expandTo(k.sb, in[1].f, k.inner)
	var bias []float32
	if k.bb != nil {
		bias = expandTo(k.bb, in[2].f, k.inner)
	}
	for o := 0; o < k.outer; o++ {
		s, d := src[o*k.inner:(o+1)*k.inner], dst[o*k.inner:(o+1)*k.inner]
		mean, inv := meanInvStd(s, k.eps)
		for i, v := range s {
			y := float32((float64(v)-mean)*inv) * scale[i]
			if bias != nil {
				y += bias[i]
			}
			d[i] = y
		}
		if len(out) > 1 && out[1] != nil {
			out[1].f[o] = float32(mean)
		}
		if len(out) > 2 && out[2] != nil {
			out[2].f[o] = float32(inv)
		}
	}
}

// expandTo returns src broadcast to n elements (src itself when it is full).
func expandTo(bc *bcast, src []float32, n int) []float32 {
	if len(src) == n {
		return src
	}
	out := make([]float32, n)
	bc.rows(func(off int, offs []int, cnt int, step []int) {
		for j := 0; j < cnt; j++ {
			out[off+j] = src[offs[0]+j*step[0]]
		}
	})
	return out
}

// softmaxKernel is Softmax / LogSoftmax over one axis (opset >= 13) or over
// the flattened dimensions from axis on (opset < 13):
//
//	out[o, i, r] = exp(x[o, i, r] − max_i x) / Σ_i exp(x[o, i, r] − max_i x)
type softmaxKernel struct {
	outer, n, inner int
	log             bool
}

func buildSoftmax(log bool) opBuilder {
	return func(b *buildCtx) (*built, error) {
		if err := b.need(1); err != nil {
			return nil, err
		}
		x := b.in[0]
		if x.isInt() {
			return nil, notImpl("integer softmax")
		}
		def := int64(-1)
		if b.opset < 13 {
			def = 1
		}
		if len(x.shape) == 0 {
			return nil, invalid("softmax of a scalar")
		}
		axis, err := normAxis(b.attrInt("axis", def), len(x.shape))
		if err != nil {
			return nil, err
		}
		k := &softmaxKernel{outer: numel(x.shape[:axis]), log: log}
		if b.opset < 13 {
			k.n, k.inner = numel(x.shape[axis:]), 1
		} else {
			k.n, k.inner = x.shape[axis], numel(x.shape[axis+1:])
		}
		return &built{k: k, out: one(x.dt, x.shape), alias: -1, flops: 4 * int64(numel(x.shape))}, nil
	}
}

func (k *softmaxKernel) forward(x *exec, in, out []*data) {
	src, dst := in[0].f, out[0].f
	for o := 0; o < k.outer; o++ {
		for r := 0; r < k.inner; r++ {
			base := o*k.n*k.inner + r
			m := float32(math.Inf(-1))
			for i := 0; i < k.n; i++ {
				m = max(m, src[base+i*k.inner])
			}
			var sum float64
			for i := 0; i < k.n; i++ {
				e := math.Exp(float64(src[base+i*k.inner] - m))
				sum += e
				if !k.log {
					dst[base+i*k.inner] = float32(e)
				}
			}
			if k.log {
				ls := float32(math.Log(sum))
				for i := 0; i < k.n; i++ {
					dst[base+i*k.inner] = src[base+i*k.inner] - m - ls
				}
			} else {
				inv := float32(1 / sum)
				for i := 0; i < k.n; i++ {
					dst[base+i*k.inner] *= inv
				}
			}
		}
	}
}
