package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// fixtureBatch writes the input and labels of a torch gradient fixture
// (../shared/models/grads) as a batch .npz, with labels changed by edit.
func fixtureBatch(t *testing.T, name string, edit func([]int64)) (batch string, fixture map[string]*tensor.Dense) {
	t.Helper()
	fx, err := dataset.ReadNPZ(testmodels.Shared(t, "grads/"+name+"_grads.npz"))
	if err != nil {
		t.Fatal(err)
	}
	labels := append([]int64(nil), fx["labels"].Data().([]int64)...)
	if edit != nil {
		edit(labels)
	}
	batch = filepath.Join(t.TempDir(), "batch.npz")
	if err := dataset.WriteNPZ(batch, map[string]*tensor.Dense{"input": fx["input"],
		"labels": tensor.New(tensor.WithShape(len(labels)), tensor.WithBacking(labels))}); err != nil {
		t.Fatal(err)
	}
	return batch, fx
}

// TestGradMatchesTorch: `grad` on lenet300's fixture batch gives torch's
// loss and gradients to 1e-4 of their scale.
func TestGradMatchesTorch(t *testing.T) {
	batch, fx := fixtureBatch(t, "lenet300", nil)
	out := filepath.Join(t.TempDir(), "g.npz")
	code, stdout, stderr := runCLI(t, "grad", testmodels.Shared(t, "mnist/lenet300.onnx"), "--data", batch, "-o", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep gradJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	got, err := dataset.ReadNPZ(out)
	if err != nil {
		t.Fatal(err)
	}
	wantLoss := scalar(fx["loss"])
	if math.Abs(rep.Loss-wantLoss) > 1e-5 || math.Abs(scalar(got["loss"])-wantLoss) > 1e-5 {
		t.Errorf("loss %v, torch %v", rep.Loss, wantLoss)
	}
	n := 0
	for k, w := range fx {
		if !strings.HasPrefix(k, "grad/") {
			continue
		}
		n++
		g, ok := got[k]
		if !ok {
			t.Errorf("no %s in the output", k)
			continue
		}
		a, b := g.Data().([]float32), w.Data().([]float32)
		var diff, scale float64
		for i := range b {
			diff = max(diff, math.Abs(float64(a[i]-b[i])))
			scale = max(scale, math.Abs(float64(b[i])))
		}
		if diff > 1e-4*scale {
			t.Errorf("%s: max|a-b| %g, scale %g", k, diff, scale)
		}
	}
	if n != 6 || len(rep.Params) != 6 {
		t.Errorf("%d fixture gradients, %d reported", n, len(rep.Params))
	}
}

// TestFinetuneBadInput: clear errors, exit 1 or 2, and no output file.
func TestFinetuneBadInput(t *testing.T) {
	model := testmodels.Shared(t, "mnist/lenet300.onnx")
	good, _ := fixtureBatch(t, "lenet300", nil)
	outOfRange, _ := fixtureBatch(t, "lenet300", func(l []int64) { l[5] = 10 })
	wrongName := filepath.Join(t.TempDir(), "wrong.npz")
	fx, _ := dataset.ReadNPZ(good)
	if err := dataset.WriteNPZ(wrongName, map[string]*tensor.Dense{"x": fx["input"], "y": fx["input"], "labels": fx["labels"]}); err != nil {
		t.Fatal(err)
	}
	wrongShape := filepath.Join(t.TempDir(), "shape.npz")
	if err := dataset.WriteNPZ(wrongShape, map[string]*tensor.Dense{"input": tensor.New(tensor.WithShape(4, 1, 14, 14), tensor.WithBacking(make([]float32, 4*196))),
		"labels": tensor.New(tensor.WithShape(4), tensor.WithBacking(make([]int64, 4)))}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"--data", outOfRange, "--batch", "32"}, 1, "label 10 of sample"},
		{[]string{"--data", wrongName, "--batch", "32"}, 1, `no array named "input"`},
		{[]string{"--data", wrongShape, "--batch", "4"}, 1, "samples of shape (1, 1, 14, 14), the model takes [1,1,28,28]"},
		{[]string{"--data", good, "--batch", "32", "--lr", "1e30", "--schedule", "constant", "--optimizer", "sgd", "--momentum", "0"}, 1, "at epoch 1, step"},
		{[]string{"--data", good, "--batch", "32", "--freeze", "."}, 1, "no trainable parameter"},
		{[]string{"--data", good, "--batch", "128"}, 1, "not one batch"},
		{[]string{"--data", good, "--optimizer", "adam"}, 2, "want sgd or adamw"},
		{[]string{"--data", good, "--schedule", "cosine:x"}, 2, "not a number"},
		{[]string{"--data", good, "--alpha", "0.5"}, 2, "need --teacher"},
		{[]string{"--data", good, "--batches", "3"}, 2, "--batches needs --recalibrate-bn"},
		{[]string{}, 2, "needs --data"},
	} {
		out := filepath.Join(t.TempDir(), "out.onnx")
		args := append([]string{"finetune", model, "-o", out, "--threads", "1"}, tc.args...)
		code, _, stderr := runCLI(t, args...)
		if code != tc.code || !strings.Contains(stderr, tc.say) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d saying %q", tc.args, code, stderr, tc.code, tc.say)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: failed, and wrote %s", tc.args, out)
		}
	}
}

// TestFinetuneCLI: a short fine-tune of pruned lenet300 (2 epochs of the
// 64-sample fixture batch) writes a model whose zeros are the input's,
// whose biases and weights moved, and a JSON curve with both epochs; with
// --teacher and no labels it distils.
func TestFinetuneCLI(t *testing.T) {
	dir := t.TempDir()
	pruned := filepath.Join(dir, "p.onnx")
	if code, _, stderr := runCLI(t, "prune", testmodels.Shared(t, "mnist/lenet300.onnx"), "-o", pruned, "--sparsity", "0.9"); code != 0 {
		t.Fatal(stderr)
	}
	batch, fx := fixtureBatch(t, "lenet300", nil)
	unlabelled := filepath.Join(dir, "x.npz")
	if err := dataset.WriteNPZ(unlabelled, map[string]*tensor.Dense{"input": fx["input"]}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		loss string
	}{
		{"labels", []string{"--data", batch, "--val", batch}, "cross_entropy(logits, labels)"},
		{"distil", []string{"--data", unlabelled, "--teacher", testmodels.Shared(t, "mnist/lenet300.onnx")}, "T²·KL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".onnx")
			args := append([]string{"finetune", pruned, "-o", out, "--epochs", "2", "--batch", "16", "--threads", "2", "--json"}, tc.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var rep finetuneJSON
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Tune == nil || len(rep.Tune.Epochs) != 2 || !strings.Contains(rep.Tune.Loss, tc.loss) || rep.Tune.Held == 0 {
				t.Fatalf("report %s", stdout)
			}
			if tc.name == "labels" && (rep.ValAccBefore == nil || rep.Tune.Epochs[1].ValAcc == nil) {
				t.Errorf("no validation accuracy in %s", stdout)
			}
			a, b := readParams(t, pruned), readParams(t, out)
			for id, w := range a {
				v := b[id]
				moved := false
				for i := range w {
					if (w[i] == 0) != (v[i] == 0) {
						t.Fatalf("%s[%d]: %g → %g: the zero pattern changed", id, i, w[i], v[i])
					}
					moved = moved || w[i] != v[i]
				}
				if !moved {
					t.Errorf("%s did not change", id)
				}
			}
		})
	}
}

func readParams(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for _, p := range m.Params() {
		w, _, err := p.Float32()
		if err == nil {
			out[p.ID] = append([]float32(nil), w...)
		}
	}
	return out
}

func scalar(t *tensor.Dense) float64 {
	switch v := t.Data().(type) {
	case float32:
		return float64(v)
	case []float32:
		return float64(v[0])
	}
	return math.NaN()
}

// TestPruneIterative: --steps 3 prunes lenet300 along the cubic schedule to
// 0.9, fine-tuning after each step (on the 64-sample fixture batch), and
// reports every step; training flags without --steps are usage errors.
func TestPruneIterative(t *testing.T) {
	model := testmodels.Shared(t, "mnist/lenet300.onnx")
	batch, _ := fixtureBatch(t, "lenet300", nil)
	out := filepath.Join(t.TempDir(), "it.onnx")
	code, stdout, stderr := runCLI(t, "prune", model, "-o", out, "--sparsity", "0.9", "--steps", "3", "--finetune-epochs", "1",
		"--data", batch, "--val", batch, "--batch", "16", "--threads", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep iterativeReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rounds) != 3 || len(rep.Schedule) != 3 || rep.Schedule[2] != 0.9 || !(rep.Schedule[0] < rep.Schedule[1]) {
		t.Fatalf("report %s", stdout)
	}
	for _, r := range rep.Rounds {
		if r.AccPruned == nil || r.AccTuned == nil || r.History == nil || len(r.History.Epochs) != 1 {
			t.Errorf("round %+v lacks accuracies or its curve", r)
		}
	}
	var zeros, total int
	for _, w := range readParams(t, out) {
		if len(w) < 1000 {
			continue
		}
		for _, v := range w {
			total++
			if v == 0 {
				zeros++
			}
		}
	}
	if s := float64(zeros) / float64(total); math.Abs(s-0.9) > 0.001 {
		t.Errorf("weight sparsity %.4f after 3 steps to 0.9", s)
	}
	for _, args := range [][]string{
		{"--sparsity", "0.9", "--data", batch},
		{"--sparsity", "0.9", "--finetune-epochs", "2"},
		{"--pattern", "2:4", "--steps", "2", "--data", batch},
		{"--steps", "2", "--data", batch},
	} {
		o := filepath.Join(t.TempDir(), "x.onnx")
		code, _, stderr := runCLI(t, append([]string{"prune", model, "-o", o}, args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}

// TestPruneIterativeStructured: --structured --steps 2 removes half of
// bncnn's channels in two steps, fine-tuning (BN in training mode) between.
func TestPruneIterativeStructured(t *testing.T) {
	model := testmodels.Shared(t, "mnist/bncnn.onnx")
	batch, _ := fixtureBatch(t, "bncnn_train", nil)
	out := filepath.Join(t.TempDir(), "it.onnx")
	code, stdout, stderr := runCLI(t, "prune", model, "-o", out, "--structured", "--sparsity", "0.5", "--steps", "2",
		"--finetune-epochs", "1", "--data", batch, "--batch", "16", "--threads", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep iterativeReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rounds) != 2 || !rep.Structured {
		t.Fatalf("report %s", stdout)
	}
	before, after := readParams(t, model), readParams(t, out)
	var nb, na int
	for _, w := range before {
		nb += len(w)
	}
	for _, w := range after {
		na += len(w)
	}
	if !(na < nb*2/3) {
		t.Errorf("%d parameter values before, %d after removing half the channels", nb, na)
	}
}

// TestFinetuneRecalibrateBN: --recalibrate-bn alone changes the BatchNorm
// running statistics of bncnn and nothing else; on lenet300 (no BN) it is a
// clear error.
func TestFinetuneRecalibrateBN(t *testing.T) {
	model := testmodels.Shared(t, "mnist/bncnn.onnx")
	batch, _ := fixtureBatch(t, "bncnn_train", nil)
	out := filepath.Join(t.TempDir(), "bn.onnx")
	code, stdout, stderr := runCLI(t, "finetune", model, "-o", out, "--data", batch, "--recalibrate-bn", "--batches", "2", "--batch", "32", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep finetuneJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.BNRecal == nil || rep.BNRecal.Batches != 2 || rep.Tune != nil {
		t.Fatalf("report %s", stdout)
	}
	a, b := readParams(t, model), readParams(t, out)
	changed := 0
	for id, w := range a {
		same := true
		for i := range w {
			same = same && w[i] == b[id][i]
		}
		isStat := strings.Contains(id, "running_")
		if !same {
			changed++
		}
		if !isStat && !same {
			t.Errorf("%s changed: only running statistics may", id)
		}
		if isStat && same {
			t.Errorf("%s unchanged by recalibration", id)
		}
	}
	if changed != rep.BNRecal.Statistics || changed == 0 {
		t.Errorf("%d tensors changed, %d statistics reported", changed, rep.BNRecal.Statistics)
	}
	lenet, _ := fixtureBatch(t, "lenet300", nil)
	code, _, stderr = runCLI(t, "finetune", testmodels.Shared(t, "mnist/lenet300.onnx"), "-o", filepath.Join(t.TempDir(), "x.onnx"),
		"--data", lenet, "--recalibrate-bn", "--batch", "32")
	if code != 1 || !strings.Contains(stderr, "no BatchNormalization") {
		t.Errorf("lenet300 --recalibrate-bn: exit %d, %s", code, stderr)
	}
}

// TestOneEpochOneCycleAccepted: the schedule's spelling is checked before
// the data is read; a one-epoch onecycle has as many steps as batches and
// must not be refused as "fewer than 2 steps".
func TestOneEpochOneCycleAccepted(t *testing.T) {
	f := trainFlags{data: "x.npz", epochs: 1, batch: 1, optimizer: "sgd", lr: 0.1, wd: -1,
		schedule: "onecycle", bn: "train", temperature: 4}
	if err := f.check("epochs"); err != nil {
		t.Fatalf("--epochs 1 --schedule onecycle refused: %v", err)
	}
	f.schedule = "onecycle:1.5"
	if err := f.check("epochs"); err == nil {
		t.Fatal("onecycle:1.5 accepted, want a usage error")
	}
}
