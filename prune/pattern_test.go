package prune

import (
	"errors"
	"testing"

	"github.com/edgeprune/edgeprune/sparse"
)

func TestParsePattern(t *testing.T) {
	for in, want := range map[string]Pattern{
		"element": {}, "": {}, "2:4": {Kind: NM, N: 2, M: 4}, " 1:8 ": {Kind: NM, N: 1, M: 8},
		"block=1x4": {Kind: Block, R: 1, C: 4}, "BLOCK=8x1": {Kind: Block, R: 8, C: 1},
	} {
		got, err := ParsePattern(in)
		if err != nil || got != want {
			t.Errorf("ParsePattern(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if back, err := ParsePattern(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q via %q: %+v, %v", in, got.String(), back, err)
		}
	}
	for _, in := range []string{"4:4", "0:4", "2:1", "5:4", "a:4", "2:", "block=", "block=4", "block=0x4", "block=1x0", "block=32x32", "block=ax1", "1x4", "channel", "2:1000"} {
		if p, err := ParsePattern(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePattern(%q) = %+v, %v; want ErrInvalid", in, p, err)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"element", "2:4", "block=1x4", "8:16", "block=2x2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			return
		}
		if err := p.validate(); err != nil {
			t.Fatalf("%q parsed to invalid %+v: %v", s, p, err)
		}
		if back, err := ParsePattern(p.String()); err != nil || back != p {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, p, p.String(), back, err)
		}
	})
}

// TestNMIsSparseLayout: a weight pruned N:M fits sparse's N:M layout along
// its input-channel axis — the layout pack stores it in — and (for a Conv
// with a kernel larger than 1×1) not the layout of M consecutive elements.
func TestNMIsSparseLayout(t *testing.T) {
	m := decode(t, zooModel())
	plan := mustPrune(t, m, WithPattern(Pattern{Kind: NM, N: 2, M: 4}))
	after := snapshot(t, m)
	strided := 0
	for _, e := range plan.Params {
		if e.Pattern == Dense {
			continue
		}
		w := after[e.ID]
		mask := make([]byte, (len(w)+7)/8)
		for i, v := range w {
			if v != 0 {
				mask[i>>3] |= 1 << (i & 7)
			}
		}
		l, err := sparse.NMAlong(e.Shape, e.InAxis, 2, 4)
		if err != nil {
			t.Fatalf("%s: %v", e.ID, err)
		}
		if !l.Fits(mask, len(w)) {
			t.Errorf("%s %v: pruned 2:4 but does not fit sparse's %v", e.ID, e.Shape, l)
		}
		if l.Stride > 1 && !(sparse.NMLayout{N: 2, M: 4, Stride: 1}).Fits(mask, len(w)) {
			strided++
		}
	}
	if strided == 0 {
		t.Error("no pruned weight tells the strided layout from the consecutive one")
	}
}
