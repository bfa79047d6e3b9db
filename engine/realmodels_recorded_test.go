package engine

import (
	"context"
	"encoding/gob"
	"fmt"
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
// TestRealModelsMatchORT (1e-4 of the output scale). Pruned copies of
// real models named in $EDGEPRUNE_RECORD_SPARSE (set for both steps) are
// recorded and checked the same way, run on the sparse kernels.

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
	Sparse  bool // run with WithSparse(SparseAlways): a pruned model
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
	record := func(name, path, file string, sparse bool) {
		m, err := onnxio.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		shape, ok := realShapes[name]
		if !ok {
			shape = []int{1, 3, 224, 224}
		}
		in := m.Info().Inputs[0].Name
		x := realInput(t, name, shape)
		ref, err := oracle.Run(context.Background(), path, []ortoracle.Tensor{ortoracle.FromFloat32(in, int64s(shape), x)})
		if err != nil {
			t.Fatal(err)
		}
		rec := recordedRun{Model: path, Input: in, Shape: shape, X: x, Sparse: sparse}
		for _, o := range ref {
			d, err := o.Float32()
			if err != nil {
				t.Fatal(err)
			}
			rec.Outputs = append(rec.Outputs, recordedOutput{Name: o.Name, Shape: ints(o.Shape), Data: d})
		}
		f, err := os.Create(filepath.Join(dir, file))
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
	for _, name := range recordedModels() {
		rm, ok := byName[name]
		if !ok {
			t.Fatalf("model %s not among the real models", name)
		}
		record(name, rm.Path, name+".gob", false)
	}
	for _, sm := range sparseRecorded(t) {
		if _, ok := byName[sm.name]; !ok {
			t.Fatalf("EDGEPRUNE_RECORD_SPARSE: %s is not among the real models", sm.name)
		}
		record(sm.name, sm.path, sm.file, true)
	}
}

// sparseModel is a pruned copy of a real model (the name gives its input
// shape and data), recorded as file.
type sparseModel struct{ name, path, file string }

// sparseRecorded reads $EDGEPRUNE_RECORD_SPARSE, comma-separated
// name=path pairs: pruned copies of real models, which
// TestRecordORTOutputs records and TestRealModelsMatchRecordedORT runs
// with every eligible weight on the sparse kernels (WithSparse(SparseAlways)).
// The file of the i-th is name.sparse<i>.gob.
func sparseRecorded(t *testing.T) []sparseModel {
	s := os.Getenv("EDGEPRUNE_RECORD_SPARSE")
	if s == "" {
		return nil
	}
	var out []sparseModel
	for i, kv := range strings.Split(s, ",") {
		name, path, ok := strings.Cut(kv, "=")
		if !ok || name == "" || path == "" {
			t.Fatalf("EDGEPRUNE_RECORD_SPARSE: %q is not name=path", kv)
		}
		out = append(out, sparseModel{name, path, fmt.Sprintf("%s.sparse%d.gob", name, i)})
	}
	return out
}

func TestRealModelsMatchRecordedORT(t *testing.T) {
	dir := os.Getenv("EDGEPRUNE_RECORDED_ORT")
	if dir == "" {
		t.Skip("compares with ORT outputs recorded by TestRecordORTOutputs (scripts/cross.sh, for arm64 under qemu): set EDGEPRUNE_RECORDED_ORT=DIR")
	}
	t.Logf("kernels: %s", KernelSummary())
	runs := map[string]string{} // subtest name → recording
	var names []string
	for _, name := range recordedModels() {
		runs[name] = name + ".gob"
		names = append(names, name)
	}
	for _, sm := range sparseRecorded(t) {
		n := strings.TrimSuffix(sm.file, ".gob")
		runs[n] = sm.file
		names = append(names, n)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, runs[name]))
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
			opts := []Option{WithInputShape(rec.Input, rec.Shape...)}
			if rec.Sparse {
				opts = append(opts, WithSparse(SparseAlways))
			}
			p, err := Compile(m, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Sparse {
				nsp := 0
				for _, n := range p.Report().Nodes {
					if n.Kernel != "" {
						nsp++
					}
				}
				if nsp == 0 {
					t.Fatalf("%s: no node ran sparse", rec.Model)
				}
				t.Logf("%s: %d nodes on the sparse kernels (%s)", name, nsp, filepath.Base(rec.Model))
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
			if rec.Sparse {
				// A one-shot prune can leave a model whose outputs no longer
				// depend on its input (every activation dead), which would
				// check nothing: require another input to change them.
				x2 := make([]float32, len(rec.X))
				for i, v := range rec.X {
					x2[i] = 0.5*v + 0.25
				}
				first := map[string][]float32{} // a copy: a Program may reuse its output buffers
				for k, v := range got {
					first[k] = append([]float32(nil), v.Data().([]float32)...)
				}
				b, err := p.Run(context.Background(), map[string]*tensor.Dense{rec.Input: tensor.New(tensor.WithShape(rec.Shape...), tensor.WithBacking(x2))})
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range first {
					if relErr(v, b[k].Data().([]float32)) == 0 {
						t.Fatalf("%s: output %q is the same for two inputs: the pruned model collapsed, so it checks nothing (prune less)", rec.Model, k)
					}
				}
			}
		})
	}
}
