package pack

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/klauspost/compress/zstd"
)

// entry is one row of the tensor table.
type entry struct {
	param int
	id    string
	dtype onnxio.DataType
	dims  []int64
	field Field
	width int
	count int

	enc      Encoding
	nnz      int // values stored
	indexLen int // bytes in the encoding's index section
	vcode    ValueCode
	cbBits   int // codebook bits (vcode == Codebook)
	cbSize   int // centroids (vcode == Codebook)
}

// streams gathers every payload's index and value bytes, by kind.
type streams struct {
	bitmap, gaps, nm, codebook, codes []byte
	planes                            [8][]byte
}

// nonzeros returns the presence bitmap of data (elements of width w whose
// bytes are not all zero) and the number of set bits.
func nonzeros(data []byte, w, n int) ([]byte, int) {
	mask := make([]byte, (n+7)/8)
	nnz := 0
	if w == 4 {
		for i := 0; i < n; i++ {
			if binary.LittleEndian.Uint32(data[4*i:]) != 0 {
				mask[i>>3] |= 1 << (i & 7)
				nnz++
			}
		}
		return mask, nnz
	}
	for i := 0; i < n; i++ {
		for _, b := range data[w*i : w*i+w] {
			if b != 0 {
				mask[i>>3] |= 1 << (i & 7)
				nnz++
				break
			}
		}
	}
	return mask, nnz
}

// appendGaps appends the CSR positions of mask as gap bytes: for each set
// bit p (ascending) the gap g = p - previous - 1 (previous = -1 at first),
// written as one byte when g < 255, else 0xFF and the uvarint of g - 255.
func appendGaps(dst, mask []byte, n int) []byte {
	prev := -1
	for i, m := range mask {
		for m != 0 {
			j := bits.TrailingZeros8(m)
			m &= m - 1
			p := i*8 + j
			g := p - prev - 1
			if g < 255 {
				dst = append(dst, byte(g))
			} else {
				dst = append(dst, 0xFF)
				dst = binary.AppendUvarint(dst, uint64(g-255))
			}
			prev = p
		}
	}
	return dst
}

// nm24 returns the 2:4 kept-slot mask and 2-bit positions of mask, or
// ok == false when some group of 4 has more than 2 nonzeros or n%4 != 0.
// Kept slots are the nonzeros, then the lowest zero slots up to 2.
func nm24(mask []byte, n int) (kept, pos []byte, ok bool) {
	if n%4 != 0 || n == 0 {
		return nil, nil, false
	}
	kept = make([]byte, len(mask))
	pos = make([]byte, (n/2*2+7)/8)
	k := 0
	for g := 0; g < n; g += 4 {
		nib := (mask[g>>3] >> (g & 7)) & 0xF
		c := bits.OnesCount8(nib)
		if c > 2 {
			return nil, nil, false
		}
		for j := 0; j < 4 && c < 2; j++ {
			if nib&(1<<j) == 0 {
				nib |= 1 << j
				c++
			}
		}
		kept[g>>3] |= nib << (g & 7)
		for j := 0; j < 4; j++ {
			if nib&(1<<j) != 0 {
				pos[k>>2] |= byte(j) << (2 * (k & 3))
				k++
			}
		}
	}
	return kept, pos, true
}

// gather returns the elements of data whose mask bit is set.
func gather(data []byte, w int, mask []byte, nnz int) []byte {
	out := make([]byte, 0, nnz*w)
	for i, m := range mask {
		for m != 0 {
			j := bits.TrailingZeros8(m)
			m &= m - 1
			p := i*8 + j
			out = append(out, data[p*w:p*w+w]...)
		}
	}
	return out
}

// estimator sizes candidate streams by compressing them with a fast level.
type estimator struct{ enc *zstd.Encoder }

func newEstimator() (*estimator, error) {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
	if err != nil {
		return nil, err
	}
	return &estimator{enc: e}, nil
}

func (e *estimator) size(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return len(e.enc.EncodeAll(b, nil))
}

func (e *estimator) planes(elems []byte, w int) int {
	var p [8][]byte
	appendPlanes(&p, elems, w)
	n := 0
	for k := 0; k < w; k++ {
		n += e.size(p[k])
	}
	return n
}

// lossyEligible: lossy value codes apply to float32 payloads of at least
// minLossyElems elements holding only finite values.
const minLossyElems = 256

func lossyEligible(p *payload) bool {
	if p.width != 4 || p.dtype != onnxio.Float || p.count < minLossyElems || (p.field != FieldRaw && p.field != FieldFloat) {
		return false
	}
	for i := 0; i < p.count; i++ {
		v := binary.LittleEndian.Uint32(p.data[4*i:])
		if v&0x7f800000 == 0x7f800000 {
			return false
		}
	}
	return true
}

// toFP16 converts float32 element bytes to float16 element bytes.
func toFP16(elems []byte) []byte {
	out := make([]byte, len(elems)/2)
	for i := 0; i < len(elems)/4; i++ {
		f := math.Float32frombits(binary.LittleEndian.Uint32(elems[4*i:]))
		binary.LittleEndian.PutUint16(out[2*i:], onnxio.Float32ToFloat16(f))
	}
	return out
}

func asFloat32s(elems []byte) []float32 {
	out := make([]float32, len(elems)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(elems[4*i:]))
	}
	return out
}

// encodePayload picks p's encoding and appends its streams to s.
func encodePayload(p *payload, s *streams, c *writeConfig, est *estimator) entry {
	e := entry{param: p.param, id: p.id, dtype: p.dtype, dims: p.dims, field: p.field, width: p.width, count: p.count}
	mask, nnz := nonzeros(p.data, p.width, p.count)
	vcode := Exact
	if c.values != Exact && lossyEligible(p) {
		vcode = c.values
	}
	if vcode == Codebook {
		// Only the nonzeros are shared; zeros stay exact zeros.
		e.vcode, e.cbBits = Codebook, c.codebookBits
		vals := gather(p.data, 4, mask, nnz)
		cents := kmeans(asFloat32s(vals), 1<<c.codebookBits)
		e.cbSize = len(cents)
		for _, v := range cents {
			s.codebook = binary.LittleEndian.AppendUint32(s.codebook, math.Float32bits(v))
		}
		for _, v := range asFloat32s(vals) {
			s.codes = append(s.codes, byte(nearest(cents, v)))
		}
		e.nnz = nnz
		e.enc, e.indexLen = Dense, 0
		if nnz < p.count {
			gaps := appendGaps(nil, mask, p.count)
			if c.allowed(Bitmap) && (!c.allowed(CSR) || est.size(mask) < est.size(gaps)) {
				e.enc, e.indexLen = Bitmap, len(mask)
				s.bitmap = append(s.bitmap, mask...)
			} else {
				e.enc, e.indexLen = CSR, len(gaps)
				s.gaps = append(s.gaps, gaps...)
			}
		}
		return e
	}
	valueSize := func(elems []byte) int {
		if vcode == FP16 {
			return est.planes(toFP16(elems), 2)
		}
		return est.planes(elems, p.width)
	}
	type cand struct {
		enc    Encoding
		index  []byte
		values []byte
		size   int
	}
	dense := cand{enc: Dense, values: p.data}
	best := dense
	if nnz < p.count {
		dense.size = valueSize(p.data)
		best = dense
		sparseVals := gather(p.data, p.width, mask, nnz)
		sv := valueSize(sparseVals)
		var cands []cand
		if c.allowed(CSR) {
			gaps := appendGaps(nil, mask, p.count)
			cands = append(cands, cand{CSR, gaps, sparseVals, sv + est.size(gaps)})
		}
		if c.allowed(Bitmap) {
			cands = append(cands, cand{Bitmap, mask, sparseVals, sv + est.size(mask)})
		}
		if c.allowed(NM24) {
			if kept, pos, ok := nm24(mask, p.count); ok {
				vals := gather(p.data, p.width, kept, p.count/2)
				cands = append(cands, cand{NM24, pos, vals, valueSize(vals) + est.size(pos)})
			}
		}
		for _, cd := range cands {
			if cd.size < best.size || (c.forced && best.enc == Dense) {
				best = cd
			}
		}
	}
	e.enc, e.indexLen, e.nnz = best.enc, len(best.index), len(best.values)/p.width
	switch best.enc {
	case CSR:
		s.gaps = append(s.gaps, best.index...)
	case Bitmap:
		s.bitmap = append(s.bitmap, best.index...)
	case NM24:
		s.nm = append(s.nm, best.index...)
	}
	if vcode == FP16 {
		e.vcode = FP16
		appendPlanes(&s.planes, toFP16(best.values), 2)
	} else {
		appendPlanes(&s.planes, best.values, p.width)
	}
	return e
}

// appendEntry appends e's table row (docs/pack-format.md, "Tensor table").
func appendEntry(dst []byte, e *entry) []byte {
	u := binary.AppendUvarint
	dst = u(dst, uint64(len(e.id)))
	dst = append(dst, e.id...)
	dst = u(dst, uint64(e.param))
	dst = append(dst, byte(e.field))
	dst = u(dst, uint64(e.dtype))
	dst = u(dst, uint64(len(e.dims)))
	for _, d := range e.dims {
		dst = u(dst, uint64(d))
	}
	dst = append(dst, byte(e.width))
	dst = u(dst, uint64(e.count))
	dst = append(dst, byte(e.enc))
	dst = u(dst, uint64(e.nnz))
	dst = u(dst, uint64(e.indexLen))
	dst = append(dst, byte(e.vcode))
	if e.vcode == Codebook {
		dst = append(dst, byte(e.cbBits))
		dst = u(dst, uint64(e.cbSize))
	}
	return dst
}
