package pack

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/internal/testmodels"
)

// TestORTOutputsBitIdentical runs pruned models and their unpacked copies
// in ONNX Runtime: the outputs must be bit-identical. (The models are
// already checked proto-equal in TestRoundTripRealModels; this checks the
// files as a runtime sees them.)
func TestORTOutputsBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: ONNX Runtime runs take seconds")
	}
	o := ortoracle.ForTest(t)
	cases := []struct {
		name, path string
		shape      []int64
		sparsity   float64
	}{
		{"lenet5", testmodels.Shared(t, "mnist/lenet5.onnx"), []int64{2, 1, 28, 28}, 0.9},
		{"ppocr_cls", testmodels.OCR(t, "cls"), []int64{1, 3, 48, 192}, 0.5},
	}
	dir := t.TempDir()
	for _, c := range cases {
		m := pruned(t, c.path, c.sparsity)
		b, _ := packModel(t, m)
		back, err := unpack(b)
		if err != nil {
			t.Fatal(err)
		}
		a, u := filepath.Join(dir, c.name+".onnx"), filepath.Join(dir, c.name+".back.onnx")
		if err := m.WriteFile(a); err != nil {
			t.Fatal(err)
		}
		if err := back.WriteFile(u); err != nil {
			t.Fatal(err)
		}
		n := int64(1)
		for _, d := range c.shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(math.Sin(float64(i) * 0.37))
		}
		name := m.Graph().GetInput()[0].GetName()
		in := []ortoracle.Tensor{ortoracle.FromFloat32(name, c.shape, x)}
		want, err := o.Run(context.Background(), a, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := o.Run(context.Background(), u, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("%s: %d outputs, want %d", c.name, len(got), len(want))
		}
		for i := range want {
			if string(got[i].Data) != string(want[i].Data) {
				t.Fatalf("%s: output %s differs after pack/unpack", c.name, want[i].Name)
			}
		}
		os.Remove(a)
		os.Remove(u)
	}
}
