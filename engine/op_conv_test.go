package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// convCase builds a Conv kernel through its builder, as Compile would.
// With wk not nil the weights are the constant wk, which the builder packs.
func convCase(t testing.TB, x, w []int, wk []float32, bias bool, attrs map[string][]int64, autoPad string) (*convKernel, []int) {
	t.Helper()
	b := &buildCtx{opset: 13, nOut: 1, attrs: attrMap(attrs, autoPad)}
	b.in = []*value{{dt: onnxio.Float, shape: x}, {dt: onnxio.Float, shape: w}}
	if wk != nil {
		b.in[1].konst = &data{shape: w, f: wk}
	}
	if bias {
		b.in = append(b.in, &value{dt: onnxio.Float, shape: []int{w[0]}})
	}
	bt, err := buildConv(b)
	if err != nil {
		t.Fatal(err)
	}
	return bt.k.(*convKernel), bt.out[0].shape
}

func TestConvFastPathsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	cases := []struct {
		x, w    []int
		attrs   map[string][]int64
		autoPad string
	}{
		{[]int{1, 3, 9, 9}, []int{4, 3, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}, ""},
		{[]int{2, 4, 8, 7}, []int{6, 2, 3, 2}, map[string][]int64{"group": {2}, "strides": {2, 1}, "pads": {0, 1, 2, 0}}, ""},
		{[]int{1, 8, 10, 10}, []int{8, 1, 3, 3}, map[string][]int64{"group": {8}, "pads": {1, 1, 1, 1}}, ""},                                         // depthwise
		{[]int{1, 8, 11, 10}, []int{8, 1, 3, 3}, map[string][]int64{"group": {8}, "strides": {2, 2}}, "SAME_UPPER"},                                  // depthwise, strided
		{[]int{1, 6, 12, 12}, []int{6, 1, 3, 3}, map[string][]int64{"group": {6}, "dilations": {2, 2}}, "SAME_LOWER"},                                // depthwise, dilated
		{[]int{1, 5, 6, 6}, []int{7, 5, 1, 1}, nil, ""},                                                                                              // pointwise
		{[]int{1, 3, 14, 13}, []int{5, 3, 5, 3}, map[string][]int64{"dilations": {2, 1}, "strides": {3, 2}}, "VALID"},                                // im2col, dilated
		{[]int{1, 2, 17}, []int{3, 2, 4}, map[string][]int64{"pads": {2, 1}, "strides": {2}}, ""},                                                    // 1-D
		{[]int{1, 8, 11, 10}, []int{8, 1, 3, 3}, map[string][]int64{"group": {8}, "strides": {3, 3}, "pads": {1, 1, 1, 1}}, ""},                      // depthwise, stride 3
		{[]int{1, 6, 13, 16}, []int{6, 1, 5, 5}, map[string][]int64{"group": {6}, "strides": {2, 2}, "pads": {2, 1, 2, 2}}, ""},                      // depthwise 5×5, stride 2
		{[]int{2, 4, 9, 70}, []int{4, 1, 3, 3}, map[string][]int64{"group": {4}, "pads": {1, 1, 1, 1}}, ""},                                          // depthwise, wide rows
		{[]int{1, 3, 14, 13}, []int{4, 3, 3, 3}, map[string][]int64{"strides": {1, 3}, "pads": {1, 1, 1, 1}}, ""},                                    // im2col, stride 3
		{[]int{1, 5, 12, 75}, []int{9, 5, 3, 3}, map[string][]int64{"strides": {2, 2}, "pads": {1, 1, 1, 1}}, ""},                                    // wide rows, stride 2
		{[]int{1, 4, 6, 70}, []int{10, 4, 3, 3}, map[string][]int64{"pads": {1, 2, 1, 0}}, ""},                                                       // wide rows
		{[]int{1, 6, 15, 17}, []int{6, 1, 3, 3}, map[string][]int64{"group": {6}, "strides": {2, 2}, "dilations": {2, 3}, "pads": {2, 3, 1, 2}}, ""}, // depthwise, dilated, stride 2
		{[]int{1, 3, 15, 40}, []int{5, 3, 3, 2}, map[string][]int64{"strides": {2, 2}, "dilations": {2, 3}, "pads": {1, 2, 2, 1}}, ""},               // dilated, stride 2
		{[]int{1, 64, 7, 7}, []int{32, 64, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}, ""},                                                      // swapped implicit as built
		{[]int{1, 80, 7, 7}, []int{100, 80, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}, ""},                                                     // swapped, 4 channel blocks per unit, 3 depth blocks
		{[]int{1, 40, 20, 20}, []int{30, 40, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}, ""},                                                    // 2 depth blocks, partial tiles
		{[]int{1, 300, 9, 8}, []int{26, 300, 1, 1}, nil, ""},                                                                                         // pointwise, 2 depth blocks
		{[]int{2, 9, 10, 14}, []int{9, 1, 3, 3}, map[string][]int64{"group": {9}, "strides": {2, 2}, "pads": {1, 1, 1, 1}}, ""},                      // depthwise, stride 2 in phases
		{[]int{1, 5, 12, 36}, []int{5, 1, 5, 5}, map[string][]int64{"group": {5}, "strides": {2, 2}, "pads": {2, 2, 2, 2}}, ""},                      // depthwise 5×5, stride 2 in phases
		{[]int{1, 7, 7, 7}, []int{7, 1, 3, 3}, map[string][]int64{"group": {7}, "pads": {1, 1, 1, 1}}, ""},                                           // depthwise 7², flat
		{[]int{2, 40, 14, 76}, []int{24, 40, 1, 1}, map[string][]int64{"strides": {2, 2}}, ""},                                                       // 1×1 stride 2: implicit on phase 0
		{[]int{1, 20, 14, 14}, []int{40, 20, 1, 1}, map[string][]int64{"strides": {2, 2}}, ""},                                                       // 1×1 stride 2 at 7²
		{[]int{1, 3, 23, 20}, []int{8, 3, 7, 7}, map[string][]int64{"strides": {2, 2}, "pads": {3, 3, 3, 3}}, ""},                                    // 7×7 stride 2 stem: linear in phases
		{[]int{1, 40, 14, 14}, []int{36, 40, 3, 3}, map[string][]int64{"strides": {2, 2}, "pads": {1, 1, 1, 1}}, ""},                                 // 3×3 stride 2, 2 depth blocks
		{[]int{1, 5, 9, 12}, []int{6, 5, 3, 2}, map[string][]int64{"strides": {2, 2}, "pads": {0, 1, 2, 0}}, ""},                                     // stride 2, odd side, uneven pads
		{[]int{1, 4, 10, 11}, []int{5, 4, 4, 4}, map[string][]int64{"strides": {2, 2}, "pads": {2, 1, 1, 2}}, ""},                                    // 4×4 stride 2
	}
	for i, c := range cases {
		for _, v := range []struct{ bias, konst, act bool }{{false, false, false}, {true, false, false}, {false, true, false}, {true, true, false}, {true, true, true}, {true, false, true}} {
			t.Run(fmt.Sprintf("%d/bias=%v/konst=%v/act=%v", i, v.bias, v.konst, v.act), func(t *testing.T) {
				x, w := randSlice(r, numel(c.x)), randSlice(r, numel(c.w))
				var wk []float32
				if v.konst {
					wk = w
				}
				k, outShape := convCase(t, c.x, c.w, wk, v.bias, c.attrs, c.autoPad)
				if v.act {
					k.act = &clampAct{lo: -0.25, hi: 0.5}
				}
				var b []float32
				in := []*data{{shape: c.x, f: x}, {shape: c.w, f: w}}
				if v.bias {
					b = randSlice(r, c.w[0])
					in = append(in, &data{f: b})
				}
				want := make([]float32, numel(outShape))
				k.convRef(x, w, b, want)
				// Errors relative to the scale of the unclamped output.
				scale := maxAbs(want)
				k.act.apply(want)
				flat := k.flat
				for _, mode := range convPaths(k) {
					scratch := useConvPath(k, mode, w, flat)
					var one []float32
					for _, threads := range []int{1, 3} {
						got := &data{shape: outShape, f: make([]float32, numel(outShape))}
						fill(got.f, 1e9) // outputs are not zeroed by the caller
						k.forward(&exec{threads: threads, scratch: scratch}, in, []*data{got})
						if e := relErr(want, got.f) * maxAbs(want) / scale; e > 1e-5 || math.IsNaN(e) {
							t.Fatalf("threads %d: fast path differs from reference by %.3g (depthwise %v pointwise %v packed %v mode %d)", threads, e, k.depthwise, k.pointwise, k.packed != nil, mode)
						}
						if one == nil {
							one = got.f
							continue
						}
						// Threads split the work, not the sums: the same bits.
						for i := range one {
							if math.Float32bits(got.f[i]) != math.Float32bits(one[i]) {
								t.Fatalf("threads %d: output[%d] = %v, 1 thread gave %v (mode %d)", threads, i, got.f[i], one[i], mode)
							}
						}
					}
				}
			})
		}
	}
}

func maxAbs(s []float32) float64 {
	var m float64
	for _, v := range s {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

// Conv paths the tests and BenchmarkConvPaths run a kernel through.
const (
	pathIm2col   = iota // gemmForward
	pathImplicit        // implicitForward
	pathSwapped         // swappedForward
	pathDWPlanes        // depthwiseForward without the flat kernel
	pathLinear          // implicitForward, linear form
	pathSwTaps          // swTapsForward
)

var pathNames = []string{"im2col", "implicit", "swapped", "dwplanes", "linear", "swtaps"}

// convPaths lists every path k can take: im2col always; implicit and
// swapped when the weights are packed for a kernel that has them; the tap
// rows beside the flat depthwise kernel.
func convPaths(k *convKernel) []int {
	modes := []int{pathIm2col}
	if k.swapped != nil {
		modes = append(modes, pathSwapped) // as built: no packed W
	}
	if k.swt != nil {
		modes = append(modes, pathSwTaps) // as built: no packed W
	}
	if (k.packed != nil || k.swapped != nil || k.swt != nil) && !k.depthwise {
		kern := activeKernel()
		if kern.runTaps != nil && (k.pointwise || k.plane != nil) {
			modes = append(modes, pathImplicit)
		}
		if kern.partial && kern.mr == 8 && k.swapped == nil {
			modes = append(modes, pathSwapped)
		}
		if kern.runTaps != nil && k.linearGeom() {
			modes = append(modes, pathLinear)
		}
		if k.swt == nil && k.swTapsOK(kern) {
			modes = append(modes, pathSwTaps)
		}
	}
	if k.flat != nil {
		modes = append(modes, pathDWPlanes) // the tap rows as well as the flat kernel
	}
	return modes
}

// useConvPath sets k up to run path mode (one of convPaths(k), with the
// weights w) and returns the scratch it needs. The flat depthwise kernel
// flat (k.flat as built) is used for every mode but pathDWPlanes.
func useConvPath(k *convKernel, mode int, w []float32, flat *dwFlat) []float32 {
	dense := k.packed != nil || k.swapped != nil || k.swt != nil
	k.implicit, k.linear, k.tapOffs, k.swapped, k.swt, k.flat = false, false, nil, nil, nil, flat
	scratch := make([]float32, k.c/k.group*k.kh*k.kw*k.oh*k.ow)
	if k.flat != nil {
		scratch = make([]float32, max(len(scratch), k.flat.scratch()))
	}
	if dense {
		k.packDense(activeKernel(), w) // as built, for im2col; the implicit path repacks
	}
	switch mode {
	case pathImplicit, pathLinear:
		k.implicit, k.linear = true, mode == pathLinear
		scratch = make([]float32, k.setupImplicit(activeKernel(), w))
	case pathSwapped:
		scratch = make([]float32, k.setupSwapped(w))
	case pathSwTaps:
		scratch = make([]float32, k.setupSwTaps(w))
	case pathDWPlanes:
		k.flat = nil
	}
	return scratch
}

// TestConvResidualEqualsUnfused: a residual added in the convolution's
// epilogue (residIn, before the clamp) gives the same bits as the
// convolution without it followed by the Add and the clamp done apart, on
// every path each geometry can take, on 1 and 3 threads.
func TestConvResidualEqualsUnfused(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		x, w  []int
		attrs map[string][]int64
	}{
		{[]int{1, 3, 9, 9}, []int{4, 3, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}}, // implicit rows, linear
		{[]int{2, 4, 8, 7}, []int{6, 2, 3, 2}, map[string][]int64{"group": {2}, "strides": {2, 1}, "pads": {0, 1, 2, 0}}},
		{[]int{1, 5, 6, 6}, []int{7, 5, 1, 1}, nil},                                                           // pointwise
		{[]int{1, 300, 9, 8}, []int{26, 300, 1, 1}, nil},                                                      // pointwise, 2 depth blocks
		{[]int{1, 64, 7, 7}, []int{32, 64, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}},                   // swapped as built
		{[]int{1, 80, 7, 7}, []int{100, 80, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}},                  // swapped, 3 depth blocks
		{[]int{1, 40, 20, 20}, []int{30, 40, 3, 3}, map[string][]int64{"pads": {1, 1, 1, 1}}},                 // 2 depth blocks, partial tiles
		{[]int{1, 4, 6, 70}, []int{10, 4, 3, 3}, map[string][]int64{"pads": {1, 2, 1, 0}}},                    // wide rows
		{[]int{2, 40, 14, 76}, []int{24, 40, 1, 1}, map[string][]int64{"strides": {2, 2}}},                    // 1×1 stride 2: phase 0
		{[]int{1, 3, 23, 20}, []int{8, 3, 7, 7}, map[string][]int64{"strides": {2, 2}, "pads": {3, 3, 3, 3}}}, // stem: linear in phases
		{[]int{1, 40, 14, 14}, []int{36, 40, 3, 3}, map[string][]int64{"strides": {2, 2}, "pads": {1, 1, 1, 1}}},
		{[]int{1, 3, 14, 13}, []int{5, 3, 5, 3}, map[string][]int64{"dilations": {2, 1}, "strides": {3, 2}}}, // im2col, strided
	}
	acts := []*clampAct{nil, {lo: 0, hi: float32(math.Inf(1))}, {lo: -0.25, hi: 0.5}}
	paths := 0
	for i, c := range cases {
		for _, v := range []struct{ bias, konst bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			for ai, act := range acts {
				t.Run(fmt.Sprintf("%d/bias=%v/konst=%v/act=%d", i, v.bias, v.konst, ai), func(t *testing.T) {
					x, w := randSlice(r, numel(c.x)), randSlice(r, numel(c.w))
					var wk []float32
					if v.konst {
						wk = w
					}
					k, outShape := convCase(t, c.x, c.w, wk, v.bias, c.attrs, "")
					if !k.residualOK() {
						t.Fatal("not a residual path")
					}
					in := []*data{{shape: c.x, f: x}, {shape: c.w, f: w}}
					if v.bias {
						in = append(in, &data{f: randSlice(r, c.w[0])})
					}
					res := &data{shape: outShape, f: randSlice(r, numel(outShape))}
					flat := k.flat
					for _, mode := range convPaths(k) {
						paths++
						scratch := useConvPath(k, mode, w, flat)
						for _, threads := range []int{1, 3} {
							x := &exec{threads: threads, scratch: scratch}
							want := &data{shape: outShape, f: make([]float32, numel(outShape))}
							k.act, k.residIn = nil, 0
							k.forward(x, in, []*data{want})
							vecAddGo(want.f, want.f, res.f)
							act.apply(want.f)
							got := &data{shape: outShape, f: make([]float32, numel(outShape))}
							fill(got.f, 1e9)
							k.act, k.residIn = act, len(in)
							k.forward(x, append(in[:len(in):len(in)], res), []*data{got})
							for j := range want.f {
								if math.Float32bits(got.f[j]) != math.Float32bits(want.f[j]) {
									t.Fatalf("%s, threads %d: output[%d] = %v, unfused %v", pathNames[mode], threads, j, got.f[j], want.f[j])
								}
							}
						}
					}
				})
			}
		}
	}
	if paths == 0 {
		t.Fatal("no path ran")
	}
}

// TestSwappedTinyMapThreads: the squeeze-and-excitation 1×1 convolutions
// of PP-OCR det (a 1×1 map, 48×192 and 384×96 weights) on the swapped
// path, which now splits them over the threads (the kernel's multiply-adds,
// mr positions a panel, pass the size floor): every thread count gives the
// 1-thread bits, and the reference's values.
func TestSwappedTinyMapThreads(t *testing.T) {
	forceParallel(t) // the cost model gives every node all the threads
	for _, g := range []struct{ c, m int64 }{{192, 48}, {48, 192}, {384, 96}, {96, 384}} {
		b := onnxbuild.New(13)
		b.Input("x", onnxbuild.Float, 1, g.c, 1, 1)
		w := b.Init("w", []int64{g.m, g.c, 1, 1}, onnxbuild.Rand(4, int(g.m*g.c), 0.5))
		bias := b.Init("bias", []int64{g.m}, onnxbuild.Rand(5, int(g.m), 0.5))
		b.Node("Conv", []string{"x", w, bias}, []string{"y"})
		b.Output("y", onnxbuild.Float, 1, g.m, 1, 1)
		m := decode(t, b)
		x := randSlice(rand.New(rand.NewPCG(6, 7)), int(g.c))
		in := map[string]*tensor.Dense{"x": dense([]int{1, int(g.c), 1, 1}, x)}
		var want []float32
		for _, threads := range []int{1, 2, 3} {
			p, err := Compile(m, WithThreads(threads), withAllPaths(PathSwapped))
			if err != nil {
				t.Fatal(err)
			}
			if path := p.Report().Nodes[0].Path; path != PathSwapped {
				t.Skipf("the Conv runs on path %q here (no 8-row partial kernel for the swapped path)", path)
			}
			out, err := p.Run(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			got := out["y"].Data().([]float32)
			if threads == 1 {
				want = got
				wf, bf := onnxbuild.Rand(4, int(g.m*g.c), 0.5), onnxbuild.Rand(5, int(g.m), 0.5)
				for j := range got {
					s := float64(bf[j])
					for c := range x {
						s += float64(x[c]) * float64(wf[j*int(g.c)+c])
					}
					if math.Abs(float64(got[j])-s) > 1e-4*(1+math.Abs(s)) {
						t.Fatalf("%+v: y[%d] = %v, reference %v", g, j, got[j], s)
					}
				}
				continue
			}
			for j := range want {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("%+v, %d threads: y[%d] = %v, 1 thread %v", g, threads, j, got[j], want[j])
				}
			}
		}
	}
}
