package dataset

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// Fuzzers of the three readers, seeded from the small files in testdata/
// (written by go test -run TestFuzzSeeds -update). Each checks a round trip
// where the format has one.

func addSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	if len(files) == 0 {
		f.Fatalf("no seeds testdata/%s", pattern)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// bitsEqual compares two tensors' data exactly (NaN payloads included).
func bitsEqual(a, b *tensor.Dense) bool {
	if !slices.Equal(a.Shape(), b.Shape()) {
		return false
	}
	fa, ok1 := a.Data().([]float32)
	fb, ok2 := b.Data().([]float32)
	if ok1 && ok2 {
		if len(fa) != len(fb) {
			return false
		}
		for i := range fa {
			if math.Float32bits(fa[i]) != math.Float32bits(fb[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Data(), b.Data())
}

// FuzzOpenNPY: a .npy either fails to decode with an error, or decodes,
// re-encodes and decodes to the same array; read as a dataset, every sample
// equals the whole-array decode.
func FuzzOpenNPY(f *testing.F) {
	addSeeds(f, "*.npy")
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := DecodeNPY(bytes.NewReader(data), int64(len(data)), "fuzz.npy")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := EncodeNPY(&buf, x); err != nil {
			t.Fatalf("decoded %v but cannot encode it: %v", x.Dtype(), err)
		}
		y, err := DecodeNPY(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "again.npy")
		if err != nil {
			t.Fatalf("re-encoded array does not decode: %v", err)
		}
		if !bitsEqual(x, y) {
			t.Fatalf("round trip changed the array: %v %v → %v %v", x.Shape(), x.Data(), y.Shape(), y.Data())
		}
		a, err := openArrayAt(bytes.NewReader(data), int64(len(data)), "x", "fuzz.npy")
		if err != nil {
			if x.Dims() > 0 {
				t.Fatalf("decodes whole but not as samples: %v", err)
			}
			return
		}
		d := &arrays{path: "fuzz.npy", inputs: []*array{a}, n: a.rows()}
		if d.n == 0 || d.n > 1<<12 || x.Shape().TotalSize() > 1<<16 {
			return
		}
		b, err := d.Batch(context.Background(), Range(0, d.n))
		if err != nil {
			t.Fatalf("batch of all %d samples: %v", d.n, err)
		}
		want := asFloat32(x)
		got := b.Inputs["x"].Data().([]float32)
		if len(got) != len(want) {
			t.Fatalf("batch has %d elements, the array %d", len(got), len(want))
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("element %d: batch %v, whole %v", i, got[i], want[i])
			}
		}
	})
}

// asFloat32 converts a decoded array to float32 as Batch does.
func asFloat32(x *tensor.Dense) []float32 {
	switch v := x.Data().(type) {
	case []float32:
		return v
	case []int64:
		out := make([]float32, len(v))
		for i, e := range v {
			out[i] = float32(e)
		}
		return out
	case []bool:
		out := make([]float32, len(v))
		for i, e := range v {
			if e {
				out[i] = 1
			}
		}
		return out
	}
	return nil
}

// FuzzOpenNPZ: a .npz either fails to open with an error, or every sample
// reads the same forward (streamed), backward (loaded into memory or
// re-streamed) and as ReadNPZ decodes it whole.
func FuzzOpenNPZ(f *testing.F) {
	addSeeds(f, "*.npz")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, limit := range []int64{0, 1 << 20} {
			d, err := npzDataset(bytes.NewReader(data), int64(len(data)), "fuzz.npz", &config{labels: "labels", memLimit: limit})
			if err != nil {
				return
			}
			if d.n == 0 || d.n > 1<<10 {
				return
			}
			fwd, err1 := d.Batch(context.Background(), Range(0, d.n))
			rev := make([]int, d.n)
			for i := range rev {
				rev[i] = d.n - 1 - i
			}
			back, err2 := d.Batch(context.Background(), rev)
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("forward read: %v; backward read: %v", err1, err2)
			}
			if err1 != nil {
				return
			}
			whole, err := decodeNPZ(bytes.NewReader(data), int64(len(data)), "fuzz.npz")
			if err != nil {
				t.Fatalf("reads as a dataset but not whole: %v", err)
			}
			for name, x := range fwd.Inputs {
				f, b := x.Data().([]float32), back.Inputs[name].Data().([]float32)
				per := len(f) / d.n
				for i := range d.n {
					for j := range per {
						if math.Float32bits(f[i*per+j]) != math.Float32bits(b[(d.n-1-i)*per+j]) {
							t.Fatalf("%s sample %d differs read forward and backward", name, i)
						}
					}
				}
				w := whole[name]
				if len(d.inputs) == 1 && w == nil {
					continue
				}
				if want := asFloat32(w); !slices.EqualFunc(f, want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
					t.Fatalf("%s: batch differs from the whole decode", name)
				}
			}
			if d.labels != nil && !slices.Equal(fwd.Labels, whole["labels"].Data().([]int64)) {
				t.Fatalf("labels %v, whole %v", fwd.Labels, whole["labels"].Data())
			}
		}
	})
}

// FuzzOpenImage: an image file either fails to decode with an error, or
// decodes and preprocesses to finite values of the expected size — the
// same as its pixels re-encoded as PNG give.
func FuzzOpenImage(f *testing.F) {
	addSeeds(f, "*.png")
	addSeeds(f, "*.jpg")
	pres := []Preprocess{
		{},
		{Height: 8, MaxWidth: 12, Mean: []float32{0.5}, Std: []float32{0.5}, PadWidth: 12},
		{Resize: []int{6}, CenterCrop: []int{4}, Channels: Gray, Layout: NHWC},
		{Resize: []int{5, 3}, Channels: BGR, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > 1<<16 {
			return // small images only: the fuzzer explores the decoder, not the allocator
		}
		img, err := DecodeImage(data, "fuzz")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, toNRGBA(img)); err != nil {
			t.Fatal(err)
		}
		again, err := DecodeImage(buf.Bytes(), "again.png")
		if err != nil {
			t.Fatalf("re-encoded PNG does not decode: %v", err)
		}
		for _, p := range pres {
			x, h, w, err := p.Apply(img)
			y, h2, w2, err2 := p.Apply(again)
			if (err == nil) != (err2 == nil) {
				t.Fatalf("%+v: %v vs re-encoded %v", p, err, err2)
			}
			if err != nil {
				continue
			}
			if h != h2 || w != w2 || len(x) != p.NumChannels()*h*w || !slices.Equal(x, y) {
				t.Fatalf("%+v: %dx%d (%d values) vs re-encoded %dx%d", p, w, h, len(x), w2, h2)
			}
			for _, v := range x {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%+v: value %v", p, v)
				}
			}
		}
	})
}
