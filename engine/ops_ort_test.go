package engine

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
	"gorgonia.org/tensor"
)

// TestOpsWithoutConformanceMatchORT checks, against ONNX Runtime, the ops
// that have no test in onnx-go's conformance suite (docs/ops.md lists them
// with "–"), and a few attribute forms the real models do not use.
func TestOpsWithoutConformanceMatchORT(t *testing.T) {
	oracle := ortoracle.ForTest(t)
	type tc struct {
		name  string
		opset int64
		build func(b *onnxbuild.Builder) // x [2,3,4,5] float in, y out
	}
	cases := []tc{
		{"LayerNormalization", 17, func(b *onnxbuild.Builder) {
			s := b.Init("s", []int64{4, 5}, onnxbuild.Rand(1, 20, 1))
			bb := b.Init("bb", []int64{5}, onnxbuild.Rand(2, 5, 1))
			b.Node("LayerNormalization", []string{"x", s, bb}, []string{"y"}, onnxbuild.AttrInt("axis", -2))
		}},
		{"Gelu", 20, func(b *onnxbuild.Builder) { b.Node("Gelu", []string{"x"}, []string{"y"}) }},
		{"LRN", 13, func(b *onnxbuild.Builder) {
			b.Node("LRN", []string{"x"}, []string{"y"}, onnxbuild.AttrInt("size", 5), onnxbuild.AttrFloat("alpha", 0.5),
				onnxbuild.AttrFloat("beta", 0.6), onnxbuild.AttrFloat("bias", 1.5))
		}},
		{"LRNDefaults", 13, func(b *onnxbuild.Builder) {
			b.Node("LRN", []string{"x"}, []string{"y"}, onnxbuild.AttrInt("size", 3))
		}},
		{"GeluTanh", 20, func(b *onnxbuild.Builder) {
			b.Node("Gelu", []string{"x"}, []string{"y"}, onnxbuild.AttrString("approximate", "tanh"))
		}},
		{"HardSwish", 14, func(b *onnxbuild.Builder) { b.Node("HardSwish", []string{"x"}, []string{"y"}) }},
		{"Round", 13, func(b *onnxbuild.Builder) {
			k := b.Const("k", nil, []float32{2.5})
			b.Node("Mul", []string{"x", k}, []string{"xk"})
			b.Node("Round", []string{"xk"}, []string{"y"})
		}},
		{"WhereCompare", 13, func(b *onnxbuild.Builder) {
			z := b.Const("z", []int64{5}, []float32{0, 0.1, -0.1, 0.2, 0})
			b.Node("Greater", []string{"x", z}, []string{"g"})
			b.Node("Less", []string{"x", z}, []string{"l"})
			b.Node("Equal", []string{"g", "l"}, []string{"e"})
			b.Node("Or", []string{"g", "e"}, []string{"o"})
			b.Node("Xor", []string{"o", "l"}, []string{"q"})
			b.Node("And", []string{"q", "g"}, []string{"c"})
			b.Node("Neg", []string{"x"}, []string{"n"})
			b.Node("Where", []string{"c", "x", "n"}, []string{"y"})
		}},
		{"ReshapeTransposeSoftmax", 13, func(b *onnxbuild.Builder) {
			s := b.InitInt64("s", []int64{3}, []int64{0, -1, 5})
			b.Node("Reshape", []string{"x", s}, []string{"r"})
			b.Node("Transpose", []string{"r"}, []string{"tr"}, onnxbuild.AttrInts("perm", 2, 0, 1))
			b.Node("Softmax", []string{"tr"}, []string{"y"}, onnxbuild.AttrInt("axis", 1))
		}},
		{"PadReflectSliceExpand", 18, func(b *onnxbuild.Builder) {
			p := b.InitInt64("p", []int64{4}, []int64{1, 2, 0, 1})
			ax := b.InitInt64("ax", []int64{2}, []int64{2, 3})
			b.Node("Pad", []string{"x", p, "", ax}, []string{"pd"}, onnxbuild.AttrString("mode", "reflect"))
			st := b.InitInt64("st", []int64{2}, []int64{-1, 0})
			en := b.InitInt64("en", []int64{2}, []int64{-100, 100})
			sa := b.InitInt64("sa", []int64{2}, []int64{3, 1})
			sp := b.InitInt64("sp", []int64{2}, []int64{-2, 2})
			b.Node("Slice", []string{"pd", st, en, sa, sp}, []string{"sl"})
			e := b.InitInt64("e", []int64{5}, []int64{2, 1, 1, 1, 1})
			b.Node("Expand", []string{"sl", e}, []string{"y"})
		}},
		{"ResizeLinearHalfPixel", 13, func(b *onnxbuild.Builder) {
			sc := b.Init("sc", []int64{4}, []float32{1, 1, 1.5, 2})
			b.Node("Resize", []string{"x", "", sc}, []string{"y"}, onnxbuild.AttrString("mode", "linear"))
		}},
		{"ResizeNearestSizesAlign", 13, func(b *onnxbuild.Builder) {
			sz := b.InitInt64("sz", []int64{4}, []int64{2, 3, 7, 3})
			b.Node("Resize", []string{"x", "", "", sz}, []string{"y"},
				onnxbuild.AttrString("coordinate_transformation_mode", "align_corners"),
				onnxbuild.AttrString("nearest_mode", "round_prefer_ceil"))
		}},
		{"ConvTransposeGroupsPads", 13, func(b *onnxbuild.Builder) {
			w := b.Init("w", []int64{3, 2, 3, 2}, onnxbuild.Rand(3, 36, 0.5))
			b.Node("ConvTranspose", []string{"x", w}, []string{"y"}, onnxbuild.AttrInts("strides", 2, 3),
				onnxbuild.AttrInts("pads", 1, 0, 0, 1), onnxbuild.AttrInts("output_padding", 1, 0))
		}},
		{"MatMulBatchedBroadcast", 13, func(b *onnxbuild.Builder) {
			w := b.Init("w", []int64{3, 5, 2}, onnxbuild.Rand(4, 30, 0.5))
			b.Node("MatMul", []string{"x", w}, []string{"y"})
		}},
		{"InstanceNormTileReduce", 13, func(b *onnxbuild.Builder) {
			s := b.Init("s", []int64{3}, onnxbuild.Rand(5, 3, 1))
			bb := b.Init("bb", []int64{3}, onnxbuild.Rand(6, 3, 1))
			b.Node("InstanceNormalization", []string{"x", s, bb}, []string{"in"})
			r := b.InitInt64("r", []int64{4}, []int64{1, 2, 1, 2})
			b.Node("Tile", []string{"in", r}, []string{"ti"})
			b.Node("ReduceMax", []string{"ti"}, []string{"y"}, onnxbuild.AttrInts("axes", 1, 3))
		}},
	}
	dir := t.TempDir()
	shape := []int{2, 3, 4, 5}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := onnxbuild.New(c.opset)
			b.Input("x", onnxbuild.Float, 2, 3, 4, 5)
			c.build(b)
			mp := b.Model()
			mp.Graph.Output = []*onnx.ValueInfoProto{{Name: proto.String("y"), Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{
				TensorType: &onnx.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxbuild.Float))}}}}}
			raw := onnxbuild.Marshal(mp)
			path := filepath.Join(dir, c.name+".onnx")
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := onnxio.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(m)
			if err != nil {
				t.Fatal(err)
			}
			x := randSlice(rand.New(rand.NewPCG(8, 9)), numel(shape))
			got, err := p.Run(context.Background(), map[string]*tensor.Dense{"x": dense(shape, x)})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := oracle.Run(context.Background(), path, []ortoracle.Tensor{ortoracle.FromFloat32("x", int64s(shape), x)})
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref[0].Float32()
			if err != nil {
				t.Fatal(err)
			}
			if !sameShape(got["y"].Shape(), ints(ref[0].Shape)) {
				t.Fatalf("shape %v, ORT %v", got["y"].Shape(), ref[0].Shape)
			}
			if e := relErr(want, got["y"].Data().([]float32)); e > 1e-5 {
				t.Errorf("max rel error %.3g", e)
			}
		})
	}
}
