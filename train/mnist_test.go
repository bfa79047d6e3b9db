package train_test

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/npdata"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/prune"
	"github.com/edgeprune/edgeprune/train"
	"gorgonia.org/tensor"
)

var mnistOnce struct {
	sync.Mutex
	train, test map[string]*train.Arrays
}

// mnist returns ../shared/data/mnist_<split>.npz as a Dataset (read once).
func mnist(t testing.TB, split string) *train.Arrays {
	t.Helper()
	mnistOnce.Lock()
	defer mnistOnce.Unlock()
	if mnistOnce.train == nil {
		mnistOnce.train = map[string]*train.Arrays{}
	}
	if a, ok := mnistOnce.train[split]; ok {
		return a
	}
	path := testmodels.SharedData(t, "mnist_"+split+".npz")
	arrays, err := npdata.ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	var x *tensor.Dense
	var labels []int64
	for _, a := range arrays {
		if a.Name == "labels" {
			labels = a.I
		} else {
			x = a.Dense()
		}
	}
	ds, err := train.NewArrays(map[string]*tensor.Dense{"input": x}, labels)
	if err != nil {
		t.Fatal(err)
	}
	mnistOnce.train[split] = ds
	return ds
}

func readModel(t testing.TB, name string) *onnxio.Model {
	t.Helper()
	m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/"+name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func accuracy(t testing.TB, m *onnxio.Model) float64 {
	t.Helper()
	acc, err := train.Accuracy(context.Background(), m, mnist(t, "test"), 1000, runtime.NumCPU())
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// zeros records the zero pattern of every float parameter.
func zeros(t testing.TB, m *onnxio.Model) map[string][]bool {
	out := map[string][]bool{}
	for _, p := range m.Params() {
		w, _, err := p.Float32()
		if err != nil {
			continue
		}
		z := make([]bool, len(w))
		for i, v := range w {
			z[i] = v == 0
		}
		out[p.ID] = z
	}
	return out
}

type recipe struct {
	epochs, batch, threads int
	lr                     float64
	schedule               string
	teacher                *onnxio.Model
	steps                  int // stop after this many batches (0: whole epochs)
}

// finetune runs the recipe on m in place (WriteBack) and returns the curve.
func finetune(t testing.TB, m *onnxio.Model, r recipe) *train.History {
	t.Helper()
	data := train.Dataset(mnist(t, "train"))
	if r.steps > 0 {
		data = subset{data, r.steps * r.batch}
	}
	prim, models, err := train.Compile(m, r.batch, r.threads)
	if err != nil {
		t.Fatal(err)
	}
	steps := train.StepsPerEpoch(data.Len(), r.batch)
	sched, err := train.ParseSchedule(r.schedule, r.lr, r.epochs, steps, 0)
	if err != nil {
		t.Fatal(err)
	}
	var loss train.Loss = train.CrossEntropy{Output: "logits"}
	opts := []train.Option{train.WithEpochs(r.epochs), train.WithBatchSize(r.batch), train.WithSeed(1),
		train.WithOptimizer(train.SGD{Momentum: 0.9, WeightDecay: 1e-4}, nil), train.WithSchedule(sched),
		train.WithMasks(train.MasksFromZeros(prim.Params(), nil))}
	if r.teacher != nil {
		tch, err := train.EngineTeacher(r.teacher, r.batch/r.threads, r.threads)
		if err != nil {
			t.Fatal(err)
		}
		loss = train.Distill{Output: "logits", T: 4}
		opts = append(opts, train.WithTeacher(tch))
	}
	tr, err := train.New(models, append(opts, train.WithLoss(loss))...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := tr.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if err := prim.WriteBack(m); err != nil {
		t.Fatal(err)
	}
	return h
}

// subset is the first n samples of a dataset (a short run).
type subset struct {
	train.Dataset
	n int
}

func (s subset) Len() int { return s.n }

func pruneGlobal(t testing.TB, m *onnxio.Model, s float64) {
	t.Helper()
	pr, err := prune.New(prune.WithSparsity(s), prune.WithScope(prune.Global))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Prune(m); err != nil {
		t.Fatal(err)
	}
}

// TestFineTuneRecoversShort: 150 steps of fine-tuning lenet300 pruned to
// 95% raise its test accuracy well above one-shot, keep every zero, and
// change nothing that is not trained.
func TestFineTuneRecoversShort(t *testing.T) {
	m := readModel(t, "lenet300.onnx")
	pruneGlobal(t, m, 0.95)
	before := zeros(t, m)
	oneshot := accuracy(t, m)
	finetune(t, m, recipe{epochs: 1, batch: 128, threads: 2, lr: 0.01, schedule: "constant", steps: 150})
	after := accuracy(t, m)
	t.Logf("lenet300 95%%: one-shot %.2f%%, 150 steps %.2f%%", 100*oneshot, 100*after)
	if after < oneshot+0.1 || after < 0.93 {
		t.Errorf("accuracy %.4f after 150 steps from %.4f one-shot: fine-tuning did not recover", after, oneshot)
	}
	checkZeros(t, before, zeros(t, m))
}

func checkZeros(t testing.TB, before, after map[string][]bool) {
	t.Helper()
	for id, z := range before {
		a := after[id]
		nb, na := 0, 0
		for i := range z {
			if z[i] {
				nb++
			}
			if a[i] {
				na++
			}
			if z[i] && !a[i] {
				t.Errorf("%s[%d] was pruned and came back", id, i)
				return
			}
		}
		if len(z) > 1000 && nb != na {
			t.Errorf("%s: %d zeros before, %d after", id, nb, na)
		}
	}
}

// TestDeterministicThreads: the same seed and thread count give the same
// weights, bit for bit.
func TestDeterministicThreads(t *testing.T) {
	var ws [2][]float32
	for i := range ws {
		m := readModel(t, "lenet300.onnx")
		finetune(t, m, recipe{epochs: 1, batch: 64, threads: 2, lr: 0.01, schedule: "cosine", steps: 20})
		for _, p := range m.Params() {
			if p.ID == "fc1.weight" {
				w, _, _ := p.Float32()
				ws[i] = append([]float32(nil), w...)
			}
		}
	}
	for j := range ws[0] {
		if ws[0][j] != ws[1][j] {
			t.Fatalf("fc1.weight[%d]: %g then %g", j, ws[0][j], ws[1][j])
		}
	}
}

var _ = engine.BNTrain
