package engine

import "math"

// lrnKernel is LocalResponseNormalization across channels
// (https://onnx.ai/onnx/operators/onnx__LRN.html), x [N, C, ...]:
//
//	for n, c, i: sq = Σ x[n, c', i]² over c' in [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉] ∩ [0, C)
//	             y[n, c, i] = x[n, c, i] / (bias + alpha/size · sq)^beta
type lrnKernel struct {
	n, c, inner             int
	lo, hi                  int // window: channels c−lo … c+hi
	alpha, beta, bias, size float64
}

func buildLRN(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	x := b.in[0]
	if x.isInt() || len(x.shape) < 2 {
		return nil, invalid("LRN needs a float input of rank ≥ 2, got %v", x)
	}
	size := b.attrInt("size", 0)
	if size < 1 {
		return nil, invalid("LRN size %d: must be ≥ 1", size)
	}
	k := &lrnKernel{n: x.shape[0], c: x.shape[1], inner: numel(x.shape[2:]), lo: int(size-1) / 2, hi: int(size) / 2,
		alpha: float64(b.attrFloat("alpha", 1e-4)), beta: float64(b.attrFloat("beta", 0.75)),
		bias: float64(b.attrFloat("bias", 1)), size: float64(size)}
	return &built{k: k, out: one(x.dt, x.shape), alias: -1, flops: int64(numel(x.shape)) * (2*size + 4)}, nil
}

func (k *lrnKernel) forward(_ *exec, in, out []*data) {
	x, y := in[0].f, out[0].f
	for n := range k.n {
		for c := range k.c {
			lo, hi := max(c-k.lo, 0), min(c+k.hi, k.c-1)
			for i := range k.inner {
				sq := 0.0
				for cc := lo; cc <= hi; cc++ {
					v := float64(x[(n*k.c+cc)*k.inner+i])
					sq += v * v
				}
				o := (n*k.c+c)*k.inner + i
				y[o] = float32(float64(x[o]) / math.Pow(k.bias+k.alpha/k.size*sq, k.beta))
			}
		}
	}
}
