package pack

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/klauspost/compress/zstd"
)

// Writer packs one model into an io.Writer.
type Writer struct {
	w    io.Writer
	c    *writeConfig
	used bool
}

// NewWriter returns a Writer that writes to w, after validating opts.
func NewWriter(w io.Writer, opts ...WriterOption) (*Writer, error) {
	if w == nil {
		return nil, fmt.Errorf("pack: NewWriter: nil io.Writer")
	}
	c, err := newWriteConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Writer{w: w, c: c}, nil
}

// Stats reports what WriteModel wrote.
type Stats struct {
	ModelBytes  int64 // the ONNX protobuf, every payload inline
	PackedBytes int64 // the pack file
	Header      Header
	Tensors     []TensorInfo
}

// Ratio is ModelBytes / PackedBytes.
func (s *Stats) Ratio() float64 { return float64(s.ModelBytes) / float64(max(s.PackedBytes, 1)) }

// WriteModel packs m. It may be called once per Writer. m is not modified
// (payloads are taken out while the skeleton is marshalled and put back),
// but it must not be used concurrently.
func (wr *Writer) WriteModel(m *onnxio.Model) (*Stats, error) {
	if wr.used {
		return nil, fmt.Errorf("pack: WriteModel called twice on one Writer")
	}
	wr.used = true
	c := wr.c
	modelBytes := marshalOpts.Size(m.Proto)
	payloads, restore := extract(m)
	skeleton, err := marshalOpts.Marshal(m.Proto)
	restore()
	if err != nil {
		return nil, fmt.Errorf("pack: marshal skeleton: %w", err)
	}
	est, err := newEstimator()
	if err != nil {
		return nil, err
	}
	defer est.enc.Close()
	var s streams
	var table []byte
	st := &Stats{ModelBytes: int64(modelBytes)}
	for i := range payloads {
		e := encodePayload(&payloads[i], &s, c, est)
		table = appendEntry(table, &e)
		st.Tensors = append(st.Tensors, e.info())
	}
	h := Header{Version: Version, ModelBytes: int64(modelBytes), Values: c.values, CodebookBits: c.codebookBits, Level: c.level, Tensors: len(payloads)}
	for _, t := range st.Tensors {
		// Per-tensor codes (WithTensorValues): the header records the
		// most lossy code used.
		if t.Values > h.Values {
			h.Values = t.Values
		}
		if t.Values == Codebook {
			h.CodebookBits = max(h.CodebookBits, t.CodeBits)
		}
	}
	raws := []struct {
		kind SectionKind
		b    []byte
	}{{KindTable, table}, {KindSkeleton, skeleton}, {KindBitmap, s.bitmap}, {KindGaps, s.gaps}, {KindNM, s.nm}, {KindCodebook, s.codebook}, {KindCodes, s.codes}}
	for k := range s.planes {
		raws = append(raws, struct {
			kind SectionKind
			b    []byte
		}{KindPlane0 + SectionKind(k), s.planes[k]})
	}
	var stored [][]byte
	for _, r := range raws {
		if len(r.b) == 0 && r.kind != KindTable && r.kind != KindSkeleton {
			continue
		}
		z, err := compress(r.b, c)
		if err != nil {
			return nil, err
		}
		h.Sections = append(h.Sections, SectionInfo{Kind: r.kind, Stored: int64(len(z)), Raw: int64(len(r.b))})
		stored = append(stored, z)
	}
	file, err := appendHeader(nil, &h)
	if err != nil {
		return nil, err
	}
	for i, z := range stored {
		h.Sections[i].Offset = int64(len(file))
		file = append(file, z...)
		file = binary.LittleEndian.AppendUint32(file, crc32.Checksum(z, castagnoli))
	}
	file = binary.LittleEndian.AppendUint32(file, crc32.Checksum(file, castagnoli))
	h.FileBytes = int64(len(file))
	if _, err := wr.w.Write(file); err != nil {
		return nil, err
	}
	st.PackedBytes, st.Header = int64(len(file)), h
	return st, nil
}

// compress returns b as one zstd frame at the configured level, with a
// window just large enough for b (capped by WithMaxWindow).
func compress(b []byte, c *writeConfig) ([]byte, error) {
	win := zstd.MinWindowSize
	for win < len(b) && win < c.maxWindow {
		win *= 2
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(c.level)),
		zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false), zstd.WithWindowSize(win),
		zstd.WithZeroFrames(true))
	if err != nil {
		return nil, fmt.Errorf("pack: zstd: %w", err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil), nil
}
