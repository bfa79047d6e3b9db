package engine

import "math"

// unaryKernel applies a scalar function to every element:
//
//	for i := range x: out[i] = f(x[i])
//
// Relu and Clip have dedicated loops, Sigmoid a vector form (vecSigmoid);
// the others go through f.
type unaryKernel struct {
	f       func(float32) float32
	fi      func(int64) int64 // integer form, when the op has one
	vec     func(dst, src []float32)
	relu    bool
	clip    bool
	lo, hi  float32
	intData bool
	// op, alpha and beta are what the backward needs (op_unary_grad.go).
	op          string
	alpha, beta float32
}

func (k *unaryKernel) forward(x *exec, in, out []*data) {
	if k.intData {
		src, dst := in[0].i, out[0].i
		for j, v := range src {
			dst[j] = k.fi(v)
		}
		return
	}
	src, dst := in[0].f, out[0].f
	threads := x.threads
	if len(src) < parallelMinElems {
		threads = 1
	}
	run := func(lo, hi int) {
		s, d := src[lo:hi], dst[lo:hi]
		switch {
		case k.relu:
			clampRange(d, s, 0, float32(math.Inf(1)))
		case k.clip:
			clampRange(d, s, k.lo, k.hi)
		case k.vec != nil:
			k.vec(d, s)
		default:
			f := k.f
			for j, v := range s {
				d[j] = f(v)
			}
		}
	}
	if len(src) == len(dst) && planeSpans(out[0].shape, threads, run) {
		return // over the planes, as the convolutions around split them
	}
	parallelFor(len(src), threads, run)
}

func f64(f func(float64) float64) func(float32) float32 {
	return func(x float32) float32 { return float32(f(float64(x))) }
}

func sigmoid(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

// unaryFns are the parameter-free elementwise ops.
var unaryFns = map[string]func(float32) float32{
	"Sigmoid":    sigmoid,
	"Tanh":       f64(math.Tanh),
	"Exp":        f64(math.Exp),
	"Log":        f64(math.Log),
	"Sqrt":       f64(math.Sqrt),
	"Erf":        f64(math.Erf),
	"Floor":      f64(math.Floor),
	"Ceil":       f64(math.Ceil),
	"Round":      f64(math.RoundToEven),
	"Sin":        f64(math.Sin),
	"Cos":        f64(math.Cos),
	"Reciprocal": func(x float32) float32 { return 1 / x },
	"Neg":        func(x float32) float32 { return -x },
	"Abs":        func(x float32) float32 { return float32(math.Abs(float64(x))) },
	"Sign": func(x float32) float32 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return x
	},
	"Softplus": func(x float32) float32 {
		if x > 20 {
			return x
		}
		return float32(math.Log1p(math.Exp(float64(x))))
	},
	"Softsign":  func(x float32) float32 { return x / (1 + float32(math.Abs(float64(x)))) },
	"HardSwish": func(x float32) float32 { return x * max(0, min(1, x/6+0.5)) },
}

var unaryInts = map[string]func(int64) int64{
	"Neg": func(x int64) int64 { return -x },
	"Abs": func(x int64) int64 {
		if x < 0 {
			return -x
		}
		return x
	},
	"Sign": func(x int64) int64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	},
	"Relu": func(x int64) int64 { return max(x, 0) },
}

func registerUnary(r registry) {
	for name, f := range unaryFns {
		r.add(name, buildUnaryFn(name, f))
	}
	r.add("Relu", func(b *buildCtx) (*built, error) {
		return unary(b, &unaryKernel{relu: true, fi: unaryInts["Relu"]})
	})
	r.add("LeakyRelu", func(b *buildCtx) (*built, error) {
		alpha := b.attrFloat("alpha", 0.01)
		return unary(b, &unaryKernel{alpha: alpha, f: func(x float32) float32 {
			if x < 0 {
				return alpha * x
			}
			return x
		}})
	})
	r.add("Elu", func(b *buildCtx) (*built, error) {
		alpha := b.attrFloat("alpha", 1)
		return unary(b, &unaryKernel{f: func(x float32) float32 {
			if x < 0 {
				return alpha * float32(math.Expm1(float64(x)))
			}
			return x
		}})
	})
	r.add("Selu", func(b *buildCtx) (*built, error) {
		alpha := b.attrFloat("alpha", 1.67326319217681884765625)
		gamma := b.attrFloat("gamma", 1.05070102214813232421875)
		return unary(b, &unaryKernel{f: func(x float32) float32 {
			if x <= 0 {
				return gamma * alpha * float32(math.Expm1(float64(x)))
			}
			return gamma * x
		}})
	})
	r.add("HardSigmoid", func(b *buildCtx) (*built, error) {
		alpha, beta := b.attrFloat("alpha", 0.2), b.attrFloat("beta", 0.5)
		return unary(b, &unaryKernel{alpha: alpha, beta: beta, f: func(x float32) float32 { return max(0, min(1, alpha*x+beta)) }})
	})
	r.add("ThresholdedRelu", func(b *buildCtx) (*built, error) {
		alpha := b.attrFloat("alpha", 1)
		return unary(b, &unaryKernel{f: func(x float32) float32 {
			if x > alpha {
				return x
			}
			return 0
		}})
	})
	r.add("Gelu", func(b *buildCtx) (*built, error) {
		switch b.attrString("approximate", "none") {
		case "none":
			return unary(b, &unaryKernel{f: func(x float32) float32 {
				return float32(0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2)))
			}})
		case "tanh":
			return unary(b, &unaryKernel{f: func(x float32) float32 {
				v := float64(x)
				return float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
			}})
		}
		return nil, notImpl("Gelu approximate=%q", b.attrString("approximate", ""))
	})
	r.add("Clip", buildClip)
}

func buildUnaryFn(name string, f func(float32) float32) opBuilder {
	return func(b *buildCtx) (*built, error) {
		k := &unaryKernel{f: f, fi: unaryInts[name]}
		if name == "Sigmoid" {
			k.vec = vecSigmoid
		}
		return unary(b, k)
	}
}

func unary(b *buildCtx, k *unaryKernel) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	x := b.in[0]
	if x.isInt() && k.fi == nil {
		return nil, notImpl("%s on %v", b.node.GetOpType(), x.dt)
	}
	k.intData = x.isInt()
	k.op = b.node.GetOpType()
	return &built{k: k, out: one(x.dt, x.shape), alias: -1, flops: int64(numel(x.shape))}, nil
}

// buildClip handles both forms: attributes min/max (opset < 11) and optional
// inputs min/max (opset >= 11), which must be known at compile time.
func buildClip(b *buildCtx) (*built, error) {
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if b.opset < 11 {
		lo, hi = b.attrFloat("min", lo), b.attrFloat("max", hi)
	} else {
		if v, ok, err := b.constFloats(1); err != nil {
			return nil, err
		} else if ok {
			if len(v) != 1 {
				return nil, invalid("Clip min must be a scalar")
			}
			lo = v[0]
		}
		if v, ok, err := b.constFloats(2); err != nil {
			return nil, err
		} else if ok {
			if len(v) != 1 {
				return nil, invalid("Clip max must be a scalar")
			}
			hi = v[0]
		}
	}
	k := &unaryKernel{clip: true, lo: lo, hi: hi}
	if b.in[0] != nil && b.in[0].isInt() {
		l, h := int64(lo), int64(hi)
		if math.IsInf(float64(lo), -1) {
			l = math.MinInt64
		}
		if math.IsInf(float64(hi), 1) {
			h = math.MaxInt64
		}
		k.fi = func(x int64) int64 { return min(max(x, l), h) }
	}
	return unary(b, k)
}

// clampRange writes min(max(s[j], lo), hi) to d[j] (vecClamp: branch-free,
// SIMD where available). NaN stays NaN.
func clampRange(d, s []float32, lo, hi float32) {
	vecClamp(d[:len(s)], s, lo, hi)
}
