package engine

import (
	"math"

	"github.com/edgeprune/edgeprune/onnxio"
)

// binOp is an elementwise binary operator with numpy broadcasting.
type binOp int

const (
	binAdd binOp = iota
	binSub
	binMul
	binDiv
	binPow
	binMax
	binMin
	binPRelu // x if x >= 0 else slope*x
	binMod
	// Comparisons and logic (bool results) come last: see isCompare.
	binEqual
	binLess
	binGreater
	binLessEq
	binGreaterEq
	binAnd
	binOr
	binXor
)

var binNames = map[string]binOp{
	"Add": binAdd, "Sub": binSub, "Mul": binMul, "Div": binDiv, "Pow": binPow,
	"PRelu": binPRelu, "Equal": binEqual, "Less": binLess, "Greater": binGreater,
	"LessOrEqual": binLessEq, "GreaterOrEqual": binGreaterEq, "And": binAnd, "Or": binOr, "Xor": binXor,
	"Mod": binMod,
}

func (op binOp) isCompare() bool { return op >= binEqual }

func registerElementwise(r registry) {
	for name, op := range binNames {
		r.add(name, buildBinary(op))
	}
	r.add("Max", buildVariadic(binMax))
	r.add("Min", buildVariadic(binMin))
	r.add("Sum", buildVariadic(binAdd))
	r.add("Mean", buildVariadic(-1))
	r.add("Where", buildWhere)
}

// binaryKernel computes out = a op b with broadcasting.
//
// Reference loop, for every output index i (a and b indexed through their
// broadcast strides):
//
//	out[i] = f(a[ia(i)], b[ib(i)])
type binaryKernel struct {
	op     binOp
	bc     *bcast
	intIn  bool // operands stored as int64
	fmod   bool // Mod with fmod=1
	outInt bool
}

func buildBinary(op binOp) opBuilder {
	return func(b *buildCtx) (*built, error) {
		if err := b.need(2); err != nil {
			return nil, err
		}
		x, y := b.in[0], b.in[1]
		if x.isInt() != y.isInt() {
			return nil, invalid("operand types %v and %v differ", x.dt, y.dt)
		}
		if op == binPow && x.isInt() {
			return nil, notImpl("integer Pow")
		}
		if b.opset < 7 && b.has("broadcast") && b.attrInt("broadcast", 0) == 1 && b.has("axis") {
			return nil, notImpl("legacy broadcast with axis (opset < 7)")
		}
		shape, err := broadcastShapes(x.shape, y.shape)
		if err != nil {
			return nil, err
		}
		dt := x.dt
		if op.isCompare() {
			dt = onnxio.Bool
		}
		k := &binaryKernel{op: op, bc: newBcast(shape, x.shape, y.shape), intIn: x.isInt(), fmod: b.attrInt("fmod", 0) == 1, outInt: isIntType(dt)}
		return &built{k: k, out: one(dt, shape), alias: -1, flops: int64(numel(shape))}, nil
	}
}

func (k *binaryKernel) forward(x *exec, in, out []*data) {
	a, b, o := in[0], in[1], out[0]
	if bc := k.bc; !k.intIn && !k.outInt && len(bc.dims) == 1 && x.threads > 1 && bc.n >= parallelMinElems {
		// One coalesced row (same shapes, or a scalar operand): split it.
		sa, sb := bc.strides[0][0], bc.strides[1][0]
		run := func(lo, hi int) {
			binRow(k.op, o.f[lo:hi], a.f[lo*sa:], b.f[lo*sb:], sa, sb, k.fmod)
		}
		if planeSpans(o.shape, x.threads, run) { // over the planes, as the convolutions split them
			return
		}
		parallelFor(bc.n, x.threads, run)
		return
	}
	row := func(off int, offs []int, n int, step []int) {
		if k.intIn {
			binRowInt(k.op, o.i[off:off+n], a.i[offs[0]:], b.i[offs[1]:], step[0], step[1], k.fmod)
		} else if k.outInt {
			cmpRow(k.op, o.i[off:off+n], a.f[offs[0]:], b.f[offs[1]:], step[0], step[1])
		} else {
			binRow(k.op, o.f[off:off+n], a.f[offs[0]:], b.f[offs[1]:], step[0], step[1], k.fmod)
		}
	}
	if nr := k.bc.nrows(); x.threads > 1 && nr > 1 && k.bc.n >= parallelMinElems && k.planeRows(x, o.shape, row) {
		return
	} else if x.threads > 1 && nr > 1 && k.bc.n >= parallelMinElems {
		// Broadcast rows (a per-channel scale or bias over the planes, an
		// attention map over the channels): split the rows.
		parallelFor(nr, x.threads, func(lo, hi int) { k.bc.rowRange(lo, hi, row) })
		return
	}
	k.bc.rows(row)
}

// binRow applies op along one row: dst[j] = a[j*sa] op b[j*sb].
func binRow(op binOp, dst, a, b []float32, sa, sb int, fmod bool) {
	n := len(dst)
	if sa == 1 && sb == 1 {
		a, b = a[:n], b[:n]
		switch op {
		case binAdd:
			vecAdd(dst, a, b)
			return
		case binSub:
			vecSub(dst, a, b)
			return
		case binMul:
			vecMul(dst, a, b)
			return
		case binDiv:
			vecDiv(dst, a, b)
			return
		}
	}
	if sa == 1 && sb == 0 {
		a, bv := a[:n], b[0]
		switch op {
		case binAdd:
			vecAddScalar(dst, a, bv)
			return
		case binSub:
			vecAddScalar(dst, a, -bv) // a − b == a + (−b) exactly
			return
		case binMul:
			vecMulScalar(dst, a, bv)
			return
		case binDiv:
			vecDivScalar(dst, a, bv)
			return
		}
	}
	if sa == 0 && sb == 1 {
		// Addition and multiplication commute exactly.
		switch op {
		case binAdd:
			vecAddScalar(dst, b[:n], a[0])
			return
		case binMul:
			vecMulScalar(dst, b[:n], a[0])
			return
		}
	}
	for j := range dst {
		x, y := a[j*sa], b[j*sb]
		var r float32
		switch op {
		case binAdd:
			r = x + y
		case binSub:
			r = x - y
		case binMul:
			r = x * y
		case binDiv:
			r = x / y
		case binPow:
			r = powf(x, y)
		case binMax:
			r = maxNaN(x, y)
		case binMin:
			r = minNaN(x, y)
		case binPRelu:
			r = x
			if x < 0 {
				r = x * y
			}
		case binMod:
			m := float32(math.Mod(float64(x), float64(y)))
			if !fmod && m != 0 && (m < 0) != (y < 0) {
				m += y
			}
			r = m
		}
		dst[j] = r
	}
}

func powf(x, y float32) float32 {
	switch y {
	case 2:
		return x * x
	case 1:
		return x
	case 0.5:
		return float32(math.Sqrt(float64(x)))
	}
	return float32(math.Pow(float64(x), float64(y)))
}

func maxNaN(x, y float32) float32 {
	if x != x || y != y {
		return float32(math.NaN())
	}
	return max(x, y)
}

func minNaN(x, y float32) float32 {
	if x != x || y != y {
		return float32(math.NaN())
	}
	return min(x, y)
}

// cmpRow compares float rows into a bool (0/1) row.
func cmpRow(op binOp, dst []int64, a, b []float32, sa, sb int) {
	for j := range dst {
		x, y := a[j*sa], b[j*sb]
		var r bool
		switch op {
		case binEqual:
			r = x == y
		case binLess:
			r = x < y
		case binGreater:
			r = x > y
		case binLessEq:
			r = x <= y
		case binGreaterEq:
			r = x >= y
		case binAnd:
			r = x != 0 && y != 0
		case binOr:
			r = x != 0 || y != 0
		case binXor:
			r = (x != 0) != (y != 0)
		}
		dst[j] = b2i(r)
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// binRowInt applies op to int64 rows. Division by zero yields 0 (the input
// is data, so it must not panic).
func binRowInt(op binOp, dst, a, b []int64, sa, sb int, fmod bool) {
	for j := range dst {
		x, y := a[j*sa], b[j*sb]
		var r int64
		switch op {
		case binAdd:
			r = x + y
		case binSub:
			r = x - y
		case binMul:
			r = x * y
		case binDiv:
			if y != 0 {
				r = x / y
			}
		case binMax:
			r = max(x, y)
		case binMin:
			r = min(x, y)
		case binPRelu:
			r = x
			if x < 0 {
				r = x * y
			}
		case binMod:
			if y != 0 {
				r = x % y
				if !fmod && r != 0 && (r < 0) != (y < 0) {
					r += y
				}
			}
		case binEqual:
			r = b2i(x == y)
		case binLess:
			r = b2i(x < y)
		case binGreater:
			r = b2i(x > y)
		case binLessEq:
			r = b2i(x <= y)
		case binGreaterEq:
			r = b2i(x >= y)
		case binAnd:
			r = b2i(x != 0 && y != 0)
		case binOr:
			r = b2i(x != 0 || y != 0)
		case binXor:
			r = b2i((x != 0) != (y != 0))
		}
		dst[j] = r
	}
}

// variadicKernel folds Max/Min/Sum/Mean over any number of broadcast inputs:
//
//	out = in[0] op in[1] op ... (Mean: Sum / len(in))
type variadicKernel struct {
	op    binOp
	mean  bool
	bcs   []*bcast // bcs[0]: in[0] to out; bcs[i]: (out, in[i]) to out
	intIn bool
}

func buildVariadic(op binOp) opBuilder {
	return func(b *buildCtx) (*built, error) {
		if len(b.in) == 0 {
			return nil, invalid("no inputs")
		}
		if err := b.need(len(b.in)); err != nil {
			return nil, err
		}
		shapes := make([][]int, len(b.in))
		for i, v := range b.in {
			shapes[i] = v.shape
			if v.isInt() != b.in[0].isInt() {
				return nil, invalid("mixed operand types")
			}
		}
		shape, err := broadcastShapes(shapes...)
		if err != nil {
			return nil, err
		}
		k := &variadicKernel{op: op, intIn: b.in[0].isInt()}
		if op < 0 {
			k.op, k.mean = binAdd, true
			if k.intIn {
				return nil, notImpl("integer Mean")
			}
		}
		k.bcs = append(k.bcs, newBcast(shape, b.in[0].shape))
		for _, v := range b.in[1:] {
			k.bcs = append(k.bcs, newBcast(shape, shape, v.shape))
		}
		return &built{k: k, out: one(b.in[0].dt, shape), alias: -1, flops: int64(numel(shape) * len(b.in))}, nil
	}
}

func (k *variadicKernel) forward(x *exec, in, out []*data) {
	o := out[0]
	k.bcs[0].rows(func(off int, offs []int, n int, step []int) {
		for j := 0; j < n; j++ {
			if k.intIn {
				o.i[off+j] = in[0].i[offs[0]+j*step[0]]
			} else {
				o.f[off+j] = in[0].f[offs[0]+j*step[0]]
			}
		}
	})
	for i := 1; i < len(in); i++ {
		k.bcs[i].rows(func(off int, offs []int, n int, step []int) {
			if k.intIn {
				binRowInt(k.op, o.i[off:off+n], o.i[off:], in[i].i[offs[1]:], 1, step[1], false)
			} else {
				binRow(k.op, o.f[off:off+n], o.f[off:], in[i].f[offs[1]:], 1, step[1], false)
			}
		})
	}
	if k.mean {
		s := 1 / float32(len(in))
		for j := range o.f {
			o.f[j] *= s
		}
	}
}

// whereKernel selects with broadcasting:
//
//	out[i] = cond[i] ? x[i] : y[i]
type whereKernel struct {
	bc    *bcast
	isInt bool
}

func buildWhere(b *buildCtx) (*built, error) {
	if err := b.need(3); err != nil {
		return nil, err
	}
	c, x, y := b.in[0], b.in[1], b.in[2]
	if !c.isInt() || x.isInt() != y.isInt() {
		return nil, invalid("Where takes a bool condition and two values of one type")
	}
	shape, err := broadcastShapes(c.shape, x.shape, y.shape)
	if err != nil {
		return nil, err
	}
	k := &whereKernel{bc: newBcast(shape, c.shape, x.shape, y.shape), isInt: x.isInt()}
	return &built{k: k, out: one(x.dt, shape), alias: -1}, nil
}

func (k *whereKernel) forward(_ *exec, in, out []*data) {
	c, a, b, o := in[0], in[1], in[2], out[0]
	k.bc.rows(func(off int, offs []int, n int, s []int) {
		for j := 0; j < n; j++ {
			pick := c.i[offs[0]+j*s[0]] != 0
			if k.isInt {
				if pick {
					o.i[off+j] = a.i[offs[1]+j*s[1]]
				} else {
					o.i[off+j] = b.i[offs[2]+j*s[2]]
				}
			} else {
				if pick {
					o.f[off+j] = a.f[offs[1]+j*s[1]]
				} else {
					o.f[off+j] = b.f[offs[2]+j*s[2]]
				}
			}
		}
	})
}

// planeRows runs the broadcast rows of an NCHW output whose rows are its
// planes (a per-channel scale or bias) split over the planes as the
// convolutions split theirs (planeSpans), and reports true; false when
// the rows are not the planes or planeSpans does not apply.
func (k *binaryKernel) planeRows(x *exec, shape []int, row func(off int, offs []int, n int, step []int)) bool {
	nr := k.bc.nrows()
	if len(shape) != 4 || k.bc.n/nr != shape[2]*shape[3] || len(k.bc.dims) != 2 {
		return false
	}
	return planeSpanChunks(shape, x.threads, func(p0, p1, np, planes int) {
		offs := make([]int, len(k.bc.strides))
		step := make([]int, len(k.bc.strides))
		for i, st := range k.bc.strides {
			step[i] = st[1]
		}
		for q := 0; q < planes; q++ {
			for i, st := range k.bc.strides {
				offs[i] = q*st[0] + p0*st[1]
			}
			row(q*np+p0, offs, p1-p0, step)
		}
	})
}
