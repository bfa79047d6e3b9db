package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// runCLI runs the command in-process and returns exit code, stdout, stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeCanned(t *testing.T, name string, m *onnx.ModelProto) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".onnx")
	if err := os.WriteFile(p, onnxbuild.Marshal(m), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExitCodes(t *testing.T) {
	model := writeCanned(t, "mlp", onnxbuild.MLP())
	cases := []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"--help"}, 0, "inspect"},
		{[]string{"version"}, 0, "edgeprune"},
		{[]string{"inspect", model}, 0, "parameters"},
		{[]string{"nosuch"}, 2, "unknown command"},
		{[]string{"inspect"}, 2, "one MODEL"},
		{[]string{"inspect", "--bogus", model}, 2, "unknown flag"},
		{[]string{"inspect", filepath.Join(t.TempDir(), "missing.onnx")}, 1, "missing.onnx"},
		{[]string{"convert", model}, 2, "-o OUT"},
		{[]string{"convert", model, "-o", model}, 2, "input file"},
		{[]string{"completion", "bash"}, 0, "bash completion"},
	}
	for _, c := range cases {
		code, out, errs := runCLI(t, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, c.code, errs)
		}
		if !strings.Contains(out+errs, c.say) {
			t.Errorf("%v: output does not mention %q:\n%s%s", c.args, c.say, out, errs)
		}
	}
}

func TestInspectBadModel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.onnx")
	os.WriteFile(p, []byte("this is not an onnx file at all"), 0o644)
	code, _, errs := runCLI(t, "inspect", p)
	if code != 1 || !strings.Contains(errs, "bad.onnx") || !strings.Contains(errs, "malformed") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// TestInspectCountsMatchONNX: inspect's params / nonzero_params equal what
// the onnx Python package counts (initializers, Constant nodes, subgraphs)
// on every real model and the canned ones.
func TestInspectCountsMatchONNX(t *testing.T) {
	py := testmodels.PythonONNX(t)
	script := testmodels.Tool(t, "count_params.py")
	paths := map[string]string{
		"if":      writeCanned(t, "if", onnxbuild.IfModel()),
		"const":   writeCanned(t, "const", onnxbuild.ConstWeights()),
		"float16": writeCanned(t, "f16", onnxbuild.Float16Weights()),
	}
	for _, m := range testmodels.All(t) {
		paths[m.Name] = m.Path
	}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(py, script, path).Output()
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Params        int64 `json:"params"`
				NonzeroParams int64 `json:"nonzero_params"`
				Tensors       int   `json:"tensors"`
			}
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			code, stdout, errs := runCLI(t, "inspect", path, "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var got inspectJSON
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatal(err)
			}
			if got.Params != want.Params || got.NonzeroParams != want.NonzeroParams || len(got.Parameters) != want.Tensors {
				t.Fatalf("inspect: params %d nonzero %d tensors %d; onnx: %+v", got.Params, got.NonzeroParams, len(got.Parameters), want)
			}
			var sum int64
			for _, p := range got.Parameters {
				if p.Float {
					sum += p.Elements
				}
			}
			if sum != got.Params {
				t.Fatalf("parameters[] sum %d != params %d", sum, got.Params)
			}
		})
	}
}

func TestInspectJSONSchema(t *testing.T) {
	p := writeCanned(t, "if", onnxbuild.IfModel())
	code, out, errs := runCLI(t, "inspect", "--json", p)
	if code != 0 {
		t.Fatal(errs)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"schema", "ir_version", "opsets", "inputs", "outputs", "ops", "params", "nonzero_params", "bytes", "parameters"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("inspect --json lacks %q", key)
		}
	}
	var rep inspectJSON
	json.Unmarshal([]byte(out), &rep)
	sub := 0
	for _, prm := range rep.Parameters {
		if prm.Graph != "" {
			sub++
		}
	}
	if sub != 4 || rep.Ops["If"] != 1 || rep.Ops["MatMul"] != 2 {
		t.Fatalf("subgraph params %d, ops %v", sub, rep.Ops)
	}
	if rep.Inputs[0].Shape[0] != "N" || rep.Inputs[0].Shape[1] != float64(8) {
		t.Fatalf("input shape %v", rep.Inputs[0].Shape)
	}
}

// TestRealModelsLossless: convert's output, and pack then unpack's, is equal
// to its input for every real model, by Go's proto.Equal and by the onnx
// package's == (an independent proto2 reader: fields written with their
// default value, such as MaxPool's ceil_mode i: 0 or an opset's domain "",
// must survive). ORT bit-identity is tested in onnxio and pack.
func TestRealModelsLossless(t *testing.T) {
	for _, m := range testmodels.Files(t) {
		t.Run(m.Name, func(t *testing.T) {
			dir := t.TempDir()
			conv, epk, back := filepath.Join(dir, "convert.onnx"), filepath.Join(dir, "m.epk"), filepath.Join(dir, "unpack.onnx")
			if code, _, errs := runCLI(t, "convert", m.Path, "-o", conv); code != 0 {
				t.Fatalf("convert: exit %d: %s", code, errs)
			}
			if code, _, errs := runCLI(t, "pack", m.Path, "-o", epk); code != 0 {
				t.Fatalf("pack: exit %d: %s", code, errs)
			}
			if code, _, errs := runCLI(t, "unpack", epk, "-o", back); code != 0 {
				t.Fatalf("unpack: exit %d: %s", code, errs)
			}
			for _, c := range []struct{ what, path string }{{"convert", conv}, {"pack → unpack", back}} {
				if !proto.Equal(load(t, m.Path), load(t, c.path)) {
					t.Errorf("%s: output is not proto.Equal to the input", c.what)
				}
				if eq, diff := testmodels.ONNXEqual(t, m.Path, c.path); !eq {
					t.Errorf("%s: output differs from the input by onnx ==: %s (A: input, B: output)", c.what, diff)
				}
			}
		})
	}
}

func TestConvertExternalData(t *testing.T) {
	in := writeCanned(t, "cnn", onnxbuild.CNN())
	dir := t.TempDir()
	out := filepath.Join(dir, "cnn.onnx")
	code, stdout, errs := runCLI(t, "convert", in, "-o", out, "--external-data", "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var rep convertJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.ExternalData || rep.DataBytes == 0 || rep.DataFile != out+".data" {
		t.Fatalf("report %+v", rep)
	}
	// converting it back inline gives the original
	back := filepath.Join(dir, "inline.onnx")
	if code, _, errs := runCLI(t, "convert", out, back); code != 0 {
		t.Fatal(errs)
	}
	// auto mode keeps external tensors external: load resolves them
	code, stdout, _ = runCLI(t, "inspect", "--json", back)
	if code != 0 || !strings.Contains(stdout, `"external_data": true`) {
		t.Fatalf("external data not kept by a plain convert: %d", code)
	}
}

func load(t *testing.T, path string) *onnx.ModelProto {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mp := &onnx.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		t.Fatal(err)
	}
	return mp
}
