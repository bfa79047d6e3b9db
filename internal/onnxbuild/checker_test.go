package onnxbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// checkerScript checks each "plain:path" or "external:path" argument with
// onnx.checker (full_check: strict shape inference too) and prints one line
// per file. An external model is also checked by path, which resolves its
// data files, and saved back with its data inline to path + ".inline".
const checkerScript = `
import sys, onnx
for arg in sys.argv[1:]:
    kind, path = arg.split(":", 1)
    try:
        if kind == "external":
            onnx.checker.check_model(path)
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        if kind == "external":
            onnx.save(m, path + ".inline")
        print("ok", path)
    except Exception as e:
        print("FAIL", path, " ".join(str(e).split()))
`

// TestONNXChecker runs every canned model, and its external-data form,
// through the reference onnx checker.
func TestONNXChecker(t *testing.T) {
	py := testmodels.PythonONNX(t)
	dir := t.TempDir()
	canned := CannedModels()
	var args []string
	plain := map[string]string{}
	external := map[string]string{}
	for _, c := range canned {
		p := filepath.Join(dir, c.Name+".onnx")
		if err := os.WriteFile(p, Marshal(c.Build()), 0o644); err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(dir, "external", c.Name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteWithExternalData(c.Build(), sub, "model.onnx", "weights.bin", 64); err != nil {
			t.Fatal(err)
		}
		plain[c.Name] = p
		external[c.Name] = filepath.Join(sub, "model.onnx")
		args = append(args, "plain:"+p, "external:"+external[c.Name])
	}
	out, err := exec.Command(py, append([]string{"-c", checkerScript}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", py, err, out)
	}
	results := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		status, rest, _ := strings.Cut(line, " ")
		path, msg, _ := strings.Cut(rest, " ")
		results[path] = strings.TrimSpace(status + " " + msg)
	}
	for _, c := range canned {
		t.Run(c.Name, func(t *testing.T) {
			for _, p := range []string{plain[c.Name], external[c.Name]} {
				if r := results[p]; r != "ok" {
					t.Errorf("onnx.checker on %s: %q", p, r)
				}
			}
			// onnx read the external data back to the original tensors.
			raw, err := os.ReadFile(external[c.Name] + ".inline")
			if err != nil {
				t.Fatal(err)
			}
			var back onnx.ModelProto
			if err := proto.Unmarshal(raw, &back); err != nil {
				t.Fatal(err)
			}
			// onnx.load marks each tensor it read back data_location:
			// DEFAULT, present (proto2); the canned models leave it absent.
			for _, tp := range initializers(back.Graph) {
				if tp.DataLocation != nil && tp.GetDataLocation() == onnx.TensorProto_DEFAULT {
					tp.DataLocation = nil
				}
			}
			if !proto.Equal(&back, c.Build()) {
				t.Error("onnx.load of the external-data model differs from the original")
			}
		})
	}
}
