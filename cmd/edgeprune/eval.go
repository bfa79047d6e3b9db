package main

import (
	"fmt"
	"os"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/npdata"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"gorgonia.org/tensor"
)

// evalJSON is the schema of `eval --json`. Accuracy keys are present only
// with labels, fidelity keys only with --reference.
type evalJSON struct {
	Samples       int      `json:"samples"`
	Top1          *float64 `json:"top1,omitempty"`
	Top5          *float64 `json:"top5,omitempty"`
	AgreementTop1 *float64 `json:"agreement_top1,omitempty"`
	CosineMean    *float64 `json:"cosine_mean,omitempty"`
	MaxAbsDiff    *float64 `json:"max_abs_diff,omitempty"`
}

func newEvalCmd(c *cli) *cobra.Command {
	var dataPath, reference, sparseMode string
	var df dataFlags
	var batch, threads int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "eval MODEL --data FILE.npz|FILE.npy|DIR",
		Short: "Measure accuracy and fidelity of a model on a dataset",
		Long: `eval runs MODEL over a dataset in batches along its first axis.

` + dataFlagsHelp + `
An ONNX test_data_set_N directory (or a directory of them) of input_N.pb
TensorProto files is read as such.

With labels it reports top-1 and top-5 accuracy of the first output. With
--reference ORIG.onnx it also runs ORIG on the same data and reports
fidelity: top-1 agreement, mean cosine similarity of the score vectors and
the largest absolute difference of any score.`,
		Example: `  edgeprune eval lenet5.onnx --data mnist_test.npz
  edgeprune eval pruned.onnx --data mnist_test.npz --reference lenet5.onnx --json`,
		Args: exactArgs(1, "one MODEL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataPath == "" {
				return usagef("eval needs --data FILE.npz|FILE.npy|DIR")
			}
			if batch < 1 {
				return usagef("--batch %d: must be ≥ 1", batch)
			}
			if err := checkThreads(threads); err != nil {
				return err
			}
			ctx := cmd.Context()
			m, compileOpts, err := readRunnable(ctx, args[0], sparseMode)
			if err != nil {
				return err
			}
			src, err := interruptible(ctx, func() (*evalSource, error) {
				return openEvalData(cmd, m, dataPath, &df, batch)
			})
			if err != nil {
				return err
			}
			defer src.close()
			opts := engine.EvalOptions{Threads: threads, Compile: compileOpts}
			if reference != "" {
				if opts.Reference, err = readModel(ctx, reference); err != nil {
					return err
				}
			}
			if f, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && src.n > 1 {
				bar := progressbar.NewOptions(src.n, progressbar.OptionSetWriter(c.stderr),
					progressbar.OptionSetDescription("eval"), progressbar.OptionClearOnFinish())
				opts.Progress = func(done, total int) { _ = bar.Set(done) }
				defer bar.Finish()
			}
			res, err := engine.EvaluateEach(ctx, m, src.n, src.get, opts)
			if err != nil {
				return err
			}
			out := evalJSON{Samples: res.Samples}
			if res.Labeled {
				out.Top1, out.Top5 = &res.Top1, &res.Top5
			}
			if res.Compared {
				out.AgreementTop1, out.CosineMean, out.MaxAbsDiff = &res.AgreementTop1, &res.CosineMean, &res.MaxAbsDiff
			}
			if asJSON {
				return writeJSON(c.stdout, out)
			}
			fmt.Fprintf(c.stdout, "samples        %d\n", res.Samples)
			if res.Labeled {
				fmt.Fprintf(c.stdout, "top-1          %.2f%%\ntop-5          %.2f%%\n", 100*res.Top1, 100*res.Top5)
			} else {
				fmt.Fprintln(c.stdout, "accuracy       - (no labels)")
			}
			if res.Compared {
				fmt.Fprintf(c.stdout, "agreement@1    %.2f%%\ncosine (mean)  %.6f\nmax |diff|     %.6g\n", 100*res.AgreementTop1, res.CosineMean, res.MaxAbsDiff)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataPath, "data", "", "dataset: .npz, .npy or test_data_set directory")
	addDataFlags(cmd, &df)
	cmd.Flags().StringVar(&reference, "reference", "", "original model to measure fidelity against")
	cmd.Flags().IntVar(&batch, "batch", 100, "samples per batch")
	addThreadsFlag(cmd, &threads)
	addSparseFlag(cmd, &sparseMode)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: top1, top5, agreement_top1, cosine_mean, max_abs_diff, samples")
	return cmd
}

// loadEvalData reads path into batches for m's inputs.
func loadEvalData(cmd *cobra.Command, m *onnxio.Model, path string, df *dataFlags, batch int) ([]engine.Batch, error) {
	src, err := openEvalData(cmd, m, path, df, batch)
	if err != nil {
		return nil, err
	}
	defer src.close()
	out := make([]engine.Batch, 0, src.n)
	for i := range src.n {
		b, err := src.get(i)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// evalSource is a dataset read one batch at a time: n batches, get(i) reads
// batch i, close releases the file.
type evalSource struct {
	n     int
	get   func(i int) (engine.Batch, error)
	close func()
}

// openEvalData opens path as batches of at most batch samples for m's inputs.
func openEvalData(cmd *cobra.Command, m *onnxio.Model, path string, df *dataFlags, batch int) (*evalSource, error) {
	var inputNames []string
	for _, v := range m.Info().Inputs {
		inputNames = append(inputNames, v.Name)
	}
	if isTestDataDir(path) {
		sets, err := npdata.ReadTestData(path)
		if err != nil {
			return nil, err
		}
		var out []engine.Batch
		for _, s := range sets {
			if len(s.Inputs) != len(inputNames) {
				return nil, fmt.Errorf("%s: %d inputs, the model takes %d", s.Dir, len(s.Inputs), len(inputNames))
			}
			b := engine.Batch{Inputs: map[string]*tensor.Dense{}}
			for i, a := range s.Inputs {
				b.Inputs[inputNames[i]] = a.Dense()
			}
			out = append(out, b)
		}
		return &evalSource{n: len(out), get: func(i int) (engine.Batch, error) { return out[i], nil }, close: func() {}}, nil
	}
	d, err := df.open(cmd, path, m)
	if err != nil {
		return nil, err
	}
	get := func(i int) (engine.Batch, error) {
		start := i * batch
		b, err := d.Batch(cmd.Context(), dataset.Range(start, min(batch, d.Len()-start)))
		if err != nil {
			return engine.Batch{}, err
		}
		eb := engine.Batch{Inputs: map[string]*tensor.Dense{}, Labels: b.Labels}
		for _, n := range inputNames {
			eb.Inputs[n] = b.Inputs[n]
		}
		return eb, nil
	}
	return &evalSource{n: (d.Len() + batch - 1) / batch, get: get, close: func() { d.Close() }}, nil
}
