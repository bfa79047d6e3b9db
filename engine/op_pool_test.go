package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestMaxPoolPlanesMatchReference compares MaxPool over padded planes with
// the reference loop, with padding, dilation, ceil mode and a NaN input.
func TestMaxPoolPlanesMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for i, c := range []struct {
		x     []int
		attrs map[string][]int64
		ceil  bool
	}{
		{[]int{1, 4, 112, 112}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {2, 2}, "pads": {1, 1, 1, 1}}, false},
		{[]int{2, 3, 9, 11}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {2, 2}}, true},
		{[]int{1, 2, 10, 9}, map[string][]int64{"kernel_shape": {2, 3}, "strides": {1, 1}, "pads": {0, 2, 1, 2}, "dilations": {2, 1}}, false},
		{[]int{1, 2, 8, 20}, map[string][]int64{"kernel_shape": {5, 5}, "strides": {1, 2}, "pads": {2, 2, 2, 2}}, true},
		{[]int{1, 3, 17}, map[string][]int64{"kernel_shape": {3}, "strides": {2}, "pads": {1, 1}}, false},
		{[]int{1, 2, 12, 13}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {2, 2}, "dilations": {2, 2}, "pads": {2, 2, 1, 1}}, true},
		{[]int{1, 3, 113, 111}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {2, 2}, "pads": {1, 1, 1, 1}}, false},                   // odd sides, resnet's pool
		{[]int{2, 3, 11, 37}, map[string][]int64{"kernel_shape": {3, 2}, "strides": {3, 2}, "pads": {1, 0, 2, 1}}, true},                      // vertical stride 3
		{[]int{1, 2, 7, 9}, map[string][]int64{"kernel_shape": {2, 2}, "strides": {3, 1}, "pads": {2, 1, 2, 1}}, true},                        // windows with no input row
		{[]int{1, 4, 9, 50}, map[string][]int64{"kernel_shape": {4, 5}, "strides": {1, 2}, "dilations": {2, 3}, "pads": {3, 4, 2, 5}}, false}, // dilated, wide
		{[]int{1, 2, 6, 6}, map[string][]int64{"kernel_shape": {2, 2}, "strides": {2, 2}}, false},                                             // 2×2 stride 2
		{[]int{1, 2, 1, 1}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {1, 1}, "pads": {1, 1, 1, 1}}, false},                       // 1×1 input
		{[]int{2, 3, 10, 14}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {2, 2}, "pads": {1, 1, 0, 0}}, true},                      // max3x3s2, no pad below
		{[]int{1, 2, 2, 2}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {2, 2}, "pads": {1, 1, 1, 1}}, false},                       // max3x3s2, one output
		{[]int{1, 3, 6, 64}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {2, 2}, "pads": {1, 1, 1, 1}}, false},                      // max3x3s2, whole chunks of 32 columns
		{[]int{2, 2, 8, 34}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {2, 2}, "pads": {1, 1, 1, 1}}, false},                      // max3x3s2, a tail of 2 columns
		{[]int{1, 2, 4, 126}, map[string][]int64{"kernel_shape": {3, 3}, "strides": {2, 2}, "pads": {1, 1, 1, 1}}, false},                     // max3x3s2, a tail of 30
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			b := &buildCtx{opset: 13, nOut: 1, attrs: attrMap(c.attrs, "")}
			if c.ceil {
				b.attrs["ceil_mode"] = &onnx.AttributeProto{Name: proto.String("ceil_mode"), I: proto.Int64(1), Type: onnx.AttributeProto_INT.Enum()}
			}
			b.in = []*value{{dt: onnxio.Float, shape: c.x}}
			bt, err := buildPool(poolMax)(b)
			if err != nil {
				t.Fatal(err)
			}
			k := bt.k.(*poolKernel)
			if k.row == nil {
				t.Fatal("no row path")
			}
			if i == 0 && !k.is3x3s2() {
				t.Fatal("resnet18's pool does not take max3x3s2")
			}
			x := randSlice(r, numel(c.x))
			x[len(x)/3] = float32(math.NaN())
			if i := 3 * k.w; i < len(x) && len(c.x) == 4 {
				x[i] = float32(math.NaN()) // the first column of a row
			}
			want, got := make([]float32, numel(bt.out[0].shape)), make([]float32, numel(bt.out[0].shape))
			k.forwardRef(&exec{threads: 1}, x, want)
			nans := 0
			// max3x3s2 also without its one-pass plane kernel.
			plane := max3x3s2Plane
			defer func() { max3x3s2Plane = plane }()
			for _, run := range []struct {
				threads int
				plane   bool
			}{{1, true}, {3, true}, {1, false}, {3, false}} {
				threads := run.threads
				if run.plane {
					max3x3s2Plane = plane
				} else if max3x3s2Plane = nil; plane == nil {
					continue
				}
				fill(got, 1e9)
				k.forward(&exec{threads: threads}, []*data{{f: x}}, []*data{{f: got}})
				for j := range want {
					if math.IsNaN(float64(want[j])) {
						nans++
					}
					if got[j] != want[j] && !(math.IsNaN(float64(got[j])) && math.IsNaN(float64(want[j]))) {
						t.Fatalf("threads %d, plane kernel %v: [%d] = %v, reference %v", threads, run.plane, j, got[j], want[j])
					}
				}
			}
			if nans == 0 {
				t.Fatal("the NaN input reached no output")
			}
		})
	}
}
