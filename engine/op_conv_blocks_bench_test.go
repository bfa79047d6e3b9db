package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkConvBlockSizes times the block sizes that are constants of the
// implicit and swapped implicit paths — implicitKC (depth block of the
// implicit paths), swTapsKC (depth block of swtaps) and swTapsTiles (blocks
// of 8 positions per unit of swtaps) — at their sensible values, on
// resnet18's and mobilenet_v2's layers that take those paths, to see
// whether they need tuning per machine (docs/benchmarks.md, "Threads",
// session 10).
//
//	go test -c -o /tmp/engine.test ./engine
//	bench/priority-run /tmp/engine.test -test.run '^$' -test.bench ConvBlockSizes -test.benchtime 100x
func BenchmarkConvBlockSizes(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	layers := []convLayer{
		{"resnet18/3x3-56", 64, 64, 56, 3, 1},
		{"resnet18/3x3-28", 128, 128, 28, 3, 1},
		{"resnet18/3x3-14", 256, 256, 14, 3, 1},
		{"resnet18/3x3-7", 512, 512, 7, 3, 1},
		{"resnet18/3x3s2-28", 128, 256, 28, 3, 2},
	}
	type knob struct {
		name string
		path int
		set  func(v int) func()
		vals []int
	}
	knobs := []knob{
		{"implicitKC", pathLinear, func(v int) func() { o := implicitKC; implicitKC = v; return func() { implicitKC = o } }, []int{288, 576, 1152}},
		{"swTapsKC", pathSwTaps, func(v int) func() { o := swTapsKC; swTapsKC = v; return func() { swTapsKC = o } }, []int{128, 256, 512}},
		{"swTapsTiles", pathSwTaps, func(v int) func() { o := swTapsTiles; swTapsTiles = v; return func() { swTapsTiles = o } }, []int{4, 8, 16}},
	}
	for _, l := range layers {
		xs, ws := []int{1, l.c, l.hw, l.hw}, []int{l.m, l.c, l.k, l.k}
		p := int64(l.k / 2)
		attrs := map[string][]int64{"strides": {int64(l.s), int64(l.s)}, "pads": {p, p, p, p}}
		x, w, bias := randSlice(r, numel(xs)), randSlice(r, numel(ws)), randSlice(r, l.m)
		k, outShape := convCase(b, xs, ws, w, true, attrs, "")
		k.act = &clampAct{lo: 0, hi: float32(1e30)}
		in := []*data{{shape: xs, f: x}, {shape: ws, f: w}, {f: bias}}
		out := []*data{{shape: outShape, f: make([]float32, numel(outShape))}}
		flops := float64(2 * numel(outShape) * l.c * l.k * l.k)
		for _, kn := range knobs {
			if kn.path == pathSwTaps && !k.swTapsOK(activeKernel()) || kn.path == pathLinear && !k.implicitLinearOK(activeKernel()) {
				continue
			}
			for _, v := range kn.vals {
				restore := kn.set(v)
				scratch := useConvPath(k, kn.path, w, nil)
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("%s/%s/%s=%d/threads=%d", l.name, pathNames[kn.path], kn.name, v, threads), func(b *testing.B) {
						x := &exec{threads: threads, scratch: scratch}
						for b.Loop() {
							k.forward(x, in, out)
						}
						b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
					})
				}
				restore()
			}
		}
	}
}
