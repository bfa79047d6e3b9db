package dataset

import (
	"archive/zip"
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"
)

var update = flag.Bool("update", false, "rewrite the fuzz seeds in testdata/")

// TestFuzzSeeds writes (with -update) and checks the small seed files the
// fuzzers start from: each opens cleanly.
func TestFuzzSeeds(t *testing.T) {
	if *update {
		writeSeeds(t)
	}
	for _, pattern := range []string{"*.npy", "*.npz", "*.png", "*.jpg"} {
		files, _ := filepath.Glob(filepath.Join("testdata", pattern))
		if len(files) == 0 {
			t.Fatalf("no testdata/%s (run go test -run TestFuzzSeeds -update)", pattern)
		}
		for _, p := range files {
			data, _ := os.ReadFile(p)
			var err error
			switch filepath.Ext(p) {
			case ".npy":
				_, err = DecodeNPY(bytes.NewReader(data), int64(len(data)), p)
			case ".npz":
				_, err = npzDataset(bytes.NewReader(data), int64(len(data)), p, &config{labels: "labels"})
			default:
				_, err = DecodeImage(data, p)
			}
			if err != nil {
				t.Errorf("seed %s: %v", p, err)
			}
		}
	}
}

func writeSeeds(t *testing.T) {
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	enc := func(x *tensor.Dense) []byte {
		var b bytes.Buffer
		must(EncodeNPY(&b, x))
		return b.Bytes()
	}
	x := tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float32{0, 1.5, -2, 3, 1e-3, 7}))
	l := tensor.New(tensor.WithShape(3), tensor.WithBacking([]int64{2, 0, 1}))
	b := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]bool{true, false, false, true}))
	must(os.WriteFile("testdata/f32.npy", enc(x), 0o644))
	must(os.WriteFile("testdata/i64.npy", enc(l), 0o644))
	must(os.WriteFile("testdata/bool.npy", enc(b), 0o644))
	for name, method := range map[string]uint16{"stored.npz": zip.Store, "deflated.npz": zip.Deflate} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for n, a := range map[string]*tensor.Dense{"input": x, "labels": l} {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: n + ".npy", Method: method})
			must(err)
			w.Write(enc(a))
		}
		must(zw.Close())
		must(os.WriteFile(filepath.Join("testdata", name), buf.Bytes(), 0o644))
	}
	img := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 17)
	}
	var buf bytes.Buffer
	must(png.Encode(&buf, img))
	must(os.WriteFile("testdata/rgba.png", buf.Bytes(), 0o644))
	g := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 16)
	}
	buf.Reset()
	must(png.Encode(&buf, g))
	must(os.WriteFile("testdata/gray.png", buf.Bytes(), 0o644))
	c := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for y := range 8 {
		for x := range 8 {
			c.Set(x, y, color.RGBA{uint8(x * 30), uint8(y * 30), 128, 255})
		}
	}
	buf.Reset()
	must(jpeg.Encode(&buf, c, &jpeg.Options{Quality: 75}))
	must(os.WriteFile("testdata/small.jpg", buf.Bytes(), 0o644))
}
