package sparse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("sparse: invalid encoding")

// NonzeroMask returns the presence mask of the elements of data, each w
// bytes wide (len(data) a multiple of w): bit i%8 of mask[i/8] is set when
// element i has a nonzero byte. nnz is the number of set bits.
func NonzeroMask(data []byte, w int) (mask []byte, nnz int) {
	if w < 1 || len(data)%w != 0 {
		panic("sparse: NonzeroMask: data is not a whole number of elements")
	}
	n := len(data) / w
	mask = make([]byte, (n+7)/8)
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

// PopCount is the number of set bits in mask.
func PopCount(mask []byte) int {
	n := 0
	for _, m := range mask {
		n += bits.OnesCount8(m)
	}
	return n
}

// ValidateMask checks a presence mask of count elements: ⌈count/8⌉ bytes,
// padding bits zero, nnz bits set.
func ValidateMask(mask []byte, count, nnz int) error {
	if count < 0 || len(mask) != (count+7)/8 {
		return fmt.Errorf("%w: bitmap of %d bytes for %d elements", ErrInvalid, len(mask), count)
	}
	if count%8 != 0 && mask[len(mask)-1]>>(count%8) != 0 {
		return fmt.Errorf("%w: bitmap padding bits set", ErrInvalid)
	}
	if c := PopCount(mask); c != nnz {
		return fmt.Errorf("%w: bitmap has %d bits set, want %d", ErrInvalid, c, nnz)
	}
	return nil
}

// ScanMask validates mask (ValidateMask) and calls fn(k, p) for the k-th
// set bit, at position p, in increasing order.
func ScanMask(mask []byte, count, nnz int, fn func(k, p int)) error {
	if err := ValidateMask(mask, count, nnz); err != nil {
		return err
	}
	k := 0
	for i, m := range mask {
		for m != 0 {
			j := bits.TrailingZeros8(m)
			m &= m - 1
			fn(k, i*8+j)
			k++
		}
	}
	return nil
}

// AppendGaps appends the positions of mask's set bits as gaps: for each
// position p (increasing), g = p − previous − 1 (previous = −1 at first),
// one byte when g < 255, else 0xFF and the uvarint of g − 255.
func AppendGaps(dst, mask []byte) []byte {
	prev := -1
	for i, m := range mask {
		for m != 0 {
			j := bits.TrailingZeros8(m)
			m &= m - 1
			p := i*8 + j
			dst = appendGap(dst, p-prev-1)
			prev = p
		}
	}
	return dst
}

func appendGap(dst []byte, g int) []byte {
	if g < 255 {
		return append(dst, byte(g))
	}
	return binary.AppendUvarint(append(dst, 0xFF), uint64(g-255))
}

// ScanGaps decodes exactly nnz positions, each below count, from gaps,
// which they must use up, calling fn(k, p) for the k-th position p.
func ScanGaps(gaps []byte, count, nnz int, fn func(k, p int)) error {
	p, off := -1, 0
	for k := 0; k < nnz; k++ {
		if off >= len(gaps) {
			return fmt.Errorf("%w: gaps end after %d of %d positions", ErrInvalid, k, nnz)
		}
		g := int(gaps[off])
		off++
		if g == 0xFF {
			v, n := binary.Uvarint(gaps[off:])
			if n <= 0 || v > uint64(count) || n != len(binary.AppendUvarint(nil, v)) {
				return fmt.Errorf("%w: bad long gap at byte %d", ErrInvalid, off)
			}
			off += n
			g = 255 + int(v)
		}
		p += g + 1
		if p >= count {
			return fmt.Errorf("%w: position %d beyond %d elements", ErrInvalid, p, count)
		}
		fn(k, p)
	}
	if off != len(gaps) {
		return fmt.Errorf("%w: %d gap bytes unused", ErrInvalid, len(gaps)-off)
	}
	return nil
}

func isZero(v float32) bool { return f32bits(v) == 0 }
