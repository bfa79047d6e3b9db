package onnxio_test

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

func decodeCanned(t *testing.T, name string) *onnxio.Model {
	t.Helper()
	for _, c := range onnxbuild.CannedModels() {
		if c.Name == name {
			m, err := onnxio.Decode(onnxbuild.Marshal(c.Build()))
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no canned model %q", name)
	return nil
}

func paramByID(t *testing.T, m *onnxio.Model, id string) *onnxio.Param {
	t.Helper()
	var ids []string
	for _, p := range m.Params() {
		if p.ID == id {
			return p
		}
		ids = append(ids, p.ID)
	}
	t.Fatalf("no param %q among %v", id, ids)
	return nil
}

type pyCounts struct {
	Params        int64 `json:"params"`
	NonzeroParams int64 `json:"nonzero_params"`
	Tensors       int   `json:"tensors"`
}

// TestParamCountsMatchONNX compares the parameter view's totals with the
// onnx Python package's reading of the same file, on every real model and
// every canned one (initializers, Constant nodes, subgraphs).
func TestParamCountsMatchONNX(t *testing.T) {
	py := testmodels.PythonONNX(t)
	script := repoFile(t, "tools/py/count_params.py")
	type model struct{ name, path string }
	var models []model
	dir := t.TempDir()
	for _, c := range onnxbuild.CannedModels() {
		p := filepath.Join(dir, c.Name+".onnx")
		if err := os.WriteFile(p, onnxbuild.Marshal(c.Build()), 0o644); err != nil {
			t.Fatal(err)
		}
		models = append(models, model{c.Name, p})
	}
	for _, rm := range testmodels.All(t) {
		models = append(models, model{rm.Name, rm.Path})
	}
	for _, mm := range models {
		t.Run(mm.name, func(t *testing.T) {
			out, err := exec.Command(py, script, mm.path).Output()
			if err != nil {
				t.Fatalf("count_params.py: %v", err)
			}
			var want pyCounts
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			m, err := onnxio.ReadFile(mm.path)
			if err != nil {
				t.Fatal(err)
			}
			var got pyCounts
			for _, p := range m.Params() {
				got.Tensors++
				if p.DataType().IsFloat() {
					got.Params += p.NumElements()
					got.NonzeroParams += p.Nonzeros()
				}
			}
			if got != want {
				t.Fatalf("onnxio counts %+v, onnx package %+v", got, want)
			}
			if want.Params == 0 {
				t.Fatal("model has no parameters: test would be vacuous")
			}
		})
	}
}

func TestParamsConstantNodes(t *testing.T) {
	m := decodeCanned(t, "const_weights")
	if n := len(m.Proto.Graph.Initializer); n != 0 {
		t.Fatalf("fixture has %d initializers", n)
	}
	w := paramByID(t, m, "conv2d_0.w_0")
	if w.Where != onnxio.ConstantNode || w.Node == nil || w.Node.GetOpType() != "Constant" {
		t.Fatalf("conv weight: where=%v node=%v", w.Where, w.Node)
	}
	if len(w.Uses) != 1 || w.Uses[0].Node.GetOpType() != "Conv" || w.Uses[0].Input != 1 {
		t.Fatalf("conv weight uses: %+v", w.Uses)
	}
	b := paramByID(t, m, "conv2d_0.b_0")
	if len(b.Uses) != 1 || b.Uses[0].Input != 2 {
		t.Fatalf("conv bias uses: %+v", b.Uses)
	}
	shape := paramByID(t, m, "reshape_0.shape")
	if shape.DataType() != onnxio.Int64 || shape.Uses[0].Node.GetOpType() != "Reshape" || shape.Uses[0].Input != 1 {
		t.Fatalf("reshape shape param: %v %+v", shape.DataType(), shape.Uses)
	}
	if _, _, err := shape.Float32(); err != nil {
		t.Fatalf("int64 param as float32: %v", err)
	}
	// writes through the view of a Constant-node tensor reach the file
	data, view, err := w.Float32()
	if err != nil || !view {
		t.Fatalf("view=%v err=%v", view, err)
	}
	data[3] = 1234.5
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := onnxio.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ := paramByID(t, back, "conv2d_0.w_0").Float32()
	if got[3] != 1234.5 {
		t.Fatalf("write through view lost: %v", got[3])
	}
}

func TestParamsSubgraphs(t *testing.T) {
	m := decodeCanned(t, "if")
	var ifName string
	for _, n := range m.Proto.Graph.Node {
		if n.GetOpType() == "If" {
			ifName = n.GetName()
		}
	}
	thenW := paramByID(t, m, ifName+"/then_branch/then.weight")
	if thenW.GraphPath != ifName+"/then_branch/" || thenW.Where != onnxio.Initializer {
		t.Fatalf("then weight: path %q where %v", thenW.GraphPath, thenW.Where)
	}
	if len(thenW.Uses) != 1 || thenW.Uses[0].Node.GetOpType() != "MatMul" || thenW.Uses[0].Input != 1 || thenW.Uses[0].GraphPath != thenW.GraphPath {
		t.Fatalf("then weight uses: %+v", thenW.Uses)
	}
	elseB := paramByID(t, m, ifName+"/else_branch/else.bias")
	if elseB.Where != onnxio.ConstantNode {
		t.Fatalf("else bias where %v", elseB.Where)
	}
	// gamma lives in the main graph and is read inside the else branch
	gamma := paramByID(t, m, "gamma")
	if len(gamma.Uses) != 1 || gamma.Uses[0].GraphPath != ifName+"/else_branch/" || gamma.Uses[0].Node.GetOpType() != "Mul" {
		t.Fatalf("gamma uses: %+v", gamma.Uses)
	}
	// IDs are unique and stable across reads
	seen := map[string]bool{}
	for _, p := range m.Params() {
		if seen[p.ID] {
			t.Fatalf("duplicate ID %q", p.ID)
		}
		seen[p.ID] = true
	}
	again := decodeCanned(t, "if").Params()
	for i, p := range m.Params() {
		if again[i].ID != p.ID {
			t.Fatalf("ID %d: %q then %q", i, p.ID, again[i].ID)
		}
	}
}

func TestParamViewZeroCopy(t *testing.T) {
	m := decodeCanned(t, "mlp")
	for _, p := range m.Params() {
		if p.DataType() != onnxio.Float || p.NumElements() < 2 {
			continue
		}
		data, view, err := p.Float32()
		if err != nil || !view {
			t.Fatalf("%s: view=%v err=%v", p.ID, view, err)
		}
		raw := p.Tensor.GetRawData()
		if len(raw) > 0 && unsafe.Pointer(&raw[0]) != unsafe.Pointer(&data[0]) {
			t.Fatalf("%s: Float32 copied raw_data", p.ID)
		}
		d, err := p.Dense()
		if err != nil {
			t.Fatal(err)
		}
		backing := d.Data().([]float32)
		if &backing[0] != &data[0] {
			t.Fatalf("%s: Dense does not share the view's memory", p.ID)
		}
		shape := d.Shape()
		if len(shape) != len(p.Shape()) || int64(shape[0]) != p.Shape()[0] {
			t.Fatalf("%s: dense shape %v, param %v", p.ID, shape, p.Shape())
		}
		// SetFloat32 with a new shape
		nd := make([]float32, 2)
		nd[0], nd[1] = 1, -2
		if err := p.SetFloat32(nd, []int64{2}); err != nil {
			t.Fatal(err)
		}
		got, _, _ := p.Float32()
		if len(got) != 2 || got[1] != -2 || p.Shape()[0] != 2 {
			t.Fatalf("after SetFloat32: %v %v", got, p.Shape())
		}
		if err := p.SetFloat32(nd, []int64{3}); err == nil {
			t.Fatal("SetFloat32 accepted 2 values for shape [3]")
		}
		return
	}
	t.Fatal("no float32 param in MLP")
}

func TestParamOtherFloatTypes(t *testing.T) {
	for _, tc := range []struct {
		model, id string
		dt        onnxio.DataType
		eps       float64
	}{
		{"float16_weights", "fc.weight", onnxio.Float16, 1e-3},
		{"float64_weights", "fc.weight", onnxio.Double, 0},
	} {
		t.Run(tc.model, func(t *testing.T) {
			m := decodeCanned(t, tc.model)
			p := paramByID(t, m, tc.id)
			if p.DataType() != tc.dt {
				t.Fatalf("dtype %v", p.DataType())
			}
			data, view, err := p.Float32()
			if err != nil || view {
				t.Fatalf("view=%v err=%v (want a converted copy)", view, err)
			}
			orig := append([]float32(nil), data...)
			for i := range data {
				data[i] *= 2
			}
			if err := p.SetFloat32(data, p.Shape()); err != nil {
				t.Fatal(err)
			}
			if p.DataType() != tc.dt {
				t.Fatalf("SetFloat32 changed dtype to %v", p.DataType())
			}
			out, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := onnxio.Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := paramByID(t, back, tc.id).Float32()
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				// doubling is exact in every binary float format
				if float64(got[i]) != 2*float64(orig[i]) {
					t.Fatalf("value %d: %v, want %v", i, got[i], 2*orig[i])
				}
			}
		})
	}
}

func TestFloat16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := onnxio.Float16ToFloat32(uint16(h))
		back := onnxio.Float32ToFloat16(f)
		if math.IsNaN(float64(f)) {
			if back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		if back != uint16(h) {
			t.Fatalf("float16 %#04x → %v → %#04x", h, f, back)
		}
	}
	// rounding: halfway between 1 and the next half (1+2^-10) rounds to even
	if got := onnxio.Float32ToFloat16(1 + 1.0/2048); got != 0x3c00 {
		t.Fatalf("1+2^-11 → %#04x, want 0x3c00", got)
	}
	if got := onnxio.Float32ToFloat16(1 + 3.0/2048); got != 0x3c02 {
		t.Fatalf("1+3·2^-11 → %#04x, want 0x3c02", got)
	}
	if got := onnxio.Float32ToFloat16(70000); got != 0x7c00 {
		t.Fatalf("70000 → %#04x, want +Inf", got)
	}
	if got := onnxio.Float16ToFloat32(0x0001); got != float32(math.Ldexp(1, -24)) {
		t.Fatalf("smallest subnormal → %v", got)
	}
}

func TestBFloat16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := onnxio.BFloat16ToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := onnxio.Float32ToBFloat16(f); back != uint16(h) {
			t.Fatalf("bfloat16 %#04x → %v → %#04x", h, f, back)
		}
	}
	// 1 + 2^-8 is halfway between 1 and 1+2^-7: ties to even (1)
	if got := onnxio.Float32ToBFloat16(1 + 1.0/256); got != 0x3f80 {
		t.Fatalf("tie → %#04x", got)
	}
}
