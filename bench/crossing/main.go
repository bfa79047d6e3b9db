// Command crossing prints, for a model compiled for 2 (or -threads)
// threads, the bytes each node's threads read that another thread wrote
// (engine.Program.Crossing: the split when every thread is on time), per
// node and for the run. Which nodes run on one thread follows the
// tunables (-tunables).
//
//	go run ./bench/crossing -model ../shared/models/tv/mobilenet_v2.onnx
//	go run ./bench/crossing -model $EDGEPRUNE_CACHE/models/ppocrv4_det.onnx -shape 1,3,320,320
//	EDGEPRUNE_PLANE_SPLITS=1 go run ./bench/crossing ...   # with the plane splits (off by default)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
)

func main() {
	model := flag.String("model", "../shared/models/tv/mobilenet_v2.onnx", "ONNX model")
	shape := flag.String("shape", "", "the first input's shape, as 1,3,320,320 (default: the model's)")
	threads := flag.Int("threads", 2, "threads")
	nodes := flag.Bool("nodes", true, "print every node")
	tun := flag.String("tunables", "startup", "the per-node thread choice: startup (measured as bench does; varies from one process to the next), default (engine.DefaultTunables) or all (every node on every thread)")
	flag.Parse()
	switch *tun {
	case "startup":
	case "default", "all":
		t := engine.DefaultTunables()
		if *tun == "all" {
			t.ForkJoinNs = 1
		}
		if err := engine.SetTunables(t); err != nil {
			fmt.Fprintln(os.Stderr, "crossing:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "crossing: -tunables %q: want startup, default or all\n", *tun)
		os.Exit(2)
	}
	if err := run(*model, *shape, *threads, *nodes); err != nil {
		fmt.Fprintln(os.Stderr, "crossing:", err)
		os.Exit(1)
	}
}

func run(model, shape string, threads int, nodes bool) error {
	m, err := onnxio.ReadFile(model)
	if err != nil {
		return err
	}
	opts := []engine.Option{engine.WithThreads(threads)}
	if shape != "" {
		var dims []int
		for _, f := range strings.Split(shape, ",") {
			d, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("-shape %q: %w", shape, err)
			}
			dims = append(dims, d)
		}
		opts = append(opts, engine.WithInputShape(m.Info().Inputs[0].Name, dims...))
	}
	p, err := engine.Compile(m, opts...)
	if err != nil {
		return err
	}
	r, err := p.Crossing(context.Background(), engine.RandomInputs(p))
	if err != nil {
		return err
	}
	s := r.String()
	if !nodes {
		s = s[strings.LastIndex(strings.TrimSuffix(s, "\n"), "\n")+1:]
	}
	fmt.Print(s)
	return nil
}
