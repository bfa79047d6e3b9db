package pack

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/onnxio"
)

// FuzzReader feeds arbitrary bytes to NewReader/ReadModel under small
// limits: no panic, bounded memory, and whatever unpacks packs and unpacks
// again to the same model. WriteONNX accepts exactly what ReadModel does
// and writes the bytes of its model.
func FuzzReader(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(Magic))
	limits := WithLimits(ReadLimits{MaxDecodedBytes: 1 << 20, MaxTensorBytes: 1 << 20, MaxTensors: 1 << 10, MaxWindow: 1 << 20})
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ReadHeader(bytes.NewReader(data), limits); err != nil {
			if _, err2 := unpack(data, limits); err2 == nil {
				t.Fatalf("ReadHeader failed (%v) but the pack unpacked", err)
			}
			return
		}
		r, err := NewReader(bytes.NewReader(data), limits)
		if err != nil {
			return
		}
		if _, err := r.Tensors(); err != nil {
			return
		}
		m, err := r.ReadModel()
		checkStream(t, data, m, err, limits)
		if err != nil {
			return
		}
		b, _ := packModel(t, m, WithLevel(1))
		back, err := unpack(b)
		if err != nil {
			t.Fatalf("repacking an unpacked model: %v", err)
		}
		mustEqualModels(t, "repack", back, m)
	})
}

// addSeeds adds testdata/*.epk and small packs of every encoding and value
// code: csr, bitmap, fp16, codebook, and N:M along a strided axis (a Conv
// pruned 2:4), so that the fuzzer starts from each decoder. (Inputs the
// fuzzer found are in testdata/fuzz/<name>, which go test also runs.)
func addSeeds(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.epk"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, opts := range [][]WriterOption{{WithEncodings(EncCSR)}, {WithFP16(), WithEncodings(EncCSR)}} {
		b, _ := packModel(f, tinyModel(f), opts...)
		f.Add(b)
	}
	b, _ := packModel(f, nmConvModel(f), WithLevel(1))
	f.Add(b)
	b, _ = packModel(f, nmConvModel(f), WithCodebook(2), WithLevel(1))
	f.Add(b)
}

// fixCRCs rewrites the header, section and file checksums of data so that
// fuzzed content gets past them and exercises the parsers.
func fixCRCs(data []byte) []byte {
	if len(data) < fixedHeaderLen || string(data[:len(Magic)]) != Magic {
		return data
	}
	data = bytes.Clone(data)
	bodyLen := int(data[10]) | int(data[11])<<8
	end := fixedHeaderLen + bodyLen
	if len(data) < end+4 {
		return data
	}
	putCRC(data[end:], crc(data[:end]))
	h, err := parseHeaderBody(data[fixedHeaderLen:end], DefaultReadLimits)
	if err != nil {
		return data
	}
	for _, s := range h.Sections {
		if s.Offset+s.Stored+4 > int64(len(data)) {
			return data
		}
		putCRC(data[s.Offset+s.Stored:], crc(data[s.Offset:s.Offset+s.Stored]))
	}
	if h.FileBytes <= int64(len(data)) {
		putCRC(data[h.FileBytes-4:], crc(data[:h.FileBytes-4]))
	}
	return data
}

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func putCRC(b []byte, c uint32) { binary.LittleEndian.PutUint32(b, c) }

// FuzzReaderContent is FuzzReader with the checksums repaired, so that
// mutations reach the table, the streams and the skeleton.
func FuzzReaderContent(f *testing.F) {
	addSeeds(f)
	limits := WithLimits(ReadLimits{MaxDecodedBytes: 1 << 20, MaxTensorBytes: 1 << 20, MaxTensors: 1 << 10, MaxWindow: 1 << 20})
	f.Fuzz(func(t *testing.T, data []byte) {
		data = fixCRCs(data)
		m, err := unpack(data, limits)
		checkStream(t, data, m, err, limits)
		if err != nil {
			return
		}
		b, _ := packModel(t, m, WithLevel(1))
		back, err := unpack(b)
		if err != nil {
			t.Fatalf("repacking an unpacked model: %v", err)
		}
		mustEqualModels(t, "repack", back, m)
	})
}

// checkStream checks WriteONNX of data against ReadModel's result (m, err):
// both fail, or both succeed and WriteONNX writes Marshal(m).
func checkStream(t *testing.T, data []byte, m *onnxio.Model, err error, opts ...ReaderOption) {
	t.Helper()
	got, serr := unpackStream(data, opts...)
	if (err == nil) != (serr == nil) {
		t.Fatalf("ReadModel: %v, but WriteONNX: %v", err, serr)
	}
	if err != nil {
		return
	}
	want, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("WriteONNX wrote %d bytes, Marshal(ReadModel()) %d, first difference at byte %d", len(got), len(want), firstDiff(got, want))
	}
}
