package engine

import (
	"context"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestSplitForDepthwise: in mobilenet_v2 compiled for 2 threads, every
// expansion left unfused (a 1×1 Conv read only by a depthwise Conv: the
// blocks at 28² and below, 13) splits its output channels between the
// threads, and no other Conv does; with every Conv on the im2col or the
// implicit path (both split by rows then), the model gives on 2 and 3
// threads the bits of 1.
func TestSplitForDepthwise(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.Shared(t, "tv/mobilenet_v2.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(m, WithInputShape("input", 1, 3, 224, 224), WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	split := 0
	for i, s := range p.main.steps {
		k, ok := s.k.(*convKernel)
		if !ok || !k.rowsSplit {
			continue
		}
		split++
		if k.depthwise || !k.pointwise || i+1 == len(p.main.steps) {
			t.Fatalf("step %d: rowsSplit on a Conv that is not an expansion", i)
		}
		if n, ok := p.main.steps[i+1].k.(*convKernel); !ok || !n.depthwise {
			t.Fatalf("step %d: rowsSplit, but the next step is not a depthwise Conv", i)
		}
	}
	want := 13
	switch {
	case planeSplits:
		want = 0 // the plane splits keep every layer on positions
	case !blockFusion || dwFlatRun == nil && !blockFusionGo:
		want = 16 // no block fused: the 56² and 112² expansions too
	}
	if split != want {
		t.Fatalf("%d Convs split by rows, want %d", split, want)
	}
}

func TestSplitForDepthwiseBitwise(t *testing.T) {
	if planeSplits {
		t.Skip("EDGEPRUNE_PLANE_SPLITS=1: no expansion splits by rows")
	}
	m, err := onnxio.ReadFile(testmodels.Shared(t, "tv/mobilenet_v2.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{PathIm2col, PathImplicit} {
		if path == PathImplicit && activeKernel().runTaps == nil {
			t.Logf("no implicit path on this build (%s kernel): im2col only", activeKernel().name)
			continue
		}
		var want []float32
		for _, threads := range []int{1, 2, 3} {
			p, err := Compile(m, WithInputShape("input", 1, 3, 224, 224), WithThreads(threads), withAllPaths(path))
			if err != nil {
				t.Fatal(err)
			}
			split := 0
			for _, s := range p.main.steps {
				if k, ok := s.k.(*convKernel); ok && k.rowsSplit && (k.implicit == (path == PathImplicit)) {
					split++
				}
			}
			if split == 0 {
				t.Fatalf("%s, %d threads: no expansion split by rows on that path", path, threads)
			}
			out, err := p.Run(context.Background(), RandomInputs(p))
			if err != nil {
				t.Fatal(err)
			}
			var y []float32
			for _, v := range out {
				y = v.Data().([]float32)
			}
			if want == nil {
				want = y
				continue
			}
			for i := range y {
				if y[i] != want[i] {
					t.Fatalf("%s: output[%d] = %v on %d threads, %v on 1", path, i, y[i], threads, want[i])
				}
			}
		}
	}
}
