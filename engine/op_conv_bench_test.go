package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// convLayer is one convolution shape of a real model, for BenchmarkConvPaths.
type convLayer struct {
	name           string
	c, m, hw, k, s int // input channels, output channels, input side, kernel side, stride
}

// The distinct dense (non-depthwise) convolutions of torchvision's resnet18
// and mobilenet_v2 at 224², batch 1.
var benchConvLayers = []convLayer{
	{"resnet18/conv1", 3, 64, 224, 7, 2},
	{"resnet18/3x3-56", 64, 64, 56, 3, 1},
	{"resnet18/3x3s2-56", 64, 128, 56, 3, 2},
	{"resnet18/1x1s2-56", 64, 128, 56, 1, 2},
	{"resnet18/3x3-28", 128, 128, 28, 3, 1},
	{"resnet18/3x3s2-28", 128, 256, 28, 3, 2},
	{"resnet18/1x1s2-28", 128, 256, 28, 1, 2},
	{"resnet18/3x3-14", 256, 256, 14, 3, 1},
	{"resnet18/3x3s2-14", 256, 512, 14, 3, 2},
	{"resnet18/1x1s2-14", 256, 512, 14, 1, 2},
	{"resnet18/3x3-7", 512, 512, 7, 3, 1},
	{"mobilenet_v2/conv0", 3, 32, 224, 3, 2},
	{"mobilenet_v2/1x1-16x96-112", 16, 96, 112, 1, 1},
	{"mobilenet_v2/1x1-96x24-56", 96, 24, 56, 1, 1},
	{"mobilenet_v2/1x1-24x144-56", 24, 144, 56, 1, 1},
	{"mobilenet_v2/1x1-144x24-56", 144, 24, 56, 1, 1},
	{"mobilenet_v2/1x1-32x192-28", 32, 192, 28, 1, 1},
	{"mobilenet_v2/1x1-192x32-28", 192, 32, 28, 1, 1},
	{"mobilenet_v2/1x1-64x384-14", 64, 384, 14, 1, 1},
	{"mobilenet_v2/1x1-384x64-14", 384, 64, 14, 1, 1},
	{"mobilenet_v2/1x1-96x576-14", 96, 576, 14, 1, 1},
	{"mobilenet_v2/1x1-576x96-14", 576, 96, 14, 1, 1},
	{"mobilenet_v2/1x1-160x960-7", 160, 960, 7, 1, 1},
	{"mobilenet_v2/1x1-960x160-7", 960, 160, 7, 1, 1},
	{"mobilenet_v2/1x1-960x320-7", 960, 320, 7, 1, 1},
	{"mobilenet_v2/1x1-320x1280-7", 320, 1280, 7, 1, 1},
}

// BenchmarkConvPaths runs every path (convPaths) of each layer of
// benchConvLayers, with constant weights, a bias and a fused Relu as in the
// models, at 1 and 2 threads; "built" is the path Compile chooses. GFLOPS
// is read against BenchmarkMicroKernel's figure, the micro-kernel's peak.
//
//	go test -c -o /tmp/engine.test ./engine
//	bench/priority-run /tmp/engine.test -test.run '^$' -test.bench ConvPaths -test.benchtime 200x
func BenchmarkConvPaths(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, l := range benchConvLayers {
		xs, ws := []int{1, l.c, l.hw, l.hw}, []int{l.m, l.c, l.k, l.k}
		p := int64(l.k / 2)
		attrs := map[string][]int64{"strides": {int64(l.s), int64(l.s)}, "pads": {p, p, p, p}}
		x, w, bias := randSlice(r, numel(xs)), randSlice(r, numel(ws)), randSlice(r, l.m)
		k, outShape := convCase(b, xs, ws, w, true, attrs, "")
		k.act = &clampAct{lo: 0, hi: float32(1e30)}
		built := builtPath(k)
		flat := k.flat
		in := []*data{{shape: xs, f: x}, {shape: ws, f: w}, {f: bias}}
		out := []*data{{shape: outShape, f: make([]float32, numel(outShape))}}
		flops := float64(2 * numel(outShape) * l.c * l.k * l.k)
		for _, mode := range convPaths(k) {
			scratch := useConvPath(k, mode, w, flat)
			name := pathNames[mode]
			if mode == built {
				name += "(built)"
			}
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/threads=%d", l.name, name, threads), func(b *testing.B) {
					b.ReportAllocs()
					x := &exec{threads: threads, scratch: scratch}
					for b.Loop() {
						k.forward(x, in, out)
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
				})
			}
		}
	}
}

// builtPath is the path buildConv chose for k.
func builtPath(k *convKernel) int {
	switch {
	case k.swt != nil:
		return pathSwTaps
	case k.swapped != nil:
		return pathSwapped
	case k.linear:
		return pathLinear
	case k.implicit:
		return pathImplicit
	}
	return pathIm2col
}
