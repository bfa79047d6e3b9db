package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"google.golang.org/protobuf/proto"
	"gorgonia.org/tensor"
)

// TestRunWritesOutputs runs the canned MLP through `run` and checks the
// output .npy against a second run of the same input through `eval`-free
// arithmetic: the file exists, has the output's shape, and changes with the
// input.
func TestRunWritesOutputs(t *testing.T) {
	model := writeCanned(t, "mlp", onnxbuild.MLP())
	dir := t.TempDir()
	xin := filepath.Join(dir, "x.npy")
	// Input names of the canned MLP.
	code, out, errs := runCLI(t, "inspect", model, "--json")
	if code != 0 {
		t.Fatalf("inspect: %s", errs)
	}
	var info struct {
		Inputs []struct {
			Name  string `json:"name"`
			Shape []any  `json:"shape"`
		} `json:"inputs"`
		Outputs []struct{ Name string } `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	in := info.Inputs[0]
	var shape []int
	for _, d := range in.Shape {
		n := 1
		if f, ok := d.(float64); ok {
			n = int(f)
		}
		shape = append(shape, n)
	}
	xs := make([]float32, numelInts(shape))
	for i := range xs {
		xs[i] = float32(i%7)/7 - 0.3
	}
	if err := dataset.WriteNPY(xin, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(xs))); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	code, _, errs = runCLI(t, "run", model, "--input", in.Name+"="+xin, "-o", outDir)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	got, err := dataset.ReadNPY(filepath.Join(outDir, safeFileName(info.Outputs[0].Name)+".npy"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Shape().TotalSize() == 0 {
		t.Fatalf("output %q is empty", info.Outputs[0].Name)
	}
	for _, c := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"run", model}, 2, "--input"},
		{[]string{"run", model, "--input", "nonsense"}, 2, "NAME=FILE"},
		{[]string{"run", model, "--input", "wrong=" + xin}, 1, "wrong"},
		{[]string{"eval", model}, 2, "--data"},
		{[]string{"bench", model, "--shape", "x=a,b"}, 2, "dimension"},
	} {
		code, o, e := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(o+e, c.say) {
			t.Errorf("%v: exit %d (want %d), output %q should mention %q", c.args, code, c.code, o+e, c.say)
		}
	}
}

func numelInts(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func TestSafeFileName(t *testing.T) {
	for in, want := range map[string]string{"logits": "logits", "a/b:c d": "a_b_c_d", "sigmoid_0.tmp_0": "sigmoid_0.tmp_0", "..": "__"} {
		if got := safeFileName(in); got != want {
			t.Errorf("safeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEvalAndBenchJSON evaluates lenet300 on the first 1000 MNIST test
// samples with itself as reference, and benches it.
func TestEvalAndBenchJSON(t *testing.T) {
	model := testmodels.Shared(t, "mnist/lenet300.onnx")
	images, _ := testmodels.MNIST(t)
	// A 1000-sample .npy keeps the test quick.
	const per = 28 * 28
	small := filepath.Join(t.TempDir(), "small")
	if err := os.MkdirAll(small, 0o755); err != nil {
		t.Fatal(err)
	}
	inPath := filepath.Join(small, "input.npy")
	if err := dataset.WriteNPY(inPath, tensor.New(tensor.WithShape(1000, 1, 28, 28), tensor.WithBacking(images[:1000*per]))); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "eval", model, "--data", inPath, "--reference", model, "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errs)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["samples"] != float64(1000) || ev["agreement_top1"] != float64(1) || ev["max_abs_diff"] != float64(0) {
		t.Errorf("eval --json against itself: %v", ev)
	}
	if _, ok := ev["top1"]; ok {
		t.Errorf("top1 reported without labels: %v", ev)
	}
	code, out, errs = runCLI(t, "bench", model, "--threads", "1", "--runs", "3", "--json")
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, errs)
	}
	var b map[string]any
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatal(err)
	}
	// LeNet-300-100 at batch 1: 784·300 + 300·100 + 100·10 MACs.
	if b["flops"].(float64) < 2*266200 || b["median_ms"].(float64) <= 0 || b["p90_ms"].(float64) < b["median_ms"].(float64) || b["peak_activation_bytes"].(float64) <= 0 {
		t.Errorf("bench --json: %v", b)
	}
	if math.IsNaN(b["median_ms"].(float64)) {
		t.Error("median is NaN")
	}
	// The kernels that ran, sgemm first, as engine.Kernels names them.
	ks, _ := b["kernels"].([]any)
	if len(ks) == 0 || ks[0].(map[string]any)["class"] != "sgemm" || ks[0].(map[string]any)["name"] != engine.Kernels()[0].Name {
		t.Errorf("bench --json kernels: %v, engine.Kernels: %v", b["kernels"], engine.Kernels())
	}
	code, out, errs = runCLI(t, "bench", model, "--threads", "1", "--runs", "1", "--warmup", "0")
	if want := "kernels          " + engine.KernelSummary() + "\n"; code != 0 || !strings.Contains(out, want) {
		t.Errorf("bench: exit %d, output lacks %q:\n%s%s", code, want, out, errs)
	}
}

// TestEvalTestDataSetDir evaluates lenet300 on an ONNX test_data_set_0
// directory (input_0.pb) written here from 20 MNIST samples, against itself.
func TestEvalTestDataSetDir(t *testing.T) {
	model := testmodels.Shared(t, "mnist/lenet300.onnx")
	images, _ := testmodels.MNIST(t)
	const per = 28 * 28
	dir := filepath.Join(t.TempDir(), "test_data_set_0")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tp := onnxbuild.Float32Tensor("input", []int64{20, 1, 28, 28}, images[:20*per])
	raw, err := proto.Marshal(tp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "input_0.pb"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "eval", model, "--data", filepath.Dir(dir), "--reference", model, "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errs)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["samples"] != float64(20) || ev["agreement_top1"] != float64(1) {
		t.Errorf("eval of a test_data_set directory: %v", ev)
	}
}
