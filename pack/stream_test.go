package pack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// unpackStream unpacks b with WriteONNX.
func unpackStream(b []byte, opts ...ReaderOption) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(b), opts...)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	n, err := r.WriteONNX(&out)
	if err == nil && n != int64(out.Len()) {
		return nil, fmt.Errorf("WriteONNX returned %d, wrote %d bytes", n, out.Len())
	}
	return out.Bytes(), err
}

// mustStreamEqual checks that WriteONNX of pack b gives the bytes of
// Marshal(ReadModel()), which is want.
func mustStreamEqual(t testing.TB, what string, b []byte, want *onnxio.Model) {
	t.Helper()
	got, err := unpackStream(b)
	if err != nil {
		t.Fatalf("%s: WriteONNX: %v", what, err)
	}
	wb, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wb) {
		t.Fatalf("%s: WriteONNX gave %d bytes, Marshal(ReadModel()) %d, first difference at byte %d", what, len(got), len(wb), firstDiff(got, wb))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestWriteONNXCanned: the streamed model is byte-identical to the
// unpacked model marshalled, for every canned model (Constant-node weights,
// subgraphs), sparsity, forced encoding and value code.
func TestWriteONNXCanned(t *testing.T) {
	type variant struct {
		name string
		opts []WriterOption
	}
	variants := []variant{{"default", nil}, {"dense", []WriterOption{WithEncodings(EncDense)}},
		{"csr", []WriterOption{WithEncodings(EncCSR)}}, {"bitmap", []WriterOption{WithEncodings(EncBitmap)}},
		{"2:4", []WriterOption{WithEncodings(EncNM)}}, {"fp16", []WriterOption{WithFP16()}},
		{"codebook4", []WriterOption{WithCodebook(4)}}}
	for _, c := range onnxbuild.CannedModels() {
		for _, sparsity := range []float64{0, 0.5, 0.9} {
			for _, v := range variants {
				name := fmt.Sprintf("%s@%g/%s", c.Name, sparsity, v.name)
				m, err := onnxio.Decode(onnxbuild.Marshal(c.Build()))
				if err != nil {
					t.Fatal(err)
				}
				globalPrune(t, m, sparsity)
				b, _ := packModel(t, m, append([]WriterOption{WithLevel(3)}, v.opts...)...)
				got, err := unpack(b)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				mustStreamEqual(t, name, b, got)
				if v.opts == nil {
					mustStreamEqual(t, name, b, m)
				}
			}
		}
	}
}

// typedModel stores its parameters in every typed payload field (negative
// int32s take 10-byte varints) beside raw_data, with unknown fields and a
// doc_string after the payload fields, an initializer and a Constant node.
func typedModel(t testing.TB) *onnxio.Model {
	t.Helper()
	tensor := func(name string, dt onnx.TensorProto_DataType, dims ...int64) *onnx.TensorProto {
		return &onnx.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(dt)), Dims: dims}
	}
	f := tensor("f", onnx.TensorProto_FLOAT, 2, 3)
	f.FloatData = []float32{0, 1.5, 0, -2, 0, 3}
	f.DocString = proto.String("after float_data")
	i32 := tensor("i32", onnx.TensorProto_INT32, 5)
	i32.Int32Data = []int32{-1, 0, 1 << 30, 0, -7}
	i64 := tensor("i64", onnx.TensorProto_INT64, 4)
	i64.Int64Data = []int64{-1 << 40, 0, 0, 127}
	u64 := tensor("u64", onnx.TensorProto_UINT64, 3)
	u64.Uint64Data = []uint64{1 << 63, 0, 300}
	d := tensor("d", onnx.TensorProto_DOUBLE, 2)
	d.DoubleData = []float64{0, -0.25}
	raw := tensor("raw", onnx.TensorProto_FLOAT, 4)
	raw.RawData = []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0}
	raw.DocString = proto.String("after raw_data")
	var unk []byte
	unk = protowire.AppendTag(unk, 15, protowire.BytesType)
	unk = protowire.AppendBytes(unk, []byte("unknown 15"))
	unk = protowire.AppendTag(unk, 100, protowire.VarintType)
	unk = protowire.AppendVarint(unk, 42)
	raw.ProtoReflect().SetUnknown(unk)
	i64.ProtoReflect().SetUnknown(unk)

	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 4)
	for _, tt := range []*onnx.TensorProto{f, i32, u64, d, raw} {
		b.InitTensor(tt)
	}
	b.ConstTensor(i64)
	b.Node("Add", []string{"x", "raw"}, []string{"y"})
	b.Output("y", onnxbuild.Float, 4)
	m, err := onnxio.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWriteONNXTypedFields(t *testing.T) {
	m := typedModel(t)
	b, st := packModel(t, m)
	if len(st.Tensors) != 6 {
		t.Fatalf("packed %d payloads, want 6", len(st.Tensors))
	}
	got, err := unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	mustEqualModels(t, "typed", got, m)
	mustStreamEqual(t, "typed", b, m)
}

// TestWriteONNXCorrupt: every single-bit flip of the tiny pack fails
// before WriteONNX writes a byte; a pack whose checksums hold but whose
// bitmap has a bit too many fails, as ReadModel does.
func TestWriteONNXCorrupt(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "tiny.epk"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unpackStream(b); err != nil {
		t.Fatalf("tiny.epk: %v", err)
	}
	for bit := 0; bit < 8*len(b); bit++ {
		c := bytes.Clone(b)
		c[bit/8] ^= 1 << (bit % 8)
		out, err := unpackStream(c)
		if err == nil || len(out) != 0 {
			t.Fatalf("bit %d flipped: WriteONNX wrote %d bytes, error %v", bit, len(out), err)
		}
	}
	bad := malformedTiny(t, b)
	if _, err := unpack(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ReadModel of the malformed pack: %v, want ErrMalformed", err)
	}
	if _, err := unpackStream(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("WriteONNX of the malformed pack: %v, want ErrMalformed", err)
	}
}

// malformedTiny returns tiny.epk with a seventh bit set in W's bitmap
// (which says six) and its checksums repaired.
func malformedTiny(t testing.TB, b []byte) []byte {
	t.Helper()
	h, err := ReadHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range h.Sections {
		if s.Kind == KindBitmap {
			c := bytes.Clone(b)
			// A raw zstd block: frame header (6 bytes), block header (3), content.
			c[s.Offset+9] |= 1
			return fixCRCs(c)
		}
	}
	t.Fatal("tiny.epk has no bitmap section")
	return nil
}

// TestWriteONNXTwice: a Reader unpacks once, by either method.
func TestWriteONNXTwice(t *testing.T) {
	b, _ := packModel(t, tinyModel(t))
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Tensors(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := r.WriteONNX(&out); err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteONNX(&out); err == nil {
		t.Fatal("second WriteONNX succeeded")
	}
	if _, err := r.ReadModel(); err == nil {
		t.Fatal("ReadModel after WriteONNX succeeded")
	}
}

// TestWriteONNXMemory: streaming resnet18@0.9 allocates far less than the
// model it writes, and far less than ReadModel (which holds the model).
func TestWriteONNXMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("packs resnet18 (47 MB)")
	}
	m := pruned(t, testmodels.Shared(t, "tv/resnet18.onnx"), 0.9)
	b, st := packModel(t, m, WithLevel(3))
	m = nil
	alloc := func(f func() error) uint64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := f(); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	var wrote int64
	stream := alloc(func() error {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return err
		}
		wrote, err = r.WriteONNX(discard{})
		return err
	})
	whole := alloc(func() error {
		_, err := unpack(b)
		return err
	})
	t.Logf("resnet18@0.9: model %d B, pack %d B; WriteONNX allocates %d B, ReadModel %d B", st.ModelBytes, len(b), stream, whole)
	if wrote != st.ModelBytes {
		t.Fatalf("WriteONNX wrote %d bytes, the model is %d", wrote, st.ModelBytes)
	}
	if limit := uint64(st.ModelBytes) / 2; stream > limit {
		t.Fatalf("WriteONNX allocated %d bytes, want < %d (half the model)", stream, limit)
	}
	if whole < uint64(st.ModelBytes) {
		t.Fatalf("ReadModel allocated %d bytes, less than the %d-byte model it returns: the measurement is broken", whole, st.ModelBytes)
	}
}

// discard is io.Discard without its ReaderFrom, so writes go through.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
