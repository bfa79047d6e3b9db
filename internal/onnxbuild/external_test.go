package onnxbuild

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// readExternal reads a model written by WriteWithExternalData and returns
// it as written, and with every external tensor's data put back inline.
func readExternal(t *testing.T, dir, modelFile string) (written, inlined *onnx.ModelProto) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, modelFile))
	if err != nil {
		t.Fatal(err)
	}
	written = &onnx.ModelProto{}
	if err := proto.Unmarshal(raw, written); err != nil {
		t.Fatal(err)
	}
	inlined = proto.Clone(written).(*onnx.ModelProto)
	for _, tp := range initializers(inlined.Graph) {
		if tp.GetDataLocation() != onnx.TensorProto_EXTERNAL {
			continue
		}
		entries := tp.ExternalData
		if len(entries) != 3 || entries[0].GetKey() != "location" || entries[1].GetKey() != "offset" || entries[2].GetKey() != "length" {
			t.Fatalf("%s: external_data %v, want location, offset, length", tp.GetName(), entries)
		}
		offset, err1 := strconv.Atoi(entries[1].GetValue())
		length, err2 := strconv.Atoi(entries[2].GetValue())
		if err1 != nil || err2 != nil || offset%ExternalAlign != 0 {
			t.Fatalf("%s: offset %q length %q, want integers and an offset aligned to %d",
				tp.GetName(), entries[1].GetValue(), entries[2].GetValue(), ExternalAlign)
		}
		data, err := os.ReadFile(filepath.Join(dir, entries[0].GetValue()))
		if err != nil {
			t.Fatal(err)
		}
		if offset+length > len(data) {
			t.Fatalf("%s: [%d, %d) is past the end of %d bytes", tp.GetName(), offset, offset+length, len(data))
		}
		tp.RawData = data[offset : offset+length]
		tp.DataLocation = nil
		tp.ExternalData = nil
	}
	return written, inlined
}

func TestWriteWithExternalData(t *testing.T) {
	const threshold = 64
	for _, c := range CannedModels() {
		t.Run(c.Name, func(t *testing.T) {
			m := c.Build()
			before := Marshal(m)
			dir := t.TempDir()
			if err := WriteWithExternalData(m, dir, "model.onnx", "weights.bin", threshold); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(Marshal(m), before) {
				t.Error("WriteWithExternalData modified its argument")
			}
			written, inlined := readExternal(t, dir, "model.onnx")
			if !proto.Equal(inlined, m) {
				t.Error("model with its external data put back differs from the original")
			}
			orig := initializers(m.Graph)
			for i, tp := range initializers(written.Graph) {
				want := len(orig[i].RawData) >= threshold
				if got := tp.GetDataLocation() == onnx.TensorProto_EXTERNAL; got != want {
					t.Errorf("%s (%d raw bytes): external %v, want %v", tp.GetName(), len(orig[i].RawData), got, want)
				}
				if want && len(tp.RawData) != 0 {
					t.Errorf("%s: raw_data left inline beside external data", tp.GetName())
				}
			}
		})
	}
}

func TestWriteWithExternalDataSubgraph(t *testing.T) {
	dir := t.TempDir()
	if err := WriteWithExternalData(IfModel(), dir, "if.onnx", "if.bin", 0); err != nil {
		t.Fatal(err)
	}
	written, _ := readExternal(t, dir, "if.onnx")
	moved := 0
	for _, a := range written.Graph.Node[len(written.Graph.Node)-1].Attribute {
		for _, tp := range a.G.Initializer {
			if tp.GetDataLocation() == onnx.TensorProto_EXTERNAL {
				moved++
			}
		}
	}
	if moved != 2 {
		t.Errorf("%d subgraph initializers moved, want 2", moved)
	}
}

func TestWriteWithExternalDataRejectsNonLocalPath(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"../weights.bin", "/tmp/weights.bin", ""} {
		if err := WriteWithExternalData(MLP(), dir, "m.onnx", name, 0); err == nil {
			t.Errorf("data file %q: no error", name)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("rejected calls left %d files", len(entries))
	}
}
