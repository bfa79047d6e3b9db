package main

import (
	"context"
	"fmt"
	"os"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/pack"
	"github.com/spf13/cobra"
)

// readShaped reads MODEL as readRunnable does for bench and tune --model,
// with every input's shape known: the --shape values (parsed, checked
// against the model's inputs) become compile options.
func readShaped(ctx context.Context, path, sparseMode string, shapes []string) (*onnxio.Model, []inputShape, []engine.Option, error) {
	given, err := parseShapes(shapes)
	if err != nil {
		return nil, nil, nil, err
	}
	m, opts, err := readRunnable(ctx, path, sparseMode)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkShapeInputs(given, m); err != nil {
		return nil, nil, nil, err
	}
	if err := requireShapes(m, given, nil); err != nil {
		return nil, nil, nil, err
	}
	return m, given, append(opts, shapeOptions(given)...), nil
}

// readRunnable reads MODEL for run, eval and bench: an ONNX file, or an
// .epk pack compiled as it is (no unpack step): the weights the pack
// stores sparse stay sparse matrices, and the returned options hand them
// to engine.Compile, with --sparse's (checked first, a usage error).
func readRunnable(ctx context.Context, path, sparseMode string) (*onnxio.Model, []engine.Option, error) {
	sparseOpt, err := sparseOption(sparseMode)
	if err != nil {
		return nil, nil, err
	}
	if !isPackFile(path) {
		m, err := readModel(ctx, path)
		return m, []engine.Option{sparseOpt}, err
	}
	type res struct {
		m   *onnxio.Model
		opt engine.Option
	}
	r, err := interruptible(ctx, func() (res, error) {
		f, err := os.Open(path)
		if err != nil {
			return res{}, err
		}
		defer f.Close()
		rd, err := pack.NewReader(f)
		if err != nil {
			return res{}, fmt.Errorf("%s: %w", path, err)
		}
		sm, err := rd.ReadSparse(nil)
		if err != nil {
			return res{}, fmt.Errorf("%s: %w", path, err)
		}
		return res{sm.Model, engine.WithSparseWeights(sm.Sparse)}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return r.m, []engine.Option{r.opt, sparseOpt}, nil
}

// addSparseFlag adds --sparse, the engine's choice of sparse kernels.
func addSparseFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "sparse", "auto", "sparse kernels for pruned weights: auto (where the cost model predicts a gain), off, always")
}

// sparseOption is the engine option of --sparse.
func sparseOption(s string) (engine.Option, error) {
	m, err := engine.ParseSparseMode(s)
	if err != nil {
		return nil, usagef("--sparse %s: want auto, off or always", s)
	}
	return engine.WithSparse(m), nil
}
