// Command ceiling measures what a second core can give on this machine,
// per class of work, before any engine scheduling is blamed: for each
// workload (one-node models in the engine) it times
//
//   - alone: one 1-thread program, the other core idle;
//   - pair:  two 1-thread programs, each on its own goroutine (locked to an
//     OS thread) running at the same time on separate data: whether the
//     two vCPUs give twice the compute and twice the bandwidth, or are SMT
//     siblings, throttled, or share a memory path that one already fills;
//   - split: one 2-thread program (the engine's own parallel split).
//
// pair's throughput (2·alone/pair) is the ceiling of a perfect split of
// that class of work on this machine; split/alone is what the engine gets.
// Medians of -runs runs per mode, modes alternated over -rounds rounds.
// Issue 15, docs/benchmarks.md "Threads".
//
//	go build -o /tmp/ceiling ./bench/ceiling && bench/priority-run /tmp/ceiling
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

type workload struct {
	name  string
	build func(b *onnxbuild.Builder)
}

func weights(r *rand.Rand, n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = r.Float32() - 0.5
	}
	return w
}

func matmul(n int64) func(b *onnxbuild.Builder) {
	return func(b *onnxbuild.Builder) {
		x := b.Input("x", onnxbuild.Float, n, n)
		w := b.Init("w", []int64{n, n}, weights(rand.New(rand.NewPCG(3, 4)), int(n*n)))
		b.Node("MatMul", []string{x, w}, []string{"y"})
		b.Output("y", onnxbuild.Float, n, n)
	}
}

// add is y = x + z over n floats (three tensors of 4n bytes).
func add(n int64) func(b *onnxbuild.Builder) {
	return func(b *onnxbuild.Builder) {
		x := b.Input("x", onnxbuild.Float, 1, n)
		z := b.Input("z", onnxbuild.Float, 1, n)
		b.Node("Add", []string{x, z}, []string{"y"})
		b.Output("y", onnxbuild.Float, 1, n)
	}
}

// conv is a c→o convolution of a k×k kernel over an h×h map, groups g.
func conv(c, o, h, k, g int64) func(b *onnxbuild.Builder) {
	return func(b *onnxbuild.Builder) {
		x := b.Input("x", onnxbuild.Float, 1, c, h, h)
		w := b.Init("w", []int64{o, c / g, k, k}, weights(rand.New(rand.NewPCG(5, 6)), int(o*c/g*k*k)))
		bias := b.Init("b", []int64{o}, weights(rand.New(rand.NewPCG(7, 8)), int(o)))
		p := k / 2
		b.Node("Conv", []string{x, w, bias}, []string{"y"},
			onnxbuild.AttrInts("kernel_shape", k, k), onnxbuild.AttrInts("pads", p, p, p, p), onnxbuild.AttrInt("group", g))
		b.Output("y", onnxbuild.Float, 1, o, h, h)
	}
}

// block is mobilenet_v2's inverted residual at h×h: a 1×1 expansion c→6c,
// a 3×3 depthwise, a 1×1 projection 6c→c: three nodes in a row, each
// reading what the one before wrote (on the other core, when they split
// the work differently).
func block(c, h int64) func(b *onnxbuild.Builder) {
	return func(b *onnxbuild.Builder) {
		r := rand.New(rand.NewPCG(9, 10))
		e := 6 * c
		x := b.Input("x", onnxbuild.Float, 1, c, h, h)
		w1 := b.Init("w1", []int64{e, c, 1, 1}, weights(r, int(e*c)))
		w2 := b.Init("w2", []int64{e, 1, 3, 3}, weights(r, int(e*9)))
		w3 := b.Init("w3", []int64{c, e, 1, 1}, weights(r, int(c*e)))
		b.Node("Conv", []string{x, w1}, []string{"e"}, onnxbuild.AttrInts("kernel_shape", 1, 1))
		b.Node("Conv", []string{"e", w2}, []string{"d"}, onnxbuild.AttrInts("kernel_shape", 3, 3),
			onnxbuild.AttrInts("pads", 1, 1, 1, 1), onnxbuild.AttrInt("group", e))
		b.Node("Conv", []string{"d", w3}, []string{"p"}, onnxbuild.AttrInts("kernel_shape", 1, 1))
		b.Node("Add", []string{x, "p"}, []string{"y"})
		b.Output("y", onnxbuild.Float, 1, c, h, h)
	}
}

var workloads = []workload{
	{"sgemm 512³ (compute)", matmul(512)},
	{"add 2¹⁶ floats (0.75 MiB, L2)", add(1 << 16)},
	{"add 2¹⁸ floats (3 MiB, L2/L3)", add(1 << 18)},
	{"add 2²⁰ floats (12 MiB, L3)", add(1 << 20)},
	{"add 2²³ floats (96 MiB, DRAM)", add(1 << 23)},
	{"depthwise 3×3, 144ch 56² (mbv2)", conv(144, 144, 56, 3, 144)},
	{"depthwise 3×3, 384ch 14² (mbv2)", conv(384, 384, 14, 3, 384)},
	{"1×1 conv 24→144 at 56² (mbv2)", conv(24, 144, 56, 1, 1)},
	{"1×1 conv 144→24 at 56² (mbv2)", conv(144, 24, 56, 1, 1)},
	{"1×1 conv 384→64 at 14² (mbv2)", conv(384, 64, 14, 1, 1)},
	{"3×3 conv 24→24 at 40² (det head)", conv(24, 24, 40, 3, 1)},
	{"mbv2 block 24→144→24 at 56²", block(24, 56)},
	{"mbv2 block 64→384→64 at 14²", block(64, 14)},
}

func compile(w workload, threads int) (*engine.Program, map[string]*tensor.Dense) {
	b := onnxbuild.New(13)
	w.build(b)
	m, err := onnxio.FromProto(b.Model())
	check(err)
	p, err := engine.Compile(m, engine.WithThreads(threads))
	check(err)
	return p, engine.RandomInputs(p)
}

// timeRuns times runs runs of p's nodes (engine.Program.NodeTimes: inputs
// bound once, no copy-in or output allocation) and returns the median
// run, in µs.
func timeRuns(p *engine.Program, in map[string]*tensor.Dense, runs int) float64 {
	_, total, err := p.NodeTimes(context.Background(), in, 3, runs, 0.5)
	check(err)
	return float64(total.Nanoseconds()) / 1e3
}

func main() {
	runs := flag.Int("runs", 50, "timed runs per mode and round")
	rounds := flag.Int("rounds", 3, "rounds (modes alternated in each)")
	dump := flag.String("dump", "", "write each workload's model to DIR/N.onnx and exit")
	nodes := flag.Bool("nodes", false, "also print each node's median time alone and split, for workloads of several nodes")
	flag.Parse()
	if runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "ceiling: needs 2 CPUs")
		os.Exit(1)
	}
	runtime.GOMAXPROCS(2)
	if *dump != "" {
		for i, w := range workloads {
			b := onnxbuild.New(13)
			w.build(b)
			check(os.WriteFile(fmt.Sprintf("%s/%d.onnx", *dump, i), b.Bytes(), 0o644))
		}
		return
	}
	fmt.Printf("%-34s %9s %9s %9s %8s %8s %4s\n", "workload", "alone µs", "pair µs", "split µs", "pair×", "split×", "thr")
	for _, w := range workloads {
		p1, in1 := compile(w, 1)
		p1b, in1b := compile(w, 1)
		p2, in2 := compile(w, 2)
		var alone, pair, split []float64
		for range *rounds {
			alone = append(alone, timeRuns(p1, in1, *runs))
			var wg sync.WaitGroup
			var ds [2]float64
			start := make(chan struct{})
			for i, pp := range []struct {
				p  *engine.Program
				in map[string]*tensor.Dense
			}{{p1, in1}, {p1b, in1b}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					<-start
					ds[i] = timeRuns(pp.p, pp.in, *runs)
				}()
			}
			close(start)
			wg.Wait()
			pair = append(pair, (ds[0]+ds[1])/2)
			split = append(split, timeRuns(p2, in2, *runs))
		}
		if rep := p2.Report(); *nodes && len(rep.Nodes) > 1 {
			n1, _, err := p1.NodeTimes(context.Background(), in1, 3, *runs, 0.5)
			check(err)
			n2, _, err := p2.NodeTimes(context.Background(), in2, 3, *runs, 0.5)
			check(err)
			for i, nc := range rep.Nodes {
				fmt.Printf("    %-10s %-12s %v: %8.1f → %8.1f µs\n", nc.Name, nc.Op, nc.Outputs, float64(n1[i].Nanoseconds())/1e3, float64(n2[i].Nanoseconds())/1e3)
			}
		}
		a, pr, s := med(alone), med(pair), med(split)
		fmt.Printf("%-34s %9.1f %9.1f %9.1f %7.2f× %7.2f× %4d\n", w.name, a, pr, s, 2*a/pr, a/s, p2.Report().Nodes[0].Threads)
	}
}

func med(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}
