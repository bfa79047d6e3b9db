package ortoracle

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRunAddOne(t *testing.T) {
	o := ForTest(t)
	x := []float32{1, 2, 3, 4, 5, -6.5}
	out, err := o.Run(context.Background(), addOneModel(t), []Tensor{FromFloat32("x", []int64{2, 3}, x)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Name != "y" || !slices.Equal(out[0].Shape, []int64{2, 3}) {
		t.Fatalf("outputs = %+v, want one y [2 3]", out)
	}
	y, err := out[0].Float32()
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if y[i] != x[i]+1 { // exact: small integers and halves
			t.Errorf("y[%d] = %v, want %v", i, y[i], x[i]+1)
		}
	}
}

// TestRunDTypes checks that every dtype crosses to ORT and back bit for bit,
// including an empty tensor.
func TestRunDTypes(t *testing.T) {
	o := ForTest(t)
	var in []Tensor
	for i, c := range identityCases {
		size, _ := ElemSize(c.dtype)
		shape := []int64{2, int64(i%3 + 1)}
		if c.dtype == DTypeInt8 {
			shape = []int64{0, 4}
		}
		data := make([]byte, int(shape[0]*shape[1])*size)
		for j := range data {
			data[j] = byte(7*i + 13*j + 1)
			if c.dtype == DTypeBool {
				data[j] &= 1
			}
			if c.dtype == DTypeFloat16 && j%2 == 1 {
				data[j] &= 0x3f // keep the halves finite
			}
		}
		in = append(in, Tensor{Name: c.name, DType: c.dtype, Shape: shape, Data: data})
	}
	out, err := o.Run(context.Background(), identityModel(t), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d outputs, want %d", len(out), len(in))
	}
	for i, got := range out {
		want := in[i]
		if got.Name != want.Name+"_out" || got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("output %d = %s %s %v % x, want %s_out %s %v % x",
				i, got.Name, got.DType, got.Shape, got.Data, want.Name, want.DType, want.Shape, want.Data)
		}
	}
}

func TestRunOptions(t *testing.T) {
	o := ForTest(t)
	model := addOneModel(t)
	in := []Tensor{FromFloat32("x", []int64{1, 3}, []float32{0.25, -1, 3})}
	want, err := o.Run(context.Background(), model, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]Option{
		{WithThreads(2)},
		{WithOptimization(OptDisabled)},
		{WithOptimization(OptBasic), WithThreads(1)},
	} {
		got, err := o.Run(context.Background(), model, in, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[0].Data, want[0].Data) {
			t.Errorf("with %d options: y = % x, want % x", len(opts), got[0].Data, want[0].Data)
		}
	}
	for _, bad := range []Option{WithThreads(0), WithThreads(-3), WithOptimization("fast")} {
		if _, err := o.Run(context.Background(), model, in, bad); err == nil {
			t.Error("Run with an invalid option: no error")
		}
	}
}

func TestMeta(t *testing.T) {
	o := ForTest(t)
	m, err := o.Meta(context.Background(), addOneModel(t))
	if err != nil {
		t.Fatal(err)
	}
	shape := []Dim{{Value: -1, Param: "batch"}, {Value: 3}}
	want := Meta{
		Inputs:  []ValueInfo{{Name: "x", IsTensor: true, DType: DTypeFloat32, Shape: shape}},
		Outputs: []ValueInfo{{Name: "y", IsTensor: true, DType: DTypeFloat32, Shape: shape}},
	}
	if !metaEqual(*m, want) {
		t.Errorf("Meta = %+v, want %+v", *m, want)
	}
}

func metaEqual(a, b Meta) bool {
	eq := func(x, y ValueInfo) bool {
		return x.Name == y.Name && x.IsTensor == y.IsTensor && x.DType == y.DType && slices.Equal(x.Shape, y.Shape)
	}
	return slices.EqualFunc(a.Inputs, b.Inputs, eq) && slices.EqualFunc(a.Outputs, b.Outputs, eq)
}

func TestRunErrors(t *testing.T) {
	o := ForTest(t)
	ctx := context.Background()
	model := addOneModel(t)
	x := FromFloat32("x", []int64{1, 3}, []float32{1, 2, 3})

	missing := filepath.Join(t.TempDir(), "no-such-model.onnx")
	if _, err := o.Run(ctx, missing, []Tensor{x}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Run of a missing model: error %v, want fs.ErrNotExist naming %s", err, missing)
	}
	if _, err := o.Meta(ctx, missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Meta of a missing model: error %v, want fs.ErrNotExist naming %s", err, missing)
	}

	garbage := filepath.Join(t.TempDir(), "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("this is not a protobuf"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Run(ctx, garbage, []Tensor{x}); err == nil || !strings.Contains(err.Error(), garbage) {
		t.Errorf("Run of a malformed model: error %v, want one naming %s", err, garbage)
	}

	short := x
	short.Data = short.Data[:8]
	if _, err := o.Run(ctx, model, []Tensor{short}); !errors.Is(err, ErrTensor) || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("Run with short data: error %v, want ErrTensor naming x", err)
	}
	if _, err := o.Run(ctx, model, []Tensor{x, x}); !errors.Is(err, ErrTensor) {
		t.Errorf("Run with an input given twice: error %v, want ErrTensor", err)
	}
	if _, err := o.Run(ctx, model, []Tensor{FromFloat32("nope", []int64{1, 3}, []float32{1, 2, 3})}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Run with an unknown input: error %v, want ORT's naming it", err)
	}
	if _, err := o.Run(ctx, model, []Tensor{FromInt64("x", []int64{1, 3}, []int64{1, 2, 3})}); err == nil {
		t.Error("Run with an int64 input for a float32 one: no error")
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := o.Run(canceled, model, []Tensor{x}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a canceled context: error %v, want context.Canceled", err)
	}
}

func TestFindWithoutNode(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Find()
	if !errors.Is(err, ErrNoNode) {
		t.Errorf("Find with no node on PATH: error %v, want ErrNoNode", err)
	}
}

func TestFindWithoutORT(t *testing.T) {
	ForTest(t) // needs node
	t.Setenv("EDGEPRUNE_ORT_DIR", t.TempDir())
	_, err := Find()
	if !errors.Is(err, ErrNoORT) || errors.Is(err, ErrNoNode) || !strings.Contains(err.Error(), "run scripts/setup.sh") {
		t.Errorf("Find with no onnxruntime-node: error %v, want ErrNoORT saying to run scripts/setup.sh", err)
	}
}
