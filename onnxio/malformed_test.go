package onnxio_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

func TestTruncatedModels(t *testing.T) {
	data := onnxbuild.Marshal(onnxbuild.CNN())
	for n := 0; n < len(data); n++ {
		m, err := onnxio.Decode(data[:n])
		if err == nil {
			// a prefix can be a valid message; it must then round-trip
			if _, err := m.Marshal(); err != nil {
				t.Fatalf("prefix %d decoded but does not marshal: %v", n, err)
			}
			continue
		}
		if !errors.Is(err, onnxio.ErrMalformed) && !errors.Is(err, onnxio.ErrLimit) {
			t.Fatalf("prefix %d: error %v is not typed", n, err)
		}
	}
}

func mutateTensor(t *testing.T, edit func(tp *onnx.TensorProto)) ([]byte, string) {
	t.Helper()
	mp := onnxbuild.MLP()
	tp := mp.Graph.Initializer[0]
	edit(tp)
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return data, tp.GetName()
}

func TestMalformedTensors(t *testing.T) {
	cases := []struct {
		name string
		edit func(tp *onnx.TensorProto)
		want error
		say  string
	}{
		{"raw too short", func(tp *onnx.TensorProto) { tp.RawData = tp.RawData[:len(tp.RawData)-4] }, onnxio.ErrMalformed, "raw_data has"},
		{"negative dim", func(tp *onnx.TensorProto) { tp.Dims = []int64{-1, 4} }, onnxio.ErrMalformed, "negative"},
		{"overflowing dims", func(tp *onnx.TensorProto) { tp.Dims = []int64{1 << 40, 1 << 40} }, onnxio.ErrMalformed, "overflow"},
		{"huge dims", func(tp *onnx.TensorProto) { tp.Dims = []int64{1 << 31, 1 << 31} }, onnxio.ErrLimit, "limit"},
		{"rank", func(tp *onnx.TensorProto) { tp.Dims = make([]int64, 40) }, onnxio.ErrLimit, "rank"},
		{"typed count", func(tp *onnx.TensorProto) {
			tp.RawData = nil
			tp.FloatData = []float32{1, 2, 3}
		}, onnxio.ErrMalformed, "values"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, name := mutateTensor(t, c.edit)
			_, err := onnxio.Decode(data)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), c.say) {
				t.Fatalf("error %q should name %q and say %q", err, name, c.say)
			}
		})
	}
}

func TestMalformedModels(t *testing.T) {
	if _, err := onnxio.Decode([]byte{0xff, 0xff, 0xff}); !errors.Is(err, onnxio.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	noGraph, _ := proto.Marshal(&onnx.ModelProto{IrVersion: proto.Int64(8)})
	if _, err := onnxio.Decode(noGraph); !errors.Is(err, onnxio.ErrMalformed) {
		t.Fatalf("no graph: %v", err)
	}
	data := onnxbuild.Marshal(onnxbuild.MLP())
	if _, err := onnxio.Decode(data, onnxio.WithLimits(onnxio.Limits{MaxModelBytes: 100})); !errors.Is(err, onnxio.ErrLimit) {
		t.Fatalf("model over limit: %v", err)
	}
	if _, err := onnxio.Decode(data, onnxio.WithLimits(onnxio.Limits{MaxTensorBytes: 16})); !errors.Is(err, onnxio.ErrLimit) {
		t.Fatalf("tensor over limit: %v", err)
	}
	if _, err := onnxio.Decode(data, onnxio.WithLimits(onnxio.Limits{MaxDims: -1})); err == nil {
		t.Fatal("negative limit accepted")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "big.onnx")
	os.WriteFile(p, data, 0o644)
	_, err := onnxio.ReadFile(p, onnxio.WithLimits(onnxio.Limits{MaxModelBytes: 100}))
	if !errors.Is(err, onnxio.ErrLimit) || !strings.Contains(err.Error(), p) {
		t.Fatalf("ReadFile over limit: %v (should name the file)", err)
	}
}

// TestDeepSubgraphs nests If nodes past the depth limit.
func TestDeepSubgraphs(t *testing.T) {
	g := &onnx.GraphProto{Name: proto.String("leaf"), Initializer: []*onnx.TensorProto{{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{1}, FloatData: []float32{1}}}}
	for i := 0; i < 100; i++ {
		g = &onnx.GraphProto{Name: proto.String("g"), Node: []*onnx.NodeProto{{OpType: proto.String("If"), Attribute: []*onnx.AttributeProto{{Name: proto.String("then_branch"), Type: onnx.AttributeProto_GRAPH.Enum(), G: g}}}}}
	}
	data, _ := proto.Marshal(&onnx.ModelProto{IrVersion: proto.Int64(8), Graph: g})
	if _, err := onnxio.Decode(data); !errors.Is(err, onnxio.ErrLimit) {
		t.Fatalf("100-deep subgraphs: %v", err)
	}
	if _, err := onnxio.Decode(data, onnxio.WithLimits(onnxio.Limits{MaxGraphDepth: 200})); err != nil {
		t.Fatalf("within a raised limit: %v", err)
	}
}

func TestReadInfoMatchesDecode(t *testing.T) {
	for _, rm := range testmodels.All(t) {
		t.Run(rm.Name, func(t *testing.T) {
			info, err := onnxio.ReadInfo(rm.Path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := onnxio.ReadFile(rm.Path)
			if err != nil {
				t.Fatal(err)
			}
			full := m.Info()
			if info.IRVersion != full.IRVersion || info.Nodes != full.Nodes || info.Tensors != full.Tensors ||
				len(info.Inputs) != len(full.Inputs) || len(info.Outputs) != len(full.Outputs) || len(info.Opsets) != len(full.Opsets) {
				t.Fatalf("ReadInfo %+v\nInfo %+v", info, full)
			}
			for op, n := range full.Ops {
				if info.Ops[op] != n {
					t.Fatalf("op %s: %d vs %d", op, info.Ops[op], n)
				}
			}
			if info.Nodes == 0 || info.Tensors == 0 || info.PayloadBytes <= 0 {
				t.Fatalf("empty info: %+v", info)
			}
			// payloads are raw_data in these models, so the sizes agree exactly
			// except for typed-field tensors, which PP-OCR does not use either
			if info.PayloadBytes != full.PayloadBytes {
				t.Fatalf("payload bytes %d vs %d", info.PayloadBytes, full.PayloadBytes)
			}
		})
	}
}

// TestReadInfoSkipsPayloads checks ReadInfo allocates about the file's size
// once, not twice as a full decode does.
func TestReadInfoSkipsPayloads(t *testing.T) {
	path := testmodels.Shared(t, "tv/resnet18.onnx")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	measure := func(f func()) uint64 {
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	infoAlloc := measure(func() {
		if _, err := onnxio.ReadInfo(path); err != nil {
			t.Fatal(err)
		}
	})
	fullAlloc := measure(func() {
		if _, err := onnxio.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	})
	if float64(infoAlloc) > 1.2*float64(st.Size()) {
		t.Fatalf("ReadInfo allocated %d bytes for a %d-byte file", infoAlloc, st.Size())
	}
	if fullAlloc < 2*uint64(st.Size())-uint64(st.Size())/10 {
		t.Fatalf("full decode allocated only %d: measurement is off", fullAlloc)
	}
}
