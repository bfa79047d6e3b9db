package onnxbuild

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgeprune/edgeprune/internal/ortoracle"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// ortBatch is the size given to a symbolic dimension ("N") in ORT runs.
const ortBatch = 3

// concreteDims returns v's dimensions with symbolic ones set to ortBatch.
func concreteDims(v *onnx.ValueInfoProto) []int64 {
	var dims []int64
	for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
		if dv, ok := d.Value.(*onnx.TensorShapeProto_Dimension_DimValue); ok {
			dims = append(dims, dv.DimValue)
		} else {
			dims = append(dims, ortBatch)
		}
	}
	return dims
}

func numElements(dims []int64) int {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	return n
}

// ortInput returns the input x for a canned model: uniform on [-1, 1)
// shifted by +0.5 or -0.5, so the elements' sum takes the sign of shift.
func ortInput(g *onnx.GraphProto, shift float32) ([]int64, []float32) {
	dims := concreteDims(g.Input[0])
	x := Rand(900, numElements(dims), 1)
	for i := range x {
		x[i] += shift
	}
	return dims, x
}

// runORT runs the model at path on x and returns y.
func runORT(t *testing.T, o *ortoracle.Oracle, path string, dims []int64, x []float32) ([]int64, []float32) {
	t.Helper()
	outs, err := o.Run(context.Background(), path, []ortoracle.Tensor{ortoracle.FromFloat32("x", dims, x)})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Name != "y" {
		t.Fatalf("ORT returned %d outputs, want y alone", len(outs))
	}
	y, err := outs[0].Float32()
	if err != nil {
		t.Fatal(err)
	}
	return outs[0].Shape, y
}

// TestCannedInORT runs every canned model in ONNX Runtime, inline and with
// external data, and checks y's shape, that it is finite, and for MLP and
// IfModel its values against a direct computation.
func TestCannedInORT(t *testing.T) {
	o := ortoracle.ForTest(t)
	reference := map[string]func(*testing.T, *onnx.GraphProto, []float32) []float64{
		"mlp": mlpReference,
		"if":  ifReference,
	}
	for _, c := range CannedModels() {
		t.Run(c.Name, func(t *testing.T) {
			m := c.Build()
			dir := t.TempDir()
			path := filepath.Join(dir, "model.onnx")
			if err := os.WriteFile(path, Marshal(m), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := WriteWithExternalData(m, dir, "external.onnx", "external.bin", 64); err != nil {
				t.Fatal(err)
			}
			wantDims := concreteDims(m.Graph.Output[0])
			for _, shift := range []float32{0.5, -0.5} {
				dims, x := ortInput(m.Graph, shift)
				gotDims, y := runORT(t, o, path, dims, x)
				if !slices.Equal(gotDims, wantDims) {
					t.Fatalf("y has shape %v, want %v", gotDims, wantDims)
				}
				for i, v := range y {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("y[%d] = %v", i, v)
					}
				}
				if ref := reference[c.Name]; ref != nil {
					want := ref(t, m.Graph, x)
					for i := range want {
						if d := math.Abs(float64(y[i]) - want[i]); d > 1e-5+1e-4*math.Abs(want[i]) {
							t.Errorf("shift %v: y[%d] = %v, want %v", shift, i, y[i], want[i])
						}
					}
				}
				if shift > 0 {
					// The same model read from external data gives the same y.
					_, ye := runORT(t, o, filepath.Join(dir, "external.onnx"), dims, x)
					if !slices.Equal(ye, y) {
						t.Errorf("external-data model: y = %v, want %v", ye, y)
					}
				}
			}
		})
	}
}

// floats returns the float32 values of the tensor called name: an
// initializer or a Constant's value, in g or any of its subgraphs.
func floats(t *testing.T, g *onnx.GraphProto, name string) []float32 {
	t.Helper()
	var found *onnx.TensorProto
	var walk func(*onnx.GraphProto)
	walk = func(g *onnx.GraphProto) {
		for _, tp := range g.Initializer {
			if tp.GetName() == name {
				found = tp
			}
		}
		for _, n := range g.Node {
			for _, a := range n.Attribute {
				if a.T != nil && n.GetOpType() == "Constant" && n.Output[0] == name {
					found = a.T
				}
				if a.G != nil {
					walk(a.G)
				}
			}
		}
	}
	walk(g)
	if found == nil || found.GetDataType() != int32(Float) || len(found.RawData)%4 != 0 {
		t.Fatalf("no float32 raw tensor %q", name)
	}
	out := make([]float32, len(found.RawData)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(found.RawData[4*i:]))
	}
	return out
}

// dense returns act(alpha·x·W + b) for x [n,k] and W [k,m], or W [m,k] when
// transposed, in float64.
func dense(x []float64, w, b []float32, n, k, m int, transposed bool, alpha float64, relu bool) []float64 {
	y := make([]float64, n*m)
	for i := range n {
		for j := range m {
			var s float64
			for l := range k {
				wv := w[l*m+j]
				if transposed {
					wv = w[j*k+l]
				}
				s += x[i*k+l] * float64(wv)
			}
			v := alpha*s + float64(b[j])
			if relu && v < 0 {
				v = 0
			}
			y[i*m+j] = v
		}
	}
	return y
}

func toFloat64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// mlpReference computes MLP's y as its doc comment states.
func mlpReference(t *testing.T, g *onnx.GraphProto, x []float32) []float64 {
	n := len(x) / 16
	h := dense(toFloat64(x), floats(t, g, "fc1.weight"), floats(t, g, "fc1.bias"), n, 16, 32, true, 1, true)
	h = dense(h, floats(t, g, "fc2.weight"), floats(t, g, "fc2.bias"), n, 32, 16, false, 0.5, true)
	return dense(h, floats(t, g, "fc3.weight"), floats(t, g, "fc3.bias"), n, 16, 4, false, 1, false)
}

// ifReference computes IfModel's y as its doc comment states.
func ifReference(t *testing.T, g *onnx.GraphProto, x []float32) []float64 {
	n := len(x) / 8
	var sum float32
	for _, v := range x {
		sum += v
	}
	if sum > 0 {
		return dense(toFloat64(x), floats(t, g, "then.weight"), floats(t, g, "then.bias"), n, 8, 4, false, 1, false)
	}
	y := dense(toFloat64(x), floats(t, g, "else.weight"), floats(t, g, "else.bias"), n, 8, 4, false, 1, false)
	gamma := floats(t, g, "gamma")
	for i := range y {
		y[i] *= float64(gamma[i%4])
	}
	return y
}
