package onnxio_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// TestReadFileReleasesFileBytes checks that ReadFile of a large file leaves
// the heap holding the decoded model, not the model and the file's bytes:
// the bytes read are collected before it returns (releaseRead), so the
// collector's next goal is not sized on both.
func TestReadFileReleasesFileBytes(t *testing.T) {
	const n = 12 << 20 / 4 // a 12 MiB initializer: over releaseCollectBytes
	b := onnxbuild.New(13)
	x := b.Input("x", onnx.TensorProto_FLOAT, 1, n)
	w := b.Init("w", []int64{1, n}, make([]float32, n))
	b.Node("Add", []string{x, w}, []string{"y"})
	b.Output("y", onnx.TensorProto_FLOAT, 1, n)
	path := filepath.Join(t.TempDir(), "big.onnx")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// The decoded model is one file's worth; the dead read buffer would
	// be a second.
	if limit := st.Size() * 3 / 2; grown > limit {
		t.Errorf("heap grew %d bytes reading a %d-byte file: over %d, the file's bytes still counted", grown, st.Size(), limit)
	}
	if got := m.Params()[0].NumElements(); got != n {
		t.Errorf("decoded %d elements, want %d", got, n)
	}
}
