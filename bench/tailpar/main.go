// Command tailpar times a model (default resnet18) at batch B the two ways
// the build's sensitivity pass can run its tails on 2 cores: N runs of one
// program on 2 threads, against two 1-thread programs taking N/2 runs each
// side by side (build/tail.go, sideBySide); and checks that the 1-thread
// and 2-thread outputs are equal bit for bit. Compile it first, time it
// through the lock:
//
//	go build -o /tmp/tailpar ./bench/tailpar && bench/priority-run /tmp/tailpar -b 16 -n 4
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

func main() {
	path := flag.String("m", "/work/shared/models/tv/resnet18.onnx", "model")
	b := flag.Int("b", 16, "batch")
	n := flag.Int("n", 4, "runs")
	flag.Parse()
	m, err := onnxio.ReadFile(*path)
	if err != nil {
		panic(err)
	}
	r := rand.New(rand.NewSource(1))
	x := make([]float32, *b*3*224*224)
	for i := range x {
		x[i] = r.Float32()
	}
	in := tensor.New(tensor.WithShape(*b, 3, 224, 224), tensor.WithBacking(x))
	name := m.Graph().GetInput()[0].GetName()
	comp := func(th int) *engine.Program {
		p, err := engine.Compile(m, engine.WithInputShape(name, *b, 3, 224, 224), engine.WithThreads(th))
		if err != nil {
			panic(err)
		}
		return p
	}
	p2, p1a, p1b := comp(2), comp(1), comp(1)
	run := func(p *engine.Program) []float32 {
		res, err := p.Run(context.Background(), map[string]*tensor.Dense{name: in})
		if err != nil {
			panic(err)
		}
		return slices.Clone(res[p.Outputs()[0].Name].Data().([]float32))
	}
	y2, y1 := run(p2), run(p1a)
	run(p1b)
	fmt.Println("1 vs 2 threads bit-equal:", slices.Equal(y1, y2))
	for k := 0; k < 2; k++ {
		t0 := time.Now()
		for i := 0; i < *n; i++ {
			run(p2)
		}
		d2 := time.Since(t0)
		t0 = time.Now()
		var wg sync.WaitGroup
		for _, p := range []*engine.Program{p1a, p1b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < *n/2; i++ {
					run(p)
				}
			}()
		}
		wg.Wait()
		d11 := time.Since(t0)
		fmt.Fprintf(os.Stdout, "%d runs of batch %d: 2 threads %.2f s, 2×1 thread side by side %.2f s (%.2f×)\n", *n, *b, d2.Seconds(), d11.Seconds(), d11.Seconds()/d2.Seconds())
	}
}
