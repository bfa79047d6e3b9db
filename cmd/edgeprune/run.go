package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/spf13/cobra"
	"gorgonia.org/tensor"
)

func newRunCmd(c *cli) *cobra.Command {
	var inputs, shapes []string
	var outDir string
	var sparseMode string
	var threads int
	var random bool
	cmd := &cobra.Command{
		Use:   "run MODEL --input NAME=FILE.npy ...",
		Short: "Run a model in the pure-Go engine on .npy inputs",
		Long: `run compiles MODEL for the shapes of the given inputs, runs it once in
edgeprune's pure-Go engine and writes every output as OUT/NAME.npy
(-o OUT, default the current directory; characters of NAME outside
[A-Za-z0-9_.-] become '_'). Every model input
must be given, as NAME=FILE.npy (float32/float64, int64/int32, bool) —
or, with --random, inputs not given are filled with the same deterministic
values in [0, 1) that bench uses (integers 0), at the model's shapes or
those given with --shape: a quick way to compare two models' outputs.`,
		Example: `  edgeprune run resnet18.onnx --input input=img.npy -o out/
  edgeprune run pruned.onnx --random --shape x=1,3,96,96 -o pruned-out/`,
		Args: exactArgs(1, "one MODEL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(inputs) == 0 && !random {
				return usagef("run needs --input NAME=FILE.npy for each model input, or --random")
			}
			if len(shapes) > 0 && !random {
				return usagef("--shape goes with --random (the shapes of --input files are their own)")
			}
			if err := checkThreads(threads); err != nil {
				return err
			}
			given, err := parseShapes(shapes)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			m, opts, err := readRunnable(ctx, args[0], sparseMode)
			if err != nil {
				return err
			}
			if err := checkShapeInputs(given, m); err != nil {
				return err
			}
			feed := map[string]*tensor.Dense{}
			for _, spec := range inputs {
				name, file, ok := strings.Cut(spec, "=")
				if !ok || name == "" || file == "" {
					return usagef("--input %q: want NAME=FILE.npy", spec)
				}
				if _, dup := feed[name]; dup {
					return usagef("--input %q given twice", name)
				}
				a, err := dataset.ReadNPY(file)
				if err != nil {
					return err
				}
				feed[name] = a
				opts = append(opts, engine.WithInputShape(name, a.Shape()...))
			}
			if random {
				if err := requireShapes(m, given, func(name string) bool { _, file := feed[name]; return file }); err != nil {
					return err
				}
			}
			for _, s := range given {
				if _, file := feed[s.Name]; file {
					return usagef("--shape %s: input %q is given as a file (--input)", s.Spec, s.Name)
				}
				opts = append(opts, engine.WithInputShape(s.Name, s.Dims...))
			}
			if threads > 0 {
				opts = append(opts, engine.WithThreads(threads))
			}
			p, err := interruptible(ctx, func() (*engine.Program, error) { return engine.Compile(m, opts...) })
			if err != nil {
				return err
			}
			if random {
				for name, t := range engine.RandomInputs(p) {
					if _, given := feed[name]; !given {
						feed[name] = t
					}
				}
			}
			outs, err := p.Run(ctx, feed)
			if err != nil {
				return err
			}
			if outDir == "" {
				outDir = "."
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return err
			}
			for _, o := range p.Outputs() {
				path := filepath.Join(outDir, safeFileName(o.Name)+".npy")
				if err := dataset.WriteNPY(path, outs[o.Name]); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "%s\t%v %v\t%s\n", o.Name, o.DType, o.Shape, path)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "model input as NAME=FILE.npy (repeat for each input)")
	addOutputFlag(cmd, &outDir, "directory for the output .npy files (default the current directory)")
	aliasFlag(cmd, "out", "output")
	cmd.Flags().BoolVar(&random, "random", false, "fill inputs not given with deterministic values in [0, 1)")
	addShapeFlag(cmd, &shapes, "--random: input shape")
	addThreadsFlag(cmd, &threads)
	addSparseFlag(cmd, &sparseMode)
	return cmd
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// safeFileName replaces characters outside [A-Za-z0-9_.-] with '_'.
func safeFileName(name string) string {
	s := unsafeChars.ReplaceAllString(name, "_")
	if s == "" || s == "." || s == ".." {
		s = strings.Repeat("_", max(len(s), 1))
	}
	return s
}
