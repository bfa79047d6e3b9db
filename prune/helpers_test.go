package prune

import (
	"math"
	"slices"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// zooModel has one weight of every layout, x[1,8,6,6] → y[1,4]:
//
//	Conv 8→16 3x3 pad 1          conv.weight  [16,8,3,3]   out 0, in 1
//	ConvTranspose 16→8 3x3 pad 1 deconv.weight [16,8,3,3]  out 1, in 0
//	GlobalAveragePool, Flatten                             → [1,8]
//	Gemm transB=0                gemm.weight  [8,16]       out 1, in 0
//	MatMul                       mm.weight    [16,12]      out 1, in 0
//	Gemm transB=1                fc.weight    [4,12]       out 0, in 1
func zooModel() *onnx.ModelProto {
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 1, 8, 6, 6)
	k3 := onnxbuild.AttrInts("kernel_shape", 3, 3)
	pad := onnxbuild.AttrInts("pads", 1, 1, 1, 1)
	w := b.Init("conv.weight", []int64{16, 8, 3, 3}, onnxbuild.Rand(11, 16*8*9, 0.3))
	bias := b.Init("conv.bias", []int64{16}, onnxbuild.Rand(12, 16, 0.1))
	b.Node("Conv", []string{"x", w, bias}, []string{"c"}, k3, pad)
	w = b.Init("deconv.weight", []int64{16, 8, 3, 3}, onnxbuild.Rand(13, 16*8*9, 0.3))
	b.Node("ConvTranspose", []string{"c", w}, []string{"d"}, k3, pad)
	b.Node("GlobalAveragePool", []string{"d"}, []string{"p"})
	b.Node("Flatten", []string{"p"}, []string{"f"})
	w = b.Init("gemm.weight", []int64{8, 16}, onnxbuild.Rand(14, 8*16, 0.5))
	bias = b.Init("gemm.bias", []int64{16}, onnxbuild.Rand(15, 16, 0.1))
	b.Node("Gemm", []string{"f", w, bias}, []string{"g"})
	w = b.Init("mm.weight", []int64{16, 12}, onnxbuild.Rand(16, 16*12, 0.5))
	b.Node("MatMul", []string{"g", w}, []string{"m"})
	w = b.Init("fc.weight", []int64{4, 12}, onnxbuild.Rand(17, 4*12, 0.5))
	b.Node("Gemm", []string{"m", w}, []string{"y"}, onnxbuild.AttrInt("transB", 1))
	b.Output("y", onnxbuild.Float, 1, 4)
	return b.Model()
}

// decode returns a fresh onnxio model of mp.
func decode(t testing.TB, mp *onnx.ModelProto) *onnxio.Model {
	t.Helper()
	m, err := onnxio.Decode(onnxbuild.Marshal(mp))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func marshal(t testing.TB, m *onnxio.Model) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// snapshot copies every parameter's values, by ID.
func snapshot(t testing.TB, m *onnxio.Model) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, p := range m.Params() {
		if !p.DataType().IsFloat() {
			continue
		}
		w, _, err := p.Float32()
		if err != nil {
			t.Fatal(err)
		}
		out[p.ID] = slices.Clone(w)
	}
	return out
}

func mustPrune(t testing.TB, m *onnxio.Model, opts ...Option) *Plan {
	t.Helper()
	pr, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pr.Prune(m)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// unravel returns the multi-index of element i of shape.
func unravel(i int, shape []int64) []int {
	idx := make([]int, len(shape))
	for a := len(shape) - 1; a >= 0; a-- {
		idx[a] = i % int(shape[a])
		i /= int(shape[a])
	}
	return idx
}

// groupKey numbers the group of element idx when axis a is cut in runs of
// size[a] (a plain re-computation, independent of the package's code).
func groupKey(idx []int, shape []int64, size map[int]int) int {
	k := 0
	for a, v := range idx {
		d := int(shape[a])
		if s, ok := size[a]; ok {
			v, d = v/s, d/s
		}
		k = k*d + v
	}
	return k
}

// withoutPayloads clones mp with every stored tensor's values removed, to
// compare structure.
func withoutPayloads(t testing.TB, mp *onnx.ModelProto) *onnx.ModelProto {
	t.Helper()
	c := proto.Clone(mp).(*onnx.ModelProto)
	m, err := onnxio.Decode(onnxbuild.Marshal(c))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		p.Tensor.RawData, p.Tensor.FloatData, p.Tensor.Int32Data, p.Tensor.DoubleData = nil, nil, nil, nil
	}
	return m.Proto
}

func abs(v float32) float64 { return math.Abs(float64(v)) }
