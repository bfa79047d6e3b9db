package onnxio_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/onnxio"
	"google.golang.org/protobuf/proto"
)

// FuzzRead decodes arbitrary bytes under tight limits: no panic, no hang,
// bounded memory. Whatever decodes must round-trip proto-equal, and every
// parameter view must work or fail with an error.
func FuzzRead(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "testdata", "models", "*.onnx"))
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata/models")
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	limits := onnxio.WithLimits(onnxio.Limits{MaxModelBytes: 1 << 20, MaxTensorBytes: 1 << 20, MaxDims: 8, MaxGraphDepth: 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnxio.Decode(data, limits, onnxio.WithoutExternalData())
		if _, ierr := onnxio.ReadInfoFrom(bytesReader(data), limits); (ierr == nil) != (err == nil) && err == nil {
			t.Fatalf("Decode accepted what ReadInfo rejected: %v", ierr)
		}
		if err != nil {
			return
		}
		for _, p := range m.Params() {
			if d, _, err := p.Float32(); err == nil && int64(len(d)) != p.NumElements() {
				t.Fatalf("%s: %d values for %d elements", p.ID, len(d), p.NumElements())
			}
			p.Nonzeros()
		}
		m.Info()
		out, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := onnxio.Decode(out, limits, onnxio.WithoutExternalData())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !proto.Equal(back.Proto, m.Proto) {
			t.Fatal("round trip not proto-equal")
		}
	})
}
