// Command ortcheck runs a model in edgeprune's engine and in ONNX Runtime on
// a labelled .npz and prints both top-1 accuracies, their agreement and where
// the model stores its weights, as JSON (internal/ortcheck). It exits 1 when
// the engine and ORT disagree on any sample's class.
//
//	go run ./bench/ortcheck MODEL.onnx TEST.npz
//	go run ./bench/ortcheck --layout MODEL.onnx
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/edgeprune/edgeprune/internal/ortcheck"
	"github.com/edgeprune/edgeprune/onnxio"
)

func main() {
	batch := flag.Int("batch", 100, "samples per batch")
	labels := flag.String("labels", "labels", "labels array in the .npz")
	layout := flag.Bool("layout", false, "only print where MODEL stores its weights (no data, no ORT)")
	flag.Parse()
	if *layout && flag.NArg() == 1 {
		m, err := onnxio.ReadFile(flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, "ortcheck:", err)
			os.Exit(1)
		}
		i, c := ortcheck.Layout(m)
		fmt.Printf("{\"initializers\": %d, \"constant_nodes\": %d}\n", i, c)
		return
	}
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: ortcheck [--batch N] [--labels NAME] MODEL.onnx TEST.npz")
		os.Exit(2)
	}
	r, err := ortcheck.Check(context.Background(), flag.Arg(0), flag.Arg(1), *labels, *batch)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ortcheck:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	fmt.Println(string(b))
	if r.Agree < 1 {
		fmt.Fprintf(os.Stderr, "ortcheck: the engine and ORT disagree on %.1f%% of the samples\n", 100*(1-r.Agree))
		os.Exit(1)
	}
}
