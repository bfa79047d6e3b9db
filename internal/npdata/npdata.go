// Package npdata reads ONNX test_data_set_N directories of TensorProto .pb
// files (the layout of the ONNX backend tests and model zoo) for `eval`,
// and gives NumPy arrays, which package dataset reads and writes, as flat
// Arrays. Arrays are float32 or int64 (every integer and bool type),
// row-major.
package npdata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// ErrUnsupported: a valid file whose dtype or layout npdata does not handle.
var ErrUnsupported = errors.New("npdata: unsupported")

// Array is one named array.
type Array struct {
	Name  string
	Shape []int
	F     []float32 // floating-point data, or nil
	I     []int64   // integer / bool data, or nil
	Bool  bool      // I holds 0/1 from a bool array
}

// Dense returns the array as a gorgonia tensor sharing its data.
func (a *Array) Dense() *tensor.Dense {
	var back any = a.F
	if a.F == nil {
		back = a.I
	}
	return tensor.New(tensor.WithShape(a.Shape...), tensor.WithBacking(back))
}

var dataSetRe = regexp.MustCompile(`^test_data_set_\d+$`)
var pbRe = regexp.MustCompile(`^(input|output)_(\d+)\.pb$`)

// TestDataSet is one ONNX test_data_set_N directory.
type TestDataSet struct {
	Dir     string
	Inputs  []*Array // input_0.pb, input_1.pb, ... in order
	Outputs []*Array // output_N.pb, if present
}

// ReadTestData reads dir as one test_data_set_N directory, or, when it holds
// test_data_set_N subdirectories, every one of them in numeric order.
func ReadTestData(dir string) ([]*TestDataSet, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var sets []string
	for _, e := range ents {
		if e.IsDir() && dataSetRe.MatchString(e.Name()) {
			sets = append(sets, filepath.Join(dir, e.Name()))
		}
	}
	if len(sets) == 0 {
		s, err := readDataSet(dir)
		if err != nil {
			return nil, err
		}
		return []*TestDataSet{s}, nil
	}
	sort.Slice(sets, func(i, j int) bool { return setIndex(sets[i]) < setIndex(sets[j]) })
	var out []*TestDataSet
	for _, d := range sets {
		s, err := readDataSet(d)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func setIndex(dir string) int {
	base := filepath.Base(dir)
	n, _ := strconv.Atoi(base[len("test_data_set_"):])
	return n
}

func readDataSet(dir string) (*TestDataSet, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s := &TestDataSet{Dir: dir}
	in, out := map[int]*Array{}, map[int]*Array{}
	for _, e := range ents {
		m := pbRe.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		idx, _ := strconv.Atoi(m[2])
		a, err := ReadTensorPB(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if m[1] == "input" {
			in[idx] = a
		} else {
			out[idx] = a
		}
	}
	for i := 0; i < len(in); i++ {
		a, ok := in[i]
		if !ok {
			return nil, fmt.Errorf("npdata: %s: input_%d.pb missing", dir, i)
		}
		s.Inputs = append(s.Inputs, a)
	}
	for i := 0; i < len(out); i++ {
		a, ok := out[i]
		if !ok {
			return nil, fmt.Errorf("npdata: %s: output_%d.pb missing", dir, i)
		}
		s.Outputs = append(s.Outputs, a)
	}
	if len(s.Inputs) == 0 {
		return nil, fmt.Errorf("npdata: %s: no input_N.pb files", dir)
	}
	return s, nil
}

// ReadTensorPB reads one TensorProto file as an Array named after the
// tensor's name.
func ReadTensorPB(path string) (*Array, error) {
	t, err := onnxio.ReadTensorFile(path)
	if err != nil {
		return nil, err
	}
	a := &Array{Name: t.GetName()}
	for _, d := range t.GetDims() {
		a.Shape = append(a.Shape, int(d))
	}
	if a.Shape == nil {
		a.Shape = []int{}
	}
	dt := onnxio.DataType(t.GetDataType())
	switch {
	case dt.IsFloat():
		a.F, _, err = onnxio.Float32s(t)
	case dt.IsInteger():
		a.I, err = onnxio.Int64s(t)
		a.Bool = dt == onnxio.Bool
	default:
		err = fmt.Errorf("%w: %s: data type %v", ErrUnsupported, path, dt)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}
