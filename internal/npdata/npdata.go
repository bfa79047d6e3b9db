// Package npdata reads and writes the array files edgeprune's CLI takes and
// gives: NumPy .npy and .npz (https://numpy.org/neps/nep-0001-npy-format.html)
// and ONNX test_data_set_N directories of TensorProto .pb files. Arrays are
// float32 or int64 (every integer and bool type), row-major.
package npdata

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio"
	"codeberg.org/sbinet/npyio/npz"
	"github.com/edgeprune/edgeprune/internal/atomicfile"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// ErrUnsupported: a valid file whose dtype or layout npdata does not handle.
var ErrUnsupported = errors.New("npdata: unsupported")

// MaxElements bounds the elements of one array read from a file.
const MaxElements = 1<<31 - 1

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

// FromDense converts a tensor (float32, int64 or bool) into an Array.
func FromDense(name string, t *tensor.Dense) (*Array, error) {
	a := &Array{Name: name, Shape: append([]int{}, t.Shape()...)}
	switch d := t.Data().(type) {
	case []float32:
		a.F = d
	case []int64:
		a.I = d
	case []bool:
		a.I, a.Bool = make([]int64, len(d)), true
		for i, b := range d {
			if b {
				a.I[i] = 1
			}
		}
	default:
		return nil, fmt.Errorf("%w: tensor of %v", ErrUnsupported, t.Dtype())
	}
	return a, nil
}

func numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > MaxElements/d) {
			return 0, fmt.Errorf("npdata: shape %v too large or negative", shape)
		}
		n *= d
	}
	return n, nil
}

// decode reads the payload described by hdr from r.
func decode(name string, hdr npyio.Header, read func(ptr any) error) (*Array, error) {
	if hdr.Descr.Fortran {
		return nil, fmt.Errorf("%w: %s: Fortran-order array", ErrUnsupported, name)
	}
	n, err := numel(hdr.Descr.Shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	a := &Array{Name: name, Shape: append([]int{}, hdr.Descr.Shape...)}
	if a.Shape == nil {
		a.Shape = []int{}
	}
	toI := func(get func(i int) int64) {
		a.I = make([]int64, n)
		for i := range a.I {
			a.I[i] = get(i)
		}
	}
	switch t := strings.Trim(hdr.Descr.Type, `'"`); t {
	case "<f4", "f4":
		a.F = make([]float32, 0, n)
		err = read(&a.F)
	case "<f8", "f8":
		var v []float64
		if err = read(&v); err == nil {
			a.F = make([]float32, len(v))
			for i, x := range v {
				a.F[i] = float32(x)
			}
		}
	case "<i8", "i8":
		err = read(&a.I)
	case "<i4", "i4":
		var v []int32
		if err = read(&v); err == nil {
			toI(func(i int) int64 { return int64(v[i]) })
		}
	case "|u1", "u1":
		var v []uint8
		if err = read(&v); err == nil {
			toI(func(i int) int64 { return int64(v[i]) })
		}
	case "|b1", "b1":
		var v []bool
		if err = read(&v); err == nil {
			toI(func(i int) int64 {
				if v[i] {
					return 1
				}
				return 0
			})
			a.Bool = true
		}
	default:
		return nil, fmt.Errorf("%w: %s: dtype %q", ErrUnsupported, name, t)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if got := len(a.F) + len(a.I); got != n {
		return nil, fmt.Errorf("npdata: %s: %d elements for shape %v", name, got, a.Shape)
	}
	return a, nil
}

// ReadNPY reads a .npy file; the array is named after the file (no extension).
func ReadNPY(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := npyio.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	name := filepath.Base(path)
	name = name[:len(name)-len(filepath.Ext(name))]
	return decode(name, r.Header, r.Read)
}

// ReadNPZ reads every array of a .npz file, sorted by name.
func ReadNPZ(path string) ([]*Array, error) {
	r, err := npz.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer r.Close()
	keys := append([]string{}, r.Keys()...)
	sort.Strings(keys)
	var out []*Array
	for _, k := range keys {
		hdr := r.Header(k)
		if hdr == nil {
			return nil, fmt.Errorf("npdata: %s: no header for %q", path, k)
		}
		name := k
		if filepath.Ext(name) == ".npy" {
			name = name[:len(name)-4]
		}
		a, err := decode(name, *hdr, func(ptr any) error { return r.Read(k, ptr) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// WriteNPY writes a to path as .npy (<f4, <i8 or |b1), through a temporary
// file renamed into place.
func WriteNPY(path string, a *Array) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	if err := writeNPY(f, a); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

func writeNPY(w io.Writer, a *Array) error {
	descr, esize := "<f4", 4
	switch {
	case a.Bool:
		descr, esize = "|b1", 1
	case a.F == nil:
		descr, esize = "<i8", 8
	}
	parts := make([]string, len(a.Shape))
	for i, d := range a.Shape {
		parts[i] = strconv.Itoa(d)
	}
	shape := "(" + strings.Join(parts, ", ")
	if len(parts) == 1 {
		shape += ","
	}
	shape += ")"
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	pad := 64 - (10+len(hdr)+1)%64
	for i := 0; i < pad%64; i++ {
		hdr += " "
	}
	hdr += "\n"
	buf := make([]byte, 0, 10+len(hdr)+esize*(len(a.F)+len(a.I)))
	buf = append(buf, "\x93NUMPY\x01\x00"...)
	buf = append(buf, byte(len(hdr)), byte(len(hdr)>>8))
	buf = append(buf, hdr...)
	switch {
	case a.Bool:
		for _, v := range a.I {
			buf = append(buf, byte(min(max(v, 0), 1)))
		}
	case a.F == nil:
		for _, v := range a.I {
			u := uint64(v)
			buf = append(buf, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
		}
	default:
		for _, v := range a.F {
			u := float32bits(v)
			buf = append(buf, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
		}
	}
	_, err := w.Write(buf)
	return err
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
