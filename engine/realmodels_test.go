package engine

import (
	"context"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// realShapes are the input shapes the real-model tests use.
var realShapes = map[string][]int{
	"ppocr_det": {1, 3, 320, 320},
	"ppocr_cls": {1, 3, 48, 192},
	"lenet300":  {2, 1, 28, 28},
	"lenet5":    {2, 1, 28, 28},
}

// relErr is max|a−b| / max|a|, the "error relative to the output scale".
func relErr(ref, got []float32) float64 {
	var d, s float64
	for i := range ref {
		d = math.Max(d, math.Abs(float64(ref[i])-float64(got[i])))
		s = math.Max(s, math.Abs(float64(ref[i])))
	}
	if s == 0 {
		return d
	}
	return d / s
}

// TestRealModelsMatchORT runs every real model (../shared/models and the
// PP-OCR pair) on random inputs in the engine and in ONNX Runtime and
// requires every output within 1e-4 of the output scale.
func TestRealModelsMatchORT(t *testing.T) {
	if testing.Short() {
		t.Skip("real models against ONNX Runtime: skipped in -short mode")
	}
	oracle := ortoracle.ForTest(t)
	for _, rm := range testmodels.All(t) {
		t.Run(rm.Name, func(t *testing.T) {
			m, err := onnxio.ReadFile(rm.Path)
			if err != nil {
				t.Fatal(err)
			}
			shape, ok := realShapes[rm.Name]
			if !ok {
				shape = []int{1, 3, 224, 224}
			}
			name := m.Info().Inputs[0].Name
			p, err := Compile(m, WithInputShape(name, shape...))
			if err != nil {
				t.Fatal(err)
			}
			x := realInput(t, rm.Name, shape)
			got, err := p.Run(context.Background(), map[string]*tensor.Dense{name: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(x))})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := oracle.Run(context.Background(), rm.Path, []ortoracle.Tensor{ortoracle.FromFloat32(name, int64s(shape), x)})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range ref {
				want, err := o.Float32()
				if err != nil {
					t.Fatal(err)
				}
				g, ok := got[o.Name]
				if !ok {
					t.Fatalf("engine gave no output %q", o.Name)
				}
				if !sameShape(g.Shape(), ints(o.Shape)) {
					t.Fatalf("output %q: shape %v, ORT %v", o.Name, g.Shape(), o.Shape)
				}
				e := relErr(want, g.Data().([]float32))
				t.Logf("%s: output %q %v: max rel error %.3g", rm.Name, o.Name, o.Shape, e)
				if e > 1e-4 || math.IsNaN(e) {
					t.Errorf("output %q: max|a−b|/max|a| = %.3g > 1e-4", o.Name, e)
				}
			}
		})
	}
}

// realInput is the input the real-model tests give model name: rendered
// text for the PP-OCR models, seeded uniform noise in [0, 1) for the rest.
func realInput(t *testing.T, name string, shape []int) []float32 {
	switch name {
	case "ppocr_det":
		return textImage(t, "ocr_page.png", shape)
	case "ppocr_cls":
		return textImage(t, "ocr_line.png", shape)
	}
	r := rand.New(rand.NewPCG(7, uint64(len(name))))
	x := make([]float32, numel(shape))
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}

// textImage loads a rendered text image from testdata (made by
// testdata/make_text_png.py) as a normalised NCHW batch of one: PP-OCR's
// preprocessing, ImageNet mean/std for the detector, (v − 0.5)/0.5 for the
// classifier. On noise the detector's output is ~1e-5 everywhere, where a
// relative error is ill-conditioned (ORT's own optimisation levels differ by
// 4e-3); on text it fires and its output scale is O(1).
func textImage(t *testing.T, file string, shape []int) []float32 {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	h, w := shape[2], shape[3]
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("%s is %dx%d, want %dx%d", file, b.Dx(), b.Dy(), w, h)
	}
	mean, std := []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}
	if file == "ocr_line.png" {
		mean, std = []float32{0.5, 0.5, 0.5}, []float32{0.5, 0.5, 0.5}
	}
	x := make([]float32, 3*h*w)
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			r, g, b, _ := img.At(xx, y).RGBA()
			for c, v := range []uint32{r, g, b} {
				x[(c*h+y)*w+xx] = (float32(v)/65535 - mean[c]) / std[c]
			}
		}
	}
	return x
}
