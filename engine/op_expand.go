package engine

// expandKernel broadcasts x to shape (bidirectionally, as Expand does):
// out[i] = x[broadcast index of i].
type expandKernel struct {
	shape   []int
	strides []int
}

func buildExpand(b *buildCtx) (*built, error) {
	if err := b.need(2); err != nil {
		return nil, err
	}
	s, _, err := b.constInts(1)
	if err != nil {
		return nil, err
	}
	x := b.in[0]
	out, err := broadcastShapes(x.shape, ints(s))
	if err != nil {
		return nil, err
	}
	return &built{k: &expandKernel{shape: out, strides: broadcastStrides(x.shape, out)}, out: one(x.dt, out), alias: -1}, nil
}

// broadcastStrides returns, for each dim of out, the stride of the input of
// shape in broadcast to it (0 along broadcast dims).
func broadcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	is := stridesOf(in)
	off := len(out) - len(in)
	for i, d := range in {
		if d != 1 {
			st[off+i] = is[i]
		}
	}
	return st
}

func (k *expandKernel) forward(_ *exec, in, out []*data) {
	gatherStrided(out[0], in[0], k.shape, k.strides, 0)
}

// tileKernel repeats x along every axis: out[i] = x[i mod shape(x)].
type tileKernel struct {
	in, out []int
}

func buildTile(b *buildCtx) (*built, error) {
	if err := b.need(2); err != nil {
		return nil, err
	}
	reps, _, err := b.constInts(1)
	if err != nil {
		return nil, err
	}
	x := b.in[0]
	if len(reps) != len(x.shape) {
		return nil, invalid("Tile repeats %v for shape %v", reps, x.shape)
	}
	out := make([]int, len(x.shape))
	for i, r := range reps {
		if r < 0 {
			return nil, invalid("Tile repeats %v", reps)
		}
		out[i] = x.shape[i] * int(r)
	}
	return &built{k: &tileKernel{in: x.shape, out: out}, out: one(x.dt, out), alias: -1}, nil
}

func (k *tileKernel) forward(_ *exec, in, out []*data) {
	n := numel(k.out)
	if n == 0 {
		return
	}
	is := stridesOf(k.in)
	idx := make([]int, len(k.out))
	for o := 0; o < n; o++ {
		src := 0
		for d, i := range idx {
			src += (i % k.in[d]) * is[d]
		}
		if out[0].f != nil {
			out[0].f[o] = in[0].f[src]
		} else {
			out[0].i[o] = in[0].i[src]
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
