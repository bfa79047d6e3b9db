package engine

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestMarkWindowRows checks the read model of a 3×3, stride 1, pad 1
// convolution against its geometry: outputs rows [0, 3) written by thread
// 0 read input rows [0, 4) of every channel, rows [3, 6) read [2, 6).
func TestMarkWindowRows(t *testing.T) {
	g := convGeom{h: 6, w: 5, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1, oh: 6, ow: 5, spatial: 2}
	const c, m = 2, 3
	out := make([]int8, m*g.oh*g.ow)
	for i := range out {
		if i%(g.oh*g.ow) >= 3*g.ow {
			out[i] = 1
		}
	}
	for th, want := range [][2]int{{0, 4}, {2, 6}} {
		mask := make([]bool, c*g.h*g.w)
		g.markWindow(mask, out, int8(th), 1, c, m, 1, false)
		for i, got := range mask {
			row := i % (g.h * g.w) / g.w
			if exp := row >= want[0] && row < want[1]; got != exp {
				t.Fatalf("thread %d: input %d (row %d) read = %v, want %v", th, i, row, got, exp)
			}
		}
	}
}

// crossingOf compiles the model at path for 2 threads, every node on both,
// and counts its crossing.
func crossingOf(t *testing.T, path string, shape []int) (*Program, *CrossingReport) {
	t.Helper()
	forceParallel(t)
	withPlaneSplits(t)
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in0 := m.Info().Inputs[0]
	p, err := Compile(m, WithInputShape(in0.Name, shape...), WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Crossing(context.Background(), RandomInputs(p))
	if err != nil {
		t.Fatal(err)
	}
	return p, r
}

// TestCrossingMobilenetV2 checks the count on mobilenet_v2's plan: every
// output element is credited to exactly one thread, both threads write
// part of every large node, and a pointwise convolution reading another
// pointwise convolution's output (both split over the plane the same way)
// reads nothing across. Where the flat depthwise kernel splits its planes
// as the pointwise convolutions do (dwFlatSpan, spansOK, from 28² planes), a
// depthwise layer reads across at most its window's rows and one unit of
// positions per channel, and the pointwise convolution after it nothing;
// split over channels, each read half its input across.
func TestCrossingMobilenetV2(t *testing.T) {
	p, r := crossingOf(t, testmodels.Shared(t, "tv/mobilenet_v2.onnx"), []int{1, 3, 224, 224})
	if len(r.Nodes) != len(p.main.steps) {
		t.Fatalf("%d nodes counted, the plan has %d", len(r.Nodes), len(p.main.steps))
	}
	pw := map[int]bool{} // values written split over the plane: by a pointwise convolution, a depthwise one in spans
	for i, n := range r.Nodes {
		s := &p.main.steps[i]
		var sum int64
		for _, b := range n.OutByThread {
			sum += b
		}
		if sum != n.OutBytes {
			t.Errorf("%s: threads wrote %d of %d output bytes", n.Name, sum, n.OutBytes)
		}
		if n.OutBytes >= 1<<18 && (n.OutByThread[0] == 0 || n.OutByThread[1] == 0) {
			t.Errorf("%s: %d output bytes on 2 threads, written %v", n.Name, n.OutBytes, n.OutByThread)
		}
		ck, ok := s.k.(*convKernel)
		if ok && ck.path() == PathDWFlat && dwFlatSpan != nil && spansOK(ck.oh*ck.ow) && ck.h*ck.w >= 28*28 {
			if bound := int64(4 * ck.c * (ck.kh*ck.w + spatialUnit)); n.CrossBytes > bound {
				t.Errorf("%s: a depthwise layer reads %d bytes across, more than its window's rows (%d)", n.Name, n.CrossBytes, bound)
			}
			pw[s.out[0]] = ck.oh*ck.ow >= 28*28
		}
		if !ok || !ck.pointwise || ck.path() != PathImplicit {
			continue
		}
		if pw[s.in[0]] && n.CrossBytes != 0 {
			t.Errorf("%s: a pointwise convolution after one split the same way reads %d bytes across", n.Name, n.CrossBytes)
		}
		pw[s.out[0]] = true
	}
	if r.CrossBytes <= 0 || r.CrossBytes >= r.ReadBytes {
		t.Errorf("crossing %d of %d bytes read", r.CrossBytes, r.ReadBytes)
	}
	t.Logf("%s", r.String()[strings.LastIndex(strings.TrimSuffix(r.String(), "\n"), "\n")+1:])
}

// TestCrossingDet checks the element-wise split on PP-OCRv4 det's plan,
// whose convolutions are followed by chains of element-wise ops (batch
// norm as Mul+Add, hard-swish): an element-wise node over planes of 32²
// or more reads nothing across from a pointwise convolution before it,
// and a pointwise convolution nothing from an element-wise node before it
// (both split over the plane, planeSpans). Split over the flat tensor,
// each read half across.
func TestCrossingDet(t *testing.T) {
	p, r := crossingOf(t, testmodels.OCR(t, "det"), []int{1, 3, 320, 320})
	implicit := 0
	for i := range p.main.steps {
		if k, ok := p.main.steps[i].k.(*convKernel); ok && k.pointwise && k.path() == PathImplicit {
			implicit++
		}
	}
	if implicit == 0 {
		// The portable build has no tap micro-kernels (runTaps), so no
		// implicit path: its pointwise convolutions are GEMMs split over
		// the output channels, and nothing here splits the plane.
		t.Skip("no pointwise convolution on the implicit path in this build: no plane split to check")
	}
	kind := map[int]string{} // value → "pw" or "ew": written split over the plane by its kind
	in := func(s *step, j int) string {
		id := s.in[j]
		if a := p.values[id].alias; a >= 0 {
			id = a
		}
		return kind[id]
	}
	checked := 0
	for i, n := range r.Nodes {
		s := &p.main.steps[i]
		out := p.values[s.out[0]].shape
		big := len(out) == 4 && out[2]*out[3] >= 32*32
		switch k := s.k.(type) {
		case *convKernel:
			if k.pointwise && k.path() == PathImplicit {
				if in(s, 0) == "ew" {
					checked++
					if n.CrossBytes != 0 {
						t.Errorf("%s: a pointwise convolution after an element-wise node reads %d bytes across", n.Name, n.CrossBytes)
					}
				}
				if big {
					kind[s.out[0]] = "pw"
				}
			}
		case *chainKernel, *unaryKernel:
			x := 0
			if ch, ok := k.(*chainKernel); ok {
				x = ch.xIdx
			}
			if in(s, x) != "" {
				checked++
				if n.CrossBytes != 0 {
					t.Errorf("%s: an element-wise node after one split over the plane reads %d bytes across", n.Name, n.CrossBytes)
				}
			}
			if big {
				kind[s.out[0]] = "ew"
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d nodes checked", checked)
	}
	t.Logf("%d nodes checked; %s", checked, r.String()[strings.LastIndex(strings.TrimSuffix(r.String(), "\n"), "\n")+1:])
}

// withPlaneSplits switches the plane splits on until the test ends.
func withPlaneSplits(t *testing.T) {
	prev := planeSplits
	planeSplits = true
	t.Cleanup(func() { planeSplits = prev })
}

// TestPlaneSplitsBitwise runs mobilenet_v2 and PP-OCRv4 det with the plane
// splits on at 1, 2 and 3 threads, every node on all of them: the outputs
// are the same bits.
func TestPlaneSplitsBitwise(t *testing.T) {
	forceParallel(t)
	withPlaneSplits(t)
	for _, c := range []struct {
		name  string
		path  func(testing.TB) string
		shape []int
	}{
		{"mobilenet_v2", func(t testing.TB) string { return testmodels.Shared(t, "tv/mobilenet_v2.onnx") }, []int{1, 3, 224, 224}},
		{"ppocr_det", func(t testing.TB) string { return testmodels.OCR(t, "det") }, []int{1, 3, 160, 224}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := onnxio.ReadFile(c.path(t))
			if err != nil {
				t.Fatal(err)
			}
			in0 := m.Info().Inputs[0]
			x := randSlice(rand.New(rand.NewPCG(9, 10)), numel(c.shape))
			var ref []float32
			for _, threads := range []int{1, 2, 3} {
				p, err := Compile(m, WithInputShape(in0.Name, c.shape...), WithThreads(threads))
				if err != nil {
					t.Fatal(err)
				}
				out, err := p.Run(context.Background(), map[string]*tensor.Dense{in0.Name: tensor.New(tensor.WithShape(c.shape...), tensor.WithBacking(x))})
				if err != nil {
					t.Fatal(err)
				}
				got := out[p.Outputs()[0].Name].Data().([]float32)
				if threads == 1 {
					ref = append([]float32(nil), got...)
					continue
				}
				for i := range ref {
					if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("threads %d: output[%d] = %v, 1 thread gave %v", threads, i, got[i], ref[i])
					}
				}
			}
		})
	}
}
