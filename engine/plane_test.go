package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPaddedPlaneFillRows: fillRows over any bands of rows sets a plane
// that held anything to what clearPad and fill set, for horizontal strides
// 1 and 2, odd and even widths, with and without padding.
func TestPaddedPlaneFillRows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, g := range []convGeom{
		{spatial: 2, h: 9, w: 11, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1, oh: 5, ow: 6},
		{spatial: 2, h: 8, w: 8, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1, oh: 8, ow: 8},
		{spatial: 2, h: 7, w: 10, kh: 5, kw: 5, sh: 2, sw: 2, dh: 1, dw: 1, pt: 2, pl: 2, pb: 2, pr: 2, oh: 4, ow: 5},
		{spatial: 2, h: 6, w: 6, kh: 2, kw: 2, sh: 2, sw: 2, dh: 1, dw: 1, oh: 3, ow: 3},
	} {
		t.Run(fmt.Sprintf("%dx%d/s%d/p%d", g.h, g.w, g.sw, g.pl), func(t *testing.T) {
			pp := newPaddedPlane(&g)
			x := randSlice(r, g.h*g.w)
			want := make([]float32, pp.planeSz)
			for i := range want {
				want[i] = float32(math.NaN())
			}
			pp.clearPad(want)
			pp.fill(want, x)
			for _, bands := range []int{1, 2, 3, pp.ph} {
				got := make([]float32, pp.planeSz)
				for i := range got {
					got[i] = float32(math.NaN())
				}
				for b := bands - 1; b >= 0; b-- {
					pp.fillRows(got, x, b*pp.ph/bands, (b+1)*pp.ph/bands)
				}
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%d bands: plane[%d] = %v, clearPad and fill %v", bands, i, got[i], want[i])
					}
				}
			}
		})
	}
}
