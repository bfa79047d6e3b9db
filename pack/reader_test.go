package pack

import (
	"bytes"
	"errors"
	"testing"
)

func TestOptionsValidated(t *testing.T) {
	var buf bytes.Buffer
	for _, o := range []WriterOption{WithLevel(0), WithLevel(23), WithCodebook(1), WithCodebook(9),
		WithEncodings(), WithEncodings(Encoding(9)), WithMaxWindow(1000), WithMaxWindow(3 << 20)} {
		if _, err := NewWriter(&buf, o); err == nil {
			t.Errorf("NewWriter accepted an invalid option")
		}
	}
	if _, err := NewWriter(nil); err == nil {
		t.Error("NewWriter accepted a nil writer")
	}
	for _, l := range []ReadLimits{{MaxDecodedBytes: -1}, {MaxTensors: -1}, {MaxWindow: 10}} {
		if _, err := NewReader(bytes.NewReader(nil), WithLimits(l)); err == nil || errors.Is(err, ErrMagic) {
			t.Errorf("NewReader accepted limits %+v: %v", l, err)
		}
	}
}

func TestReadHeader(t *testing.T) {
	b, st := packModel(t, tinyModel(t))
	h, err := ReadHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if h.FileBytes != int64(len(b)) || h.Tensors != len(st.Tensors) || !h.Lossless() || h.ModelBytes != st.ModelBytes {
		t.Fatalf("header %+v does not describe the %d-byte pack of %d tensors", h, len(b), len(st.Tensors))
	}
	for i, s := range h.Sections {
		if s != st.Header.Sections[i] {
			t.Fatalf("section %d: read %+v, wrote %+v", i, s, st.Header.Sections[i])
		}
	}
	if _, err := ReadHeader(bytes.NewReader([]byte("PK\x03\x04 not a pack"))); !errors.Is(err, ErrMagic) {
		t.Fatalf("zip file: %v, want ErrMagic", err)
	}
}

func TestLimits(t *testing.T) {
	b, _ := packModel(t, tinyModel(t))
	for _, l := range []ReadLimits{{MaxDecodedBytes: 64}, {MaxTensorBytes: 64}, {MaxTensors: 1}} {
		if _, err := unpack(b, WithLimits(l)); !errors.Is(err, ErrLimit) {
			t.Errorf("limits %+v: %v, want ErrLimit", l, err)
		}
	}
	if _, err := unpack(b, WithLimits(ReadLimits{MaxTensorBytes: 128})); err != nil {
		t.Errorf("limits that fit: %v", err)
	}
}

func TestTensorsThenModel(t *testing.T) {
	m := tinyModel(t)
	b, st := packModel(t, m)
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := r.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != len(st.Tensors) || ts[0].ID != "W" || ts[0].Count != 32 || ts[0].Stored != 6 {
		t.Fatalf("Tensors() = %+v", ts)
	}
	got, err := r.ReadModel()
	if err != nil {
		t.Fatal(err)
	}
	mustEqualModels(t, "tiny", got, m)
	if _, err := r.ReadModel(); err == nil {
		t.Fatal("second ReadModel succeeded")
	}
}
