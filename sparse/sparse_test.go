package sparse

import (
	"fmt"
	"math"
	"math/rand/v2"
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
	for _, sz := range [][2]int{{0, 0}, {1, 1}, {3, 7}, {16, 64}, {33, 20}} {
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

			c := NewCSR(d, rows, cols)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			c.Dense(out)
			if !sameBits(out, d) {
				t.Fatalf("CSR %dx%d density %g: dense round trip differs", rows, cols, density)
			}
			c.MulVec(y, x)
			closeTo(t, "CSR.MulVec", y, want)

			b := NewBitmap(d, rows, cols)
			if err := b.Validate(); err != nil {
				t.Fatal(err)
			}
			if b.NNZ() != c.NNZ() {
				t.Fatalf("bitmap nnz %d, CSR nnz %d", b.NNZ(), c.NNZ())
			}
			b.Dense(out)
			if !sameBits(out, d) {
				t.Fatalf("Bitmap %dx%d density %g: dense round trip differs", rows, cols, density)
			}
			b.MulVec(y, x)
			closeTo(t, "Bitmap.MulVec", y, want)
		}
	}
}

// nmMatrix zeroes the smallest entries of each group of m to leave at most n.
func nmMatrix(rng *rand.Rand, rows, cols, n, m int) []float32 {
	d := randSparse(rng, rows, cols, 0.9)
	for g := 0; g < len(d); g += m {
		for {
			nz := 0
			for _, v := range d[g : g+m] {
				if math.Float32bits(v) != 0 {
					nz++
				}
			}
			if nz <= n {
				break
			}
			d[g+rng.IntN(m)] = 0
		}
	}
	return d
}

func TestNM(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, nm := range [][2]int{{2, 4}, {1, 4}, {4, 8}, {1, 2}, {3, 16}} {
		n, m := nm[0], nm[1]
		rows, cols := 5, 4*m
		d := nmMatrix(rng, rows, cols, n, m)
		if !FitsNM(d, rows, cols, n, m) {
			t.Fatalf("%d:%d: FitsNM false for an n:m matrix", n, m)
		}
		s := NewNM(d, rows, cols, n, m)
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if want := rows * cols / m * n; len(s.Values) != want {
			t.Fatalf("%d:%d: %d values, want %d", n, m, len(s.Values), want)
		}
		out := make([]float32, len(d))
		s.Dense(out)
		if !sameBits(out, d) {
			t.Fatalf("%d:%d: dense round trip differs", n, m)
		}
		x := make([]float32, cols)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		y := make([]float32, rows)
		s.MulVec(y, x)
		closeTo(t, "NM.MulVec", y, denseMulVec(d, rows, cols, x))
	}
	// A group with n+1 nonzeros does not fit.
	d := []float32{1, 2, 3, 0}
	if FitsNM(d, 1, 4, 2, 4) {
		t.Fatal("FitsNM accepted 3 nonzeros in a 2:4 group")
	}
	if FitsNM([]float32{1, 0, 0, 0, 1, 0}, 1, 6, 2, 4) {
		t.Fatal("FitsNM accepted cols not a multiple of m")
	}
}

func TestPositionBits2of4(t *testing.T) {
	// 2 bits per kept value: [0 a 0 b] keeps positions 1 and 3 -> 0b11_01.
	s := NewNM([]float32{0, 1, 0, 2}, 1, 4, 2, 4)
	if len(s.Pos) != 1 || s.Pos[0] != 0b1101 {
		t.Fatalf("positions %08b, want 00001101", s.Pos)
	}
}

func TestValidateRejects(t *testing.T) {
	c := NewCSR([]float32{1, 0, 2, 3}, 2, 2)
	c.ColIdx[2] = c.ColIdx[1] // row 1: columns 0, 0
	if err := c.Validate(); err == nil {
		t.Fatal("CSR with repeated column validated")
	}
	b := NewBitmap([]float32{1, 0, 2}, 1, 3)
	b.Mask[0] |= 0x80
	if err := b.Validate(); err == nil {
		t.Fatal("bitmap with a padding bit validated")
	}
	s := NewNM([]float32{0, 1, 0, 2}, 1, 4, 2, 4)
	s.Pos[0] = 0b0111 // positions 3 then 1
	if err := s.Validate(); err == nil {
		t.Fatal("NM with decreasing positions validated")
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
		c := NewCSR(d, rows, cols)
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
