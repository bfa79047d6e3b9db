package pack

import (
	"bytes"
	"math"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
)

func cnnPruned(t *testing.T, sparsity float64) *onnxio.Model {
	t.Helper()
	m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.CNN()))
	if err != nil {
		t.Fatal(err)
	}
	globalPrune(t, m, sparsity)
	return m
}

func TestFP16(t *testing.T) {
	m := cnnPruned(t, 0.5)
	want := cnnPruned(t, 0.5)
	b, st := packModel(t, m, WithFP16())
	if st.Header.Values != FP16 {
		t.Fatalf("header value code %v", st.Header.Values)
	}
	got, err := unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	coded := 0
	gp, wp := got.Params(), want.Params()
	for i, ti := range st.Tensors {
		g, _, _ := gp[ti.Param].Float32()
		w, _, _ := wp[ti.Param].Float32()
		for k := range w {
			exp := w[k]
			if ti.Values == FP16 {
				exp = onnxio.Float16ToFloat32(onnxio.Float32ToFloat16(w[k]))
			}
			if math.Float32bits(g[k]) != math.Float32bits(exp) {
				t.Fatalf("tensor %d %s[%d]: %g, want %g (%v)", i, ti.ID, k, g[k], exp, ti.Values)
			}
		}
		if ti.Values == FP16 {
			coded++
		}
	}
	if coded == 0 {
		t.Fatal("no tensor was fp16-coded")
	}
}

func TestCodebook(t *testing.T) {
	for _, bits := range []int{2, 4, 8} {
		m := cnnPruned(t, 0.5)
		want := cnnPruned(t, 0.5)
		b, st := packModel(t, m, WithCodebook(bits))
		got, err := unpack(b)
		if err != nil {
			t.Fatal(err)
		}
		coded := 0
		for _, ti := range st.Tensors {
			if ti.Values != Codebook {
				continue
			}
			coded++
			g, _, _ := got.Params()[ti.Param].Float32()
			w, _, _ := want.Params()[ti.Param].Float32()
			distinct := map[float32]bool{}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, v := range w {
				lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
			}
			for k := range w {
				if (w[k] == 0) != (g[k] == 0) {
					t.Fatalf("%d bits: %s[%d]: zero pattern changed (%g -> %g)", bits, ti.ID, k, w[k], g[k])
				}
				if w[k] != 0 {
					distinct[g[k]] = true
					// Lloyd from a linear start: no value is further from its
					// centroid than the span divided by the cluster count.
					if d := math.Abs(float64(g[k] - w[k])); d > (hi-lo)/float64(int(1)<<bits)*2 {
						t.Fatalf("%d bits: %s[%d]: %g coded as %g", bits, ti.ID, k, w[k], g[k])
					}
				}
			}
			if len(distinct) > 1<<bits {
				t.Fatalf("%d bits: %s has %d distinct nonzeros", bits, ti.ID, len(distinct))
			}
		}
		if coded == 0 {
			t.Fatalf("%d bits: no tensor was codebook-coded", bits)
		}
	}
}

func TestKmeansExactWhenFewValues(t *testing.T) {
	c := kmeans([]float32{3, 1, 3, 2, 1}, 4)
	if len(c) != 3 || c[0] != 1 || c[1] != 2 || c[2] != 3 {
		t.Fatalf("kmeans of 3 distinct values = %v", c)
	}
	c = kmeans([]float32{0, 0.1, 0.2, 10, 10.1, 10.2}, 2)
	if len(c) != 2 || math.Abs(float64(c[0])-0.1) > 1e-6 || math.Abs(float64(c[1])-10.1) > 1e-5 {
		t.Fatalf("kmeans of two clusters = %v", c)
	}
}

// TestTensorValues: a per-tensor code unpacks to what Lossy predicts, the
// tensors not listed stay exact, and the header records the code.
func TestTensorValues(t *testing.T) {
	for _, tc := range []TensorCode{{Values: Codebook, Bits: 3}, {Values: FP16}} {
		m := cnnPruned(t, 0.5)
		want := cnnPruned(t, 0.5)
		id := ""
		for _, p := range want.Params() {
			if p.NumElements() >= minLossyElems && p.DataType() == onnxio.Float {
				id = p.ID
			}
		}
		if id == "" {
			t.Fatalf("no tensor of ≥ %d elements", minLossyElems)
		}
		b, st := packModel(t, m, WithTensorValues(map[string]TensorCode{id: tc}))
		if st.Header.Values != tc.Values || st.Header.CodebookBits != tc.Bits {
			t.Fatalf("header %v/%d, want %v/%d", st.Header.Values, st.Header.CodebookBits, tc.Values, tc.Bits)
		}
		got, err := unpack(b)
		if err != nil {
			t.Fatal(err)
		}
		gp, wp := got.Params(), want.Params()
		for i := range wp {
			g, _, _ := gp[i].Float32()
			w, _, _ := wp[i].Float32()
			exp := w
			if wp[i].ID == id {
				exp = Lossy(w, tc.Values, tc.Bits)
			}
			for k := range w {
				if math.Float32bits(g[k]) != math.Float32bits(exp[k]) {
					t.Fatalf("%v: %s[%d]: %g, want %g", tc.Values, wp[i].ID, k, g[k], exp[k])
				}
			}
		}
	}
	if _, err := NewWriter(&bytes.Buffer{}, WithTensorValues(map[string]TensorCode{"w": {Values: Codebook, Bits: 9}})); err == nil {
		t.Fatal("codebook bits 9 accepted")
	}
}
