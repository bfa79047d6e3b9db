package enginetest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/owulveryck/onnx-go/backend/testbackend"
	_ "github.com/owulveryck/onnx-go/backend/testbackend/onnx" // registers the ONNX node tests
	"gorgonia.org/tensor"
)

var update = flag.Bool("update", false, "rewrite docs/ops.md from the conformance results")

// Tolerances of the comparison, those of onnx's backend test runner
// (rtol 1e-3) with a float32-sized absolute floor.
const (
	rtol = 1e-3
	atol = 1e-5
)

type outcome int

const (
	passed outcome = iota
	skipped
	failed
)

type result struct {
	title   string
	outcome outcome
	reason  string
}

// TestConformance runs every registered ONNX node test whose op the engine
// implements, and checks docs/ops.md is the report of this run.
func TestConformance(t *testing.T) {
	byOp := map[string][]result{}
	tests := testbackend.GetAllRegisteredTests()
	cases := make([]*testbackend.TestCase, 0, len(tests))
	for _, mk := range tests {
		cases = append(cases, mk())
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Title < cases[j].Title })
	for _, tc := range cases {
		if !engine.Supports(tc.OpType) {
			continue
		}
		var r result
		t.Run(tc.Title, func(t *testing.T) {
			r = runCase(tc)
			switch r.outcome {
			case skipped:
				t.Skip(r.reason)
			case failed:
				t.Error(r.reason)
			}
		})
		r.title = tc.Title
		byOp[tc.OpType] = append(byOp[tc.OpType], r)
	}
	report := opsReport(byOp)
	path := filepath.Join("..", "..", "docs", "ops.md")
	if *update {
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./engine/enginetest -update)", err)
	}
	if string(old) != report {
		t.Errorf("docs/ops.md is not the report of this run: regenerate it with go test ./engine/enginetest -update")
	}
}

// runCase runs one test case in the engine. Errors wrapping
// engine.ErrNotImplemented, and inputs of types the engine does not take,
// are skips; anything else that goes wrong is a failure.
func runCase(tc *testbackend.TestCase) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{outcome: failed, reason: fmt.Sprintf("panic: %v", p)}
		}
	}()
	m, err := onnxio.Decode(tc.ModelB)
	if err != nil {
		return result{outcome: failed, reason: "decode: " + err.Error()}
	}
	ins := m.Info().Inputs
	if len(ins) != len(tc.Input) {
		return result{outcome: failed, reason: fmt.Sprintf("%d inputs for %d model inputs", len(tc.Input), len(ins))}
	}
	feed := map[string]*tensor.Dense{}
	var opts []engine.Option
	for i, in := range tc.Input {
		d, err := toDense(in, ins[i].ElemType)
		if err != nil {
			return result{outcome: skipped, reason: "input " + ins[i].Name + ": " + err.Error()}
		}
		shape := []int(d.Shape())
		if d.Shape().IsScalar() || (len(ins[i].Shape) == 0 && ins[i].Shape != nil && numel(shape) == 1) {
			// onnx-go exports some scalar inputs as [1].
			shape = []int{}
		}
		feed[ins[i].Name] = d
		opts = append(opts, engine.WithInputShape(ins[i].Name, shape...))
	}
	p, err := engine.Compile(m, opts...)
	if errors.Is(err, engine.ErrNotImplemented) && strings.Contains(err.Error(), "known at compile time") {
		// The engine needs shape-like tensors (Reshape targets, Slice
		// bounds, Resize scales) at compile time; these tests feed them as
		// graph inputs. Bind every input but the first, and every integer
		// input, as a value.
		opts = nil
		for i, in := range ins {
			if i > 0 || in.ElemType.IsInteger() {
				opts = append(opts, engine.WithInputValue(in.Name, feed[in.Name]))
				delete(feed, in.Name)
			} else {
				opts = append(opts, engine.WithInputShape(in.Name, []int(feed[in.Name].Shape())...))
			}
		}
		p, err = engine.Compile(m, opts...)
	}
	if errors.Is(err, engine.ErrNotImplemented) {
		return result{outcome: skipped, reason: trimReason(err)}
	}
	if err != nil {
		return result{outcome: failed, reason: "compile: " + err.Error()}
	}
	got, err := p.Run(context.Background(), feed)
	if err != nil {
		return result{outcome: failed, reason: "run: " + err.Error()}
	}
	outs := p.Outputs()
	if len(outs) != len(tc.ExpectedOutput) {
		return result{outcome: failed, reason: fmt.Sprintf("%d outputs, want %d", len(outs), len(tc.ExpectedOutput))}
	}
	for i, want := range tc.ExpectedOutput {
		if msg := compare(got[outs[i].Name], want); msg != "" {
			return result{outcome: failed, reason: fmt.Sprintf("output %q: %s", outs[i].Name, msg)}
		}
	}
	return result{outcome: passed}
}

func trimReason(err error) string {
	s := err.Error()
	if i := strings.Index(s, engine.ErrNotImplemented.Error()); i >= 0 {
		s = s[i:]
	}
	return s
}

// toDense converts a test tensor to one the engine takes. A few onnx-go
// exports give float data for an integer input: it is converted to the type
// the model declares.
func toDense(t tensor.Tensor, declared onnxio.DataType) (*tensor.Dense, error) {
	d, ok := t.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%T tensor", t)
	}
	if f, ok := d.Data().([]float32); ok && declared.IsInteger() {
		iv := make([]int64, len(f))
		for i, v := range f {
			iv[i] = int64(v)
		}
		return tensor.New(tensor.WithShape(d.Shape()...), tensor.WithBacking(iv)), nil
	}
	switch d.Data().(type) {
	case []float32, []float64, []int64, []int32, []bool:
		return d, nil
	case float32, float64, int64, int32, bool:
		return d, nil
	}
	return nil, fmt.Errorf("%w: %v inputs", engine.ErrNotImplemented, d.Dtype())
}

// values returns a tensor's elements as float64.
func values(t tensor.Tensor) ([]float64, error) {
	switch d := t.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out, nil
	case []float64:
		return d, nil
	case []int64:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out, nil
	case []int32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out, nil
	case []bool:
		out := make([]float64, len(d))
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out, nil
	case float32:
		return []float64{float64(d)}, nil
	case float64:
		return []float64{d}, nil
	case int64:
		return []float64{float64(d)}, nil
	case int32:
		return []float64{float64(d)}, nil
	case bool:
		if d {
			return []float64{1}, nil
		}
		return []float64{0}, nil
	}
	return nil, fmt.Errorf("%v tensor", t.Dtype())
}

// compare returns "" when got matches want within rtol/atol (NaN matches
// NaN), else what differs.
func compare(got *tensor.Dense, want tensor.Tensor) string {
	if got == nil {
		return "missing"
	}
	ws, gs := []int(want.Shape()), []int(got.Shape())
	if want.Shape().IsScalar() {
		ws = nil
	}
	if got.Shape().IsScalar() {
		gs = nil
	}
	if numel(ws) != numel(gs) || (len(ws) > 0 && len(gs) > 0 && fmt.Sprint(ws) != fmt.Sprint(gs)) {
		return fmt.Sprintf("shape %v, want %v", gs, ws)
	}
	g, err := values(got)
	if err != nil {
		return err.Error()
	}
	w, err := values(want)
	if err != nil {
		return err.Error()
	}
	if len(g) != len(w) {
		return fmt.Sprintf("%d elements, want %d", len(g), len(w))
	}
	for i := range w {
		if math.IsNaN(w[i]) && math.IsNaN(g[i]) {
			continue
		}
		if math.IsInf(w[i], 0) && g[i] == w[i] {
			continue
		}
		if !(math.Abs(g[i]-w[i]) <= atol+rtol*math.Abs(w[i])) {
			return fmt.Sprintf("element %d is %g, want %g", i, g[i], w[i])
		}
	}
	return ""
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// opsReport renders docs/ops.md.
func opsReport(byOp map[string][]result) string {
	var b strings.Builder
	b.WriteString(`# Engine operators

Generated by ` + "`go test ./engine/enginetest -update`" + ` from the ONNX backend
node tests exported by onnx-go v0.5.0 (` + "`backend/testbackend/onnx`" + `); do not edit.
Each op the engine implements is listed with the conformance tests that
passed, were skipped (the test needs something the engine reports as not
implemented, named below) or failed. Comparison: |got − want| ≤ 1e-5 + 1e-3·|want|.
Ops with no test in that suite are checked by the engine's own tests and the
real-model comparisons with ONNX Runtime.
The backward column says whether the op has a backward for training
(` + "`engine.HasBackward`" + `; each is gradient-checked in engine/gradcheck_test.go);
CompileTrainable refuses an op without one on a parameter's path.

| op | passed | skipped | failed | backward |
|----|-------:|--------:|-------:|:--------:|
`)
	var tp, ts, tf int
	for _, op := range engine.SupportedOps() {
		rs := byOp[op]
		var p, s, f int
		for _, r := range rs {
			switch r.outcome {
			case passed:
				p++
			case skipped:
				s++
			case failed:
				f++
			}
		}
		tp, ts, tf = tp+p, ts+s, tf+f
		bw := "–"
		if engine.HasBackward(op) {
			bw = "yes"
		}
		if len(rs) == 0 {
			fmt.Fprintf(&b, "| %s | – | – | – | %s |\n", op, bw)
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", op, p, s, f, bw)
	}
	fmt.Fprintf(&b, "| **total** | %d | %d | %d | %d |\n", tp, ts, tf, len(engine.GradOps()))
	b.WriteString("\n## Skipped and failed tests\n\n")
	any := false
	for _, op := range engine.SupportedOps() {
		for _, r := range byOp[op] {
			if r.outcome == passed {
				continue
			}
			any = true
			what := "skipped"
			if r.outcome == failed {
				what = "FAILED"
			}
			fmt.Fprintf(&b, "- `%s` (%s) %s: %s\n", r.title, op, what, strings.ReplaceAll(r.reason, "\n", " "))
		}
	}
	if !any {
		b.WriteString("None.\n")
	}
	b.WriteString(recurrentCoverage)
	return b.String()
}
