package sparse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randSparse returns a rows×cols matrix with about density nonzeros,
// including a negative zero and a NaN when there is room.
func randSparse(rng *rand.Rand, rows, cols int, density float64) []float32 {
	d := make([]float32, rows*cols)
	for i := range d {
		if rng.Float64() < density {
			d[i] = float32(rng.NormFloat64())
		}
	}
	if len(d) > 2 {
		d[rng.IntN(len(d))] = float32(math.Copysign(0, -1))
	}
	return d
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func denseMulVec(d []float32, rows, cols int, x []float32) []float64 {
	y := make([]float64, rows)
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			y[r] += float64(d[r*cols+j]) * float64(x[j])
		}
	}
	return y
}

func closeTo(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > 1e-4+1e-4*math.Abs(want[i]) {
			t.Fatalf("%s: row %d: got %g, want %g", what, i, got[i], want[i])
		}
	}
}

func TestRoundTripsAndMulVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][2]int{{0, 0}, {1, 1}, {3, 7}, {16, 64}, {33, 20}, {2, 300}} {
		for _, density := range []float64{0, 0.05, 0.5, 1} {
			rows, cols := sz[0], sz[1]
			d := randSparse(rng, rows, cols, density)
			x := make([]float32, cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			want := denseMulVec(d, rows, cols, x)
			out := make([]float32, len(d))
			y := make([]float32, rows)

			c := EncodeCSR(d, rows, cols)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			c.Decode(out)
			if !sameBits(out, d) {
				t.Fatalf("CSR %dx%d density %g: dense round trip differs", rows, cols, density)
			}
			c.MulVec(y, x)
			closeTo(t, "CSR.MulVec", y, want)

			// The gap bytes of the CSR are those of its presence mask, and
			// decode back to the same row pointers and columns.
			mask, nnz := NonzeroMask(f32bytes(d), 4)
			if nnz != c.NNZ() {
				t.Fatalf("NonzeroMask: %d, CSR nnz %d", nnz, c.NNZ())
			}
			gaps := c.AppendGaps(nil)
			if !bytes.Equal(gaps, AppendGaps(nil, mask)) {
				t.Fatalf("CSR.AppendGaps and AppendGaps differ")
			}
			back, err := DecodeCSRGaps(rows, cols, gaps, c.Values)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.RowPtr, c.RowPtr) || !slices.Equal(back.ColIdx, c.ColIdx) {
				t.Fatalf("DecodeCSRGaps: row pointers or columns differ")
			}

			b := EncodeBitmap(d, rows, cols)
			if err := b.Validate(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Mask, mask) || b.NNZ() != c.NNZ() {
				t.Fatalf("bitmap mask or nnz differs from NonzeroMask")
			}
			b.Decode(out)
			if !sameBits(out, d) {
				t.Fatalf("Bitmap %dx%d density %g: dense round trip differs", rows, cols, density)
			}
			b.MulVec(y, x)
			closeTo(t, "Bitmap.MulVec", y, want)
		}
	}
}

func f32bytes(d []float32) []byte {
	b := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// nmDense returns a tensor of the given dims that fits l: in every group,
// random entries are zeroed until at most N are left.
func nmDense(rng *rand.Rand, dims []int64, l NMLayout) []float32 {
	n := 1
	for _, v := range dims {
		n *= int(v)
	}
	d := randSparse(rng, 1, n, 0.9)
	for g := 0; g < n/l.M; g++ {
		for {
			nz := 0
			for q := 0; q < l.M; q++ {
				if math.Float32bits(d[l.Elem(g, q)]) != 0 {
					nz++
				}
			}
			if nz <= l.N {
				break
			}
			d[l.Elem(g, rng.IntN(l.M))] = 0
		}
	}
	return d
}

// TestNM: N:M along the input-channel axis of Conv, Gemm and MatMul
// weights: encode/decode round trip, NM·x equals dense·x, and groups are
// where the layout says (a Conv group strides over the kernel positions).
func TestNM(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		dims       []int64
		axis, n, m int
		stride     int
	}{
		{[]int64{6, 8, 3, 3}, 1, 2, 4, 9},  // Conv [O, I, kh, kw] along I
		{[]int64{5, 16}, 1, 2, 4, 1},       // Gemm transB [N, K] along K
		{[]int64{8, 6}, 0, 2, 4, 6},        // MatMul B [K, N] along K
		{[]int64{4, 16, 1, 1}, 1, 4, 8, 1}, // 1×1 Conv
		{[]int64{3, 32}, 1, 3, 16, 1},
		{[]int64{2, 6, 2}, 1, 1, 3, 2}, // M not a power of two
	} {
		l, err := NMAlong(tc.dims, tc.axis, tc.n, tc.m)
		if err != nil || l.Stride != tc.stride {
			t.Fatalf("NMAlong(%v, %d): %v, %v; want stride %d", tc.dims, tc.axis, l, err, tc.stride)
		}
		d := nmDense(rng, tc.dims, l)
		rows, cols, err := View2D(tc.dims)
		if err != nil {
			t.Fatal(err)
		}
		s, err := EncodeNM(d, rows, cols, l)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if want := len(d) / tc.m * tc.n; len(s.Values) != want {
			t.Fatalf("%v: %d values, want %d", l, len(s.Values), want)
		}
		out := make([]float32, len(d))
		s.Decode(out)
		if !sameBits(out, d) {
			t.Fatalf("%v: dense round trip differs", l)
		}
		x := make([]float32, cols)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		y := make([]float32, rows)
		s.MulVec(y, x)
		closeTo(t, "NM.MulVec", y, denseMulVec(d, rows, cols, x))
	}
	// Conv [2, 4, 1, 2] along I: group 0 is elements 0, 2, 4, 6 (I at kernel
	// position 0 of output channel 0); group 1 is 1, 3, 5, 7.
	l, _ := NMAlong([]int64{2, 4, 1, 2}, 1, 2, 4)
	for q, want := range []int{0, 2, 4, 6} {
		if e := l.Elem(0, q); e != want {
			t.Fatalf("Elem(0, %d) = %d, want %d", q, e, want)
		}
	}
	if e := l.Elem(2, 0); e != 8 {
		t.Fatalf("Elem(2, 0) = %d, want 8 (output channel 1)", e)
	}
	// Three nonzeros along I in one group do not fit, though each run of 4
	// consecutive elements holds at most 2.
	d := []float32{1, 0, 2, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := EncodeNM(d, 2, 8, l); !errors.Is(err, ErrInvalid) {
		t.Fatalf("EncodeNM of 3 nonzeros in a 2:4 group: %v", err)
	}
	if consecutive := (NMLayout{N: 2, M: 4, Stride: 1}); !consecutive.Fits(EncodeBitmap(d, 2, 8).Mask, 16) {
		t.Fatal("consecutive 2:4 should fit")
	}
	for _, bad := range []struct {
		dims       []int64
		axis, n, m int
	}{{[]int64{4, 6}, 1, 2, 4}, {[]int64{4, 8}, 2, 2, 4}, {[]int64{4, 8}, 1, 4, 4}, {[]int64{4, 8}, 1, 0, 4}, {[]int64{4, 512}, 1, 2, 512}} {
		if _, err := NMAlong(bad.dims, bad.axis, bad.n, bad.m); !errors.Is(err, ErrInvalid) {
			t.Errorf("NMAlong(%v, %d, %d:%d): %v, want ErrInvalid", bad.dims, bad.axis, bad.n, bad.m, err)
		}
	}
}

func TestPositionBits2of4(t *testing.T) {
	// 2 bits per kept value: [0 a 0 b] keeps positions 1 and 3 -> 0b11_01.
	s, err := EncodeNM([]float32{0, 1, 0, 2}, 1, 4, NMLayout{N: 2, M: 4, Stride: 1})
	if err != nil || len(s.Pos) != 1 || s.Pos[0] != 0b1101 {
		t.Fatalf("positions %08b, %v; want 00001101", s.Pos, err)
	}
	// A group with one nonzero keeps it and its lowest zero slot.
	s, err = EncodeNM([]float32{0, 0, 5, 0}, 1, 4, NMLayout{N: 2, M: 4, Stride: 1})
	if err != nil || s.Pos[0] != 0b1000 || !sameBits(s.Values, []float32{0, 5}) {
		t.Fatalf("positions %08b values %v, %v; want 00001000 [0 5]", s.Pos, s.Values, err)
	}
}

func TestValidateRejects(t *testing.T) {
	c := EncodeCSR([]float32{1, 0, 2, 3}, 2, 2)
	c.ColIdx[2] = c.ColIdx[1] // row 1: columns 0, 0
	if err := c.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatal("CSR with repeated column validated")
	}
	b := EncodeBitmap([]float32{1, 0, 2}, 1, 3)
	b.Mask[0] |= 0x80
	if err := b.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatal("bitmap with a padding bit validated")
	}
	s, _ := EncodeNM([]float32{0, 1, 0, 2}, 1, 4, NMLayout{N: 2, M: 4, Stride: 1})
	s.Pos[0] = 0b0111 // positions 3 then 1
	if err := s.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatal("NM with decreasing positions validated")
	}
	s.Pos[0] = 0b1101 | 0x10 // a padding bit... there is none: 4 bits used of 8
	if err := s.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatal("NM with a padding bit validated")
	}
	for _, tc := range []struct {
		gaps       []byte
		count, nnz int
	}{
		{[]byte{0, 0}, 4, 3},            // too few
		{[]byte{0, 0, 0}, 4, 2},         // a byte left over
		{[]byte{3, 0}, 4, 2},            // beyond the end
		{[]byte{0xFF}, 300, 1},          // truncated long gap
		{[]byte{0xFF, 0x80, 0}, 300, 1}, // overlong varint
	} {
		if err := ScanGaps(tc.gaps, tc.count, tc.nnz, func(int, int) {}); !errors.Is(err, ErrInvalid) {
			t.Errorf("ScanGaps(%x, %d, %d): %v, want ErrInvalid", tc.gaps, tc.count, tc.nnz, err)
		}
	}
	// A long gap round-trips.
	mask := make([]byte, 128)
	mask[0], mask[127] = 1, 0x80
	var got []int
	if err := ScanGaps(AppendGaps(nil, mask), 1024, 2, func(_, p int) { got = append(got, p) }); err != nil || !slices.Equal(got, []int{0, 1023}) {
		t.Fatalf("long gap: %v, %v", got, err)
	}
	if err := ScanMask([]byte{0x0F}, 4, 3, func(int, int) {}); !errors.Is(err, ErrInvalid) {
		t.Fatal("ScanMask accepted a wrong count")
	}
}

func TestView2D(t *testing.T) {
	for _, tc := range []struct {
		dims       []int64
		rows, cols int
	}{{nil, 1, 1}, {[]int64{5}, 1, 5}, {[]int64{20, 1, 5, 5}, 20, 25}, {[]int64{300, 784}, 300, 784}} {
		r, c, err := View2D(tc.dims)
		if err != nil || r != tc.rows || c != tc.cols {
			t.Errorf("View2D(%v) = %d, %d, %v; want %d, %d", tc.dims, r, c, err, tc.rows, tc.cols)
		}
	}
	if _, _, err := View2D([]int64{2, -1}); err == nil {
		t.Error("View2D accepted a negative dim")
	}
}

func BenchmarkCSRMulVec(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, density := range []float64{0.05, 0.1, 0.5} {
		rows, cols := 300, 784
		d := randSparse(rng, rows, cols, density)
		c := EncodeCSR(d, rows, cols)
		x := make([]float32, cols)
		y := make([]float32, rows)
		b.Run(fmt.Sprintf("density=%g", density), func(b *testing.B) {
			b.SetBytes(int64(4 * c.NNZ()))
			b.ReportAllocs()
			for b.Loop() {
				c.MulVec(y, x)
			}
		})
	}
}
