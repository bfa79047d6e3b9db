package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
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
