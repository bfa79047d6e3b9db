package pack

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Magic starts every pack file: a high byte so it is never taken for text,
// "EPK", then CR LF SUB LF to catch line-ending and text-mode damage (as PNG).
const Magic = "\x89EPK\r\n\x1a\n"

// Version is the format version this package writes and reads. Version 2
// (N:M along a stated axis, encoding 3) replaced version 1 (2:4 over
// consecutive elements only).
const Version = 2

const (
	fixedHeaderLen = 12 // magic, version, flags, body length
	maxHeaderBody  = 1<<16 - 1
	maxSections    = 16
	maxDims        = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SectionKind identifies a section. Sections appear in increasing kind
// order, each at most once; empty streams have no section.
type SectionKind uint8

// Section kinds (docs/pack-format.md, "Sections").
const (
	KindTable    SectionKind = 1 // tensor table
	KindSkeleton SectionKind = 2 // ONNX model without parameter payloads
	KindBitmap   SectionKind = 3 // presence bitmaps
	KindGaps     SectionKind = 4 // CSR positions as gap bytes
	KindNM       SectionKind = 5 // N:M positions, sparse.PosBits(M) bits each
	KindCodebook SectionKind = 6 // codebook centroids, float32 LE
	KindCodes    SectionKind = 7 // codebook indices, one byte per value
	KindPlane0   SectionKind = 8 // value byte plane k is kind 8+k, k < 8
)

func (k SectionKind) String() string {
	switch k {
	case KindTable:
		return "table"
	case KindSkeleton:
		return "skeleton"
	case KindBitmap:
		return "bitmap"
	case KindGaps:
		return "gaps"
	case KindNM:
		return "nm"
	case KindCodebook:
		return "codebook"
	case KindCodes:
		return "codes"
	}
	if k >= KindPlane0 && k < KindPlane0+8 {
		return fmt.Sprintf("plane%d", k-KindPlane0)
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

func (k SectionKind) known() bool { return k >= KindTable && k < KindPlane0+8 }

// Encoding is how one payload's positions are stored (package sparse
// defines each format).
type Encoding uint8

// Payload encodings. The names say "Enc" so that they are not taken for
// prune.Dense (a plan's "left dense") or sparse's matrix types.
const (
	EncDense  Encoding = 0 // every element, no index
	EncCSR    Encoding = 1 // positions of nonzeros as gaps (KindGaps), sparse.AppendGaps
	EncBitmap Encoding = 2 // one bit per element (KindBitmap), sparse.NonzeroMask
	EncNM     Encoding = 3 // N:M along a stated axis (KindNM), sparse.NMLayout
)

func (e Encoding) String() string {
	switch e {
	case EncDense:
		return "dense"
	case EncCSR:
		return "csr"
	case EncBitmap:
		return "bitmap"
	case EncNM:
		return "n:m"
	}
	return fmt.Sprintf("encoding(%d)", uint8(e))
}

// ValueCode is how values are stored.
type ValueCode uint8

// Value codes. Only Exact is lossless.
const (
	Exact    ValueCode = 0 // the payload's own bytes
	FP16     ValueCode = 1 // float32 rounded to IEEE half (lossy)
	Codebook ValueCode = 2 // per-tensor k-means codebook of 2^bits entries (lossy)
)

func (v ValueCode) String() string {
	switch v {
	case Exact:
		return "exact"
	case FP16:
		return "fp16"
	case Codebook:
		return "codebook"
	}
	return fmt.Sprintf("valuecode(%d)", uint8(v))
}

// Field is the TensorProto field a payload came from; unpack restores it
// to the same field.
type Field uint8

// Payload fields.
const (
	FieldRaw    Field = 1 // raw_data
	FieldFloat  Field = 2 // float_data
	FieldInt32  Field = 3 // int32_data
	FieldInt64  Field = 4 // int64_data
	FieldDouble Field = 5 // double_data
	FieldUint64 Field = 6 // uint64_data
)

var fieldNames = [...]string{"", "raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"}

func (f Field) String() string {
	if int(f) < len(fieldNames) && f > 0 {
		return fieldNames[f]
	}
	return fmt.Sprintf("field(%d)", uint8(f))
}

// SectionInfo describes one section as the header lists it.
type SectionInfo struct {
	Kind   SectionKind
	Stored int64 // bytes in the file (zstd frame), not counting its CRC
	Raw    int64 // bytes after decompression
	Offset int64 // file offset of the stored bytes
}

// Header is what the fixed header and header body hold.
type Header struct {
	Version      int
	ModelBytes   int64     // size of the ONNX protobuf that was packed
	Values       ValueCode // lossy value code requested (Exact: lossless)
	CodebookBits int       // with Codebook: bits per code (2..8)
	Level        int       // zstd level the writer used (1..22 scale)
	Tensors      int       // payload entries in the table
	Sections     []SectionInfo
	// FileBytes is the size of the whole file implied by the header.
	FileBytes int64
}

// Lossless reports whether the pack unpacks bit-exactly.
func (h *Header) Lossless() bool { return h.Values == Exact }

// appendHeader returns the fixed header, body and header CRC.
func appendHeader(dst []byte, h *Header) ([]byte, error) {
	var body []byte
	body = binary.AppendUvarint(body, uint64(h.ModelBytes))
	body = append(body, byte(h.Values), byte(h.CodebookBits), byte(h.Level))
	body = binary.AppendUvarint(body, uint64(h.Tensors))
	body = binary.AppendUvarint(body, uint64(len(h.Sections)))
	for _, s := range h.Sections {
		body = append(body, byte(s.Kind))
		body = binary.AppendUvarint(body, uint64(s.Stored))
		body = binary.AppendUvarint(body, uint64(s.Raw))
	}
	if len(body) > maxHeaderBody {
		return nil, fmt.Errorf("pack: header body of %d bytes", len(body))
	}
	start := len(dst)
	dst = append(dst, Magic...)
	dst = append(dst, Version, 0)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(body)))
	dst = append(dst, body...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli)), nil
}

// byteReader decodes fields from a checksummed buffer, remembering the
// first error.
type byteReader struct {
	b   []byte
	off int
	err error
}

func (r *byteReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *byteReader) u8() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("ends at byte %d, inside a field", r.off)
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *byteReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint at byte %d", r.off)
		return 0
	}
	r.off += n
	return v
}

// upTo reads a uvarint and checks it is at most max.
func (r *byteReader) upTo(max uint64, what string) uint64 {
	v := r.uvarint()
	if r.err == nil && v > max {
		r.fail("%s %d exceeds %d", what, v, max)
		return 0
	}
	return v
}

func (r *byteReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail("%d bytes wanted at byte %d, %d left", n, r.off, len(r.b)-r.off)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

// parseHeaderBody decodes the body (after its CRC was checked).
func parseHeaderBody(body []byte, l ReadLimits) (*Header, error) {
	h := &Header{Version: Version}
	r := &byteReader{b: body}
	h.ModelBytes = int64(r.upTo(1<<62, "model size"))
	h.Values = ValueCode(r.u8())
	h.CodebookBits = int(r.u8())
	h.Level = int(r.u8())
	h.Tensors = int(r.upTo(1<<40, "tensor count"))
	ns := int(r.upTo(maxSections, "section count"))
	if r.err != nil {
		return nil, r.err
	}
	off := int64(fixedHeaderLen + len(body) + 4)
	var raw int64
	prev := SectionKind(0)
	for i := 0; i < ns; i++ {
		s := SectionInfo{Kind: SectionKind(r.u8())}
		s.Stored = int64(r.upTo(1<<50, "stored size"))
		s.Raw = int64(r.upTo(1<<50, "raw size"))
		if r.err != nil {
			return nil, r.err
		}
		if s.Kind <= prev {
			return nil, fmt.Errorf("section %d: kind %d after kind %d", i, s.Kind, prev)
		}
		if !s.Kind.known() {
			return nil, fmt.Errorf("%w: section kind %d", ErrUnsupported, s.Kind)
		}
		prev = s.Kind
		s.Offset = off
		off += s.Stored + 4
		raw += s.Raw
		h.Sections = append(h.Sections, s)
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("%d unread bytes after the section list", len(body)-r.off)
	}
	h.FileBytes = off + 4
	if h.Values > Codebook {
		return nil, fmt.Errorf("%w: value code %d", ErrUnsupported, h.Values)
	}
	if (h.Values == Codebook) != (h.CodebookBits != 0) || (h.Values == Codebook && (h.CodebookBits < 2 || h.CodebookBits > 8)) {
		return nil, fmt.Errorf("value code %v with %d codebook bits", h.Values, h.CodebookBits)
	}
	if len(h.Sections) < 2 || h.Sections[0].Kind != KindTable || h.Sections[1].Kind != KindSkeleton {
		return nil, fmt.Errorf("the first sections must be table and skeleton")
	}
	if h.Tensors > l.MaxTensors {
		return nil, fmt.Errorf("%w: %d tensors, limit %d", ErrLimit, h.Tensors, l.MaxTensors)
	}
	if raw > l.MaxDecodedBytes {
		return nil, fmt.Errorf("%w: sections decode to %d bytes, limit %d", ErrLimit, raw, l.MaxDecodedBytes)
	}
	for _, s := range h.Sections {
		if s.Stored > l.MaxDecodedBytes {
			return nil, fmt.Errorf("%w: section %v stores %d bytes, limit %d", ErrLimit, s.Kind, s.Stored, l.MaxDecodedBytes)
		}
	}
	return h, nil
}
