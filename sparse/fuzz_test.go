package sparse

import (
	"bytes"
	"testing"
)

// FuzzScan feeds arbitrary index bytes to the decoders pack stores through:
// no panic, and whatever decodes encodes back to the same bytes (every
// accepted encoding is canonical) — gaps via AppendGaps, N:M positions via
// AppendPositions of the kept slots.
func FuzzScan(f *testing.F) {
	f.Add([]byte{0, 3, 0xFF, 0x02}, uint16(300), uint8(2), uint8(4), uint8(2))
	f.Add([]byte{0x8d, 0xe4}, uint16(16), uint8(2), uint8(4), uint8(2))
	f.Add([]byte{0x0d}, uint16(4), uint8(2), uint8(4), uint8(1))
	f.Add([]byte{0x21, 0x43}, uint16(16), uint8(1), uint8(16), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, count uint16, n, m, stride uint8) {
		c := int(count)
		// Every gap takes at least one byte: try each count of positions.
		for nnz := 0; nnz <= min(len(b), 64); nnz++ {
			mask := make([]byte, (c+7)/8)
			k := 0
			if ScanGaps(b, c, nnz, func(i, p int) {
				if i != k {
					t.Fatalf("slot %d reported as %d", k, i)
				}
				k++
				mask[p>>3] |= 1 << (p & 7)
			}) != nil {
				continue
			}
			if got := AppendGaps(nil, mask); !bytes.Equal(got, b) {
				t.Fatalf("gaps %x decode to positions that encode as %x", b, got)
			}
			if err := ScanMask(mask, c, k, func(int, int) {}); err != nil {
				t.Fatalf("mask of decoded gaps: %v", err)
			}
			break
		}
		l := NMLayout{N: int(n), M: int(m), Stride: int(stride)}
		kept := make([]byte, (c+7)/8)
		if err := l.ScanPositions(b, c, func(_, e int) {
			if kept[e>>3]&(1<<(e&7)) != 0 {
				t.Fatalf("element %d kept twice", e)
			}
			kept[e>>3] |= 1 << (e & 7)
		}); err == nil {
			got, ok := l.AppendPositions(nil, kept, c)
			if !ok || !bytes.Equal(got, b) {
				t.Fatalf("%v: positions %x decode to slots that encode as %x (ok %v)", l, b, got, ok)
			}
		}
	})
}
