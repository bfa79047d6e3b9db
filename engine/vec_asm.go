//go:build (amd64 || arm64) && !purego

package engine

// The slice-to-pointer adapters shared by vec_amd64.go and vec_arm64.go: each
// checks the bounds the assembly reads, then hands it the first elements.

func asmBin(f func(dst, a, b *float32, n int)) func(dst, a, b []float32) {
	return func(dst, a, b []float32) {
		if n := len(dst); n > 0 {
			_, _ = a[n-1], b[n-1]
			f(&dst[0], &a[0], &b[0], n)
		}
	}
}

func asmScal(f func(dst, a *float32, s float32, n int)) func(dst, a []float32, s float32) {
	return func(dst, a []float32, s float32) {
		if n := len(dst); n > 0 {
			_ = a[n-1]
			f(&dst[0], &a[0], s, n)
		}
	}
}

func asmScal2(f func(dst, a *float32, s, t float32, n int)) func(dst, a []float32, s, t float32) {
	return func(dst, a []float32, s, t float32) {
		if n := len(dst); n > 0 {
			_ = a[n-1]
			f(&dst[0], &a[0], s, t, n)
		}
	}
}

func asmDot(f func(a, b *float32, n int) float32) func(a, b []float32) float32 {
	return func(a, b []float32) float32 {
		n := len(a)
		if n == 0 {
			return 0
		}
		_ = b[n-1]
		return f(&a[0], &b[0], n)
	}
}

func asmSum(f func(a *float32, n int) float32) func(a []float32) float32 {
	return func(a []float32) float32 {
		if len(a) == 0 {
			return 0
		}
		return f(&a[0], len(a))
	}
}

func asmTapRows(f func(out *float32, n, rows, ostride int, base *float32, istride int, offs *int, w *float32, ntaps int, ep *kernEpi)) func(out []float32, n, rows, ostride int, base []float32, istride int, offs []int, w []float32, ep *kernEpi) {
	return func(out []float32, n, rows, ostride int, base []float32, istride int, offs []int, w []float32, ep *kernEpi) {
		if n == 0 || rows == 0 {
			return
		}
		if len(offs) == 0 || len(w) < len(offs) {
			tapRowsGo(out, n, rows, ostride, base, istride, offs, w, ep)
			return
		}
		_ = out[(rows-1)*ostride+n-1]
		for _, o := range offs {
			_ = base[o : (rows-1)*istride+o+n] // the assembly reads base[r*istride+o:][:n]
		}
		if ep.flags&epBias != 0 {
			_ = *ep.bias
		}
		f(&out[0], n, rows, ostride, &base[0], istride, &offs[0], &w[0], len(offs), ep)
	}
}

func asmTapMaxRow(f func(out *float32, n int, base *float32, offs *int, ntaps int)) func(out, base []float32, offs []int) {
	return func(out, base []float32, offs []int) {
		n := len(out)
		if n == 0 {
			return
		}
		for _, o := range offs {
			_ = base[o : o+n] // the assembly reads base[o : o+n]
		}
		f(&out[0], n, &base[0], &offs[0], len(offs))
	}
}
