package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/klauspost/compress/zstd"
)

// Reader reads one pack, front to back: the header when it is created,
// then the sections, each checked against its CRC as it is read. Only one
// section's compressed bytes are held at a time.
type Reader struct {
	r       *fileReader
	l       ReadLimits
	h       *Header
	next    int // index of the next section to read
	sec     decoded
	entries []entry
	done    bool
	zbuf    []byte // compressed bytes of the section being read
}

// fileReader counts bytes and keeps the whole-file CRC.
type fileReader struct {
	r   io.Reader
	off int64
	crc hash.Hash32
}

func (f *fileReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	f.off += int64(n)
	f.crc.Write(p[:n])
	return n, err
}

// readN reads exactly n bytes into buf, reusing its memory, which grows
// (at most doubling) as data arrives: a declared size alone never
// allocates. EOF before n bytes is corruption.
func (f *fileReader) readN(n int64, section string, buf []byte) ([]byte, error) {
	start := f.off
	buf = buf[:0]
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(n-int64(len(buf)), int64(max(len(buf), 1<<20)))))
		}
		m, err := f.Read(buf[len(buf):int(min(int64(cap(buf)), n))])
		buf = buf[:len(buf)+m]
		if err != nil && int64(len(buf)) < n {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, &SectionError{Section: section, Offset: start, Err: ErrCorrupt, Reason: fmt.Sprintf("truncated: %d of %d bytes", len(buf), n)}
			}
			return nil, err
		}
	}
	return buf, nil
}

// ReadHeader reads and checks only the header (magic, version, sizes,
// header CRC): cheap, for listing or sniffing.
func ReadHeader(r io.Reader, opts ...ReaderOption) (*Header, error) {
	l, err := newReadLimits(opts)
	if err != nil {
		return nil, err
	}
	return readHeader(&fileReader{r: r, crc: crc32.New(castagnoli)}, l)
}

func readHeader(f *fileReader, l ReadLimits) (*Header, error) {
	fixed := make([]byte, fixedHeaderLen)
	n, err := io.ReadFull(f, fixed)
	if n < len(Magic) || string(fixed[:len(Magic)]) != Magic {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, err
		}
		return nil, ErrMagic
	}
	if err != nil {
		return nil, &SectionError{Section: "header", Err: ErrCorrupt, Reason: "truncated"}
	}
	bodyLen := int64(binary.LittleEndian.Uint16(fixed[10:]))
	rest, err := f.readN(bodyLen+4, "header", nil)
	if err != nil {
		return nil, err
	}
	body := rest[:bodyLen]
	want := binary.LittleEndian.Uint32(rest[bodyLen:])
	c := crc32.Update(crc32.Checksum(fixed, castagnoli), castagnoli, body)
	if c != want {
		return nil, &SectionError{Section: "header", Err: ErrCorrupt, Reason: fmt.Sprintf("checksum %08x, stored %08x", c, want)}
	}
	if fixed[8] != Version {
		return nil, &SectionError{Section: "header", Err: ErrUnsupported, Reason: fmt.Sprintf("format version %d (this reader knows %d)", fixed[8], Version)}
	}
	if fixed[9] != 0 {
		return nil, &SectionError{Section: "header", Err: ErrUnsupported, Reason: fmt.Sprintf("flags %#02x", fixed[9])}
	}
	h, err := parseHeaderBody(body, l)
	if err != nil {
		sentinel := ErrMalformed
		for _, s := range []error{ErrUnsupported, ErrLimit} {
			if errors.Is(err, s) {
				sentinel = s
			}
		}
		return nil, &SectionError{Section: "header", Offset: fixedHeaderLen, Err: sentinel, Reason: err.Error()}
	}
	return h, nil
}

// NewReader reads the header from r and returns a Reader for the rest.
func NewReader(r io.Reader, opts ...ReaderOption) (*Reader, error) {
	if r == nil {
		return nil, fmt.Errorf("pack: NewReader: nil io.Reader")
	}
	l, err := newReadLimits(opts)
	if err != nil {
		return nil, err
	}
	f := &fileReader{r: r, crc: crc32.New(castagnoli)}
	h, err := readHeader(f, l)
	if err != nil {
		return nil, err
	}
	return &Reader{r: f, l: l, h: h}, nil
}

// Header returns the header read by NewReader.
func (rd *Reader) Header() *Header { return rd.h }

// readSection reads, checks and decompresses the next section.
func (rd *Reader) readSection(dec *zstd.Decoder) error {
	s := rd.h.Sections[rd.next]
	name := s.Kind.String()
	z, err := rd.r.readN(s.Stored+4, name, rd.zbuf)
	if err != nil {
		return err
	}
	rd.zbuf = z
	z, want := z[:s.Stored], binary.LittleEndian.Uint32(z[s.Stored:])
	if c := crc32.Checksum(z, castagnoli); c != want {
		return &SectionError{Section: name, Offset: s.Offset, Err: ErrCorrupt, Reason: fmt.Sprintf("checksum %08x, stored %08x", c, want)}
	}
	out, err := dec.DecodeAll(z, make([]byte, 0, s.Raw))
	if err != nil {
		return &SectionError{Section: name, Offset: s.Offset, Err: ErrMalformed, Reason: "zstd: " + err.Error()}
	}
	if int64(len(out)) != s.Raw {
		return &SectionError{Section: name, Offset: s.Offset, Err: ErrMalformed, Reason: fmt.Sprintf("decodes to %d bytes, header says %d", len(out), s.Raw)}
	}
	rd.sec[s.Kind] = out
	rd.next++
	return nil
}

func (rd *Reader) decoder() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(uint64(max(rd.l.MaxDecodedBytes, 1))), zstd.WithDecoderMaxWindow(uint64(rd.l.MaxWindow)),
		zstd.WithDecodeAllCapLimit(true))
}

// Tensors reads the table section and lists the payloads.
func (rd *Reader) Tensors() ([]TensorInfo, error) {
	if err := rd.readTable(); err != nil {
		return nil, err
	}
	out := make([]TensorInfo, len(rd.entries))
	for i := range rd.entries {
		out[i] = rd.entries[i].info()
	}
	return out, nil
}

func (rd *Reader) readTable() error {
	if rd.entries != nil || rd.h.Tensors == 0 && rd.next > 0 {
		return nil
	}
	if rd.next > 0 {
		return fmt.Errorf("pack: Reader: the table was already read")
	}
	dec, err := rd.decoder()
	if err != nil {
		return err
	}
	defer dec.Close()
	if err := rd.readSection(dec); err != nil {
		return err
	}
	entries, err := parseTable(rd.sec[KindTable], rd.h, rd.l)
	if err != nil {
		var se *SectionError
		if !errors.As(err, &se) {
			err = &SectionError{Section: "table", Offset: rd.h.Sections[0].Offset, Err: ErrMalformed, Reason: err.Error()}
		}
		return err
	}
	rd.entries = entries
	rd.sec[KindTable] = nil
	return nil
}

// ReadModel reads the rest of the pack, checks the whole-file CRC, and
// returns the unpacked model. It may be called once.
func (rd *Reader) ReadModel() (*onnxio.Model, error) {
	if rd.done {
		return nil, fmt.Errorf("pack: ReadModel called twice")
	}
	rd.done = true
	if err := rd.readRest(); err != nil {
		return nil, err
	}
	return rd.assemble()
}

// readRest reads the table (unless Tensors did), every other section and
// the trailer: after it, the whole file has passed its checksums.
func (rd *Reader) readRest() error {
	if err := rd.readTable(); err != nil {
		return err
	}
	dec, err := rd.decoder()
	if err != nil {
		return err
	}
	defer dec.Close()
	for rd.next < len(rd.h.Sections) {
		if err := rd.readSection(dec); err != nil {
			return err
		}
	}
	return rd.readTrailer()
}

func (rd *Reader) readTrailer() error {
	sum := rd.r.crc.Sum32()
	b, err := rd.r.readN(4, "trailer", nil)
	if err != nil {
		return err
	}
	if want := binary.LittleEndian.Uint32(b); want != sum {
		return &SectionError{Section: "trailer", Offset: rd.r.off - 4, Err: ErrCorrupt, Reason: fmt.Sprintf("file checksum %08x, stored %08x", sum, want)}
	}
	var one [1]byte
	if n, _ := io.ReadFull(rd.r, one[:]); n > 0 {
		return &SectionError{Section: "trailer", Offset: rd.r.off - 1, Err: ErrCorrupt, Reason: "data after the end of the pack"}
	}
	return nil
}

func (rd *Reader) assemble() (*onnxio.Model, error) {
	sk, err := rd.readSkeleton()
	if err != nil {
		return nil, err
	}
	cur := &cursor{s: &rd.sec}
	for i := range rd.entries {
		e := &rd.entries[i]
		data, err := decodePayload(e, cur, make([]byte, e.count*e.width), nil)
		if err != nil {
			return nil, err
		}
		setField(sk.rows[i], e.field, data, e.count)
	}
	m, err := onnxio.FromProto(sk.proto, onnxio.WithLimits(onnxio.Limits{MaxTensorBytes: rd.l.MaxTensorBytes}))
	if err != nil {
		return nil, &SectionError{Section: "skeleton", Offset: rd.h.Sections[1].Offset, Err: ErrMalformed, Reason: err.Error()}
	}
	return m, nil
}
