package onnxbuild

import (
	"os"
	"path/filepath"
	"testing"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestDemoNetGolden keeps testdata/demo/demonet.onnx (the model
// scripts/tour.sh runs) equal to DemoNet(); -update rewrites it.
func TestDemoNetGolden(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "demo")
	path := filepath.Join(dir, "demonet.onnx")
	m := DemoNet()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, Marshal(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/onnxbuild -run DemoNet -update)", err)
	}
	var got onnx.ModelProto
	if err := proto.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, m) {
		t.Fatalf("%s differs from DemoNet(); run go test ./internal/onnxbuild -run DemoNet -update", path)
	}
	if len(data) > 512<<10 {
		t.Fatalf("demo model is %d bytes: keep it small", len(data))
	}
}

func TestSqrt32(t *testing.T) {
	for _, x := range []float32{1, 2, 9, 27, 576, 1e-3} {
		r := sqrt32(x)
		if d := r*r - x; d > 1e-5*x || d < -1e-5*x {
			t.Fatalf("sqrt32(%v) = %v", x, r)
		}
	}
}
