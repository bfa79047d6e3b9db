package pack

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/sparse"
)

// TensorInfo is one table row as inspect shows it.
type TensorInfo struct {
	ID       string
	Param    int // index in the model's parameter order
	Field    Field
	DType    onnxio.DataType
	Dims     []int64
	Width    int // bytes per element
	Count    int // elements
	Encoding Encoding
	// N, M and Axis: with Encoding EncNM, at most N nonzeros in every M
	// elements along axis Axis of Dims (sparse.NMAlong).
	N, M, Axis int
	Stored     int // values stored (nonzeros, or kept slots for N:M)
	IndexLen   int // bytes of positions in the encoding's section
	Values     ValueCode
	Codebook   int // centroids (Values == Codebook)
	CodeBits   int // bits per code (Values == Codebook)
}

// parseTable decodes the table section into entries and checks every row
// against the limits and the header's section sizes.
func parseTable(b []byte, h *Header, l ReadLimits) ([]entry, error) {
	r := &byteReader{b: b}
	entries := make([]entry, 0, min(h.Tensors, len(b)/8+1))
	var out int64
	sums := map[SectionKind]int64{}
	for i := 0; i < h.Tensors; i++ {
		var e entry
		e.id = string(r.bytes(int(r.upTo(uint64(len(b)), "id length"))))
		e.param = int(r.upTo(1<<40, "param index"))
		e.field = Field(r.u8())
		e.dtype = onnxio.DataType(r.upTo(math.MaxInt32, "data type"))
		nd := int(r.upTo(maxDims, "rank"))
		if r.err != nil {
			return nil, r.err
		}
		e.dims = make([]int64, nd)
		for k := range e.dims {
			e.dims[k] = int64(r.upTo(math.MaxInt64, "dimension"))
		}
		e.width = int(r.u8())
		e.count = int(r.upTo(1<<50, "element count"))
		e.enc = Encoding(r.u8())
		if e.enc == EncNM {
			e.nm = nmSpec{n: int(r.u8()), m: int(r.u8()) + 1, axis: int(r.u8())}
		}
		e.nnz = int(r.upTo(1<<50, "stored values"))
		e.indexLen = int(r.upTo(1<<50, "index length"))
		e.vcode = ValueCode(r.u8())
		if e.vcode == Codebook {
			e.cbBits = int(r.u8())
			e.cbSize = int(r.upTo(256, "codebook size"))
		}
		if r.err != nil {
			return nil, r.err
		}
		bad := func(format string, args ...any) error {
			return &SectionError{Section: "table", Tensor: e.id, Err: ErrMalformed, Reason: fmt.Sprintf(format, args...)}
		}
		if e.field < FieldRaw || e.field > FieldUint64 {
			return nil, &SectionError{Section: "table", Tensor: e.id, Err: ErrUnsupported, Reason: fmt.Sprintf("payload field %d", e.field)}
		}
		if e.enc > EncNM {
			return nil, &SectionError{Section: "table", Tensor: e.id, Err: ErrUnsupported, Reason: fmt.Sprintf("encoding %d", e.enc)}
		}
		if e.vcode > Codebook {
			return nil, &SectionError{Section: "table", Tensor: e.id, Err: ErrUnsupported, Reason: fmt.Sprintf("value code %d", e.vcode)}
		}
		if e.width != 1 && e.width != 2 && e.width != 4 && e.width != 8 {
			return nil, bad("element width %d", e.width)
		}
		if fw := fieldWidth(e.field); fw != 0 && fw != e.width {
			return nil, bad("%v with element width %d", e.field, e.width)
		}
		if e.count == 0 {
			return nil, bad("empty payload")
		}
		size := int64(e.count) * int64(e.width)
		out += size
		if size > l.MaxTensorBytes || out > l.MaxDecodedBytes {
			return nil, &SectionError{Section: "table", Tensor: e.id, Err: ErrLimit, Reason: fmt.Sprintf("payload of %d bytes (%d in total), limits %d per tensor and %d in total", size, out, l.MaxTensorBytes, l.MaxDecodedBytes)}
		}
		if e.vcode != Exact && (e.width != 4 || e.field == FieldInt32) {
			return nil, bad("value code %v on %d-byte %v", e.vcode, e.width, e.field)
		}
		if e.vcode == Codebook && (e.cbBits < 2 || e.cbBits > 8 || e.cbSize > 1<<e.cbBits || (e.cbSize == 0) != (e.nnz == 0)) {
			return nil, bad("codebook of %d entries at %d bits for %d values", e.cbSize, e.cbBits, e.nnz)
		}
		switch e.enc {
		case EncDense:
			if e.nnz != e.count || e.indexLen != 0 {
				return nil, bad("dense with %d of %d values and %d index bytes", e.nnz, e.count, e.indexLen)
			}
		case EncCSR:
			if e.nnz > e.count || e.indexLen < e.nnz {
				return nil, bad("csr with %d of %d values and %d index bytes", e.nnz, e.count, e.indexLen)
			}
		case EncBitmap:
			if e.nnz > e.count || e.indexLen != (e.count+7)/8 {
				return nil, bad("bitmap with %d of %d values and %d index bytes", e.nnz, e.count, e.indexLen)
			}
		case EncNM:
			l, err := e.layout()
			if err != nil {
				return nil, bad("%d:%d along axis %d: %v", e.nm.n, e.nm.m, e.nm.axis, err)
			}
			if dimsCount(e.dims) != e.count || e.nnz != l.Kept(e.count) || e.indexLen != l.PosLen(e.count) || e.vcode == Codebook {
				return nil, bad("%d:%d with %d of %d values and %d index bytes", e.nm.n, e.nm.m, e.nnz, e.count, e.indexLen)
			}
		}
		e.uses(func(k SectionKind, n int) { sums[k] += int64(n) })
		entries = append(entries, e)
	}
	if r.off != len(b) {
		return nil, &SectionError{Section: "table", Err: ErrMalformed, Reason: fmt.Sprintf("%d bytes after the last row", len(b)-r.off)}
	}
	for _, s := range h.Sections[2:] {
		if sums[s.Kind] != s.Raw {
			return nil, &SectionError{Section: s.Kind.String(), Offset: s.Offset, Err: ErrMalformed, Reason: fmt.Sprintf("holds %d bytes, the table uses %d", s.Raw, sums[s.Kind])}
		}
		delete(sums, s.Kind)
	}
	for k, n := range sums {
		if n != 0 {
			return nil, &SectionError{Section: k.String(), Err: ErrMalformed, Reason: fmt.Sprintf("missing, the table uses %d bytes", n)}
		}
	}
	return entries, nil
}

// uses calls f with each stream e reads from and the bytes it takes, in
// the order decodePayload takes them (docs/pack-format.md, "Sections").
func (e *entry) uses(f func(k SectionKind, n int)) {
	switch e.enc {
	case EncCSR:
		f(KindGaps, e.indexLen)
	case EncBitmap:
		f(KindBitmap, e.indexLen)
	case EncNM:
		f(KindNM, e.indexLen)
	}
	switch e.vcode {
	case Exact:
		for k := 0; k < e.width; k++ {
			f(KindPlane0+SectionKind(k), e.nnz)
		}
	case FP16:
		f(KindPlane0, e.nnz)
		f(KindPlane0+1, e.nnz)
	case Codebook:
		f(KindCodebook, 4*e.cbSize)
		f(KindCodes, e.nnz)
	}
}

// numKinds bounds the section kinds: streams are indexed by kind.
const numKinds = int(KindPlane0) + 8

// decoded holds the decompressed sections, by kind.
type decoded [numKinds][]byte

// cursor hands out consecutive slices of the decoded sections. parseTable
// has checked that the table's rows use exactly the bytes each section holds.
type cursor struct {
	s   *decoded
	off [numKinds]int
}

func (c *cursor) take(k SectionKind, n int) []byte {
	o := c.off[k]
	c.off[k] = o + n
	return c.s[k][o : o+n : o+n]
}

// skip moves c past e's bytes without decoding them.
func (c *cursor) skip(e *entry) {
	e.uses(func(k SectionKind, n int) { c.off[k] += n })
}

// storedValues takes e's stored values from the streams and returns them
// as a function of the stored index k (bit patterns of e.width bytes).
// scratch, if not nil, is reused for exact values.
func storedValues(e *entry, c *cursor, scratch *[]byte) (func(k int) uint64, error) {
	bad := func(format string, args ...any) error {
		return &SectionError{Section: "table", Tensor: e.id, Err: ErrMalformed, Reason: fmt.Sprintf(format, args...)}
	}
	w := e.width
	var value func(k int) uint64
	switch e.vcode {
	case Exact:
		var planes [8][]byte
		for p := 0; p < w; p++ {
			planes[p] = c.take(KindPlane0+SectionKind(p), e.nnz)
		}
		// Reassemble the stored elements contiguously.
		var vals []byte
		if scratch != nil && cap(*scratch) >= e.nnz*w {
			vals = (*scratch)[:e.nnz*w]
		} else {
			vals = make([]byte, e.nnz*w)
			if scratch != nil {
				*scratch = vals
			}
		}
		if w == 4 {
			p0, p1, p2, p3 := planes[0], planes[1], planes[2], planes[3]
			for k := 0; k < e.nnz; k++ {
				v := uint32(p0[k]) | uint32(p1[k])<<8 | uint32(p2[k])<<16 | uint32(p3[k])<<24
				binary.LittleEndian.PutUint32(vals[4*k:], bits.RotateLeft32(v, -1))
			}
			value = func(k int) uint64 { return uint64(binary.LittleEndian.Uint32(vals[4*k:])) }
		} else {
			for k := 0; k < e.nnz; k++ {
				storeElem(vals[w*k:], w, planeElem(&planes, w, k))
			}
			value = func(k int) uint64 { return loadElem(vals[w*k:], w) }
		}
	case FP16:
		var planes [8][]byte
		planes[0], planes[1] = c.take(KindPlane0, e.nnz), c.take(KindPlane0+1, e.nnz)
		value = func(k int) uint64 {
			return uint64(math.Float32bits(onnxio.Float16ToFloat32(uint16(planeElem(&planes, 2, k)))))
		}
	case Codebook:
		cb := c.take(KindCodebook, 4*e.cbSize)
		codes := c.take(KindCodes, e.nnz)
		for _, x := range codes {
			if int(x) >= e.cbSize {
				return nil, bad("code %d with %d centroids", x, e.cbSize)
			}
		}
		value = func(k int) uint64 { return uint64(binary.LittleEndian.Uint32(cb[4*int(codes[k]):])) }
	}
	return value, nil
}

// decodePayload rebuilds e's payload bytes from the streams into out, which
// holds e.count*e.width bytes, all zero unless e is dense. scratch, if not
// nil, is reused for the stored values of sparse exact payloads.
func decodePayload(e *entry, c *cursor, out []byte, scratch *[]byte) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return &SectionError{Section: "table", Tensor: e.id, Err: ErrMalformed, Reason: fmt.Sprintf(format, args...)}
	}
	w := e.width
	out = out[:e.count*w]
	if e.vcode == Exact && e.enc == EncDense && w == 4 {
		var planes [8][]byte
		for p := 0; p < w; p++ {
			planes[p] = c.take(KindPlane0+SectionKind(p), e.nnz)
		}
		p0, p1, p2, p3 := planes[0], planes[1], planes[2], planes[3]
		for i := 0; i < e.count; i++ {
			v := uint32(p0[i]) | uint32(p1[i])<<8 | uint32(p2[i])<<16 | uint32(p3[i])<<24
			binary.LittleEndian.PutUint32(out[4*i:], bits.RotateLeft32(v, -1))
		}
		return out, nil
	}
	value, err := storedValues(e, c, scratch)
	if err != nil {
		return nil, err
	}
	store := func(k, p int) { storeElem(out[w*p:], w, value(k)) }
	switch e.enc {
	case EncDense:
		for i := 0; i < e.count; i++ {
			storeElem(out[w*i:], w, value(i))
		}
	case EncBitmap:
		err = sparse.ScanMask(c.take(KindBitmap, e.indexLen), e.count, e.nnz, store)
	case EncCSR:
		err = sparse.ScanGaps(c.take(KindGaps, e.indexLen), e.count, e.nnz, store)
	case EncNM:
		var l sparse.NMLayout
		if l, err = e.layout(); err == nil {
			err = l.ScanPositions(c.take(KindNM, e.indexLen), e.count, store)
		}
	}
	if err != nil {
		return nil, bad("%v", err)
	}
	return out, nil
}

// EncodingName is the encoding as listings show it: "dense", "csr",
// "bitmap", or the N:M pattern such as "2:4".
func (t *TensorInfo) EncodingName() string {
	if t.Encoding == EncNM {
		return fmt.Sprintf("%d:%d", t.N, t.M)
	}
	return t.Encoding.String()
}

func (e *entry) info() TensorInfo {
	return TensorInfo{ID: e.id, Param: e.param, Field: e.field, DType: e.dtype, Dims: e.dims, Width: e.width,
		Count: e.count, Encoding: e.enc, N: e.nm.n, M: e.nm.m, Axis: e.nm.axis, Stored: e.nnz, IndexLen: e.indexLen, Values: e.vcode,
		Codebook: e.cbSize, CodeBits: e.cbBits}
}
