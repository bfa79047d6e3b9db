package dataset

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func dense(shape []int, back any) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(back))
}

func npyBytes(t testing.TB, x *tensor.Dense) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := EncodeNPY(&b, x); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeNPZ writes arrays (name → .npy bytes) as a zip with the method.
func writeNPZ(t testing.TB, path string, method uint16, names []string, arrays map[string][]byte) {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n + ".npy", Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(arrays[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNPYRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]*tensor.Dense{
		"f": dense([]int{2, 3}, []float32{1, -2, 3.5, 0, 1e-7, 6}),
		"i": dense([]int{4}, []int64{1, -2, 1 << 40, 0}),
		"b": dense([]int{1, 2, 1}, []bool{true, false}),
		"s": tensor.New(tensor.FromScalar(float32(42))),
	}
	for name, x := range cases {
		path := filepath.Join(dir, name+".npy")
		if err := WriteNPY(path, x); err != nil {
			t.Fatal(err)
		}
		got, err := ReadNPY(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got.Shape(), x.Shape()) || !reflect.DeepEqual(got.Data(), x.Data()) {
			t.Errorf("%s: read back %v %v, wrote %v %v", name, got.Shape(), got.Data(), x.Shape(), x.Data())
		}
	}
}

func TestNPYDTypes(t *testing.T) {
	// Headers written by hand, as numpy writes them for other dtypes.
	mk := func(descr string, shape string, payload []byte) []byte {
		h := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }"
		h += strings.Repeat(" ", (64-(10+len(h)+1)%64)%64) + "\n"
		return append(append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), 0), append([]byte(h), payload...)...)
	}
	for _, c := range []struct {
		descr string
		data  []byte
		want  any
	}{
		{"|u1", []byte{0, 255}, []int64{0, 255}},
		{"|i1", []byte{0x80, 1}, []int64{-128, 1}},
		{"<i2", []byte{0xff, 0xff, 2, 0}, []int64{-1, 2}},
		{"<u4", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, []int64{1<<32 - 1, 0}},
		{"<f2", []byte{0x00, 0x3c, 0x00, 0xc0}, []float32{1, -2}},
		{"<f8", []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0}, []float32{1.5, 0}},
	} {
		x, err := DecodeNPY(bytes.NewReader(mk(c.descr, "(2,)", c.data)), -1, c.descr)
		if err != nil {
			t.Fatalf("%s: %v", c.descr, err)
		}
		if !reflect.DeepEqual(x.Data(), c.want) {
			t.Errorf("%s: got %v, want %v", c.descr, x.Data(), c.want)
		}
	}
	for _, c := range []struct{ npy, want string }{
		{string(mk("<f4", "(2,)", []byte{0, 0, 0})), "bytes of data"},
		{string(mk(">f4", "(1,)", []byte{0, 0, 0, 0})), "big-endian"},
		{string(mk("<c8", "(1,)", nil)), "dtype"},
		{strings.Replace(string(mk("<f4", "(1,)", []byte{0, 0, 0, 0})), "False", "True ", 1), "Fortran"},
		{string(mk("<f4", "(4294967296, 4294967296)", nil)), "elements"},
		{"\x93NUMPZ\x01\x00\x10\x00{}", "magic"},
	} {
		_, err := DecodeNPY(strings.NewReader(c.npy), int64(len(c.npy)), "x.npy")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one saying %q", c.npy[:min(len(c.npy), 40)], err, c.want)
		}
	}
}

// TestNPZReadModes reads the same arrays from a stored .npz (in place), a
// compressed one (in memory), a compressed one beyond the memory limit
// (streamed, going back and forth) and a .npy: every batch is the same.
func TestNPZReadModes(t *testing.T) {
	dir := t.TempDir()
	const n = 7
	x := make([]float32, n*2*3)
	for i := range x {
		x[i] = float32(i) * 0.5
	}
	z := make([]float64, n)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(n - i)
		z[i] = float64(i) - 3
	}
	arrays := map[string][]byte{
		"x":      npyBytes(t, dense([]int{n, 2, 3}, x)),
		"z":      npyBytes(t, dense([]int{n, 1}, z)),
		"labels": npyBytes(t, dense([]int{n}, labels)),
	}
	names := []string{"x", "labels", "z"}
	stored, deflated := filepath.Join(dir, "s.npz"), filepath.Join(dir, "d.npz")
	writeNPZ(t, stored, zip.Store, names, arrays)
	writeNPZ(t, deflated, zip.Deflate, names, arrays)
	idx := []int{6, 0, 3, 3, 1}
	want := Batch{Inputs: map[string]*tensor.Dense{}, Labels: []int64{1, 7, 4, 4, 6}}
	var wx, wz []float32
	for _, i := range idx {
		wx = append(wx, x[i*6:i*6+6]...)
		wz = append(wz, float32(z[i]))
	}
	want.Inputs["x"] = dense([]int{5, 2, 3}, wx)
	want.Inputs["z"] = dense([]int{5, 1}, wz)
	for _, c := range []struct {
		name string
		path string
		opts []Option
	}{{"stored", stored, nil}, {"deflated", deflated, nil}, {"streamed", deflated, []Option{WithMemoryLimit(0)}}} {
		d, err := Open(c.path, c.opts...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d.Len() != n || !d.HasLabels() || !slices.Equal(d.Inputs(), []string{"x", "z"}) {
			t.Errorf("%s: Len %d, HasLabels %v, Inputs %v", c.name, d.Len(), d.HasLabels(), d.Inputs())
		}
		for round := range 2 { // the second round goes back in a streamed array
			b, err := d.Batch(context.Background(), idx)
			if err != nil {
				t.Fatalf("%s round %d: %v", c.name, round, err)
			}
			for k, w := range want.Inputs {
				if !slices.Equal(b.Inputs[k].Shape(), w.Shape()) || !reflect.DeepEqual(b.Inputs[k].Data(), w.Data()) {
					t.Errorf("%s: %s = %v %v, want %v %v", c.name, k, b.Inputs[k].Shape(), b.Inputs[k].Data(), w.Shape(), w.Data())
				}
			}
			if !slices.Equal(b.Labels, want.Labels) {
				t.Errorf("%s: labels %v, want %v", c.name, b.Labels, want.Labels)
			}
		}
		if _, err := d.Batch(context.Background(), []int{n}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: sample %d of %d: error %v, want ErrInvalid", c.name, n, n, err)
		}
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}
	all, err := ReadNPZ(stored)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(all["x"].Data(), x) || !reflect.DeepEqual(all["labels"].Data(), []int64{7, 6, 5, 4, 3, 2, 1}) {
		t.Errorf("ReadNPZ: %v", all)
	}
	// One non-label array feeds the input WithInputName names.
	one := filepath.Join(dir, "one.npz")
	writeNPZ(t, one, zip.Deflate, []string{"arr_0"}, arrays)
	arrays["arr_0"] = arrays["x"]
	writeNPZ(t, one, zip.Deflate, []string{"arr_0"}, arrays)
	d, err := Open(one, WithInputName("input"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Inputs(), []string{"input"}) || d.HasLabels() {
		t.Errorf("single array: inputs %v, labels %v", d.Inputs(), d.HasLabels())
	}
	// A .npy is one input.
	npy := filepath.Join(dir, "x.npy")
	os.WriteFile(npy, arrays["x"], 0o644)
	d, err = Open(npy, WithInputName("data"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Batch(context.Background(), idx)
	if err != nil || !reflect.DeepEqual(b.Inputs["data"].Data(), wx) || b.Labels != nil {
		t.Errorf(".npy: %v %v", b, err)
	}
	d.Close()
}

func TestNPZErrors(t *testing.T) {
	dir := t.TempDir()
	x := npyBytes(t, dense([]int{3, 2}, []float32{1, 2, 3, 4, 5, 6}))
	for _, c := range []struct {
		name   string
		arrays map[string][]byte
		want   string
	}{
		{"label count", map[string][]byte{"x": x, "labels": npyBytes(t, dense([]int{2}, []int64{0, 1}))}, "2 labels for 3 samples"},
		{"float labels", map[string][]byte{"x": x, "labels": npyBytes(t, dense([]int{3}, []float32{0, 1, 2}))}, "1-D integer"},
		{"rows", map[string][]byte{"x": x, "y": npyBytes(t, dense([]int{2, 1}, []float32{0, 1}))}, "has 2 samples"},
		{"only labels", map[string][]byte{"labels": npyBytes(t, dense([]int{2}, []int64{0, 1}))}, "no input arrays"},
		{"scalar", map[string][]byte{"x": npyBytes(t, tensor.New(tensor.FromScalar(float32(1))))}, "scalar"},
		{"truncated", map[string][]byte{"x": x[:len(x)-3]}, "bytes"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".npz")
		var names []string
		for k := range c.arrays {
			names = append(names, k)
		}
		slices.Sort(names)
		writeNPZ(t, path, zip.Deflate, names, c.arrays)
		_, err := Open(path)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want ErrMalformed naming the file and saying %q", c.name, err, c.want)
		}
	}
	if _, err := Open(filepath.Join(dir, "rows.npz"), WithPreprocess(Preprocess{})); !errors.Is(err, ErrInvalid) {
		t.Errorf("preprocess on a .npz: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x"), 0o644)
	if _, err := Open(filepath.Join(dir, "a.txt")); !errors.Is(err, ErrUnsupported) {
		t.Errorf(".txt: %v", err)
	}
}

func TestSplitShuffle(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.npy")
	v := make([]float32, 100)
	for i := range v {
		v[i] = float32(i)
	}
	if err := WriteNPY(path, dense([]int{100, 1}, v)); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tr, val, err := Split(d, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 80 || val.Len() != 20 {
		t.Fatalf("split 0.2 of 100: %d + %d", tr.Len(), val.Len())
	}
	seen := map[float32]bool{}
	for _, s := range []Dataset{tr, val} {
		b, err := s.Batch(context.Background(), Range(0, s.Len()))
		if err != nil {
			t.Fatal(err)
		}
		got := b.Inputs["input"].Data().([]float32)
		if !slices.IsSorted(got) {
			t.Errorf("a split is not in the dataset's order: %v", got)
		}
		for _, x := range got {
			if seen[x] {
				t.Errorf("sample %v in both splits", x)
			}
			seen[x] = true
		}
	}
	if len(seen) != 100 {
		t.Errorf("splits cover %d of 100 samples", len(seen))
	}
	tr2, _, _ := Split(d, 0.2, 7)
	b1, _ := tr.Batch(context.Background(), Range(0, 80))
	b2, _ := tr2.Batch(context.Background(), Range(0, 80))
	if !reflect.DeepEqual(b1.Inputs["input"].Data(), b2.Inputs["input"].Data()) {
		t.Error("Split is not deterministic for a seed")
	}
	if _, _, err := Split(d, 1, 7); !errors.Is(err, ErrInvalid) {
		t.Errorf("fraction 1: %v", err)
	}
	p0, p1, q0 := Shuffle(50, 3, 0), Shuffle(50, 3, 1), Shuffle(50, 3, 0)
	if !slices.Equal(p0, q0) || slices.Equal(p0, p1) {
		t.Error("Shuffle: want the same order for the same seed and epoch, another for another epoch")
	}
	s := slices.Clone(p0)
	slices.Sort(s)
	if !slices.Equal(s, Range(0, 50)) {
		t.Errorf("Shuffle is not a permutation: %v", p0)
	}
}

// TestEmptyArrays: arrays without elements are refused with an error (the
// tensor library cannot hold them), and an empty tensor still writes.
func TestEmptyArrays(t *testing.T) {
	empty := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(0, 3))
	var b bytes.Buffer
	if err := EncodeNPY(&b, empty); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeNPY(bytes.NewReader(b.Bytes()), int64(b.Len()), "e.npy"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("decoding a (0, 3) array: %v, want ErrUnsupported", err)
	}
	none := npyBytes(t, dense([]int{2, 1}, []float32{1, 2}))
	none = bytes.Replace(none, []byte("(2, 1)"), []byte("(2, 0)"), 1)
	if _, err := openArrayAt(bytes.NewReader(none), int64(len(none)), "x", "z.npy"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("samples of shape (0,): %v, want ErrUnsupported", err)
	}
}
