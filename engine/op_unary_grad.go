package engine

// Backward of the elementwise activations, dx = δ·f'(x):
//
//	Relu        δ·[x > 0]                 (read from y > 0)
//	LeakyRelu   δ·(x < 0 ? alpha : 1)
//	Clip        δ·[lo ≤ x ≤ hi]           (torch's clamp: the bounds pass the gradient)
//	Sigmoid     δ·y·(1 − y)
//	Tanh        δ·(1 − y²)
//	HardSigmoid δ·alpha·[0 < alpha·x + beta < 1]
//	HardSwish   δ·(x < −3 ? 0 : x > 3 ? 1 : (2x + 3)/6)
func (k *unaryKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	d, g := dOut[0].f, dIn[0].f
	xs, ys := in[0].f, out[0].f
	threads := x.threads
	if len(d) < 1<<15 {
		threads = 1
	}
	parallelFor(len(d), threads, func(lo, hi int) {
		switch k.op {
		case "Relu":
			for i := lo; i < hi; i++ {
				if ys[i] > 0 {
					g[i] += d[i]
				}
			}
		case "LeakyRelu":
			for i := lo; i < hi; i++ {
				if xs[i] < 0 {
					g[i] += k.alpha * d[i]
				} else {
					g[i] += d[i]
				}
			}
		case "Clip":
			for i := lo; i < hi; i++ {
				if v := xs[i]; v >= k.lo && v <= k.hi {
					g[i] += d[i]
				}
			}
		case "Sigmoid":
			for i := lo; i < hi; i++ {
				g[i] += d[i] * ys[i] * (1 - ys[i])
			}
		case "Tanh":
			for i := lo; i < hi; i++ {
				g[i] += d[i] * (1 - ys[i]*ys[i])
			}
		case "HardSigmoid":
			for i := lo; i < hi; i++ {
				if v := k.alpha*xs[i] + k.beta; v > 0 && v < 1 {
					g[i] += k.alpha * d[i]
				}
			}
		case "HardSwish":
			for i := lo; i < hi; i++ {
				switch v := xs[i]; {
				case v < -3:
				case v > 3:
					g[i] += d[i]
				default:
					g[i] += d[i] * (2*v + 3) / 6
				}
			}
		default:
			panic("engine: no backward for unary " + k.op)
		}
	})
}

// tapeNeeds: Relu, Sigmoid and Tanh read y, the others x.
func (k *unaryKernel) tapeNeeds() (in, out uint64) {
	switch k.op {
	case "Relu", "Sigmoid", "Tanh":
		return 0, 1
	}
	return 1, 0
}
