package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edgeprune/edgeprune/onnxio"
)

// TestConvTransposeDirectMatchesGeneral: when the kernel tiles the output
// (kernel = stride), the direct col2im gives exactly what the general
// scatter-add does.
func TestConvTransposeDirectMatchesGeneral(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for i, c := range []struct{ x, w, strides []int64 }{
		{[]int64{1, 4, 5, 6}, []int64{4, 3, 2, 2}, []int64{2, 2}},
		{[]int64{2, 6, 3, 4}, []int64{6, 2, 3, 2}, []int64{3, 2}},
		{[]int64{1, 3, 7}, []int64{3, 5, 4}, []int64{4}},
		// One output channel of 200² (PP-OCR det's last layer, smaller):
		// the direct col2im splits its rows over the goroutines.
		{[]int64{1, 4, 100, 100}, []int64{4, 1, 2, 2}, []int64{2, 2}},
	} {
		for _, bias := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/bias=%v", i, bias), func(t *testing.T) {
				group := int64(1)
				if i == 1 {
					group = 2
				}
				b := &buildCtx{opset: 13, nOut: 1, attrs: attrMap(map[string][]int64{"strides": c.strides, "group": {group}}, "")}
				xs, ws := ints(c.x), ints(c.w)
				b.in = []*value{{dt: onnxio.Float, shape: xs}, {dt: onnxio.Float, shape: ws}}
				m := ws[1] * int(group)
				if bias {
					b.in = append(b.in, &value{dt: onnxio.Float, shape: []int{m}})
				}
				bt, err := buildConvTranspose(b)
				if err != nil {
					t.Fatal(err)
				}
				k := bt.k.(*convTransposeKernel)
				if !k.direct {
					t.Fatal("not direct")
				}
				in := []*data{{f: randSlice(r, numel(xs))}, {f: randSlice(r, numel(ws))}}
				if bias {
					in = append(in, &data{f: randSlice(r, m)})
				}
				n := numel(bt.out[0].shape)
				got, want := &data{f: make([]float32, n)}, &data{f: make([]float32, n)}
				k.direct = false
				k.forward(&exec{threads: 1, scratch: make([]float32, bt.scratch)}, in, []*data{want})
				k.direct = true
				for _, threads := range []int{1, 2, 3} {
					fill(got.f, 1e9)
					k.forward(&exec{threads: threads, scratch: make([]float32, bt.scratch)}, in, []*data{got})
					for j := range want.f {
						if got.f[j] != want.f[j] {
							t.Fatalf("%d threads: [%d] = %v, general %v", threads, j, got.f[j], want.f[j])
						}
					}
				}
			})
		}
	}
}
