package onnxio_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

func TestRoundTripCanned(t *testing.T) {
	for _, c := range onnxbuild.CannedModels() {
		t.Run(c.Name, func(t *testing.T) {
			want := c.Build()
			data := onnxbuild.Marshal(want)
			m, err := onnxio.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(m.Proto, want) {
				t.Fatal("decoded model differs from the built one")
			}
			out, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := onnxio.Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(back.Proto, want) {
				t.Fatal("round trip is not proto-equal")
			}
		})
	}
}

// TestRoundTripReal converts every real model with onnxio and checks the
// result is proto-equal to the input and gives bit-identical outputs in
// ONNX Runtime.
func TestRoundTripReal(t *testing.T) {
	ort := ortoracle.ForTest(t)
	for _, rm := range testmodels.All(t) {
		t.Run(rm.Name, func(t *testing.T) {
			m, err := onnxio.ReadFile(rm.Path)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.onnx")
			if err := m.WriteFile(out); err != nil {
				t.Fatal(err)
			}
			orig := readProto(t, rm.Path)
			conv := readProto(t, out)
			if !proto.Equal(orig, conv) {
				t.Fatal("converted model is not proto-equal to the input")
			}
			inputs, err := ortoracle.InputsFor(rm.Path, 1, ortoracle.OCRShapes[rm.Name])
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			a, err := ort.Run(ctx, rm.Path, inputs)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ort.Run(ctx, out, inputs)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != len(b) || len(a) == 0 {
				t.Fatalf("%d outputs vs %d", len(a), len(b))
			}
			for i := range a {
				if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
					t.Fatalf("output %q differs after convert", a[i].Name)
				}
			}
		})
	}
}

// readProto decodes a file with protobuf directly, independent of onnxio.
func readProto(t *testing.T, path string) *onnx.ModelProto {
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

// TestUnknownFieldsSurvive adds fields this schema does not know, at the top
// level and inside the graph and a tensor, and checks they are written back.
func TestUnknownFieldsSurvive(t *testing.T) {
	mp := onnxbuild.MLP()
	// unknown field 1000 in the first initializer, 999 in the graph, 998 in the model
	init := mp.Graph.Initializer[0]
	init.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 1000, protowire.BytesType), "tensor-extra"))
	mp.Graph.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 999, protowire.VarintType), 42))
	mp.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 998, protowire.BytesType), "future"))
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tensor-extra", "future"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("unknown field %q lost", want)
		}
	}
	back := &onnx.ModelProto{}
	if err := proto.Unmarshal(out, back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back, mp) {
		t.Fatal("round trip with unknown fields is not proto-equal")
	}
	if len(back.Graph.ProtoReflect().GetUnknown()) == 0 {
		t.Fatal("graph's unknown field lost")
	}
}

// TestWriteFileAtomic checks a failed write leaves nothing and the input is
// never touched.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.CNN()))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "missing-dir", "out.onnx")
	if err := m.WriteFile(bad); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("failed write left %d entries", len(ents))
	}
	good := filepath.Join(dir, "out.onnx")
	if err := m.WriteFile(good); err != nil {
		t.Fatal(err)
	}
	ents, _ = os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("dir holds %d entries, want just out.onnx", len(ents))
	}
}
