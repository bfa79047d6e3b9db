package onnxbuild

import onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"

// DemoNet is a small mobile-style classifier that the project carries as
// testdata/demo/demonet.onnx for scripts/tour.sh: big enough (51,338
// parameters, 66 MMACs at 1×3×96×96) that pruning changes its size and
// latency measurably, small enough to ship in the repository. Its weights are
// Rand, not trained. x[N,3,96,96] → y[N,10]:
//
//	stem:  Conv 3→32, 3×3, stride 2, pad 1 + Relu                     → 48×48
//	3×     inverted residual: Conv 1×1 32→96 + Relu, depthwise Conv 3×3
//	       (group 96) + Relu, Conv 1×1 96→32, Add with the block input
//	down:  Conv 32→64, 3×3, stride 2, pad 1 + Relu                     → 24×24
//	       depthwise Conv 3×3 (group 64) + Relu, Conv 1×1 64→128 + Relu
//	head:  GlobalAveragePool, Flatten, Gemm 128→10 (transB=1)
func DemoNet() *onnx.ModelProto {
	b := New(CannedOpset)
	b.InputDyn("x", Float, "N", 3, 96, 96)
	seed := int64(900)
	conv := func(in, name string, cout, cin, k, stride, group int64, relu bool) string {
		seed += 2
		fan := float32(cin / group * k * k)
		scale := 2.0 / sqrt32(fan)
		w := initRand(b, name+".weight", seed, scale, cout, cin/group, k, k)
		bias := initRand(b, name+".bias", seed+1, 0.05, cout)
		pad := (k - 1) / 2
		out := name
		b.Node("Conv", []string{in, w, bias}, []string{out},
			AttrInts("kernel_shape", k, k), AttrInts("strides", stride, stride),
			AttrInts("pads", pad, pad, pad, pad), AttrInt("group", group))
		if relu {
			b.Node("Relu", []string{out}, []string{out + ".relu"})
			out += ".relu"
		}
		return out
	}
	h := conv("x", "stem", 32, 3, 3, 2, 1, true)
	for _, name := range []string{"block1", "block2", "block3"} {
		e := conv(h, name+".expand", 96, 32, 1, 1, 1, true)
		d := conv(e, name+".dw", 96, 96, 3, 1, 96, true)
		p := conv(d, name+".project", 32, 96, 1, 1, 1, false)
		b.Node("Add", []string{h, p}, []string{name + ".out"})
		h = name + ".out"
	}
	h = conv(h, "down", 64, 32, 3, 2, 1, true)
	h = conv(h, "down.dw", 64, 64, 3, 1, 64, true)
	h = conv(h, "down.expand", 128, 64, 1, 1, 1, true)
	b.Node("GlobalAveragePool", []string{h}, []string{"pool"})
	b.Node("Flatten", []string{"pool"}, []string{"flat"})
	w := initRand(b, "fc.weight", 990, 0.2, 10, 128)
	bias := initRand(b, "fc.bias", 991, 0.05, 10)
	b.Node("Gemm", []string{"flat", w, bias}, []string{"y"}, AttrInt("transB", 1))
	b.OutputDyn("y", Float, "N", 10)
	return b.Model()
}

// sqrt32 is a float32 square root by Newton's method (exact enough for
// weight scales, and the same on every architecture).
func sqrt32(x float32) float32 {
	if x <= 0 {
		return 0
	}
	r := x
	for i := 0; i < 30; i++ {
		r = 0.5 * (r + x/r)
	}
	return r
}
