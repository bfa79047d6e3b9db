package engine

import "math"

type reduceKind int

const (
	reduceSum reduceKind = iota
	reduceMean
	reduceMax
)

// reduceKernel is ReduceSum / ReduceMean / ReduceMax over a set of axes:
//
//	out[j] = Σ / mean / max of x[i] over the i that map to j
//
// (j is i with the reduced coordinates set to 0). The loop walks x once and
// accumulates into out through broadcast strides.
type reduceKernel struct {
	kind  reduceKind
	bc    *bcast // iterates x; input 0 is out with reduced dims broadcast
	count int    // elements reduced into each output
	isInt bool
}

func buildReduce(kind reduceKind) opBuilder {
	return func(b *buildCtx) (*built, error) {
		if err := b.need(1); err != nil {
			return nil, err
		}
		x := b.in[0]
		inputFrom := int64(18)
		if kind == reduceSum {
			inputFrom = 13
		}
		axes, ok, err := axesArg(b, inputFrom)
		if err != nil {
			return nil, err
		}
		keep := b.attrInt("keepdims", 1) != 0
		r := len(x.shape)
		red := make([]bool, r)
		if !ok || len(axes) == 0 {
			if b.attrInt("noop_with_empty_axes", 0) != 0 {
				return view(b, x.shape)
			}
			for i := range red {
				red[i] = true
			}
		}
		for _, a := range axes {
			ax, err := normAxis(a, r)
			if err != nil {
				return nil, err
			}
			red[ax] = true
		}
		keepShape := cloneInts(x.shape)
		var out []int
		count := 1
		for i, d := range x.shape {
			if red[i] {
				keepShape[i] = 1
				count *= d
				if keep {
					out = append(out, 1)
				}
			} else {
				out = append(out, d)
			}
		}
		if x.isInt() && kind == reduceMean {
			return nil, notImpl("integer ReduceMean")
		}
		k := &reduceKernel{kind: kind, bc: newBcast(x.shape, keepShape, x.shape), count: count, isInt: x.isInt()}
		return &built{k: k, out: one(x.dt, out), alias: -1, flops: int64(numel(x.shape))}, nil
	}
}

func (k *reduceKernel) forward(_ *exec, in, out []*data) {
	o := out[0]
	if k.isInt {
		init := int64(0)
		if k.kind == reduceMax {
			init = math.MinInt64
		}
		for j := range o.i {
			o.i[j] = init
		}
		k.bc.rows(func(_ int, offs []int, n int, step []int) {
			for j := 0; j < n; j++ {
				v, p := in[0].i[offs[1]+j*step[1]], &o.i[offs[0]+j*step[0]]
				if k.kind == reduceMax {
					*p = max(*p, v)
				} else {
					*p += v
				}
			}
		})
		return
	}
	// Accumulate in float64 for sums; max in float32.
	if k.kind == reduceMax {
		fill(o.f, float32(math.Inf(-1)))
		k.bc.rows(func(_ int, offs []int, n int, step []int) {
			for j := 0; j < n; j++ {
				v, p := in[0].f[offs[1]+j*step[1]], &o.f[offs[0]+j*step[0]]
				if v > *p || v != v {
					*p = v
				}
			}
		})
		return
	}
	acc := make([]float64, len(o.f))
	k.bc.rows(func(_ int, offs []int, n int, step []int) {
		a, s0 := acc[offs[0]:], step[0]
		x, s1 := in[0].f[offs[1]:], step[1]
		for j := 0; j < n; j++ {
			a[j*s0] += float64(x[j*s1])
		}
	})
	scale := 1.0
	if k.kind == reduceMean && k.count > 0 {
		scale = 1 / float64(k.count)
	}
	for j, v := range acc {
		o.f[j] = float32(v * scale)
	}
}
