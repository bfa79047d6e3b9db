package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/pack"
	"google.golang.org/protobuf/proto"
)

func TestPackUnpackInspect(t *testing.T) {
	model := writeCanned(t, "cnn", onnxbuild.CNN())
	dir := t.TempDir()
	epk, back := filepath.Join(dir, "cnn.epk"), filepath.Join(dir, "back.onnx")
	code, out, errs := runCLI(t, "pack", model, "-o", epk, "--level", "3", "--json")
	if code != 0 {
		t.Fatalf("pack: exit %d: %s", code, errs)
	}
	var rep packJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(epk)
	if err != nil || rep.PackedBytes != st.Size() || !rep.Lossless || len(rep.Tensors) == 0 {
		t.Fatalf("pack report %+v does not match the %v file", rep, st)
	}
	if code, out, errs = runCLI(t, "inspect", epk); code != 0 || !strings.Contains(out, "skeleton") || !strings.Contains(out, rep.Tensors[0].ID) {
		t.Fatalf("inspect pack: exit %d, %s%s", code, out, errs)
	}
	if code, _, errs = runCLI(t, "unpack", epk, "-o", back); code != 0 {
		t.Fatalf("unpack: exit %d: %s", code, errs)
	}
	a, err := onnxio.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnxio.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(a.Proto, b.Proto) {
		t.Fatal("unpacked model differs from the input")
	}
	// A lossy pack says so.
	if code, out, _ = runCLI(t, "pack", model, "-o", epk, "--values", "codebook:4"); code != 0 || !strings.Contains(out, "LOSSY") {
		t.Fatalf("lossy pack: exit %d: %s", code, out)
	}
	// Corruption: exit 1, nothing written.
	raw, _ := os.ReadFile(epk)
	raw[len(raw)/2] ^= 4
	bad := filepath.Join(dir, "bad.epk")
	os.WriteFile(bad, raw, 0o644)
	out2 := filepath.Join(dir, "never.onnx")
	if code, _, errs = runCLI(t, "unpack", bad, "-o", out2); code != 1 || !strings.Contains(errs, "corrupt") {
		t.Fatalf("corrupt unpack: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(out2); err == nil {
		t.Fatal("a corrupt unpack wrote its output")
	}
	for _, args := range [][]string{{"pack", model}, {"pack", model, "-o", epk, "--values", "int8"}, {"unpack", epk}, {"pack", model, "-o", epk, "--level", "0"}} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestUnpackMalformedLeavesNothing: a pack whose checksums hold but whose
// bitmap is inconsistent fails part-way through the streamed output; unpack
// exits 1 and leaves neither the output nor a temporary file. --no-sync
// writes the same model as the default.
func TestUnpackMalformedLeavesNothing(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "pack", "testdata", "tiny.epk"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := pack.ReadHeader(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	for _, s := range h.Sections {
		if s.Kind == pack.KindBitmap {
			// A raw zstd block: frame header (6 bytes), block header (3), then
			// the bitmap; one more bit than the table's count.
			bad[s.Offset+9] |= 1
			binary.LittleEndian.PutUint32(bad[s.Offset+s.Stored:], crc32.Checksum(bad[s.Offset:s.Offset+s.Stored], castagnoli))
		}
	}
	binary.LittleEndian.PutUint32(bad[h.FileBytes-4:], crc32.Checksum(bad[:h.FileBytes-4], castagnoli))
	dir := t.TempDir()
	in, badIn := filepath.Join(dir, "tiny.epk"), filepath.Join(dir, "bad.epk")
	os.WriteFile(in, good, 0o644)
	os.WriteFile(badIn, bad, 0o644)
	out := filepath.Join(dir, "out", "model.onnx")
	os.Mkdir(filepath.Dir(out), 0o755)
	if code, _, errs := runCLI(t, "unpack", badIn, "-o", out); code != 1 || !strings.Contains(errs, "malformed") {
		t.Fatalf("malformed unpack: exit %d: %s", code, errs)
	}
	if left, _ := os.ReadDir(filepath.Dir(out)); len(left) != 0 {
		t.Fatalf("a failed unpack left %v", left)
	}
	var models [][]byte
	for _, args := range [][]string{{"unpack", in, "-o", out}, {"unpack", in, "-o", out, "--no-sync"}} {
		if code, _, errs := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, b)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "pack", "testdata", "tiny.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(models[0], want) || !bytes.Equal(models[1], want) {
		t.Fatal("unpack of tiny.epk is not pack/testdata/tiny.onnx")
	}
}
