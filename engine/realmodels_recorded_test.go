package engine

import (
	"context"
	"encoding/gob"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// ONNX Runtime does not run under qemu-user, so the whole-model check of
// the arm64 kernels (scripts/cross.sh) is in two steps: on amd64,
// TestRecordORTOutputs writes ORT's outputs for a few real models into the
// directory $EDGEPRUNE_RECORD_ORT; the arm64 test binary, under
// qemu-aarch64, runs TestRealModelsMatchRecordedORT on the directory
// $EDGEPRUNE_RECORDED_ORT and holds its own outputs to the tolerance of
// TestRealModelsMatchORT (1e-4 of the output scale).

// defaultRecorded are the models recorded by default: MaxPool and 5×5
// convolutions (lenet5), depthwise convolutions and Clip (mobilenet_v2,
// ppocr_cls), hard-sigmoid and squeeze-excite (ppocr_cls). They run in
// seconds under qemu.
var defaultRecorded = []string{"lenet5", "mobilenet_v2", "ppocr_cls"}

// recordedModels is defaultRecorded, or the comma-separated real-model
// names in $EDGEPRUNE_RECORDED_MODELS (e.g. resnet18,ppocr_det for a
// longer check).
func recordedModels() []string {
	if s := os.Getenv("EDGEPRUNE_RECORDED_MODELS"); s != "" {
		return strings.Split(s, ",")
	}
	return defaultRecorded
}

// recordedRun is one recorded model run (a gob file).
type recordedRun struct {
	Model   string // path of the model file
	Input   string
	Shape   []int
	X       []float32
	Outputs []recordedOutput
}

type recordedOutput struct {
	Name  string
	Shape []int
	Data  []float32
}

func TestRecordORTOutputs(t *testing.T) {
	dir := os.Getenv("EDGEPRUNE_RECORD_ORT")
	if dir == "" {
		t.Skip("records ORT outputs for the arm64 check of scripts/cross.sh: set EDGEPRUNE_RECORD_ORT=DIR")
	}
	oracle := ortoracle.ForTest(t)
	byName := map[string]testmodels.Model{}
	for _, rm := range testmodels.All(t) {
		byName[rm.Name] = rm
	}
	for _, name := range recordedModels() {
		rm, ok := byName[name]
		if !ok {
			t.Fatalf("model %s not among the real models", name)
		}
		m, err := onnxio.ReadFile(rm.Path)
		if err != nil {
			t.Fatal(err)
		}
		shape, ok := realShapes[name]
		if !ok {
			shape = []int{1, 3, 224, 224}
		}
		in := m.Info().Inputs[0].Name
		x := realInput(t, name, shape)
		ref, err := oracle.Run(context.Background(), rm.Path, []ortoracle.Tensor{ortoracle.FromFloat32(in, int64s(shape), x)})
		if err != nil {
			t.Fatal(err)
		}
		rec := recordedRun{Model: rm.Path, Input: in, Shape: shape, X: x}
		for _, o := range ref {
			d, err := o.Float32()
			if err != nil {
				t.Fatal(err)
			}
			rec.Outputs = append(rec.Outputs, recordedOutput{Name: o.Name, Shape: ints(o.Shape), Data: d})
		}
		f, err := os.Create(filepath.Join(dir, name+".gob"))
		if err != nil {
			t.Fatal(err)
		}
		if err := gob.NewEncoder(f).Encode(&rec); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRealModelsMatchRecordedORT(t *testing.T) {
	dir := os.Getenv("EDGEPRUNE_RECORDED_ORT")
	if dir == "" {
		t.Skip("compares with ORT outputs recorded by TestRecordORTOutputs (scripts/cross.sh, for arm64 under qemu): set EDGEPRUNE_RECORDED_ORT=DIR")
	}
	t.Logf("kernels: %s", KernelSummary())
	for _, name := range recordedModels() {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, name+".gob"))
			if err != nil {
				t.Fatalf("no recorded ORT outputs (run TestRecordORTOutputs on amd64 first): %v", err)
			}
			defer f.Close()
			var rec recordedRun
			if err := gob.NewDecoder(f).Decode(&rec); err != nil {
				t.Fatal(err)
			}
			m, err := onnxio.ReadFile(rec.Model)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(m, WithInputShape(rec.Input, rec.Shape...))
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Run(context.Background(), map[string]*tensor.Dense{rec.Input: tensor.New(tensor.WithShape(rec.Shape...), tensor.WithBacking(rec.X))})
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Outputs) == 0 {
				t.Fatal("the recording has no outputs")
			}
			for _, o := range rec.Outputs {
				g, ok := got[o.Name]
				if !ok {
					t.Fatalf("engine gave no output %q", o.Name)
				}
				if !sameShape(g.Shape(), o.Shape) {
					t.Fatalf("output %q: shape %v, ORT %v", o.Name, g.Shape(), o.Shape)
				}
				e := relErr(o.Data, g.Data().([]float32))
				t.Logf("%s: output %q %v: max rel error %.3g against ORT", name, o.Name, o.Shape, e)
				if e > 1e-4 || math.IsNaN(e) {
					t.Errorf("output %q: max|a−b|/max|a| = %.3g > 1e-4", o.Name, e)
				}
			}
		})
	}
}
