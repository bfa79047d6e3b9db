package engine

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// rnnModels are the torch-exported keyword-spotting fixtures
// (tools/py/export_rnn.py): Conv1d front-end, GRU (linear_before_reset) or
// two bidirectional LSTM layers, Linear; input x [1, 40, 49].
var rnnModels = []string{"kws_gru.onnx", "kws_lstm.onnx"}

// TestRNNModelsMatchORT runs each exported model whole in the engine and
// in ONNX Runtime on the same random input.
func TestRNNModelsMatchORT(t *testing.T) {
	oracle := ortoracle.ForTest(t)
	for i, name := range rnnModels {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "testdata", "rnn", name)
			m, err := onnxio.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(m)
			if err != nil {
				t.Fatal(err)
			}
			shape := []int{1, 40, 49}
			x := randSlice(rand.New(rand.NewPCG(uint64(i), 3)), numel(shape))
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
			g := got["logits"]
			if !sameShape(g.Shape(), []int{1, 12}) || !sameShape(g.Shape(), ints(ref[0].Shape)) {
				t.Fatalf("logits shape %v, ORT %v", g.Shape(), ref[0].Shape)
			}
			if e := relErr(want, g.Data().([]float32)); e > 1e-5 {
				t.Errorf("logits: max rel error %.3g", e)
			}
		})
	}
}
