package npdata

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"google.golang.org/protobuf/proto"
)

func TestReadTestData(t *testing.T) {
	root := t.TempDir()
	write := func(dir, name string, vals []float32) {
		t.Helper()
		raw, err := proto.Marshal(onnxbuild.Float32Tensor("x", []int64{1, int64(len(vals))}, vals))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range []string{"test_data_set_10", "test_data_set_2"} {
		write(filepath.Join(root, d), "input_0.pb", []float32{float32(i), 1})
		write(filepath.Join(root, d), "output_0.pb", []float32{5})
	}
	sets, err := ReadTestData(root)
	if err != nil {
		t.Fatal(err)
	}
	// Numeric order: 2 before 10.
	if len(sets) != 2 || filepath.Base(sets[0].Dir) != "test_data_set_2" || !reflect.DeepEqual(sets[0].Inputs[0].F, []float32{1, 1}) ||
		!reflect.DeepEqual(sets[1].Outputs[0].Shape, []int{1, 1}) {
		t.Fatalf("sets %+v", sets)
	}
	// A gap in the inputs is named.
	write(filepath.Join(root, "test_data_set_2"), "input_2.pb", []float32{0})
	if _, err := ReadTestData(root); err == nil || !strings.Contains(err.Error(), "input_1.pb missing") {
		t.Errorf("gap: %v", err)
	}
}

func TestArrayRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, a := range []*Array{
		{Name: "f", Shape: []int{2, 3}, F: []float32{1, -2, 3.5, 0, 1e-7, 6}},
		{Name: "i", Shape: []int{4}, I: []int64{1, -2, 1 << 40, 0}},
		{Name: "b", Shape: []int{1, 2, 1}, I: []int64{1, 0}, Bool: true},
		{Name: "s", Shape: []int{}, F: []float32{42}},
	} {
		path := filepath.Join(dir, a.Name+".npy")
		if err := WriteNPY(path, a); err != nil {
			t.Fatal(err)
		}
		got, err := ReadNPY(path)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("%s: read back %+v, wrote %+v", a.Name, got, a)
		}
	}
}
