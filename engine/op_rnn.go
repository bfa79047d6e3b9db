package engine

import (
	"math"
	"strings"
)

// Recurrent ops: ONNX LSTM and GRU (https://onnx.ai/onnx/operators/onnx__LSTM.html,
// https://onnx.ai/onnx/operators/onnx__GRU.html), every attribute of opset 14:
// direction (forward, reverse, bidirectional), layout, hidden_size,
// activations with activation_alpha/activation_beta, clip, input_forget
// (LSTM), linear_before_reset (GRU); every input (B, sequence_lens,
// initial_h, initial_c, peepholes P) and output (Y, Y_h, Y_c).
//
// For one direction, with gates stacked in W, R, B in the ONNX order (LSTM
// i, o, f, c; GRU z, r, h), f, g, h the direction's activations and
// clip(v) = min(max(v, -clip), clip) applied to every activation's input:
//
//	LSTM: i = f(clip(x·Wiᵀ + h·Riᵀ + Pi⊙c + Wbi + Rbi))
//	      f = f(clip(x·Wfᵀ + h·Rfᵀ + Pf⊙c + Wbf + Rbf))   (1 − i with input_forget)
//	      ĉ = g(clip(x·Wcᵀ + h·Rcᵀ + Wbc + Rbc))
//	      c' = f⊙c + i⊙ĉ
//	      o = f(clip(x·Woᵀ + h·Roᵀ + Po⊙c' + Wbo + Rbo))
//	      h' = o⊙h(c')
//	GRU:  z = f(clip(x·Wzᵀ + h·Rzᵀ + Wbz + Rbz))
//	      r = f(clip(x·Wrᵀ + h·Rrᵀ + Wbr + Rbr))
//	      ĥ = g(clip(x·Whᵀ + (r⊙h)·Rhᵀ + Rbh + Wbh))      linear_before_reset = 0
//	      ĥ = g(clip(x·Whᵀ + r⊙(h·Rhᵀ + Rbh) + Wbh))      linear_before_reset ≠ 0
//	      h' = (1 − z)⊙ĥ + z⊙h
//
// A batch entry b steps over t < sequence_lens[b] only (the reverse
// direction from sequence_lens[b]−1 down to 0); Y is zero at the other
// steps and Y_h, Y_c hold the state after its last step. The input
// projection x·Wᵀ of every step is one SGEMM per direction; the recurrent
// part runs step by step. The test's rnnRef is the spec, in float64.

type rnnCell int

const (
	cellLSTM rnnCell = iota
	cellGRU
)

// rnnKernel runs one LSTM or GRU node.
type rnnKernel struct {
	cell                rnnCell
	seq, batch, in, hid int
	gates               int // 4 (LSTM) or 3 (GRU)
	reverse             []bool
	acts                [][]rnnAct // per direction: f, g(, h)
	clip                float32    // 0: none
	inputForget, lbr    bool
	batchFirst          bool // layout 1
	hasB, hasLens, hasP bool
	hasH0, hasC0        bool
	xwOff, biasOff      int // scratch layout
	hOff, cOff, gOff    int
	tOff, uOff          int
}

// rnnAct is one of the activation functions of ONNX's RNN ops.
type rnnAct struct {
	name        string // lower case
	alpha, beta float32
}

// rnnActArgs is, per activation, how many of activation_alpha and
// activation_beta it reads and their defaults (those of ONNX Runtime, which
// takes the lists in order, each function the values it uses).
var rnnActArgs = map[string]struct {
	na, nb      int
	alpha, beta float32
}{
	"relu": {}, "tanh": {}, "sigmoid": {}, "softsign": {}, "softplus": {},
	"affine": {1, 1, 1, 0}, "leakyrelu": {1, 0, 0.01, 0}, "thresholdedrelu": {1, 0, 1, 0},
	"scaledtanh": {1, 1, 1, 1}, "hardsigmoid": {1, 1, 0.2, 0.5}, "elu": {1, 0, 1, 0},
}

// apply computes v[i] = act(v[i]) in place.
func (a rnnAct) apply(v []float32) {
	switch a.name {
	case "sigmoid":
		vecSigmoid(v, v)
	case "tanh":
		// tanh(x) = 2·sigmoid(2x) − 1 with the vector sigmoid: within
		// 1e-6 of math.Tanh (TestRNNTanh), at a fraction of its cost.
		vecMulScalar(v, v, 2)
		vecSigmoid(v, v)
		vecScaleShift(v, v, 2, -1)
	case "relu":
		for i, x := range v {
			v[i] = max(x, 0)
		}
	case "affine":
		for i, x := range v {
			v[i] = a.alpha*x + a.beta
		}
	case "leakyrelu":
		for i, x := range v {
			if x < 0 {
				v[i] = a.alpha * x
			}
		}
	case "thresholdedrelu":
		for i, x := range v {
			if x <= a.alpha {
				v[i] = 0
			}
		}
	case "scaledtanh":
		for i, x := range v {
			v[i] = a.alpha * float32(math.Tanh(float64(a.beta*x)))
		}
	case "hardsigmoid":
		for i, x := range v {
			v[i] = min(max(a.alpha*x+a.beta, 0), 1)
		}
	case "elu":
		for i, x := range v {
			if x < 0 {
				v[i] = a.alpha * float32(math.Expm1(float64(x)))
			}
		}
	case "softsign":
		for i, x := range v {
			v[i] = x / (1 + float32(math.Abs(float64(x))))
		}
	case "softplus":
		for i, x := range v {
			v[i] = float32(math.Log1p(math.Exp(float64(x))))
		}
	default:
		panic("engine: unknown RNN activation " + a.name)
	}
}

// rnnSlots are the input slots of the optional inputs.
const (
	rnnSlotB    = 3
	rnnSlotLens = 4
	rnnSlotH0   = 5
	rnnSlotC0   = 6 // LSTM
	rnnSlotP    = 7 // LSTM
)

func buildLSTM(b *buildCtx) (*built, error) { return buildRNN(b, cellLSTM) }
func buildGRU(b *buildCtx) (*built, error)  { return buildRNN(b, cellGRU) }

func buildRNN(b *buildCtx, cell rnnCell) (*built, error) {
	op := b.node.GetOpType()
	if err := b.need(3); err != nil {
		return nil, err
	}
	k := &rnnKernel{cell: cell, gates: 4}
	nActs, maxIn, maxOut := 3, 8, 3
	defActs := []string{"sigmoid", "tanh", "tanh"}
	if cell == cellGRU {
		k.gates, nActs, maxIn, maxOut = 3, 2, 6, 2
		defActs = defActs[:2]
	}
	if len(b.in) > maxIn {
		return nil, invalid("%s has %d inputs, at most %d", op, len(b.in), maxIn)
	}
	if b.nOut > maxOut {
		return nil, invalid("%s has %d outputs, at most %d", op, b.nOut, maxOut)
	}
	floatSlots := []int{0, 1, 2, rnnSlotB, rnnSlotH0, rnnSlotC0, rnnSlotP}
	if err := b.floatInputs(floatSlots[:len(floatSlots)-2*int(cell)]...); err != nil {
		return nil, err
	}
	x, w, r := b.in[0], b.in[1], b.in[2]
	if len(x.shape) != 3 || len(w.shape) != 3 || len(r.shape) != 3 {
		return nil, invalid("%s X %v, W %v, R %v: each must have rank 3", op, x.shape, w.shape, r.shape)
	}
	switch l := b.attrInt("layout", 0); l {
	case 0:
	case 1:
		k.batchFirst = true
	default:
		return nil, invalid("%s layout %d (0 or 1)", op, l)
	}
	k.seq, k.batch, k.in = x.shape[0], x.shape[1], x.shape[2]
	if k.batchFirst {
		k.seq, k.batch = k.batch, k.seq
	}
	switch dir := b.attrString("direction", "forward"); dir {
	case "forward":
		k.reverse = []bool{false}
	case "reverse":
		k.reverse = []bool{true}
	case "bidirectional":
		k.reverse = []bool{false, true}
	default:
		return nil, invalid("%s direction %q (forward, reverse or bidirectional)", op, dir)
	}
	dirs := len(k.reverse)
	k.hid = r.shape[2]
	if b.has("hidden_size") {
		k.hid = int(b.attrInt("hidden_size", 0))
	}
	gh := k.gates * k.hid
	if k.hid <= 0 {
		return nil, invalid("%s hidden_size %d", op, k.hid)
	}
	if !sameShape(w.shape, []int{dirs, gh, k.in}) {
		return nil, invalid("%s W %v, want [%d %d %d] (directions, %d·hidden_size, input size)", op, w.shape, dirs, gh, k.in, k.gates)
	}
	if !sameShape(r.shape, []int{dirs, gh, k.hid}) {
		return nil, invalid("%s R %v, want [%d %d %d] (directions, %d·hidden_size, hidden_size)", op, r.shape, dirs, gh, k.hid, k.gates)
	}
	if v := b.input(rnnSlotB); v != nil {
		if !sameShape(v.shape, []int{dirs, 2 * gh}) {
			return nil, invalid("%s B %v, want [%d %d]", op, v.shape, dirs, 2*gh)
		}
		k.hasB = true
	}
	if v := b.input(rnnSlotLens); v != nil {
		if !v.isInt() || !sameShape(v.shape, []int{k.batch}) {
			return nil, invalid("%s sequence_lens is %v %v, want integers [%d]", op, v.dt, v.shape, k.batch)
		}
		k.hasLens = true
	}
	stateShape := []int{dirs, k.batch, k.hid}
	if k.batchFirst {
		stateShape = []int{k.batch, dirs, k.hid}
	}
	if v := b.input(rnnSlotH0); v != nil {
		if !sameShape(v.shape, stateShape) {
			return nil, invalid("%s initial_h %v, want %v", op, v.shape, stateShape)
		}
		k.hasH0 = true
	}
	if cell == cellLSTM {
		if v := b.input(rnnSlotC0); v != nil {
			if !sameShape(v.shape, stateShape) {
				return nil, invalid("%s initial_c %v, want %v", op, v.shape, stateShape)
			}
			k.hasC0 = true
		}
		if v := b.input(rnnSlotP); v != nil {
			if !sameShape(v.shape, []int{dirs, 3 * k.hid}) {
				return nil, invalid("%s P %v, want [%d %d]", op, v.shape, dirs, 3*k.hid)
			}
			k.hasP = true
		}
		k.inputForget = b.attrInt("input_forget", 0) != 0
	} else {
		k.lbr = b.attrInt("linear_before_reset", 0) != 0
	}
	if b.has("clip") {
		k.clip = b.attrFloat("clip", 0)
		if !(k.clip > 0) {
			return nil, invalid("%s clip %g: it must be > 0", op, k.clip)
		}
	}
	if err := k.parseActs(b, nActs, defActs); err != nil {
		return nil, err
	}
	// Scratch: the input projection of every step, the summed bias, and per
	// batch entry the state; one row of gates and two hidden-size rows.
	k.xwOff, k.biasOff = 0, k.seq*k.batch*gh
	k.hOff = k.biasOff + gh
	k.cOff = k.hOff + k.batch*k.hid
	k.gOff = k.cOff + k.batch*k.hid
	k.tOff = k.gOff + gh
	k.uOff = k.tOff + k.hid
	scratch := k.uOff + k.hid
	if err := checkShape([]int{scratch}); err != nil {
		return nil, err
	}
	var y []int
	if k.batchFirst {
		y = []int{k.batch, k.seq, dirs, k.hid}
	} else {
		y = []int{k.seq, dirs, k.batch, k.hid}
	}
	outs := []outSpec{{x.dt, y}, {x.dt, stateShape}}
	if cell == cellLSTM {
		outs = append(outs, outSpec{x.dt, cloneInts(stateShape)})
	}
	macs := int64(dirs) * int64(k.seq) * int64(k.batch) * int64(gh) * int64(k.in+k.hid)
	return &built{k: k, out: outs, alias: -1, scratch: scratch, macs: macs, flops: 2*macs + 10*int64(dirs*k.seq*k.batch*gh)}, nil
}

// parseActs reads activations, activation_alpha and activation_beta: n
// functions per direction; each function takes its alpha and beta, if it
// has them, from the front of the lists, else its default.
func (k *rnnKernel) parseActs(b *buildCtx, n int, defs []string) error {
	op, dirs := b.node.GetOpType(), len(k.reverse)
	var names []string
	if a, ok := b.attrs["activations"]; ok {
		for _, s := range a.GetStrings() {
			names = append(names, strings.ToLower(string(s)))
		}
		if len(names) != n*dirs {
			return invalid("%s has %d activations, want %d (%d per direction)", op, len(names), n*dirs, n)
		}
	} else {
		for range dirs {
			names = append(names, defs...)
		}
	}
	var alphas, betas []float32
	if a, ok := b.attrs["activation_alpha"]; ok {
		alphas = a.GetFloats()
	}
	if a, ok := b.attrs["activation_beta"]; ok {
		betas = a.GetFloats()
	}
	k.acts = make([][]rnnAct, dirs)
	for i, name := range names {
		args, ok := rnnActArgs[name]
		if !ok {
			return notImpl("%s activation %q", op, name)
		}
		act := rnnAct{name: name, alpha: args.alpha, beta: args.beta}
		if args.na > 0 && len(alphas) > 0 {
			act.alpha, alphas = alphas[0], alphas[1:]
		}
		if args.nb > 0 && len(betas) > 0 {
			act.beta, betas = betas[0], betas[1:]
		}
		k.acts[i/n] = append(k.acts[i/n], act)
	}
	return nil
}

func (k *rnnKernel) forward(x *exec, in, out []*data) {
	gh, hid := k.gates*k.hid, k.hid
	var y, yh, yc []float32
	if len(out) > 0 && out[0] != nil {
		y = out[0].f
		clear(y)
	}
	if len(out) > 1 && out[1] != nil {
		yh = out[1].f
	}
	if len(out) > 2 && out[2] != nil {
		yc = out[2].f
	}
	opt := func(slot int, has bool) []float32 {
		if !has {
			return nil
		}
		return in[slot].f
	}
	bias, h0, c0, peep := opt(rnnSlotB, k.hasB), opt(rnnSlotH0, k.hasH0), opt(rnnSlotC0, k.hasC0), opt(rnnSlotP, k.hasP)
	s := x.scratch
	xw, bsum := s[k.xwOff:k.biasOff], s[k.biasOff:k.hOff]
	hs, cs := s[k.hOff:k.cOff], s[k.cOff:k.gOff]
	g, tmp, tmp2 := s[k.gOff:k.tOff], s[k.tOff:k.uOff], s[k.uOff:k.uOff+hid]
	dirs := len(k.reverse)
	// stateAt is the offset of (direction d, batch b) in initial_h, Y_h.
	stateAt := func(d, b int) int {
		if k.batchFirst {
			return (b*dirs + d) * hid
		}
		return (d*k.batch + b) * hid
	}
	rowOf := func(t, b int) int { // row of X and xw
		if k.batchFirst {
			return b*k.seq + t
		}
		return t*k.batch + b
	}
	yAt := func(t, d, b int) int {
		if k.batchFirst {
			return ((b*k.seq+t)*dirs + d) * hid
		}
		return ((t*dirs+d)*k.batch + b) * hid
	}
	for d, rev := range k.reverse {
		w := in[1].f[d*gh*k.in : (d+1)*gh*k.in]
		r := in[2].f[d*gh*hid : (d+1)*gh*hid]
		act := k.acts[d]
		sgemm(false, true, k.seq*k.batch, gh, k.in, 1, in[0].f, k.in, w, k.in, 0, xw, gh, x.threads)
		var rbh []float32 // GRU with linear_before_reset: Rbh stays apart
		if bias != nil {
			wb, rb := bias[d*2*gh:d*2*gh+gh], bias[d*2*gh+gh:(d+1)*2*gh]
			vecAdd(bsum, wb, rb)
			if k.cell == cellGRU && k.lbr {
				copy(bsum[2*hid:], wb[2*hid:])
				rbh = rb[2*hid:]
			}
			for row := 0; row < k.seq*k.batch; row++ {
				vecAdd(xw[row*gh:(row+1)*gh], xw[row*gh:(row+1)*gh], bsum)
			}
		}
		var pi, po, pf []float32
		if peep != nil {
			p := peep[d*3*hid : (d+1)*3*hid]
			pi, po, pf = p[:hid], p[hid:2*hid], p[2*hid:]
		}
		for b := 0; b < k.batch; b++ {
			h, c := hs[b*hid:(b+1)*hid], cs[b*hid:(b+1)*hid]
			if h0 != nil {
				copy(h, h0[stateAt(d, b):])
			} else {
				clear(h)
			}
			if c0 != nil {
				copy(c, c0[stateAt(d, b):])
			} else {
				clear(c)
			}
			steps := k.seq
			if k.hasLens {
				steps = int(min(max(in[rnnSlotLens].i[b], 0), int64(k.seq)))
			}
			for s := 0; s < steps; s++ {
				t := s
				if rev {
					t = steps - 1 - s
				}
				copy(g, xw[rowOf(t, b)*gh:(rowOf(t, b)+1)*gh])
				if k.cell == cellLSTM {
					k.lstmStep(act, g, h, c, r, pi, po, pf)
				} else {
					k.gruStep(act, g, h, r, rbh, tmp, tmp2)
				}
				if y != nil {
					copy(y[yAt(t, d, b):yAt(t, d, b)+hid], h)
				}
			}
			if yh != nil {
				copy(yh[stateAt(d, b):stateAt(d, b)+hid], h)
			}
			if yc != nil {
				copy(yc[stateAt(d, b):stateAt(d, b)+hid], c)
			}
		}
	}
}

// recur adds h·R[rows]ᵀ to g, one dot product per gate row.
func recur(g, h, r []float32, hid int) {
	for j := range g {
		g[j] += vecDot(h, r[j*hid:(j+1)*hid])
	}
}

func (k *rnnKernel) clamp(v []float32) {
	if k.clip > 0 {
		vecClamp(v, v, -k.clip, k.clip)
	}
}

// lstmStep advances h and c by one step; g holds x·Wᵀ + Wb + Rb.
func (k *rnnKernel) lstmStep(act []rnnAct, g, h, c, r, pi, po, pf []float32) {
	hid := k.hid
	recur(g, h, r, hid)
	gi, gO, gf, gc := g[:hid], g[hid:2*hid], g[2*hid:3*hid], g[3*hid:]
	if pi != nil {
		for j := range gi {
			gi[j] += pi[j] * c[j]
			gf[j] += pf[j] * c[j]
		}
	}
	k.clamp(gi)
	act[0].apply(gi)
	if k.inputForget {
		for j, v := range gi {
			gf[j] = 1 - v
		}
	} else {
		k.clamp(gf)
		act[0].apply(gf)
	}
	k.clamp(gc)
	act[1].apply(gc)
	for j := range c {
		c[j] = gf[j]*c[j] + gi[j]*gc[j]
	}
	if po != nil {
		for j := range gO {
			gO[j] += po[j] * c[j]
		}
	}
	k.clamp(gO)
	act[0].apply(gO)
	copy(h, c)
	act[2].apply(h)
	vecMul(h, h, gO)
}

// gruStep advances h by one step; g holds x·Wᵀ + Wb + Rb (without Rbh
// when linear_before_reset, rbh then).
func (k *rnnKernel) gruStep(act []rnnAct, g, h, r, rbh, tmp, tmp2 []float32) {
	hid := k.hid
	gz, gr, gh := g[:hid], g[hid:2*hid], g[2*hid:]
	recur(g[:2*hid], h, r, hid)
	k.clamp(g[:2*hid])
	act[0].apply(g[:2*hid])
	rh := r[2*hid*hid:]
	if k.lbr {
		clear(tmp)
		recur(tmp, h, rh, hid)
		if rbh != nil {
			vecAdd(tmp, tmp, rbh)
		}
		vecMul(tmp, tmp, gr)
		vecAdd(gh, gh, tmp)
	} else {
		vecMul(tmp2, gr, h)
		recur(gh, tmp2, rh, hid)
	}
	k.clamp(gh)
	act[1].apply(gh)
	for j := range h {
		h[j] = (1-gz[j])*gh[j] + gz[j]*h[j]
	}
}
