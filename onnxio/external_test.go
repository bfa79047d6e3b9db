package onnxio_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// externalFixture writes the CNN model with its larger initializers in
// dir/cnn.onnx.data and returns the model path and the in-memory original.
func externalFixture(t *testing.T, dir string) (string, *onnx.ModelProto) {
	t.Helper()
	mp := onnxbuild.CNN()
	if err := onnxbuild.WriteWithExternalData(mp, dir, "cnn.onnx", "cnn.onnx.data", 256); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "cnn.onnx"), mp
}

func TestExternalDataRead(t *testing.T) {
	dir := t.TempDir()
	path, orig := externalFixture(t, dir)
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasExternalData() {
		t.Fatal("fixture has no external data")
	}
	if !proto.Equal(m.Proto, orig) {
		t.Fatal("model with external data loaded is not equal to the inline original")
	}
	ext := 0
	for _, p := range m.Params() {
		if p.External != nil {
			ext++
			if p.External.Location != "cnn.onnx.data" || p.External.Length != p.Bytes() {
				t.Fatalf("%s: external ref %v", p.ID, p.External)
			}
		}
	}
	if ext == 0 {
		t.Fatal("no param reports external data")
	}
	info, err := onnxio.ReadInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.ExternalTensors != ext {
		t.Fatalf("ReadInfo counts %d external tensors, params %d", info.ExternalTensors, ext)
	}
}

func TestExternalDataWriteModes(t *testing.T) {
	dir := t.TempDir()
	path, orig := externalFixture(t, dir)
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	cases := []struct {
		name     string
		opts     []onnxio.WriteOption
		wantData bool
	}{
		{"auto keeps external", nil, true},
		{"never", []onnxio.WriteOption{onnxio.WithExternalData(onnxio.ExternalNever)}, false},
		{"always", []onnxio.WriteOption{onnxio.WithExternalData(onnxio.ExternalAlways), onnxio.WithExternalFile("w.bin")}, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(outDir, "m"+strconv.Itoa(i)+".onnx")
			if err := m.WriteFile(out, c.opts...); err != nil {
				t.Fatal(err)
			}
			back, err := onnxio.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if back.HasExternalData() != c.wantData {
				t.Fatalf("external data: %v, want %v", back.HasExternalData(), c.wantData)
			}
			if !proto.Equal(back.Proto, orig) {
				t.Fatal("written model differs from the original")
			}
		})
	}
	// writing did not disturb the model in memory
	if !proto.Equal(m.Proto, orig) {
		t.Fatal("WriteFile changed the model in memory")
	}
	// the source is untouched
	if _, err := onnxio.ReadFile(path); err != nil {
		t.Fatal(err)
	}
}

// TestExternalDataORT checks ONNX Runtime reads our external-data output and
// gives the same outputs as for the inline model.
func TestExternalDataORT(t *testing.T) {
	ort := ortoracle.ForTest(t)
	dir := t.TempDir()
	inline := filepath.Join(dir, "inline.onnx")
	if err := os.WriteFile(inline, onnxbuild.Marshal(onnxbuild.CNN()), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.ReadFile(inline)
	if err != nil {
		t.Fatal(err)
	}
	ext := filepath.Join(dir, "ext.onnx")
	if err := m.WriteFile(ext, onnxio.WithExternalData(onnxio.ExternalAlways), onnxio.WithExternalThreshold(64)); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(ext + ".data"); err != nil || st.Size() == 0 {
		t.Fatalf("no data file: %v", err)
	}
	in, err := ortoracle.InputsFor(inline, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ort.Run(context.Background(), inline, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ort.Run(context.Background(), ext, in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a[0].Data, b[0].Data) {
		t.Fatal("ORT output differs with external data")
	}
}

// badExternal writes a model whose first external tensor has the given
// entries, next to a data file, and returns the model path and tensor name.
func badExternal(t *testing.T, edit func(dir string, tp *onnx.TensorProto)) (string, string) {
	t.Helper()
	dir := t.TempDir()
	path, _ := externalFixture(t, dir)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mp := &onnx.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		t.Fatal(err)
	}
	for _, tp := range mp.Graph.Initializer {
		if tp.GetDataLocation() == onnx.TensorProto_EXTERNAL {
			edit(dir, tp)
			out, _ := proto.Marshal(mp)
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			return path, tp.GetName()
		}
	}
	t.Fatal("fixture has no external tensor")
	return "", ""
}

func setEntry(tp *onnx.TensorProto, key, value string) {
	for _, kv := range tp.ExternalData {
		if kv.GetKey() == key {
			kv.Value = proto.String(value)
			return
		}
	}
	tp.ExternalData = append(tp.ExternalData, &onnx.StringStringEntryProto{Key: proto.String(key), Value: proto.String(value)})
}

func TestExternalDataRejected(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.bin"), make([]byte, 1<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(dir string, tp *onnx.TensorProto)
		want string
	}{
		{"absolute", func(_ string, tp *onnx.TensorProto) {
			setEntry(tp, "location", filepath.Join(outside, "secret.bin"))
		}, "absolute"},
		{"dotdot", func(_ string, tp *onnx.TensorProto) { setEntry(tp, "location", "../secret.bin") }, "'..'"},
		{"dotdot inside", func(_ string, tp *onnx.TensorProto) { setEntry(tp, "location", "a/../../secret.bin") }, "'..'"},
		{"nul", func(_ string, tp *onnx.TensorProto) { setEntry(tp, "location", "cnn.onnx.data\x00x") }, "NUL"},
		{"symlink out", func(dir string, tp *onnx.TensorProto) {
			if err := os.Symlink(filepath.Join(outside, "secret.bin"), filepath.Join(dir, "link.bin")); err != nil {
				t.Fatal(err)
			}
			setEntry(tp, "location", "link.bin")
		}, "outside"},
		{"missing file", func(_ string, tp *onnx.TensorProto) { setEntry(tp, "location", "nope.bin") }, "nope.bin"},
		{"offset past end", func(_ string, tp *onnx.TensorProto) { setEntry(tp, "offset", "100000000") }, "outside"},
		{"length past end", func(_ string, tp *onnx.TensorProto) { setEntry(tp, "length", "100000000") }, "outside"},
		{"length wrong", func(_ string, tp *onnx.TensorProto) { setEntry(tp, "length", "4") }, "needs"},
		{"negative offset", func(_ string, tp *onnx.TensorProto) { setEntry(tp, "offset", "-4") }, "bad offset"},
		{"no location", func(_ string, tp *onnx.TensorProto) {
			var kept []*onnx.StringStringEntryProto
			for _, kv := range tp.ExternalData {
				if kv.GetKey() != "location" {
					kept = append(kept, kv)
				}
			}
			tp.ExternalData = kept
		}, "without a location"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, tensor := badExternal(t, c.edit)
			_, err := onnxio.ReadFile(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, onnxio.ErrExternalData) {
				t.Fatalf("error %v does not wrap ErrExternalData", err)
			}
			var te *onnxio.TensorError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tensor) {
				t.Fatalf("error %q does not name tensor %q", err, tensor)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestExternalDataSymlinkInside(t *testing.T) {
	path, _ := badExternal(t, func(dir string, tp *onnx.TensorProto) {
		if err := os.Symlink("cnn.onnx.data", filepath.Join(dir, "alias.data")); err != nil {
			t.Fatal(err)
		}
		setEntry(tp, "location", "alias.data")
	})
	if _, err := onnxio.ReadFile(path); err != nil {
		t.Fatalf("symlink inside the model directory rejected: %v", err)
	}
}

func TestExternalDataFromStream(t *testing.T) {
	dir := t.TempDir()
	path, orig := externalFixture(t, dir)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := onnxio.Read(f); !errors.Is(err, onnxio.ErrExternalData) {
		t.Fatalf("stream without base dir: %v", err)
	}
	f.Seek(0, 0)
	m, err := onnxio.Read(f, onnxio.WithBaseDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(m.Proto, orig) {
		t.Fatal("stream read differs")
	}
	f.Seek(0, 0)
	m, err = onnxio.Read(f, onnxio.WithoutExternalData())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		if p.Tensor.GetDataLocation() == onnx.TensorProto_EXTERNAL {
			if _, _, err := p.Float32(); !errors.Is(err, onnxio.ErrExternalData) {
				t.Fatalf("unloaded external tensor view: %v", err)
			}
			return
		}
	}
	t.Fatal("no unresolved external tensor")
}
