// Package ortoracle runs ONNX models in ONNX Runtime, the reference that
// edgeprune's engine and model rewrites are checked against in tests.
//
// ONNX Runtime runs in node (onnxruntime-node, installed by scripts/setup.sh)
// through the project's tools/ort/run.js; tensors travel through a temporary
// directory as raw little-endian bytes beside a JSON manifest. Each Run starts
// one node process with a deterministic session: one inter-op thread,
// sequential execution, WithThreads intra-op threads.
package ortoracle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/edgeprune/edgeprune/internal/devenv"
)

var (
	// ErrNoNode is returned by Find when node is not on PATH.
	ErrNoNode = errors.New("ortoracle: node not found on PATH")
	// ErrNoORT is returned by Find when onnxruntime-node is not installed.
	ErrNoORT = errors.New("ortoracle: onnxruntime-node not installed (run scripts/setup.sh)")
)

// Oracle runs models in ONNX Runtime. It is safe for concurrent use.
type Oracle struct {
	node    string // node executable
	script  string // tools/ort/run.js
	ortDir  string // npm prefix holding node_modules/onnxruntime-node
	version string // onnxruntime-node's version
}

// Find locates node on PATH, tools/ort/run.js in the repository, and the
// onnxruntime-node install: $EDGEPRUNE_ORT_DIR if set, else the ort directory
// of the edgeprune cache (see devenv.CacheDir). The error wraps ErrNoNode or
// ErrNoORT when one of them is missing.
func Find() (*Oracle, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoNode, err)
	}
	root, err := devenv.RepoRoot()
	if err != nil {
		return nil, fmt.Errorf("ortoracle: locating tools/ort/run.js: %w", err)
	}
	script := filepath.Join(root, "tools", "ort", "run.js")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("ortoracle: %w", err)
	}
	dir := os.Getenv("EDGEPRUNE_ORT_DIR")
	if dir == "" {
		cache, err := devenv.CacheDir()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoORT, err)
		}
		dir = filepath.Join(cache, "ort")
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoORT, err)
	}
	pkgDir := filepath.Join(dir, "node_modules", "onnxruntime-node")
	raw, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoORT, err)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoORT, filepath.Join(pkgDir, "package.json"), err)
	}
	binding := filepath.Join(pkgDir, "bin", "napi-v6", runtime.GOOS, nodeArch(), "onnxruntime_binding.node")
	if _, err := os.Stat(binding); err != nil {
		return nil, fmt.Errorf("%w: no binding for this platform: %v", ErrNoORT, err)
	}
	return &Oracle{node: node, script: script, ortDir: dir, version: pkg.Version}, nil
}

// nodeArch returns node's process.arch for this machine.
func nodeArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x64"
	case "386":
		return "ia32"
	}
	return runtime.GOARCH
}

// Version returns the version of onnxruntime-node in use.
func (o *Oracle) Version() string { return o.version }

// Run runs the model at modelPath on inputs and returns every model output, in
// the model's output order.
func (o *Oracle) Run(ctx context.Context, modelPath string, inputs []Tensor, opts ...Option) ([]Tensor, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	model, err := checkModel(modelPath)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(inputs))
	for _, t := range inputs {
		if err := t.Validate(); err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("%w %q: given twice", ErrTensor, t.Name)
		}
		seen[t.Name] = true
	}

	tmp, err := os.MkdirTemp("", "ortoracle-")
	if err != nil {
		return nil, fmt.Errorf("ortoracle: %w", err)
	}
	defer os.RemoveAll(tmp)
	inDir, outDir := filepath.Join(tmp, "in"), filepath.Join(tmp, "out")
	if err := writeInputs(inDir, inputs); err != nil {
		return nil, err
	}
	if err := os.Mkdir(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("ortoracle: %w", err)
	}
	if _, err := o.runScript(ctx, "--threads", strconv.Itoa(cfg.threads), "--opt", string(cfg.opt), model, inDir, outDir); err != nil {
		return nil, err
	}
	return readOutputs(outDir)
}

// Meta describes a model's inputs and outputs as ONNX Runtime sees them.
type Meta struct {
	Inputs  []ValueInfo `json:"inputs"`
	Outputs []ValueInfo `json:"outputs"`
}

// ValueInfo describes one model input or output.
type ValueInfo struct {
	Name     string `json:"name"`
	IsTensor bool   `json:"isTensor"`
	DType    string `json:"dtype"` // empty when not a tensor
	Shape    []Dim  `json:"shape"`
}

// Dim is one dimension of a shape: Value, or -1 and the symbolic name in Param
// (which may be empty) when the dimension is dynamic.
type Dim struct {
	Value int64  `json:"value"`
	Param string `json:"param,omitempty"`
}

// Meta returns the model's inputs and outputs with their types and shapes.
func (o *Oracle) Meta(ctx context.Context, modelPath string) (*Meta, error) {
	model, err := checkModel(modelPath)
	if err != nil {
		return nil, err
	}
	out, err := o.runScript(ctx, "--meta", model)
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("ortoracle: meta of %s: %w", modelPath, err)
	}
	return &m, nil
}

// checkModel returns modelPath made absolute, after checking it is a file.
func checkModel(modelPath string) (string, error) {
	abs, err := filepath.Abs(modelPath)
	if err != nil {
		return "", fmt.Errorf("ortoracle: model %s: %w", modelPath, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("ortoracle: model %s: %w", modelPath, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("ortoracle: model %s: not a regular file", modelPath)
	}
	return abs, nil
}

// runScript runs tools/ort/run.js with args and returns its standard output.
func (o *Oracle) runScript(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, o.node, append([]string{o.script}, args...)...)
	cmd.Env = append(os.Environ(), "EDGEPRUNE_ORT_DIR="+o.ortDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "no message"
		}
		return nil, fmt.Errorf("ortoracle: onnxruntime: %s: %w", msg, err)
	}
	return stdout.Bytes(), nil
}

// manifestEntry is one tensor in a manifest.json written for or by run.js.
type manifestEntry struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Dims  []int64 `json:"dims"`
	File  string  `json:"file"`
}

// writeInputs writes ts into a new directory dir as files in0.bin, in1.bin,
// ... and a manifest.json listing them, for run.js to read.
func writeInputs(dir string, ts []Tensor) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("ortoracle: %w", err)
	}
	entries := make([]manifestEntry, len(ts))
	for i, t := range ts {
		file := "in" + strconv.Itoa(i) + ".bin"
		if err := os.WriteFile(filepath.Join(dir, file), t.Data, 0o644); err != nil {
			return fmt.Errorf("ortoracle: %w", err)
		}
		dims := t.Shape
		if dims == nil {
			dims = []int64{} // a scalar: [] in JSON, not null
		}
		entries[i] = manifestEntry{Name: t.Name, DType: t.DType, Dims: dims, File: file}
	}
	raw, err := json.Marshal(map[string][]manifestEntry{"inputs": entries})
	if err != nil {
		return fmt.Errorf("ortoracle: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o644); err != nil {
		return fmt.Errorf("ortoracle: %w", err)
	}
	return nil
}

// readOutputs reads the outputs run.js wrote into dir.
func readOutputs(dir string) ([]Tensor, error) {
	path := filepath.Join(dir, "manifest.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ortoracle: onnxruntime wrote no outputs: %w", err)
	}
	var manifest struct {
		Outputs []manifestEntry `json:"outputs"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return nil, fmt.Errorf("ortoracle: %s: %w", path, err)
	}
	ts := make([]Tensor, len(manifest.Outputs))
	for i, e := range manifest.Outputs {
		if e.File != filepath.Base(e.File) {
			return nil, fmt.Errorf("ortoracle: %s: output %q: file %q outside %s", path, e.Name, e.File, dir)
		}
		data, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil {
			return nil, fmt.Errorf("ortoracle: %w", err)
		}
		ts[i] = Tensor{Name: e.Name, DType: e.DType, Shape: e.Dims, Data: data}
		if err := ts[i].Validate(); err != nil {
			return nil, fmt.Errorf("ortoracle: %s: %w", path, err)
		}
	}
	return ts, nil
}
