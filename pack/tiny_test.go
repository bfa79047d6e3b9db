package pack

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/prune"
)

var update = flag.Bool("update", false, "rewrite testdata/tiny.epk and testdata/tiny.onnx")

// tinyModel is the model of docs/pack-format.md's worked example:
// y = Gemm(x, W, b), W [4,8] holding 6 nonzeros, b [4] dense.
func tinyModel(t testing.TB) *onnxio.Model {
	t.Helper()
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 1, 8)
	w := make([]float32, 32)
	w[1], w[6], w[10], w[17], w[26], w[31] = 0.5, -1.25, 2, -0.75, 1.5, -3
	b.Init("W", []int64{4, 8}, w)
	b.Init("b", []int64{4}, []float32{0.125, -0.5, 1, 0})
	b.Node("Gemm", []string{"x", "W", "b"}, []string{"y"}, onnxbuild.AttrInt("transB", 1))
	b.Output("y", onnxbuild.Float, 1, 4)
	m, err := onnxio.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTinyGolden packs the tiny model and compares with testdata/tiny.epk
// (the worked example of docs/pack-format.md): packing is deterministic, the
// golden file still unpacks to the model, and the fresh pack holds the same
// content — header fields and every section decompressed. The zstd frames
// themselves are not compared: another version of the compressor may code
// the same content differently. scripts/cross.sh runs this test under qemu
// for arm64 and armv7, and compares whole packs made on each architecture.
func TestTinyGolden(t *testing.T) {
	m := tinyModel(t)
	b, _ := packModel(t, m)
	again, _ := packModel(t, tinyModel(t))
	if !bytes.Equal(b, again) {
		t.Fatal("packing the same model twice gave different bytes")
	}
	path := filepath.Join("testdata", "tiny.epk")
	if *update {
		mb, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "tiny.onnx"), mb, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pack -run TestTinyGolden -update)", err)
	}
	got, err := unpack(golden)
	if err != nil {
		t.Fatalf("golden pack: %v", err)
	}
	mustEqualModels(t, "golden", got, m)
	if gc, wc := packContent(t, b), packContent(t, golden); gc != wc {
		t.Fatalf("pack of the tiny model holds\n%s\ngolden tiny.epk holds\n%s", gc, wc)
	}
}

// packContent describes pack b independently of how zstd coded it: the
// header fields but the stored sizes, then each section's kind, raw size
// and the SHA-256 of its decompressed bytes.
func packContent(t testing.TB, b []byte) string {
	t.Helper()
	h, err := ReadHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("version %d model %d values %v/%d level %d tensors %d", h.Version, h.ModelBytes, h.Values, h.CodebookBits, h.Level, h.Tensors)
	for _, s := range h.Sections {
		out += fmt.Sprintf(" | %v %d %x", s.Kind, s.Raw, sha256.Sum256(sectionContent(t, b, s.Kind)))
	}
	return out
}

// TestEveryBitFlipAndTruncation flips every bit of the tiny pack and cuts
// it at every length: each case must be an error, and a flip must be
// reported as corruption (or a bad magic) naming a section.
func TestEveryBitFlipAndTruncation(t *testing.T) {
	b, _ := packModel(t, tinyModel(t))
	if _, err := unpack(b); err != nil {
		t.Fatal(err)
	}
	mut := make([]byte, len(b))
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			copy(mut, b)
			mut[i] ^= 1 << bit
			_, err := unpack(mut)
			if err == nil {
				t.Fatalf("flip of byte %d bit %d: no error", i, bit)
			}
			var se *SectionError
			if !errors.Is(err, ErrMagic) && !(errors.Is(err, ErrCorrupt) && errors.As(err, &se) && se.Section != "") {
				t.Fatalf("flip of byte %d bit %d: %v, want corruption naming a section", i, bit, err)
			}
		}
	}
	for n := 0; n < len(b); n++ {
		_, err := unpack(b[:n])
		if err == nil {
			t.Fatalf("truncation to %d of %d bytes: no error", n, len(b))
		}
		if !errors.Is(err, ErrCorrupt) && !(n < len(Magic) && errors.Is(err, ErrMagic)) {
			t.Fatalf("truncation to %d bytes: %v, want corruption", n, err)
		}
	}
	if _, err := unpack(append(b[:len(b):len(b)], 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v, want corruption", err)
	}
}

func ExampleNewWriter() {
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 1, 4)
	b.Init("W", []int64{2, 4}, []float32{0, 1.5, 0, 0, 0, 0, -2, 0})
	b.Node("MatMul", []string{"x", "W"}, []string{"y"})
	b.Output("y", onnxbuild.Float, 1, 2)
	m, _ := onnxio.Decode(b.Bytes())

	var buf bytes.Buffer
	w, err := NewWriter(&buf, WithLevel(19))
	if err != nil {
		panic(err)
	}
	st, err := w.WriteModel(m)
	if err != nil {
		panic(err)
	}
	for _, ti := range st.Tensors {
		fmt.Printf("%s %s: %d of %d values stored\n", ti.ID, ti.EncodingName(), ti.Stored, ti.Count)
	}
	r, err := NewReader(&buf)
	if err != nil {
		panic(err)
	}
	back, err := r.ReadModel()
	if err != nil {
		panic(err)
	}
	d, _, _ := back.Params()[0].Float32()
	fmt.Println(d)
	// Output:
	// W bitmap: 2 of 8 values stored
	// [0 1.5 0 0 0 0 -2 0]
}

// TestGoldenContent compares the content (packContent: header fields and
// decompressed sections) of packs of the canned CNN — lossless, fp16,
// codebook, and pruned 2:4 — with testdata/golden_content.txt, so a run on
// arm64 or armv7 (qemu) proves that what is stored, k-means and encoding
// choices included, matches amd64's.
func TestGoldenContent(t *testing.T) {
	var lines []byte
	for _, c := range []struct {
		name string
		nm   bool
		opts []WriterOption
	}{{"fp32", false, nil}, {"fp16", false, []WriterOption{WithFP16()}}, {"codebook4", false, []WriterOption{WithCodebook(4)}},
		{"codebook8", false, []WriterOption{WithCodebook(8)}}, {"2:4", true, nil}} {
		m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.CNN()))
		if err != nil {
			t.Fatal(err)
		}
		what := "cnn@0.5"
		if c.nm {
			what = "cnn@2:4"
			pr, err := prune.New(prune.WithPattern(prune.Pattern{Kind: prune.NM, N: 2, M: 4}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pr.Prune(m); err != nil {
				t.Fatal(err)
			}
		} else {
			globalPrune(t, m, 0.5)
		}
		b, _ := packModel(t, m, c.opts...)
		lines = fmt.Appendf(lines, "%s %s: %s\n", what, c.name, packContent(t, b))
	}
	path := filepath.Join("testdata", "golden_content.txt")
	if *update {
		if err := os.WriteFile(path, lines, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pack -run TestGoldenContent -update)", err)
	}
	if !bytes.Equal(lines, golden) {
		t.Fatalf("pack content differs from %s:\ngot:\n%swant:\n%s", path, lines, golden)
	}
}
