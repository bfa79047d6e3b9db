package main

import (
	"context"
	"os"
	"time"

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
			"nesterov", "weight-decay", "schedule", "warmup", "clip-norm", "freeze", "bn", "temperature", "alpha", "feature"} {
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
// model with finetune's loop, and the closer of the data.
func buildFinetuner(cmd *cobra.Command, c *cli, m *onnxio.Model, f *trainFlags) (build.Finetuner, func(), error) {
	teacher, err := readTeacher(cmd.Context(), f.teacher)
	if err != nil {
		return nil, nil, err
	}
	d, err := openTrainData(cmd, m, f)
	if err != nil {
		return nil, nil, err
	}
	ft := func(ctx context.Context, pm *onnxio.Model) (*build.FinetuneReport, error) {
		t0 := time.Now()
		r, err := fineTune(ctx, c, pm, teacher, d, f, "fine-tune ")
		if err != nil {
			return nil, err
		}
		return &build.FinetuneReport{Data: f.data, Loss: r.Loss, Optimizer: r.Optimizer, Schedule: r.Schedule, LR: r.LR,
			Batch: r.Batch, Threads: r.Threads, BN: r.BN, Epochs: r.Epochs, Seconds: time.Since(t0).Seconds()}, nil
	}
	return ft, d.Close, nil
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
