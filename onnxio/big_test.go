package onnxio_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	"google.golang.org/protobuf/proto"
)

// TestOverProtobufLimit lowers the 2 GiB inline limit to a few KB to check
// the paths a real >2 GiB model takes: Marshal refuses, ExternalNever
// refuses, and the default WriteFile moves tensors out.
func TestOverProtobufLimit(t *testing.T) {
	defer onnxio.SetProtoLimit(3000)()
	orig := onnxbuild.CNN() // ~6 KB inline
	m, err := onnxio.Decode(onnxbuild.Marshal(orig))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Marshal(); !errors.Is(err, onnxio.ErrLimit) {
		t.Fatalf("Marshal over the limit: %v", err)
	}
	dir := t.TempDir()
	if err := m.WriteFile(filepath.Join(dir, "never.onnx"), onnxio.WithExternalData(onnxio.ExternalNever)); !errors.Is(err, onnxio.ErrLimit) {
		t.Fatalf("ExternalNever over the limit: %v", err)
	}
	out := filepath.Join(dir, "auto.onnx")
	if err := m.WriteFile(out, onnxio.WithExternalThreshold(64)); err != nil {
		t.Fatal(err)
	}
	back, err := onnxio.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !back.HasExternalData() || !proto.Equal(back.Proto, orig) {
		t.Fatalf("auto write over the limit: external=%v", back.HasExternalData())
	}
}
