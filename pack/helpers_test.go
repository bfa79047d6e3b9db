package pack

import (
	"bytes"
	"testing"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/prune"
	"google.golang.org/protobuf/proto"
)

// packModel packs m with opts and returns the file and stats.
func packModel(t testing.TB, m *onnxio.Model, opts ...WriterOption) ([]byte, *Stats) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.WriteModel(m)
	if err != nil {
		t.Fatal(err)
	}
	if st.PackedBytes != int64(buf.Len()) {
		t.Fatalf("Stats.PackedBytes %d, wrote %d", st.PackedBytes, buf.Len())
	}
	return buf.Bytes(), st
}

func unpack(b []byte, opts ...ReaderOption) (*onnxio.Model, error) {
	r, err := NewReader(bytes.NewReader(b), opts...)
	if err != nil {
		return nil, err
	}
	return r.ReadModel()
}

// mustEqualModels checks proto equality and identical marshalled bytes.
func mustEqualModels(t testing.TB, what string, got, want *onnxio.Model) {
	t.Helper()
	if !proto.Equal(got.Proto, want.Proto) {
		t.Fatalf("%s: unpacked model is not proto-equal to the input", what)
	}
	gb, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	wb, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gb, wb) {
		t.Fatalf("%s: unpacked model marshals to different bytes", what)
	}
}

func readModel(t testing.TB, path string) *onnxio.Model {
	t.Helper()
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pruned(t testing.TB, path string, sparsity float64) *onnxio.Model {
	t.Helper()
	m := readModel(t, path)
	globalPrune(t, m, sparsity)
	return m
}

// globalPrune zeroes the given fraction of m's Conv/Gemm/MatMul weights by
// global magnitude, as `edgeprune prune --sparsity` does.
func globalPrune(t testing.TB, m *onnxio.Model, sparsity float64) {
	t.Helper()
	pr, err := prune.New(prune.WithSparsity(sparsity), prune.WithScope(prune.Global))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Prune(m); err != nil {
		t.Fatal(err)
	}
}
