package pack

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/sparse"
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
	nm       nmSpec // enc == EncNM
	nnz      int    // values stored
	indexLen int    // bytes in the encoding's index section
	vcode    ValueCode
	cbBits   int // codebook bits (vcode == Codebook)
	cbSize   int // centroids (vcode == Codebook)
}

// nmSpec is an N:M row's pattern and axis (docs/pack-format.md).
type nmSpec struct{ n, m, axis int }

// layout is the sparse.NMLayout of an N:M row.
func (e *entry) layout() (sparse.NMLayout, error) {
	return sparse.NMAlong(e.dims, e.nm.axis, e.nm.n, e.nm.m)
}

// nmPatterns are the N:M patterns the writer tries, along every axis.
var nmPatterns = []struct{ n, m int }{{2, 4}}

// streams gathers every payload's index and value bytes, by kind.
type streams struct {
	bitmap, gaps, nm, codebook, codes []byte
	planes                            [8][]byte
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

// gatherNM returns the elements of data (width w) at the kept slots of
// positions pos, in slot order.
func gatherNM(data []byte, w int, l sparse.NMLayout, pos []byte, count int) []byte {
	out := make([]byte, l.Kept(count)*w)
	err := l.ScanPositions(pos, count, func(k, e int) { copy(out[k*w:k*w+w], data[e*w:e*w+w]) })
	if err != nil {
		panic("pack: positions just encoded do not scan: " + err.Error())
	}
	return out
}

// dimsCount is the number of elements dims describe, or -1.
func dimsCount(dims []int64) int {
	n := int64(1)
	for _, d := range dims {
		if d < 0 || (d != 0 && n > (1<<50)/d) {
			return -1
		}
		n *= d
	}
	return int(n)
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
	mask, nnz := sparse.NonzeroMask(p.data, p.width)
	vcode := Exact
	code, bits := c.valueCode(p.id)
	if code != Exact && lossyEligible(p) {
		vcode = code
	}
	if vcode == Codebook {
		// Only the nonzeros are shared; zeros stay exact zeros.
		e.vcode, e.cbBits = Codebook, bits
		vals := gather(p.data, 4, mask, nnz)
		cents := kmeans(asFloat32s(vals), 1<<bits)
		e.cbSize = len(cents)
		for _, v := range cents {
			s.codebook = binary.LittleEndian.AppendUint32(s.codebook, math.Float32bits(v))
		}
		for _, v := range asFloat32s(vals) {
			s.codes = append(s.codes, byte(nearest(cents, v)))
		}
		e.nnz = nnz
		e.enc, e.indexLen = EncDense, 0
		if nnz < p.count {
			gaps := sparse.AppendGaps(nil, mask)
			if c.allowed(EncBitmap) && (!c.allowed(EncCSR) || est.size(mask) < est.size(gaps)) {
				e.enc, e.indexLen = EncBitmap, len(mask)
				s.bitmap = append(s.bitmap, mask...)
			} else {
				e.enc, e.indexLen = EncCSR, len(gaps)
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
		nm     nmSpec
		index  []byte
		values []byte
		size   int
	}
	dense := cand{enc: EncDense, values: p.data}
	best := dense
	if nnz < p.count {
		dense.size = valueSize(p.data)
		best = dense
		sparseVals := gather(p.data, p.width, mask, nnz)
		sv := valueSize(sparseVals)
		var cands []cand
		if c.allowed(EncCSR) {
			gaps := sparse.AppendGaps(nil, mask)
			cands = append(cands, cand{enc: EncCSR, index: gaps, values: sparseVals, size: sv + est.size(gaps)})
		}
		if c.allowed(EncBitmap) {
			cands = append(cands, cand{enc: EncBitmap, index: mask, values: sparseVals, size: sv + est.size(mask)})
		}
		if c.allowed(EncNM) && dimsCount(p.dims) == p.count {
			for _, pat := range nmPatterns {
				for axis := range p.dims {
					l, err := sparse.NMAlong(p.dims, axis, pat.n, pat.m)
					if err != nil {
						continue
					}
					if pos, ok := l.AppendPositions(nil, mask, p.count); ok {
						vals := gatherNM(p.data, p.width, l, pos, p.count)
						cands = append(cands, cand{EncNM, nmSpec{pat.n, pat.m, axis}, pos, vals, valueSize(vals) + est.size(pos)})
					}
				}
			}
		}
		for _, cd := range cands {
			if cd.size < best.size || (c.forced && best.enc == EncDense) {
				best = cd
			}
		}
		// N:M carries the structure sparse kernels use: it is chosen,
		// whatever the estimates, when its kept slots are (nearly) all
		// nonzeros — at most one zero slot per 16 nonzeros, as in a
		// tensor pruned N:M — since it then stores at most 1/16 more
		// values than csr or bitmap, and for 2:4 as many position bits
		// as a bitmap.
		for i := range cands {
			if cd := &cands[i]; cd.enc == EncNM && len(cd.values)/p.width*16 <= nnz*17 && (best.enc != EncNM || cd.size < best.size) {
				best = *cd
			}
		}
	}
	e.enc, e.nm, e.indexLen, e.nnz = best.enc, best.nm, len(best.index), len(best.values)/p.width
	switch best.enc {
	case EncCSR:
		s.gaps = append(s.gaps, best.index...)
	case EncBitmap:
		s.bitmap = append(s.bitmap, best.index...)
	case EncNM:
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
	if e.enc == EncNM {
		dst = append(dst, byte(e.nm.n), byte(e.nm.m-1), byte(e.nm.axis))
	}
	dst = u(dst, uint64(e.nnz))
	dst = u(dst, uint64(e.indexLen))
	dst = append(dst, byte(e.vcode))
	if e.vcode == Codebook {
		dst = append(dst, byte(e.cbBits))
		dst = u(dst, uint64(e.cbSize))
	}
	return dst
}
