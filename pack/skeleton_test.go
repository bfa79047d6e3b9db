package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/encoding/protowire"
)

// TestSkeletonUnknownFieldsReuseKnownNumbers: unknown fields that reuse a
// known TensorProto number with another wire type (data_type 2 as bytes,
// raw_data 9 as a varint) stay after the payloads in both unpack paths,
// as deterministic marshalling writes them (issue 13).
func TestSkeletonUnknownFieldsReuseKnownNumbers(t *testing.T) {
	m := tinyModel(t)
	var unk []byte
	unk = protowire.AppendTag(unk, 2, protowire.BytesType)
	unk = protowire.AppendBytes(unk, []byte("W"))
	unk = protowire.AppendTag(unk, 9, protowire.VarintType)
	unk = protowire.AppendVarint(unk, 5)
	for _, p := range m.Params() {
		p.Tensor.ProtoReflect().SetUnknown(unk)
	}
	b, _ := packModel(t, m)
	got, err := unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	mustEqualModels(t, "unknown fields", got, m)
	mustStreamEqual(t, "unknown fields", b, m)
}

// TestSkeletonNotCanonical: a skeleton that decodes to the right model
// but is not its deterministic marshalling — fields out of order, or a
// payload field present but empty in a tensor a row fills — is malformed,
// for ReadModel and WriteONNX alike.
func TestSkeletonNotCanonical(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "tiny.epk"))
	if err != nil {
		t.Fatal(err)
	}
	skel := sectionContent(t, b, KindSkeleton)
	// ir_version (field 1, first) moved to the end.
	num, typ, n := protowire.ConsumeField(skel)
	if num != 1 || typ != protowire.VarintType || n < 0 {
		t.Fatalf("skeleton starts with field %d type %d", num, typ)
	}
	reordered := append(bytes.Clone(skel[n:]), skel[:n]...)
	// An empty raw_data (field 9) in every tensor of the graph's initializers.
	emptyRaw := emptyPayloadField(t, skel)
	for name, s := range map[string][]byte{"reordered": reordered, "empty raw_data": emptyRaw} {
		c := withSection(t, b, KindSkeleton, s)
		if _, err := unpack(c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ReadModel: %v, want ErrMalformed", name, err)
		}
		if out, err := unpackStream(c); !errors.Is(err, ErrMalformed) || len(out) != 0 {
			t.Errorf("%s: WriteONNX wrote %d bytes: %v, want ErrMalformed", name, len(out), err)
		}
	}
	// The unchanged skeleton, rewritten the same way, still unpacks.
	if _, err := unpack(withSection(t, b, KindSkeleton, skel)); err != nil {
		t.Fatalf("unchanged skeleton: %v", err)
	}
}

// emptyPayloadField returns skel with an empty raw_data field prepended to
// each graph initializer.
func emptyPayloadField(t *testing.T, skel []byte) []byte {
	t.Helper()
	var out []byte
	for b := skel; len(b) > 0; {
		num, typ, n := protowire.ConsumeField(b)
		if n < 0 {
			t.Fatal("bad skeleton")
		}
		if num != 7 {
			out = append(out, b[:n]...)
			b = b[n:]
			continue
		}
		_, _, tl := protowire.ConsumeTag(b)
		g, _ := protowire.ConsumeBytes(b[tl:])
		var ng []byte
		for len(g) > 0 {
			gnum, gtyp, gn := protowire.ConsumeField(g)
			if gnum == 5 && gtyp == protowire.BytesType {
				_, _, gtl := protowire.ConsumeTag(g)
				tb, _ := protowire.ConsumeBytes(g[gtl:])
				tb = append(protowire.AppendBytes(protowire.AppendTag(nil, 9, protowire.BytesType), nil), tb...)
				ng = protowire.AppendBytes(protowire.AppendTag(ng, 5, protowire.BytesType), tb)
			} else {
				ng = append(ng, g[:gn]...)
			}
			g = g[gn:]
		}
		out = protowire.AppendBytes(protowire.AppendTag(out, num, typ), ng)
		b = b[n:]
	}
	return out
}

// sectionContent returns the decompressed content of section k of pack b.
func sectionContent(t testing.TB, b []byte, k SectionKind) []byte {
	t.Helper()
	h, err := ReadHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for _, s := range h.Sections {
		if s.Kind == k {
			out, err := dec.DecodeAll(b[s.Offset:s.Offset+s.Stored], nil)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("no section %v", k)
	return nil
}

// withSection returns pack b with section k's content replaced by content,
// recompressed, with a valid header and checksums.
func withSection(t testing.TB, b []byte, k SectionKind, content []byte) []byte {
	t.Helper()
	h, err := ReadHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for i, s := range h.Sections {
		z := b[s.Offset : s.Offset+s.Stored]
		if s.Kind == k {
			c, err := newWriteConfig(nil)
			if err != nil {
				t.Fatal(err)
			}
			if z, err = compress(content, c); err != nil {
				t.Fatal(err)
			}
			h.Sections[i].Raw = int64(len(content))
		}
		h.Sections[i].Stored = int64(len(z))
		frames = append(frames, z)
	}
	file, err := appendHeader(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range frames {
		file = append(file, z...)
		file = binary.LittleEndian.AppendUint32(file, crc32.Checksum(z, castagnoli))
	}
	return binary.LittleEndian.AppendUint32(file, crc32.Checksum(file, castagnoli))
}
