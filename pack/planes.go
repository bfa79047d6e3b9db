package pack

import (
	"encoding/binary"
	"math/bits"
)

// Values are stored as byte planes: for elements of width w, plane k holds
// byte k of every element, after rotating each element left by one bit
// within its width (for w > 1). The rotation moves the sign bit to bit 0, so
// for IEEE floats the top plane holds exactly the exponent (float32: 8 bits;
// float64: its top 8 bits), the low-entropy byte zstd's entropy coder then
// sees on its own.

// rotl rotates the low w*8 bits of v left by one.
func rotl(v uint64, w int) uint64 {
	switch w {
	case 2:
		return uint64(bits.RotateLeft16(uint16(v), 1))
	case 4:
		return uint64(bits.RotateLeft32(uint32(v), 1))
	case 8:
		return bits.RotateLeft64(v, 1)
	}
	return v
}

func rotr(v uint64, w int) uint64 {
	switch w {
	case 2:
		return uint64(bits.RotateLeft16(uint16(v), -1))
	case 4:
		return uint64(bits.RotateLeft32(uint32(v), -1))
	case 8:
		return bits.RotateLeft64(v, -1)
	}
	return v
}

func loadElem(b []byte, w int) uint64 {
	switch w {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

func storeElem(b []byte, w int, v uint64) {
	switch w {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}

// appendPlanes appends the n elements of width w in elems to planes[0..w).
func appendPlanes(planes *[8][]byte, elems []byte, w int) {
	n := len(elems) / w
	var dst [8][]byte
	for k := 0; k < w; k++ {
		planes[k] = grow(planes[k], n)
		dst[k] = planes[k][len(planes[k])-n:]
	}
	if w == 4 {
		p0, p1, p2, p3 := dst[0], dst[1], dst[2], dst[3]
		for i := 0; i < n; i++ {
			v := bits.RotateLeft32(binary.LittleEndian.Uint32(elems[4*i:]), 1)
			p0[i], p1[i], p2[i], p3[i] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
		return
	}
	for i := 0; i < n; i++ {
		v := rotl(loadElem(elems[w*i:], w), w)
		for k := 0; k < w; k++ {
			dst[k][i] = byte(v >> (8 * k))
		}
	}
}

// grow extends b by n bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// planeElem reassembles element i from planes (each already sliced to the
// payload's values).
func planeElem(planes *[8][]byte, w, i int) uint64 {
	var v uint64
	for k := 0; k < w; k++ {
		v |= uint64(planes[k][i]) << (8 * k)
	}
	return rotr(v, w)
}
