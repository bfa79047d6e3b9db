package engine

// Backward of Add, Sub, Mul and Div with numpy broadcasting: each operand's
// gradient is the elementwise one summed over the axes it was broadcast
// along (for every output index i, with a and b read through their
// broadcast strides):
//
//	Add  dA[ia(i)] += δ[i]          dB[ib(i)] += δ[i]
//	Sub  dA[ia(i)] += δ[i]          dB[ib(i)] −= δ[i]
//	Mul  dA[ia(i)] += δ[i]·b        dB[ib(i)] += δ[i]·a
//	Div  dA[ia(i)] += δ[i]/b        dB[ib(i)] −= δ[i]·a/b²
//
// Rows are visited in order, so the sums are deterministic.
func (k *binaryKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	d := dOut[0].f
	var a, b []float32
	if k.op == binMul || k.op == binDiv {
		a, b = in[0].f, in[1].f
	}
	for slot := 0; slot < 2; slot++ {
		if dIn[slot] == nil {
			continue
		}
		g := dIn[slot].f
		k.bc.rows(func(off int, offs []int, n int, step []int) {
			o, st := offs[slot], step[slot]
			oa, sa, ob, sb := offs[0], step[0], offs[1], step[1]
			row := d[off : off+n]
			switch {
			case k.op == binAdd || (k.op == binSub && slot == 0):
				addRow(g, o, st, row, 1)
			case k.op == binSub:
				addRow(g, o, st, row, -1)
			case k.op == binMul && st == 0:
				other, so := b[ob:], sb
				if slot == 1 {
					other, so = a[oa:], sa
				}
				var acc float64
				for j, v := range row {
					acc += float64(v) * float64(other[j*so])
				}
				g[o] += float32(acc)
			case k.op == binMul && slot == 0:
				for j, v := range row {
					g[o+j*st] += v * b[ob+j*sb]
				}
			case k.op == binMul:
				for j, v := range row {
					g[o+j*st] += v * a[oa+j*sa]
				}
			case k.op == binDiv && st == 0:
				var acc float64
				for j, v := range row {
					bv := float64(b[ob+j*sb])
					if slot == 0 {
						acc += float64(v) / bv
					} else {
						acc -= float64(v) * float64(a[oa+j*sa]) / (bv * bv)
					}
				}
				g[o] += float32(acc)
			case k.op == binDiv && slot == 0:
				for j, v := range row {
					g[o+j*st] += v / b[ob+j*sb]
				}
			case k.op == binDiv:
				for j, v := range row {
					bv := b[ob+j*sb]
					g[o+j*st] -= v * a[oa+j*sa] / (bv * bv)
				}
			default:
				panic("engine: no backward for this binary op")
			}
		})
	}
}

// addRow adds s·row to g[o + j·st] (st 0: the row's sum to g[o]).
func addRow(g []float32, o, st int, row []float32, s float32) {
	if st == 0 {
		var acc float64
		for _, v := range row {
			acc += float64(v)
		}
		g[o] += s * float32(acc)
		return
	}
	if st == 1 && s == 1 {
		vecAdd(g[o:o+len(row)], g[o:o+len(row)], row)
		return
	}
	for j, v := range row {
		g[o+j*st] += s * v
	}
}

// tapeNeeds: Add and Sub need nothing, Mul and Div both operands.
func (k *binaryKernel) tapeNeeds() (in, out uint64) {
	if k.op == binMul || k.op == binDiv {
		return 0b11, 0
	}
	return 0, 0
}
