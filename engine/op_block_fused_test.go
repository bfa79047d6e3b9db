package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// blockCase is an inverted-residual block: 1×1 expansion c→ce (when
// expand), Clip, depthwise k×k with stride s, Clip, 1×1 projection ce→co
// (when project), residual Add (when resid).
type blockCase struct {
	c, ce, co, h, w, k, s  int
	expand, project, resid bool
	bias                   bool
	batch                  int // 1 when 0
}

func (bc blockCase) n() int { return max(bc.batch, 1) }

func (bc blockCase) String() string {
	return fmt.Sprintf("n%d-c%d-e%d-o%d-%dx%d-k%d-s%d-ex%v-pj%v-res%v-bias%v", bc.n(), bc.c, bc.ce, bc.co, bc.h, bc.w, bc.k, bc.s, bc.expand, bc.project, bc.resid, bc.bias)
}

// build returns the block's model and its output shape.
func (bc blockCase) build(t *testing.T, seed uint64) (*onnxbuild.Builder, []int) {
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, int64(bc.n()), int64(bc.c), int64(bc.h), int64(bc.w))
	lo := b.Const("lo", nil, []float32{0})
	hi := b.Const("hi", nil, []float32{6})
	ce := bc.ce
	if !bc.expand {
		ce = bc.c
	}
	seq := uint64(0)
	rnd := func(n int, scale float32) []float32 {
		seq++
		return onnxbuild.Rand(int64(seed*100+seq), n, scale)
	}
	conv := func(in, out string, m, cin, k, s, group int) {
		w := b.Init(out+"_w", []int64{int64(m), int64(cin / group), int64(k), int64(k)}, rnd(m*cin/group*k*k, 0.5))
		ins := []string{in, w}
		if bc.bias {
			ins = append(ins, b.Init(out+"_b", []int64{int64(m)}, rnd(m, 0.5)))
		}
		p := int64(k / 2)
		b.Node("Conv", ins, []string{out}, onnxbuild.AttrInts("pads", p, p, p, p), onnxbuild.AttrInts("strides", int64(s), int64(s)), onnxbuild.AttrInt("group", int64(group)))
	}
	cur := "x"
	if bc.expand {
		conv(cur, "e", ce, bc.c, 1, 1, 1)
		b.Node("Clip", []string{"e", lo, hi}, []string{"ec"})
		cur = "ec"
	}
	conv(cur, "d", ce, ce, bc.k, bc.s, ce)
	b.Node("Clip", []string{"d", lo, hi}, []string{"dc"})
	cur = "dc"
	oh, ow := (bc.h+2*(bc.k/2)-bc.k)/bc.s+1, (bc.w+2*(bc.k/2)-bc.k)/bc.s+1
	co := ce
	if bc.project {
		co = bc.co
		conv(cur, "p", co, ce, 1, 1, 1)
		cur = "p"
		if bc.resid {
			b.Node("Add", []string{"p", "x"}, []string{"y"})
			cur = "y"
		}
	}
	b.Node("Identity", []string{cur}, []string{"out"})
	b.Output("out", onnxbuild.Float, int64(bc.n()), int64(co), int64(oh), int64(ow))
	return b, []int{bc.n(), co, oh, ow}
}

// withBlockFusion runs f with the fusion on or off and small strips (so
// that the small test maps are cut into many strips).
func withBlockFusion(on bool, stripBytes int, f func()) {
	saved, savedGo, savedMin, savedStrip, savedN, savedT, savedNoExp := blockFusion, blockFusionGo, blockMinBytes, blockStripBytes, blockMinStrips, blockMaxThreads, blockNoExpMinThreads
	defer func() {
		blockFusion, blockFusionGo, blockMinBytes, blockStripBytes, blockMinStrips, blockMaxThreads, blockNoExpMinThreads = saved, savedGo, savedMin, savedStrip, savedN, savedT, savedNoExp
	}()
	blockFusion, blockFusionGo, blockMinBytes, blockStripBytes, blockMinStrips, blockMaxThreads, blockNoExpMinThreads = on, on, 0, stripBytes, 1, 64, 1
	f()
}

// TestBlockFusedEqualsUnfused: a block compiled as one fused step gives,
// bit for bit, the output of the same graph compiled node by node, for
// strides 1 and 2, with and without expansion, projection, residual and
// biases, odd and even sizes, strips of one row to the whole map, at 1 and 3
// threads; and the fused plan holds one step where the unfused holds three.
func TestBlockFusedEqualsUnfused(t *testing.T) {
	cases := []blockCase{
		{c: 4, ce: 24, co: 4, h: 12, w: 12, k: 3, s: 1, expand: true, project: true, resid: true, bias: true},
		{c: 5, ce: 17, co: 7, h: 13, w: 11, k: 3, s: 1, expand: true, project: true, bias: true},
		{c: 3, ce: 16, co: 6, h: 14, w: 10, k: 3, s: 2, expand: true, project: true, bias: true},
		{c: 3, ce: 16, co: 6, h: 15, w: 10, k: 3, s: 2, expand: true, project: true},
		{c: 8, ce: 8, co: 5, h: 9, w: 9, k: 3, s: 1, project: true, bias: true},
		{c: 6, ce: 6, co: 9, h: 10, w: 8, k: 5, s: 2, project: true, bias: true},
		{c: 4, ce: 20, h: 9, w: 7, k: 3, s: 1, expand: true, bias: true},
		{c: 4, ce: 20, h: 8, w: 8, k: 3, s: 2, expand: true},
		{c: 3, ce: 300, co: 3, h: 6, w: 6, k: 3, s: 1, expand: true, project: true, resid: true, bias: true},
		{c: 4, ce: 12, co: 4, h: 10, w: 9, k: 3, s: 1, expand: true, project: true, resid: true, bias: true, batch: 2},
		{c: 3, ce: 10, co: 5, h: 12, w: 8, k: 3, s: 2, expand: true, project: true, bias: true, batch: 3},
	}
	for i, bc := range cases {
		t.Run(bc.String(), func(t *testing.T) {
			b, oshape := bc.build(t, uint64(i+1))
			m := decode(t, b)
			x := randSlice(rand.New(rand.NewPCG(uint64(i), 9)), bc.n()*bc.c*bc.h*bc.w)
			for j := range x {
				x[j] *= 3 // some values past the Clip's 6 and below 0
			}
			in := map[string]*tensor.Dense{"x": dense([]int{bc.n(), bc.c, bc.h, bc.w}, x)}
			run := func(on bool, stripBytes, threads int) ([]float32, []NodeCost) {
				var y []float32
				var nodes []NodeCost
				withBlockFusion(on, stripBytes, func() {
					p, err := Compile(m, WithThreads(threads))
					if err != nil {
						t.Fatal(err)
					}
					out, err := p.Run(context.Background(), in)
					if err != nil {
						t.Fatal(err)
					}
					y, nodes = out["out"].Data().([]float32), p.Report().Nodes
				})
				if len(y) != numel(oshape) {
					t.Fatalf("output has %d floats, want %v", len(y), oshape)
				}
				return y, nodes
			}
			want, plain := run(false, 0, 1)
			for _, n := range plain {
				if strings.Count(n.Op, "Conv") > 1 {
					t.Fatalf("unfused plan has a step %s", n.Op)
				}
			}
			clipped := 0
			for _, v := range want {
				if v == 0 || v == 6 {
					clipped++
				}
			}
			if clipped == 0 && !bc.project {
				t.Error("no output was clipped: the test does not exercise the clamp")
			}
			var first []float32
			for _, sb := range []int{1, 4 << 10, 1 << 30} {
				for _, threads := range []int{1, 3} {
					got, nodes := run(true, sb, threads)
					convs := 0
					for _, n := range nodes {
						convs = max(convs, strings.Count(n.Op, "Conv"))
					}
					if wantConvs := 1 + btoi(bc.expand) + btoi(bc.project); convs != wantConvs {
						t.Fatalf("strips %d B, %d threads: fused plan's steps %v, want one with %d Convs", sb, threads, nodes, wantConvs)
					}
					if first != nil {
						// Whatever the strips and threads: the same bits.
						for j := range first {
							if got[j] != first[j] {
								t.Fatalf("strips %d B, %d threads: y[%d] = %v, %v with one-row strips on 1 thread", sb, threads, j, got[j], first[j])
							}
						}
						continue
					}
					first = got
					for j := range want {
						if blockBitwise() && got[j] != want[j] ||
							math.Abs(float64(got[j]-want[j])) > 1e-5+1e-5*math.Abs(float64(want[j])) {
							t.Fatalf("strips %d B, %d threads: y[%d] = %v fused, %v unfused", sb, threads, j, got[j], want[j])
						}
					}
				}
			}
		})
	}
}

// blockBitwise reports whether a fused block runs the unfused graph's
// kernels (bit for bit the same sums): with the native flat depthwise
// kernel. Without it (arm64, purego) the unfused depthwise takes the tap
// rows and the fused one dwFlatGo, the same taps in another rounding (Go
// fuses a·b+c into one FMA on arm64): equal within 1e-5 abs + 1e-5 rel.
func blockBitwise() bool { return dwFlatRun != nil }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestBlockFusedMobileNetV2: mobilenet_v2 with its blocks fused gives the
// bits of the model compiled node by node, on 1 and 2 threads: with the
// default sizes (its blocks at 112² and 56²) and with every size (its 17
// blocks, 7² to 112²; bit for bit on 1 and 2 threads, and equal to the
// unfused model within rounding).
func TestBlockFusedMobileNetV2(t *testing.T) {
	path := testmodels.Shared(t, "tv/mobilenet_v2.onnx")
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	shape := []int{1, 3, 224, 224}
	in0 := m.Info().Inputs[0]
	x := randSlice(rand.New(rand.NewPCG(11, 12)), numel(shape))
	out0 := m.Graph().GetOutput()[0].GetName()
	var want, all1 []float32
	for _, mode := range []string{"off", "default", "all"} {
		for _, threads := range []int{1, 2} {
			var p *Program
			var err error
			compile := func() { p, err = Compile(m, WithInputShape(in0.Name, shape...), WithThreads(threads)) }
			// default: the blocks whose e is at least blockMinBytes — at
			// 56² and 112², 3 with expansion, and the first block (no
			// expansion) from blockNoExpMinThreads threads up.
			nblocks := map[string]int{"off": 0, "default": 3, "all": 17}[mode]
			if mode == "default" && threads >= blockNoExpMinThreads {
				nblocks++
			}
			if mode == "default" && threads > blockMaxThreads {
				nblocks = 0
			}
			switch mode {
			case "off":
				saved := blockFusion
				blockFusion = false
				compile()
				blockFusion = saved
			case "default":
				savedGo := blockFusionGo
				blockFusionGo = true
				compile()
				blockFusionGo = savedGo
			case "all":
				withBlockFusion(true, blockStripBytes, compile)
			}
			if err != nil {
				t.Fatal(err)
			}
			var blocks []string
			for _, n := range p.Report().Nodes {
				if strings.Count(n.Op, "Conv") > 1 {
					blocks = append(blocks, fmt.Sprintf("%s %v", n.Op, n.Outputs[0]))
				}
			}
			if len(blocks) != nblocks {
				t.Fatalf("fusion %s: fused blocks %v, want %d", mode, blocks, nblocks)
			}
			// mobilenet_v2 has 10 blocks with a residual Add; fused, each
			// takes its Add into the projection's epilogue (no Add node left).
			if mode == "all" {
				var resid int
				for _, b := range blocks {
					if strings.Contains(b, "+Add") {
						resid++
					}
				}
				if resid != 10 {
					t.Fatalf("fusion all: %d fused blocks took their residual Add, want 10: %v", resid, blocks)
				}
			}
			out, err := p.Run(context.Background(), map[string]*tensor.Dense{in0.Name: dense(shape, x)})
			if err != nil {
				t.Fatal(err)
			}
			y := out[out0].Data().([]float32)
			switch {
			case want == nil:
				want = y
			case mode != "all":
				for j := range want {
					if y[j] != want[j] && (blockBitwise() || mode == "off" ||
						math.Abs(float64(y[j]-want[j])) > 1e-5+1e-4*math.Abs(float64(want[j]))) {
						t.Fatalf("fusion %s, %d threads: output[%d] = %v, want %v (unfused, 1 thread)", mode, threads, j, y[j], want[j])
					}
				}
			case threads == 1:
				// Unfused, the 7² projections take the swapped product
				// (Wᵀ·x, another order of the sums): equal within rounding.
				for j := range want {
					if d := math.Abs(float64(y[j] - want[j])); d > 1e-5+1e-4*math.Abs(float64(want[j])) {
						t.Fatalf("fusion %s: output[%d] = %v, want %v (unfused)", mode, j, y[j], want[j])
					}
				}
				all1 = y
			default:
				for j := range all1 {
					if y[j] != all1[j] {
						t.Fatalf("fusion %s: output[%d] = %v on %d threads, %v on 1", mode, j, y[j], threads, all1[j])
					}
				}
			}
		}
	}
}

// BenchmarkBlockFused times mobilenet_v2's large blocks as one fused step
// (two strip sizes) against the same graph unfused, on 1 and 2 threads
// (random weights).
func BenchmarkBlockFused(b *testing.B) {
	cases := []struct {
		name string
		bc   blockCase
	}{
		{"f1-32x112-s1", blockCase{c: 32, co: 16, h: 112, w: 112, k: 3, s: 1, project: true, bias: true}},
		{"f2-16x96x24-112-s2", blockCase{c: 16, ce: 96, co: 24, h: 112, w: 112, k: 3, s: 2, expand: true, project: true, bias: true}},
		{"f3-24x144x24-56-s1", blockCase{c: 24, ce: 144, co: 24, h: 56, w: 56, k: 3, s: 1, expand: true, project: true, resid: true, bias: true}},
		{"f7-32x192x64-28-s2", blockCase{c: 32, ce: 192, co: 64, h: 28, w: 28, k: 3, s: 2, expand: true, project: true, bias: true}},
	}
	for _, c := range cases {
		bld, _ := c.bc.build(nil, 1)
		m, err := onnxio.Decode(bld.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		x := randSlice(rand.New(rand.NewPCG(1, 2)), c.bc.c*c.bc.h*c.bc.w)
		in := map[string]*tensor.Dense{"x": dense([]int{1, c.bc.c, c.bc.h, c.bc.w}, x)}
		for _, cfg := range [][2]int{{0, 1}, {768 << 10, 1}, {1536 << 10, 1}, {0, 2}, {768 << 10, 2}, {1536 << 10, 2}} {
			sb, threads := cfg[0], cfg[1]
			name := fmt.Sprintf("%s/strip%dK/threads%d", c.name, sb>>10, threads)
			if sb == 0 {
				name = fmt.Sprintf("%s/unfused/threads%d", c.name, threads)
			}
			b.Run(name, func(b *testing.B) {
				var p *Program
				withBlockFusion(sb > 0, sb, func() { blockMinStrips = 8; p, err = Compile(m, WithThreads(threads)) })
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				b.SetBytes(int64(4 * len(x)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Run(ctx, in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
