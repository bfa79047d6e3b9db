package main

import (
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
)

// TestEvalImageFolder evaluates lenet5 on an image folder made of two
// MNIST test digits of each class (folders 0..9, so folder order is the
// label): --channels gray turns the PNGs back into the test set's tensors,
// so eval scores the model on those samples.
func TestEvalImageFolder(t *testing.T) {
	model := testmodels.Shared(t, "mnist/lenet5.onnx")
	images, labels := testmodels.MNIST(t)
	root := t.TempDir()
	for c := range 10 {
		os.MkdirAll(filepath.Join(root, string(rune('0'+c))), 0o755)
	}
	n, per := 0, map[int64]int{}
	for i := 0; n < 20; i++ {
		if per[labels[i]] == 2 {
			continue
		}
		per[labels[i]]++
		img := image.NewGray(image.Rect(0, 0, 28, 28))
		for j := range 784 {
			img.Pix[j] = uint8(images[i*784+j]*255 + 0.5)
		}
		f, err := os.Create(filepath.Join(root, string(rune('0'+labels[i])), filepath.Base(t.Name())+string(rune('a'+n))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
		n++
	}
	code, out, errs := runCLI(t, "eval", model, "--data", root, "--channels", "gray", "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errs)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["samples"] != float64(20) || ev["top1"] == nil {
		t.Fatalf("eval on the image folder: %v", ev)
	}
	// lenet5 (98.9% on the test set) gets these 20 right, up to one.
	if ev["top1"].(float64) < 0.95 {
		t.Errorf("top-1 %v on 20 test digits", ev["top1"])
	}
	// A preprocessing flag on a .npz is a usage error.
	code, _, errs = runCLI(t, "eval", model, "--data", testmodels.SharedData(t, "mnist_test.npz"), "--resize", "28,28")
	if code != exitUsage || !strings.Contains(errs, "image folders") {
		t.Errorf("--resize on a .npz: exit %d: %s", code, errs)
	}
}
