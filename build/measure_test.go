package build

import (
	"context"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestInterleaved checks the ratios are per program against the first: the
// first's is exactly 1, and the same model timed twice is within a factor
// of 5 of itself (a loose bound: under a load of 17 on 2 cores it read 0.47).
func TestInterleaved(t *testing.T) {
	m, err := onnxio.ReadFile("../testdata/demo/demonet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	var progs []*engine.Program
	for range 2 {
		p, err := engine.Compile(m, engine.WithThreads(1))
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, p)
	}
	d, err := Interleaved(context.Background(), progs, 1, 5, 3, "p50")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Times) != 2 || len(d.Ratios) != 2 || d.Ratios[0] != 1 || d.Times[0] <= 0 {
		t.Fatalf("got %+v, want two times > 0 and ratios starting at exactly 1", d)
	}
	if d.Ratios[1] < 0.2 || d.Ratios[1] > 5 {
		t.Errorf("the same model against itself: ratio %.3f, want about 1", d.Ratios[1])
	}
	if _, err := Interleaved(context.Background(), nil, 1, 5, 3, "p50"); err == nil {
		t.Error("no programs: want an error")
	}
}
