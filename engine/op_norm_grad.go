package engine

import "math"

// Backward of inference-mode BatchNormalization (BNFrozen), with
// x̂ = (x − mean)·inv, inv = 1/√(var + ε), per channel c:
//
//	dx = δ·scale[c]·inv[c],  dscale[c] = Σ δ·x̂,  dB[c] = Σ δ
//
// (sums over the batch and spatial positions), parallel over channels.
func (k *batchNormKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	src, scale, mean, variance, d := in[0].f, in[1].f, in[3].f, in[4].f, dOut[0].f
	parallelFor(k.c, bnThreads(x, k.n*k.c*k.inner), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			inv := float32(1 / math.Sqrt(float64(variance[c])+float64(k.eps)))
			var sd, sdx float64
			for n := 0; n < k.n; n++ {
				off := (n*k.c + c) * k.inner
				xs, ds := src[off:off+k.inner], d[off:off+k.inner]
				for i, v := range ds {
					sd += float64(v)
					sdx += float64(v) * float64((xs[i]-mean[c])*inv)
				}
				if dIn[0] != nil {
					g := dIn[0].f[off : off+k.inner]
					a := scale[c] * inv
					for i, v := range ds {
						g[i] += v * a
					}
				}
			}
			if dIn[1] != nil {
				dIn[1].f[c] += float32(sdx)
			}
			if dIn[2] != nil {
				dIn[2].f[c] += float32(sd)
			}
		}
	})
}

// tapeNeeds: x and the parameters.
func (k *batchNormKernel) tapeNeeds() (in, out uint64) { return 0b11111, 0 }

func bnThreads(x *exec, n int) int {
	if n < 1<<15 {
		return 1
	}
	return x.threads
}

// bnTrainKernel is BatchNormalization in training mode (BNTrain), as
// torch's model.train(): per channel, over the batch and spatial positions,
//
//	μ = mean(x),  σ² = mean((x − μ)²),  y = (x − μ)/√(σ² + ε)·scale + B
//
// and, when update is set, the running statistics move with the ONNX
// momentum m: run_mean = m·run_mean + (1−m)·μ, run_var = m·run_var +
// (1−m)·σ²·N/(N−1) (unbiased). The running statistics are the kernel's own
// copies (runMean, runVar), written back by Trainable.WriteBack. Backward,
// with x̂ = (x − μ)·inv and N values per channel:
//
//	dB = Σ δ,  dscale = Σ δ·x̂,  dx = scale·inv/N·(N·δ − dB − x̂·dscale)
type bnTrainKernel struct {
	n, c, inner   int
	eps, momentum float64
	runMean       []float32
	runVar        []float32
	meanID, varID string
	update        bool
	mean, inv     []float64 // batch statistics of the last forward
	cnt           float64   // values per channel they were taken over (all shards' when synced)
	sync          *bnSync   // SyncBatchNorm's rendezvous, nil alone
	rank          int       // this kernel's member index in sync
}

func buildBatchNormTrain(b *buildCtx) (*built, error) {
	x := b.in[0]
	c := x.shape[1]
	for i := 1; i < 5; i++ {
		if numel(b.in[i].shape) != c {
			return nil, invalid("BatchNormalization input %d has shape %v for %d channels", i, b.in[i].shape, c)
		}
	}
	if b.in[3].konst == nil || b.in[4].konst == nil {
		return nil, notImpl("BatchNormalization in training mode with running statistics computed at run time")
	}
	if b.nOut > 1 {
		for _, o := range b.node.GetOutput()[1:] {
			if o != "" {
				return nil, notImpl("BatchNormalization running statistics as outputs")
			}
		}
	}
	k := &bnTrainKernel{n: x.shape[0], c: c, inner: numel(x.shape[2:]),
		eps: float64(b.attrFloat("epsilon", 1e-5)), momentum: float64(b.attrFloat("momentum", 0.9)),
		runMean: append([]float32(nil), b.in[3].konst.f...), runVar: append([]float32(nil), b.in[4].konst.f...),
		meanID: b.in[3].name, varID: b.in[4].name, mean: make([]float64, c), inv: make([]float64, c)}
	return &built{k: k, out: one(x.dt, x.shape), alias: -1, flops: 6 * int64(numel(x.shape))}, nil
}

func (k *bnTrainKernel) forward(x *exec, in, out []*data) {
	src, scale, bias, dst := in[0].f, in[1].f, in[2].f, out[0].f
	th := bnThreads(x, k.n*k.c*k.inner)
	// Per channel Σx and Σx² (float64), summed over the SyncBatchNorm
	// group when there is one: one rendezvous (the last slot carries the
	// sample count).
	sums := make([]float64, 2*k.c+1)
	parallelFor(k.c, th, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var s, s2 float64
			for n := 0; n < k.n; n++ {
				off := (n*k.c + c) * k.inner
				for _, v := range src[off : off+k.inner] {
					f := float64(v)
					s += f
					s2 += f * f
				}
			}
			sums[c], sums[k.c+c] = s, s2
		}
	})
	sums[2*k.c] = float64(k.n * k.inner)
	sums = k.reduce(sums)
	cnt := sums[2*k.c]
	parallelFor(k.c, th, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			mu := sums[c] / cnt
			ss := max(sums[k.c+c]-mu*sums[c], 0) // Σ(x − μ)²
			v := ss / cnt
			inv := 1 / math.Sqrt(v+k.eps)
			k.mean[c], k.inv[c] = mu, inv
			a := float32(inv * float64(scale[c]))
			bb := bias[c] - float32(mu)*a
			for n := 0; n < k.n; n++ {
				off := (n*k.c + c) * k.inner
				vecScaleShift(dst[off:off+k.inner], src[off:off+k.inner], a, bb)
			}
			if k.update {
				unb := v
				if cnt > 1 {
					unb = ss / (cnt - 1)
				}
				k.runMean[c] = float32(k.momentum*float64(k.runMean[c]) + (1-k.momentum)*mu)
				k.runVar[c] = float32(k.momentum*float64(k.runVar[c]) + (1-k.momentum)*unb)
			}
		}
	})
	k.cnt = cnt
}

// reduce sums local over the SyncBatchNorm group (bn_sync.go), or
// returns it when the kernel runs alone.
func (k *bnTrainKernel) reduce(local []float64) []float64 {
	if k.sync == nil {
		return local
	}
	return k.sync.allReduce(k.rank, local)
}

func (k *bnTrainKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	src, scale, d := in[0].f, in[1].f, dOut[0].f
	th := bnThreads(x, k.n*k.c*k.inner)
	// Per channel Σδ and Σδ·x̂ over this shard (into the parameters'
	// gradients, which the trainer sums over replicas), then over the
	// group for dx.
	sums := make([]float64, 2*k.c)
	parallelFor(k.c, th, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			mu, inv := k.mean[c], k.inv[c]
			var sd, sdx float64
			for n := 0; n < k.n; n++ {
				off := (n*k.c + c) * k.inner
				xs := src[off : off+k.inner]
				for i, v := range d[off : off+k.inner] {
					sd += float64(v)
					sdx += float64(v) * (float64(xs[i]) - mu) * inv
				}
			}
			if dIn[1] != nil {
				dIn[1].f[c] += float32(sdx)
			}
			if dIn[2] != nil {
				dIn[2].f[c] += float32(sd)
			}
			sums[c], sums[k.c+c] = sd, sdx
		}
	})
	if dIn[0] == nil {
		return
	}
	sums = k.reduce(sums)
	cnt := k.cnt
	parallelFor(k.c, th, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			mu, inv := k.mean[c], k.inv[c]
			sd, sdx := sums[c], sums[k.c+c]
			a := float64(scale[c]) * inv / cnt
			for n := 0; n < k.n; n++ {
				off := (n*k.c + c) * k.inner
				xs, g := src[off:off+k.inner], dIn[0].f[off:off+k.inner]
				for i, v := range d[off : off+k.inner] {
					xh := (float64(xs[i]) - mu) * inv
					g[i] += float32(a * (cnt*float64(v) - sd - xh*sdx))
				}
			}
		}
	})
}

// tapeNeeds: x and scale.
func (k *bnTrainKernel) tapeNeeds() (in, out uint64) { return 0b11, 0 }

// Backward of Softmax along its axis, with y the output:
//
//	dx_i = y_i·(δ_i − Σ_j δ_j·y_j)
//
// and of LogSoftmax: dx_i = δ_i − exp(y_i)·Σ_j δ_j.
func (k *softmaxKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	y, d, g := out[0].f, dOut[0].f, dIn[0].f
	for o := 0; o < k.outer; o++ {
		for r := 0; r < k.inner; r++ {
			base := o*k.n*k.inner + r
			var s float64
			for i := 0; i < k.n; i++ {
				j := base + i*k.inner
				if k.log {
					s += float64(d[j])
				} else {
					s += float64(d[j]) * float64(y[j])
				}
			}
			for i := 0; i < k.n; i++ {
				j := base + i*k.inner
				if k.log {
					g[j] += d[j] - float32(math.Exp(float64(y[j]))*s)
				} else {
					g[j] += y[j] * (d[j] - float32(s))
				}
			}
		}
	}
}

// tapeNeeds: the output.
func (k *softmaxKernel) tapeNeeds() (in, out uint64) { return 0, 1 }
