package engine

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

func decode(t *testing.T, b *onnxbuild.Builder) *onnxio.Model {
	t.Helper()
	m, err := onnxio.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func dense(shape []int, f []float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
}

func TestUnsupportedOpsListedBeforeRunning(t *testing.T) {
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 2)
	b.Node("Relu", []string{"x"}, []string{"a"})
	b.Node("FancyOp", []string{"a"}, []string{"b"})
	b.Node("OtherOp", []string{"b"}, []string{"y"})
	b.Output("y", onnxbuild.Float, 2)
	_, err := Compile(decode(t, b))
	var ue *UnsupportedError
	if !errors.Is(err, ErrNotImplemented) || !errors.As(err, &ue) {
		t.Fatalf("Compile: %v, want an UnsupportedError wrapping ErrNotImplemented", err)
	}
	if strings.Join(ue.Ops, ",") != "FancyOp,OtherOp" {
		t.Errorf("listed %v, want [FancyOp OtherOp]", ue.Ops)
	}
}

// TestArenaReusesMemory: a chain of elementwise ops needs two live buffers
// at a time, not one per node.
func TestArenaReusesMemory(t *testing.T) {
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 1, 64, 32, 32)
	prev := "x"
	const n = 10
	for i := 0; i < n; i++ {
		out := "h" + string(rune('a'+i))
		if i == n-1 {
			out = "y"
		}
		op := "Relu"
		if i%2 == 1 {
			op = "Sigmoid"
		}
		b.Node(op, []string{prev}, []string{out})
		prev = out
	}
	b.Output("y", onnxbuild.Float, 1, 64, 32, 32)
	p, err := Compile(decode(t, b))
	if err != nil {
		t.Fatal(err)
	}
	one := int64(64 * 32 * 32 * 4)
	rep := p.Report()
	if rep.ArenaBytes > 2*one || rep.ArenaBytes < one {
		t.Errorf("arena %d bytes for a chain of %d-byte tensors, want between 1 and 2 tensors", rep.ArenaBytes, one)
	}
	// And the result is still right: sigmoid(relu(...)).
	r := rand.New(rand.NewPCG(1, 1))
	x := randSlice(r, 64*32*32)
	out, err := p.Run(context.Background(), map[string]*tensor.Dense{"x": dense([]int{1, 64, 32, 32}, x)})
	if err != nil {
		t.Fatal(err)
	}
	y := out["y"].Data().([]float32)
	for i, v := range x {
		want := v
		for j := 0; j < n; j++ {
			if j%2 == 0 {
				want = max(want, 0)
			} else {
				want = sigmoid(want)
			}
		}
		if math.Abs(float64(y[i]-want)) > 1e-6 {
			t.Fatalf("y[%d] = %v, want %v", i, y[i], want)
		}
	}
}

func TestRunCancelled(t *testing.T) {
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 4)
	b.Node("Relu", []string{"x"}, []string{"y"})
	b.Output("y", onnxbuild.Float, 4)
	p, err := Compile(decode(t, b))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Run(ctx, map[string]*tensor.Dense{"x": dense([]int{4}, make([]float32, 4))}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v", err)
	}
	if _, err := p.Run(context.Background(), map[string]*tensor.Dense{"x": dense([]int{5}, make([]float32, 5))}); !errors.Is(err, ErrInput) {
		t.Errorf("Run with a wrong shape: %v, want ErrInput", err)
	}
}

// TestCannedModelsMatchORT runs every canned model of internal/onnxbuild
// (If with both branches taken, SE block, Concat, fp16/fp64 weights ...)
// against ONNX Runtime.
func TestCannedModelsMatchORT(t *testing.T) {
	oracle := ortoracle.ForTest(t)
	dir := t.TempDir()
	for _, c := range onnxbuild.CannedModels() {
		t.Run(c.Name, func(t *testing.T) {
			raw := onnxbuild.Marshal(c.Build())
			path := filepath.Join(dir, c.Name+".onnx")
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := onnxio.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			info := m.Info().Inputs[0]
			var shape []int
			for i, d := range info.Shape {
				if d.Value > 0 {
					shape = append(shape, int(d.Value))
				} else {
					shape = append(shape, 2+i)
				}
			}
			p, err := Compile(m, WithInputShape("x", shape...))
			if err != nil {
				t.Fatal(err)
			}
			for _, sign := range []float32{1, -1} { // both If branches
				r := rand.New(rand.NewPCG(5, 6))
				x := make([]float32, numel(shape))
				for i := range x {
					x[i] = sign * (r.Float32() + 0.1)
				}
				got, err := p.Run(context.Background(), map[string]*tensor.Dense{"x": dense(shape, x)})
				if err != nil {
					t.Fatal(err)
				}
				ref, err := oracle.Run(context.Background(), path, []ortoracle.Tensor{ortoracle.FromFloat32("x", int64s(shape), x)})
				if err != nil {
					t.Fatal(err)
				}
				want, _ := ref[0].Float32()
				if e := relErr(want, got["y"].Data().([]float32)); e > 1e-5 {
					t.Errorf("sign %v: max rel error %.3g", sign, e)
				}
			}
		})
	}
}

// TestReportResNet18 checks the cost model against torchvision's published
// figure for ResNet-18 at 224²: 1.81 GMACs.
func TestReportResNet18(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.Shared(t, "tv/resnet18.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	rep := p.Report()
	if math.Abs(float64(rep.MACs)/1.814e9-1) > 0.01 {
		t.Errorf("ResNet-18 MACs %d, torchvision reports 1.814e9", rep.MACs)
	}
	// Peak activations: at least the largest pair of live tensors (input
	// of the first maxpool and its output), far less than all of them.
	var sum int64
	for _, n := range rep.Nodes {
		for _, s := range n.Outputs {
			sum += int64(numel(s)) * 4
		}
	}
	big := int64(64*112*112+64*56*56) * 4
	if rep.ArenaBytes < big || rep.ArenaBytes > sum/2 {
		t.Errorf("arena %d bytes: want in [%d, %d]", rep.ArenaBytes, big, sum/2)
	}
}

// TestPackedWeightsReleased checks that a plan keeps only the packed copy
// of Conv weights (and still computes: the real-model tests compare the
// outputs with ONNX Runtime).
func TestPackedWeightsReleased(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.Shared(t, "tv/resnet18.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(m, WithInputShape(m.Info().Inputs[0].Name, 1, 3, 224, 224))
	if err != nil {
		t.Fatal(err)
	}
	packed, released := 0, 0
	for _, s := range p.main.steps {
		if ck, ok := s.k.(*convKernel); ok && (ck.packed != nil || ck.swapped != nil) {
			packed++
			if p.values[s.in[1]].konst.f == nil {
				released++
			}
		}
	}
	if packed == 0 || released != packed {
		t.Fatalf("%d Convs with packed weights, %d decoded copies released", packed, released)
	}
}
