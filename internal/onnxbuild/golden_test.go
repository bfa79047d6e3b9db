package onnxbuild

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite testdata/models/*.onnx from the canned models")

// goldenDir holds the canned models at the repository root, where other
// packages (onnxio fuzz tests) pick them up as seeds.
const goldenDir = "../../testdata/models"

// maxGoldenSize keeps the golden models small enough to be fuzz seeds.
const maxGoldenSize = 8 << 10

func TestCannedGolden(t *testing.T) {
	for _, c := range CannedModels() {
		t.Run(c.Name, func(t *testing.T) {
			path := filepath.Join(goldenDir, c.Name+".onnx")
			m := c.Build()
			if *update {
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, Marshal(m), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/onnxbuild -update)", err)
			}
			if len(data) > maxGoldenSize {
				t.Errorf("%s is %d bytes, want at most %d", path, len(data), maxGoldenSize)
			}
			var got onnx.ModelProto
			if err := proto.Unmarshal(data, &got); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if !proto.Equal(&got, m) {
				t.Errorf("%s differs from %s(); run go test ./internal/onnxbuild -update", path, c.Name)
			}
		})
	}
}
