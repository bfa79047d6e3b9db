package dataset_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/internal/testmodels"
)

func writePNG(t testing.TB, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// uniform is a w×h image of one colour.
func uniform(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func TestImageFolder(t *testing.T) {
	root := t.TempDir()
	// Classes are numbered by sorted name, whatever the creation order.
	writePNG(t, filepath.Join(root, "zebra", "a.png"), uniform(6, 4, color.NRGBA{10, 20, 30, 255}))
	writePNG(t, filepath.Join(root, "ant", "x.png"), uniform(6, 4, color.NRGBA{200, 100, 0, 255}))
	writePNG(t, filepath.Join(root, "ant", "sub", "y.png"), uniform(6, 4, color.NRGBA{0, 0, 255, 255}))
	os.WriteFile(filepath.Join(root, "ant", "notes.txt"), []byte("not an image"), 0o644)
	d, err := dataset.Open(root, dataset.WithPreprocess(dataset.Preprocess{Mean: []float32{0.5}, Std: []float32{0.25}}))
	if err != nil {
		t.Fatal(err)
	}
	f := d.(*dataset.ImageFolder)
	if !slices.Equal(f.Classes(), []string{"ant", "zebra"}) || d.Len() != 3 || !d.HasLabels() {
		t.Fatalf("classes %v, %d samples", f.Classes(), d.Len())
	}
	b, err := d.Batch(context.Background(), []int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	x := b.Inputs["input"]
	if !slices.Equal(x.Shape(), []int{2, 3, 4, 6}) || !slices.Equal(b.Labels, []int64{1, 0}) {
		t.Fatalf("shape %v labels %v, want [2 3 4 6] [1 0]", x.Shape(), b.Labels)
	}
	px := x.Data().([]float32)
	norm := func(v uint8) float32 { return (float32(v)/255 - 0.5) / 0.25 }
	// Sample 0 of the batch is zebra/a.png (10,20,30); CHW.
	for c, v := range []uint8{10, 20, 30} {
		if got := px[c*24+5]; math.Abs(float64(got-norm(v))) > 1e-6 {
			t.Errorf("channel %d = %v, want %v", c, got, norm(v))
		}
	}
	// BGR, NHWC, a resize of a uniform image stays uniform, pad to 10.
	d, _ = dataset.Open(root, dataset.WithInputName("x"), dataset.WithPreprocess(dataset.Preprocess{
		Channels: dataset.BGR, Layout: dataset.NHWC, Height: 2, PadWidth: 10, PadValue: -7, Scale: 1}))
	b, err = d.Batch(context.Background(), []int{1}) // ant/x.png (ant/sub/y.png is 0)
	if err != nil {
		t.Fatal(err)
	}
	x = b.Inputs["x"]
	if !slices.Equal(x.Shape(), []int{1, 2, 10, 3}) {
		t.Fatalf("keep-aspect height 2 of 6x4, padded to 10, NHWC: shape %v", x.Shape())
	}
	px = x.Data().([]float32)
	if !slices.Equal(px[:3], []float32{0, 100, 200}) || !slices.Equal(px[3*3:3*4], []float32{-7, -7, -7}) {
		t.Errorf("BGR NHWC pixel %v, pad %v", px[:3], px[9:12])
	}
	// Gray (PIL's luma) and a center crop.
	d, _ = dataset.Open(root, dataset.WithPreprocess(dataset.Preprocess{Channels: dataset.Gray, CenterCrop: []int{2}, Scale: 1}))
	b, _ = d.Batch(context.Background(), []int{1})
	if x := b.Inputs["input"]; !slices.Equal(x.Shape(), []int{1, 1, 2, 2}) || x.Data().([]float32)[0] != 118 {
		// 0.299·200 + 0.587·100 = 118.5 → 118 (PIL: 118)
		t.Errorf("gray crop: %v %v", x.Shape(), x.Data())
	}
	// Images of different sizes cannot share a batch without a resize.
	writePNG(t, filepath.Join(root, "zebra", "b.png"), uniform(5, 4, color.NRGBA{}))
	d, _ = dataset.Open(root)
	if _, err := d.Batch(context.Background(), []int{2, 3}); !errors.Is(err, dataset.ErrInvalid) || !strings.Contains(err.Error(), "b.png") {
		t.Errorf("mixed sizes: %v", err)
	}
	// A broken image is named.
	os.WriteFile(filepath.Join(root, "zebra", "c.png"), []byte("\x89PNG\r\n\x1a\nbroken"), 0o644)
	d, _ = dataset.Open(root)
	if _, err := d.Batch(context.Background(), []int{4}); !errors.Is(err, dataset.ErrMalformed) || !strings.Contains(err.Error(), "c.png") {
		t.Errorf("broken PNG: %v", err)
	}
	// A flat folder is unlabeled; an empty class folder is an error.
	flat := t.TempDir()
	writePNG(t, filepath.Join(flat, "1.png"), uniform(2, 2, color.NRGBA{}))
	if d, err := dataset.Open(flat); err != nil || d.HasLabels() || d.Len() != 1 {
		t.Errorf("flat folder: %v", err)
	}
	os.Mkdir(filepath.Join(root, "empty"), 0o755)
	if _, err := dataset.Open(root); !errors.Is(err, dataset.ErrMalformed) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty class: %v", err)
	}
}

// TestPPOCRPresetMatchesTestNPZ checks the "ppocr-cls" preset against the
// preprocessing that made ../shared/data/textlines/test.npz: a few test
// samples are turned back into the PNGs they came from (pixels
// (x·0.5 + 0.5)·255, up to the first padded column) and loaded as an image
// folder with the preset; they must come back as the test samples.
func TestPPOCRPresetMatchesTestNPZ(t *testing.T) {
	path := testmodels.SharedData(t, "textlines/test.npz")
	d, err := dataset.Open(path, dataset.WithInputName("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const n, H, W = 8, 48, 192
	all, err := d.Batch(context.Background(), dataset.Range(0, d.Len()))
	if err != nil {
		t.Fatal(err)
	}
	// Four samples that were padded (last column 0 in every channel) and
	// four that fill the width.
	var idx, full []int
	ax := all.Inputs["x"].Data().([]float32)
	for k := range d.Len() {
		s := ax[k*3*H*W : (k+1)*3*H*W]
		if s[W-1] == 0 && s[H*W+W-1] == 0 && s[2*H*W+W-1] == 0 {
			if len(idx) < n/2 {
				idx = append(idx, k)
			}
		} else if len(full) < n/2 {
			full = append(full, k)
		}
	}
	idx = append(idx, full...)
	if len(idx) != n {
		t.Fatalf("found %d samples", len(idx))
	}
	x := make([]float32, 0, n*3*H*W)
	for _, k := range idx {
		x = append(x, ax[k*3*H*W:(k+1)*3*H*W]...)
	}
	root := t.TempDir()
	widths := map[string]int{}
	for k := range n {
		s := x[k*3*H*W : (k+1)*3*H*W]
		w := W
		for w > 0 { // padding is exactly 0 in every channel; no pixel normalises to 0
			col := true
			for c := range 3 {
				for y := range H {
					col = col && s[(c*H+y)*W+w-1] == 0
				}
			}
			if !col {
				break
			}
			w--
		}
		img := image.NewNRGBA(image.Rect(0, 0, w, H))
		for y := range H {
			for xx := range w {
				for c := range 3 {
					v := (float64(s[(c*H+y)*W+xx])*0.5 + 0.5) * 255
					if math.Abs(v-math.Round(v)) > 1e-3 {
						t.Fatalf("sample %d: pixel %v is not (p/255 − 0.5)/0.5 of an 8-bit p", idx[k], s[(c*H+y)*W+xx])
					}
					img.Pix[y*img.Stride+4*xx+c] = uint8(math.Round(v))
				}
				img.Pix[y*img.Stride+4*xx+3] = 255
			}
		}
		name := filepath.Join(root, "c", string(rune('a'+k))+".png")
		widths[name] = w
		writePNG(t, name, img)
	}
	pre, err := dataset.Preset("ppocr-cls")
	if err != nil {
		t.Fatal(err)
	}
	f, err := dataset.Open(root, dataset.WithPreprocess(pre), dataset.WithInputName("x"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Batch(context.Background(), dataset.Range(0, n))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Inputs["x"].Shape(), []int{n, 3, H, W}) {
		t.Fatalf("shape %v", got.Inputs["x"].Shape())
	}
	g := got.Inputs["x"].Data().([]float32)
	var maxDiff float64
	for i := range g {
		maxDiff = math.Max(maxDiff, math.Abs(float64(g[i]-x[i])))
	}
	if maxDiff > 1e-6 {
		t.Errorf("preset vs test.npz: max |diff| %g", maxDiff)
	}
	narrow := 0
	for _, w := range widths {
		if w < W {
			narrow++
		}
	}
	if narrow == 0 {
		t.Error("no sample needed padding: the test checks nothing about the pad")
	}
	t.Logf("%d samples, %d padded, max |diff| %g", n, narrow, maxDiff)
}

// TestPPOCRTrainFolder loads the classifier's training folder with the
// preset: 4,000 lines, two classes, every batch [B,3,48,192] with the pad
// at 0 and pixels in [-1, 1].
func TestPPOCRTrainFolder(t *testing.T) {
	root := filepath.Dir(testmodels.SharedData(t, "textlines/test.npz"))
	pre, _ := dataset.Preset("ppocr-cls")
	d, err := dataset.Open(filepath.Join(root, "train"), dataset.WithPreprocess(pre), dataset.WithInputName("x"))
	if err != nil {
		t.Fatal(err)
	}
	if f := d.(*dataset.ImageFolder); d.Len() != 4000 || !slices.Equal(f.Classes(), []string{"0", "1"}) {
		t.Fatalf("%d samples, classes %v; want 4000, [0 1]", d.Len(), f.Classes())
	}
	idx := dataset.Shuffle(d.Len(), 1, 0)[:64]
	b, err := d.Batch(context.Background(), idx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Inputs["x"].Shape(), []int{64, 3, 48, 192}) {
		t.Fatalf("shape %v", b.Inputs["x"].Shape())
	}
	ones := 0
	for _, l := range b.Labels {
		ones += int(l)
	}
	if ones == 0 || ones == 64 {
		t.Errorf("a shuffled batch has %d of 64 labels 1", ones)
	}
	for _, v := range b.Inputs["x"].Data().([]float32) {
		if v < -1 || v > 1 {
			t.Fatalf("pixel %v outside [-1, 1]", v)
		}
	}
}

// A folder of symbolic links to images (a subset of another data set) is
// read like one of files; a dangling link is not an image.
func TestImageFolderSymlinks(t *testing.T) {
	src, root := t.TempDir(), t.TempDir()
	writePNG(t, filepath.Join(src, "a.png"), uniform(6, 4, color.NRGBA{10, 20, 30, 255}))
	writePNG(t, filepath.Join(src, "b.png"), uniform(6, 4, color.NRGBA{40, 50, 60, 255}))
	for _, c := range []struct{ link, to string }{{"x/a.png", "a.png"}, {"y/b.png", "b.png"}, {"y/gone.png", "missing.png"}} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(c.link)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(src, c.to), filepath.Join(root, c.link)); err != nil {
			t.Skip("no symbolic links here:", err)
		}
	}
	d, err := dataset.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 2 {
		t.Fatalf("%d samples, want 2 (the dangling link skipped)", d.Len())
	}
}
