package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/edgeprune/edgeprune/dataset"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/spf13/cobra"
)

// addBuildTrainFlags defines build's fine-tuning flags: --train (the
// training data), --train-batch, --seed, the image-folder flags (--preset
// ...) and finetune's training settings with --finetune-epochs (build's
// --batch and --threads are its evaluation flags).
func addBuildTrainFlags(cmd *cobra.Command, f *trainFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.data, "train", "", "training data (.npz, .npy or an image folder): fine-tune the chosen model on it before verification")
	fl.IntVar(&f.batch, "train-batch", 64, "--train: mini-batch size (a multiple of the threads)")
	fl.Int64Var(&f.seed, "seed", 1, "--train: shuffling seed")
	addDataFlags(cmd, &f.df)
	addTuneFlags(fl, f, "finetune-epochs")
}

// checkBuildTrainFlags validates the fine-tuning flags before any work: a
// training setting without --train is a usage error, not silently unused.
func checkBuildTrainFlags(cmd *cobra.Command, f *trainFlags, threads int) error {
	if f.data == "" {
		for _, n := range []string{"val", "val-fraction", "teacher", "finetune-epochs", "train-batch", "optimizer", "lr", "momentum",
			"nesterov", "weight-decay", "schedule", "warmup", "clip-norm", "freeze", "bn", "temperature", "alpha", "feature", "probe-fraction"} {
			if cmd.Flags().Changed(n) {
				return usagef("--%s sets the fine-tuning, which needs --train TRAIN", n)
			}
		}
		return nil
	}
	f.threads = threads
	return f.check("finetune-epochs")
}

// buildFinetuner opens the training data (checked against m's inputs now,
// before the search) and returns the hook that fine-tunes build's chosen
// model with finetune's loop, the probe that fine-tunes a candidate briefly
// (one epoch over a fraction probe of --train, drawn by --seed, at the
// learning rate times the scale build asks for; nil when probe is 0) and
// the closer of the data.
func buildFinetuner(cmd *cobra.Command, c *cli, m *onnxio.Model, f *trainFlags, probe float64) (build.Finetuner, build.Prober, func(), error) {
	teacher, err := readTeacher(cmd.Context(), f.teacher)
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := openTrainData(cmd, m, f)
	if err != nil {
		return nil, nil, nil, err
	}
	tune := func(d *trainData, f *trainFlags, label, data string) build.Finetuner {
		return func(ctx context.Context, pm *onnxio.Model) (*build.FinetuneReport, error) {
			t0 := time.Now()
			r, err := fineTune(ctx, c, pm, teacher, d, f, label)
			if err != nil {
				return nil, err
			}
			return &build.FinetuneReport{Data: data, Loss: r.Loss, Optimizer: r.Optimizer, Schedule: r.Schedule, LR: r.LR,
				Batch: r.Batch, Threads: r.Threads, BN: r.BN, Epochs: r.Epochs, Seconds: time.Since(t0).Seconds()}, nil
		}
	}
	var pr build.Prober
	if n := int(math.Round(probe * float64(d.train.Len()))); probe > 0 {
		n = max(n, f.batch)
		if n > d.train.Len() {
			n = d.train.Len()
		}
		idx := dataset.Shuffle(d.train.Len(), f.seed, 0)[:n]
		slices.Sort(idx)                                      // the data's order: streaming stays sequential
		pd := &trainData{train: dataset.Subset(d.train, idx)} // no validation: the candidates are scored on --data
		pf := *f
		pf.epochs = 1
		what := fmt.Sprintf("%d samples of %s", n, f.data)
		pr = func(ctx context.Context, pm *onnxio.Model, lrScale float64) (*build.FinetuneReport, error) {
			sf := pf
			sf.lr *= lrScale
			return tune(pd, &sf, "probe ", what)(ctx, pm)
		}
	}
	return tune(d, f, "fine-tune ", f.data), pr, d.Close, nil
}

// dataCommand is the command whose image-folder flags (--preset ...) apply
// to --data: build's own when --data is an image folder too (the model's
// preprocessing is the same), none for a file of tensors (.npz, .npy), so
// that --preset for --train does not refuse a test.npz.
func dataCommand(cmd *cobra.Command, path string) *cobra.Command {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return cmd
	}
	bare := &cobra.Command{}
	bare.SetContext(cmd.Context())
	return bare
}

// shapeMap is --shape as the library takes it.
func shapeMap(shapes []inputShape) map[string][]int64 {
	if len(shapes) == 0 {
		return nil
	}
	m := map[string][]int64{}
	for _, s := range shapes {
		for _, d := range s.Dims {
			m[s.Name] = append(m[s.Name], int64(d))
		}
	}
	return m
}
