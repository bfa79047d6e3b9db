package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// Ops whose kernels read every input as float refuse an integer input at
// compile time; ops with integer kernels (Relu on int64) keep working.
func TestFloatInputs(t *testing.T) {
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 1, 4)
	b.InitTensor(onnxbuild.Int64Tensor("c", []int64{4}, []int64{1, 2, 3, 4}))
	w := b.Init("w", []int64{4, 4}, onnxbuild.Rand(1, 16, 1))
	b.Node("Gemm", []string{"x", w, "c"}, []string{"y"})
	b.Output("y", onnxbuild.Float, 1, 4)
	m, err := onnxio.Decode(onnxbuild.Marshal(b.Model()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(m); !errors.Is(err, ErrInvalidModel) {
		t.Fatalf("Gemm with an int64 C: %v", err)
	}

	r := onnxbuild.New(14)
	r.Input("x", onnxbuild.Int64, 3)
	r.Node("Relu", []string{"x"}, []string{"y"})
	r.Output("y", onnxbuild.Int64, 3)
	m, err = onnxio.Decode(onnxbuild.Marshal(r.Model()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(m)
	if err != nil {
		t.Fatalf("int64 Relu: %v", err)
	}
	out, err := p.Run(context.Background(), map[string]*tensor.Dense{"x": tensor.New(tensor.WithShape(3), tensor.WithBacking([]int64{-2, 0, 5}))})
	if err != nil {
		t.Fatal(err)
	}
	if got := out["y"].Data().([]int64); got[0] != 0 || got[2] != 5 {
		t.Fatalf("int64 Relu = %v", got)
	}
}
