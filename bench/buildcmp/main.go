// Command buildcmp compares models with their original for
// bench/build_host.sh, in the build's own terms:
//
//	buildcmp time [-threads 1] [-runs 15] [-rounds 4] [-shape x=1,3,48,192] ORIGINAL.onnx MODEL.onnx...
//
// times every model interleaved with the others (build.Interleaved, the
// original first) and prints one JSON line per model: the median over
// rounds of its p50 in ms and of its ratio to the original's in the same
// round. Run it through bench/priority-run.
//
//	buildcmp fidelity -data DIR [-preset imagenet] ORIGINAL.onnx MODEL.onnx...
//
// scores every model's outputs against the original's on an image folder
// with the metric build chooses from the original's outputs
// (build.ChooseFidelity): one JSON line per model with the metric, its
// damage, top-1 agreement and the mean cosine of the outputs centred over
// the data.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/shapespec"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: buildcmp time|fidelity [flags] ORIGINAL.onnx MODEL.onnx...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "time":
		err = timeCmd(os.Args[2:])
	case "fidelity":
		err = fidelityCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want time or fidelity", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildcmp:", err)
		os.Exit(1)
	}
}

func readModels(paths []string) ([]*onnxio.Model, error) {
	if len(paths) < 2 {
		return nil, fmt.Errorf("want the original and at least one model")
	}
	var ms []*onnxio.Model
	for _, p := range paths {
		m, err := onnxio.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

func timeCmd(args []string) error {
	fs := flag.NewFlagSet("time", flag.ExitOnError)
	threads := fs.Int("threads", 1, "engine threads")
	runs := fs.Int("runs", 15, "timed runs per timing (at least 0.2 s)")
	rounds := fs.Int("rounds", 4, "interleaved rounds")
	var shapes []engine.Option
	fs.Func("shape", "NAME=D0,D1,...: an input's shape (repeatable; for dynamic dims)", func(v string) error {
		o, err := shapespec.Option(v)
		shapes = append(shapes, o)
		return err
	})
	fs.Parse(args)
	ms, err := readModels(fs.Args())
	if err != nil {
		return err
	}
	var progs []*engine.Program
	for i, m := range ms {
		p, err := engine.Compile(m, append([]engine.Option{engine.WithThreads(*threads)}, shapes...)...)
		if err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(i), err)
		}
		progs = append(progs, p)
	}
	d, err := build.Interleaved(context.Background(), progs, 3, *runs, *rounds, "p50")
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	for i := range progs {
		enc.Encode(map[string]any{"model": fs.Arg(i), "p50_ms": float64(d.Times[i]) / 1e6, "ratio": d.Ratios[i]})
	}
	return nil
}

func fidelityCmd(args []string) error {
	fs := flag.NewFlagSet("fidelity", flag.ExitOnError)
	data := fs.String("data", "", "image folder")
	preset := fs.String("preset", "imagenet", "preprocessing preset")
	batch := fs.Int("batch", 16, "batch size")
	fs.Parse(args)
	ms, err := readModels(fs.Args())
	if err != nil {
		return err
	}
	pp, err := dataset.Preset(*preset)
	if err != nil {
		return err
	}
	in := ms[0].Info().Inputs[0].Name
	d, err := dataset.Open(*data, dataset.WithPreprocess(pp), dataset.WithInputName(in))
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := context.Background()
	var outs [][][]float32
	for i, m := range ms {
		var all [][]float32
		plans := map[int]*engine.Program{}
		for s := 0; s < d.Len(); s += *batch {
			n := min(*batch, d.Len()-s)
			b, err := d.Batch(ctx, dataset.Range(s, n))
			if err != nil {
				return err
			}
			p := plans[n]
			if p == nil {
				sh := b.Inputs[in].Shape()
				if p, err = engine.Compile(m, engine.WithInputShape(in, sh...)); err != nil {
					return fmt.Errorf("%s: %w", fs.Arg(i), err)
				}
				plans[n] = p
			}
			res, err := p.Run(ctx, map[string]*tensor.Dense{in: b.Inputs[in]})
			if err != nil {
				return fmt.Errorf("%s: %w", fs.Arg(i), err)
			}
			f := res[p.Outputs()[0].Name].Data().([]float32)
			per := len(f) / n
			for k := 0; k < n; k++ {
				all = append(all, f[k*per:(k+1)*per])
			}
		}
		outs = append(outs, all)
	}
	fid := build.ChooseFidelity(outs[0])
	enc := json.NewEncoder(os.Stdout)
	for i := range ms {
		agree := 0
		for k := range outs[0] {
			if argmax(outs[i][k]) == argmax(outs[0][k]) {
				agree++
			}
		}
		enc.Encode(map[string]any{"model": fs.Arg(i), "metric": fid.Metric, "damage": fid.Damage(outs[0], outs[i]),
			"agreement": float64(agree) / float64(len(outs[0])), "cosine_centred": centredCosine(outs[0], outs[i]),
			"input_independent": fid.InputIndependent})
	}
	return nil
}

// centredCosine is the mean over samples of the cosine of the two models'
// outputs, each centred by the original's mean output over the data: 1 −
// it is blind to what every sample shares.
func centredCosine(ref, got [][]float32) float64 {
	c := len(ref[0])
	mean := make([]float64, c)
	for _, r := range ref {
		for j, x := range r {
			mean[j] += float64(x) / float64(len(ref))
		}
	}
	var s float64
	for k := range ref {
		var ab, aa, bb float64
		for j := range ref[k] {
			a, b := float64(ref[k][j])-mean[j], float64(got[k][j])-mean[j]
			ab, aa, bb = ab+a*b, aa+a*a, bb+b*b
		}
		if aa > 0 && bb > 0 {
			s += ab / math.Sqrt(aa*bb)
		}
	}
	return s / float64(len(ref))
}

func argmax(v []float32) int {
	b := 0
	for i, x := range v {
		if x > v[b] {
			b = i
		}
	}
	return b
}
