package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"strings"
	"time"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/train"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// trainFlags are the fine-tuning settings, shared by finetune and prune's
// iterative mode.
type trainFlags struct {
	data, val, teacher, output        string
	df                                dataFlags // how --data and --val become inputs
	valFraction                       float64
	epochs, batch, threads            int
	optimizer, schedule, freeze, bn   string
	lr, momentum, wd, warmup, clip    float64
	temperature, alpha, featureWeight float64
	nesterov                          bool
	features                          []string
	seed                              int64
}

// addTrainFlags defines the fine-tuning flags of finetune: --data (and
// the dataset flags), --batch, --threads, --seed and the training settings.
func addTrainFlags(cmd *cobra.Command, f *trainFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "", "training data: .npz (one array per model input + labels), .npy, or an image folder")
	fl.IntVar(&f.batch, "batch", 128, "mini-batch size (a multiple of --threads; an epoch's last partial batch is dropped)")
	fl.IntVar(&f.threads, "threads", 0, "data-parallel threads (0: all cores); results are fixed by --seed and --threads")
	fl.Int64Var(&f.seed, "seed", 1, "shuffling seed")
	addDataFlags(cmd, &f.df)
	addTuneFlags(fl, f, "epochs")
}

// addTuneFlags defines the training settings; epochs names the epochs flag
// ("epochs", or "finetune-epochs" in prune, whose --data, --batch, --threads
// and dataset flags are its calibration flags).
func addTuneFlags(fl *pflag.FlagSet, f *trainFlags, epochs string) {
	fl.StringVar(&f.val, "val", "", "validation data (accuracy per epoch); or --val-fraction")
	fl.Float64Var(&f.valFraction, "val-fraction", 0, "hold out this fraction of --data for validation")
	fl.StringVar(&f.teacher, "teacher", "", "teacher model (the unpruned original): distil from its outputs, no labels needed")
	fl.Float64Var(&f.temperature, "temperature", 4, "--teacher: softening temperature T (the KL is scaled by T²)")
	fl.Float64Var(&f.alpha, "alpha", 0, "--teacher: weight of the labelled cross-entropy, mixed as (1-α)·KD + α·CE")
	fl.StringArrayVar(&f.features, "feature", nil, "--teacher: also match this intermediate value by MSE (repeatable; shapes must agree)")
	fl.Float64Var(&f.featureWeight, "feature-weight", 1, "weight of each --feature MSE term")
	fl.StringVar(&f.output, "output-name", "", "model output taken as the logits (default: the first)")
	fl.IntVar(&f.epochs, epochs, 1, "epochs of fine-tuning")
	fl.StringVar(&f.optimizer, "optimizer", "sgd", "sgd | adamw")
	fl.Float64Var(&f.lr, "lr", 0, "learning rate")
	fl.Lookup("lr").DefValue = "0.01 for sgd, 0.001 for adamw" // 0 in f.lr: chosen by check
	fl.Float64Var(&f.momentum, "momentum", 0.9, "sgd: momentum")
	fl.BoolVar(&f.nesterov, "nesterov", false, "sgd: Nesterov momentum")
	fl.Float64Var(&f.wd, "weight-decay", -1, "weight decay (decoupled in adamw)")
	fl.Lookup("weight-decay").DefValue = "1e-4 for sgd, 0.01 for adamw" // -1 in f.wd: chosen by check
	fl.StringVar(&f.schedule, "schedule", "cosine", "constant | step:EPOCHS[:GAMMA] | cosine[:MIN_LR] | onecycle[:PCT_START]")
	fl.Float64Var(&f.warmup, "warmup", 0, "linear warm-up over this many epochs (fractions allowed)")
	fl.Float64Var(&f.clip, "clip-norm", 0, "clip the gradients' global L2 norm to this (0: off)")
	fl.StringVar(&f.freeze, "freeze", "", "do not train parameters whose ID matches this regexp")
	fl.StringVar(&f.bn, "bn", "train", "BatchNormalization while training: train (batch statistics, running statistics updated) | frozen")
}

// check validates the flags that need no model.
func (f *trainFlags) check(epochsFlag string) error {
	switch {
	case f.data == "":
		return usagef("%s needs --data TRAIN (.npz, .npy or an image folder)", map[string]string{"epochs": "finetune", "finetune-epochs": "prune --steps"}[epochsFlag])
	case f.epochs < 1:
		return usagef("--%s %d: must be ≥ 1", epochsFlag, f.epochs)
	case f.batch < 1:
		return usagef("--batch %d: must be ≥ 1", f.batch)
	case f.threads < 0:
		return usagef("--threads %d: must be ≥ 0", f.threads)
	case f.val != "" && f.valFraction != 0:
		return usagef("--val and --val-fraction both name validation data: give one")
	case !(f.valFraction >= 0 && f.valFraction < 1):
		return usagef("--val-fraction %v: must be in [0, 1)", f.valFraction)
	case f.bn != "train" && f.bn != "frozen":
		return usagef("--bn %q: want train or frozen", f.bn)
	case f.teacher == "" && (f.alpha != 0 || len(f.features) > 0):
		return usagef("--alpha and --feature need --teacher")
	case !(f.alpha >= 0 && f.alpha <= 1):
		return usagef("--alpha %v: must be in [0, 1]", f.alpha)
	case !(f.temperature > 0):
		return usagef("--temperature %v: must be > 0", f.temperature)
	}
	if f.lr == 0 {
		f.lr = map[string]float64{"sgd": 0.01, "adamw": 0.001}[f.optimizer]
	}
	if f.wd < 0 {
		f.wd = map[string]float64{"sgd": 1e-4, "adamw": 0.01}[f.optimizer]
	}
	if _, err := train.NewOptimizer(f.optimizer, f.momentum, f.nesterov, max(f.wd, 0)); err != nil {
		return usageError{fmt.Errorf("--optimizer %s: %s", f.optimizer, libraryReason(err))}
	}
	// The spelling is checked before the data is read, so the steps per
	// epoch are not known yet: a nominal count keeps a one-epoch onecycle
	// (which has as many steps as batches) from being refused here; the
	// schedule is parsed again with the real count before training.
	const nominalStepsPerEpoch = 1000
	if _, err := train.ParseSchedule(f.schedule, max(f.lr, 1e-300), f.epochs, nominalStepsPerEpoch, f.warmup); err != nil {
		return usageError{fmt.Errorf("--schedule %s / --lr %v / --warmup %v: %s", f.schedule, f.lr, f.warmup, libraryReason(err))}
	}
	if f.threads == 0 {
		f.threads = runtime.NumCPU()
	}
	// Each thread takes an equal shard of a batch.
	for f.batch%f.threads != 0 {
		f.threads--
	}
	return nil
}

// trainData is the opened training and validation data.
type trainData struct {
	train, val train.Dataset
	closers    []io.Closer
}

func (d *trainData) Close() {
	for _, c := range d.closers {
		c.Close()
	}
}

// openTrainData opens --data and --val (or splits --val-fraction) for m,
// with the dataset flags, and checks that they feed m's inputs with
// samples of the right shape.
func openTrainData(cmd *cobra.Command, m *onnxio.Model, f *trainFlags) (*trainData, error) {
	d := &trainData{}
	open := func(path string) (train.Dataset, error) {
		ds, err := f.df.open(cmd, path, m)
		if err != nil {
			return nil, err
		}
		d.closers = append(d.closers, ds)
		if err := checkDataMatches(m, path, ds); err != nil {
			return nil, err
		}
		return ds, nil
	}
	var err error
	if d.train, err = open(f.data); err != nil {
		d.Close()
		return nil, err
	}
	switch {
	case f.val != "":
		d.val, err = open(f.val)
	case f.valFraction > 0:
		d.train, d.val, err = dataset.Split(d.train, f.valFraction, f.seed)
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	if d.val != nil && !d.val.HasLabels() {
		d.Close()
		return nil, usagef("validation data has no labels: accuracy needs them (labels array %q)", f.df.labels)
	}
	return d, nil
}

// checkDataMatches says clearly when a dataset does not feed m: a model
// input it lacks, or samples of another shape.
func checkDataMatches(m *onnxio.Model, path string, ds train.Dataset) error {
	if ds.Len() == 0 {
		return fmt.Errorf("%s: no samples", path)
	}
	b, err := ds.Batch(context.Background(), []int{0})
	if err != nil {
		return err
	}
	for _, in := range m.Info().Inputs {
		t, ok := b.Inputs[in.Name]
		if !ok {
			return fmt.Errorf("%s provides %v; the model takes input %q: name the arrays after the model's inputs (or --input NAME for a single array)", path, ds.Inputs(), in.Name)
		}
		if in.Shape == nil {
			continue // unknown rank: the engine checks the samples when it runs
		}
		// Dynamic dims (PaddleOCR exports [?,3,?,?]) take the samples' size;
		// fixed ones must match.
		want := make([]int64, len(in.Shape))
		for i, d := range in.Shape {
			want[i] = d.Value
			if d.Value <= 0 {
				want[i] = -1 // dynamic (shown so)
				if i == 0 {
					want[i] = 1 // the batch, as DefaultShape shows it
				}
			}
		}
		got := t.Shape()
		ok = len(got) == len(want)
		for i := 1; ok && i < len(want); i++ {
			ok = in.Shape[i].Param != "" || in.Shape[i].Value <= 0 || int64(got[i]) == want[i]
		}
		if !ok {
			return fmt.Errorf("%s: input %q has samples of shape %v, the model takes %v (first axis: the batch)", path, in.Name, got, dims(want))
		}
	}
	return nil
}

// outputName is --output-name or m's first output.
func outputName(m *onnxio.Model, f *trainFlags) (string, error) {
	outs := m.Info().Outputs
	if f.output == "" {
		if len(outs) == 0 {
			return "", fmt.Errorf("the model has no output")
		}
		return outs[0].Name, nil
	}
	for _, o := range outs {
		if o.Name == f.output {
			return o.Name, nil
		}
	}
	return "", usagef("--output-name %q is not an output of the model", f.output)
}

// lossFor builds the objective from the flags and says which it is.
func lossFor(m, teacher *onnxio.Model, f *trainFlags, labelled bool) (train.Loss, string, error) {
	out, err := outputName(m, f)
	if err != nil {
		return nil, "", err
	}
	probs := train.SoftmaxOutput(m, out)
	if teacher == nil {
		if !labelled {
			return nil, "", usagef("the training data has no labels (array %q): give --teacher ORIG.onnx to distil without labels", f.df.labels)
		}
		return train.CrossEntropy{Output: out, Probs: probs}, out, nil
	}
	found := false
	for _, o := range teacher.Info().Outputs {
		found = found || o.Name == out
	}
	if !found {
		return nil, "", fmt.Errorf("the teacher has no output %q (the student's): distillation needs the same output names", out)
	}
	kd := train.Distill{Output: out, T: f.temperature, Probs: probs, TeacherProbs: train.SoftmaxOutput(teacher, out), Weight: 1 - f.alpha}
	var terms train.Sum
	if f.alpha < 1 {
		terms = append(terms, kd)
	}
	if f.alpha > 0 {
		if !labelled {
			return nil, "", usagef("--alpha %v mixes in the labelled loss, and the training data has no labels", f.alpha)
		}
		terms = append(terms, train.CrossEntropy{Output: out, Probs: probs, Weight: f.alpha})
	}
	for _, name := range f.features {
		terms = append(terms, train.FeatureMSE{Name: name, Weight: f.featureWeight})
	}
	if len(terms) == 1 {
		return terms[0], out, nil
	}
	return terms, out, nil
}

// tuneResult is what one fine-tuning run reports.
type tuneResult struct {
	Loss      string            `json:"loss"`
	Optimizer string            `json:"optimizer"`
	Schedule  string            `json:"schedule"`
	LR        float64           `json:"lr"`
	Batch     int               `json:"batch"`
	Threads   int               `json:"threads"`
	BN        string            `json:"bn"`
	Params    int               `json:"params"`   // trainable parameter tensors
	Elements  int               `json:"elements"` // their elements
	Held      int               `json:"held_zeros"`
	Epochs    []train.EpochInfo `json:"epochs"`
	PeakBytes struct {
		Forward  int64 `json:"forward"`
		Training int64 `json:"training"`
	} `json:"peak_bytes"`
}

// fineTune trains m in place (weights and BN running statistics written
// back into m) as the flags say.
func fineTune(ctx context.Context, c *cli, m, teacher *onnxio.Model, d *trainData, f *trainFlags, label string) (*tuneResult, error) {
	loss, _, err := lossFor(m, teacher, f, d.train.HasLabels())
	if err != nil {
		return nil, err
	}
	c.log.Info("fine-tuning", "loss", loss.String())
	if strings.Contains(loss.String(), "nll(") {
		c.log.Info("the model's output is a Softmax: training with the NLL of its log-probabilities, not a second softmax")
	}
	bn := engine.BNTrain
	if f.bn == "frozen" {
		bn = engine.BNFrozen
	}
	opts := []engine.Option{engine.WithBatchNorm(bn)}
	if f.freeze != "" {
		opts = append(opts, engine.WithFrozen(f.freeze))
	}
	if len(f.features) > 0 {
		opts = append(opts, engine.WithKeepValues(f.features...))
	}
	dyn, err := sampleShapes(m, d.train, f.batch/max(f.threads, 1))
	if err != nil {
		return nil, err
	}
	opts = append(opts, dyn...)
	prim, models, err := train.Compile(m, f.batch, f.threads, opts...)
	if err != nil {
		return nil, err
	}
	steps := train.StepsPerEpoch(d.train.Len(), f.batch)
	if steps < 1 {
		return nil, fmt.Errorf("--data has %d samples: not one batch of --batch %d", d.train.Len(), f.batch)
	}
	sched, err := train.ParseSchedule(f.schedule, f.lr, f.epochs, steps, f.warmup)
	if err != nil {
		return nil, usageError{fmt.Errorf("--schedule %s: %s", f.schedule, libraryReason(err))}
	}
	opt, err := train.NewOptimizer(f.optimizer, f.momentum, f.nesterov, f.wd)
	if err != nil {
		return nil, usageError{err}
	}
	masks := train.MasksFromZeros(prim.Params(), nil)
	res := &tuneResult{Loss: loss.String(), Optimizer: opt.Name(), Schedule: f.schedule, LR: f.lr, Batch: f.batch,
		Threads: f.threads, BN: f.bn, Params: len(prim.Params()), Held: masks.Held()}
	for _, p := range prim.Params() {
		res.Elements += len(p.Value)
	}
	rep := prim.Report()
	res.PeakBytes.Forward = rep.ForwardArenaBytes
	res.PeakBytes.Training = rep.ForwardArenaBytes + rep.TapeArenaBytes + rep.GradArenaBytes + rep.ScratchBytes
	topts := []train.Option{train.WithEpochs(f.epochs), train.WithBatchSize(f.batch), train.WithSeed(f.seed),
		train.WithOptimizer(opt, nil), train.WithSchedule(sched), train.WithClipNorm(f.clip), train.WithLoss(loss),
		train.WithMasks(masks)}
	if teacher != nil {
		tch, err := train.EngineTeacher(teacher, f.batch/f.threads, f.threads, f.features...)
		if err != nil {
			return nil, err
		}
		topts = append(topts, train.WithTeacher(tch))
	}
	var bar *progressbar.ProgressBar
	if fh, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(fh.Fd())) {
		bar = progressbar.NewOptions(f.epochs*steps, progressbar.OptionSetWriter(c.stderr), progressbar.OptionClearOnFinish(),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true))
		topts = append(topts, train.WithProgress(func(s train.StepInfo) {
			bar.Describe(fmt.Sprintf("%sepoch %d/%d loss %.4f %.0f samples/s", label, s.Epoch, f.epochs, s.Loss, float64(s.Samples)/s.Elapsed.Seconds()))
			_ = bar.Set(s.GlobalStep)
		}))
	}
	topts = append(topts, train.WithEpochEnd(func(e *train.EpochInfo) error {
		if d.val != nil {
			if err := prim.WriteBack(m); err != nil {
				return err
			}
			acc, err := train.Accuracy(ctx, m, d.val, 256, f.threads)
			if err != nil {
				return err
			}
			e.ValAcc = &acc
		}
		line := fmt.Sprintf("%sepoch %d/%d: loss %.4f", label, e.Epoch, f.epochs, e.Loss)
		if e.TrainAcc != nil {
			line += fmt.Sprintf(", train acc %.2f%%", 100**e.TrainAcc)
		}
		if e.ValAcc != nil {
			line += fmt.Sprintf(", val acc %.2f%%", 100**e.ValAcc)
		}
		line += fmt.Sprintf(", %.1f s, %.0f samples/s", e.Seconds, e.SamplesSec)
		if bar != nil {
			_ = bar.Clear()
		}
		fmt.Fprintln(c.stderr, line)
		return nil
	}))
	tr, err := train.New(models, topts...)
	if err != nil {
		return nil, err
	}
	h, err := tr.Fit(ctx, d.train)
	if bar != nil {
		_ = bar.Finish()
	}
	if h != nil {
		res.Epochs = h.Epochs
	}
	if err != nil {
		var nf *train.NonFiniteError
		if errors.As(err, &nf) {
			return res, fmt.Errorf("%w; no output written", err)
		}
		return res, err
	}
	return res, prim.WriteBack(m)
}

// finetuneJSON is the schema of `finetune --json` (docs/cli-json.md).
type finetuneJSON struct {
	Model        string      `json:"model"`
	Output       string      `json:"output"`
	Teacher      string      `json:"teacher,omitempty"`
	ValAccBefore *float64    `json:"val_acc_before,omitempty"`
	BNRecal      *bnRecal    `json:"bn_recalibration,omitempty"`
	Tune         *tuneResult `json:"finetune,omitempty"`
	Seconds      float64     `json:"seconds"`
}

type bnRecal struct {
	Batches    int      `json:"batches"`
	Statistics int      `json:"statistics"`
	ValAcc     *float64 `json:"val_acc,omitempty"`
}

func newFinetuneCmd(c *cli) *cobra.Command {
	var f trainFlags
	var out string
	var recal, asJSON bool
	var batches int
	cmd := &cobra.Command{
		Use:   "finetune MODEL -o OUT.onnx --data TRAIN",
		Short: "Fine-tune a (pruned) model on the engine: recover its accuracy",
		Long: `finetune trains MODEL on --data with the pure-Go engine and writes the
result: the trained weights and BatchNorm running statistics, everything
else as it was. Weights that are zero (pruned) stay exactly zero, in the
weights and in the optimizer's state, so N:M and block patterns stay valid.

Loss: cross-entropy with the data's labels (the NLL of the probabilities when
the output is already a Softmax); with --teacher ORIG.onnx, distillation
from the original model's softened outputs (T²·KL, no labels needed),
optionally mixed with the labelled loss (--alpha) and MSE on intermediate
values (--feature NAME).

Optimizers: sgd (momentum, --nesterov) and adamw, with --weight-decay,
--schedule, --warmup, --clip-norm. Batches are shuffled by --seed and cut
into one shard per thread; a seed and a thread count fix the result.

--recalibrate-bn re-estimates the BatchNorm running statistics on --batches
batches of --data (no weight changes): the cheapest recovery after
structured pruning. With --epochs as well, fine-tuning follows.

A NaN or Inf loss stops training, says at which step, and writes nothing.`,
		Example: `  edgeprune finetune pruned.onnx -o tuned.onnx --data mnist_train.npz --val mnist_test.npz --epochs 2
  edgeprune finetune pruned.onnx -o tuned.onnx --data unlabelled.npy --teacher model.onnx --epochs 2
  edgeprune finetune slim.onnx -o slim-bn.onnx --data train.npz --recalibrate-bn --batches 100
  edgeprune finetune pruned.onnx -o tuned.onnx --data train/ --preset ppocr-cls --optimizer adamw --lr 1e-4 --json`,
		Args: exactArgs(1, "one MODEL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if out == "" {
				return usagef("finetune needs -o OUT.onnx")
			}
			if same, _ := sameFile(args[0], out); same {
				return usagef("-o %s is the input model: write to another file", out)
			}
			if err := f.check("epochs"); err != nil {
				return err
			}
			if recal && batches < 1 {
				return usagef("--batches %d: must be ≥ 1", batches)
			}
			if !recal && cmd.Flags().Changed("batches") {
				return usagef("--batches needs --recalibrate-bn")
			}
			m, err := readModel(ctx, args[0])
			if err != nil {
				return err
			}
			teacher, err := readTeacher(ctx, f.teacher)
			if err != nil {
				return err
			}
			d, err := openTrainData(cmd, m, &f)
			if err != nil {
				return err
			}
			defer d.Close()
			rep := finetuneJSON{Model: args[0], Output: out, Teacher: f.teacher}
			if d.val != nil {
				acc, err := train.Accuracy(ctx, m, d.val, 256, f.threads)
				if err != nil {
					return err
				}
				rep.ValAccBefore = &acc
				fmt.Fprintf(c.stderr, "val acc before: %.2f%%\n", 100*acc)
			}
			if recal {
				// a model with dynamic input dims (PP-OCR's x [?,3,?,?]) is
				// compiled at the data's sample shape, as for training
				dyn, err := sampleShapes(m, d.train, f.batch)
				if err != nil {
					return err
				}
				n, err := train.RecalibrateBN(ctx, m, d.train, batches, f.batch, f.seed, dyn...)
				if err != nil {
					return err
				}
				rep.BNRecal = &bnRecal{Batches: min(batches, d.train.Len()/f.batch), Statistics: n}
				if d.val != nil {
					acc, err := train.Accuracy(ctx, m, d.val, 256, f.threads)
					if err != nil {
						return err
					}
					rep.BNRecal.ValAcc = &acc
					fmt.Fprintf(c.stderr, "val acc after BN recalibration: %.2f%%\n", 100*acc)
				}
			}
			if !recal || cmd.Flags().Changed("epochs") {
				if rep.Tune, err = fineTune(ctx, c, m, teacher, d, &f, ""); err != nil {
					return err
				}
			}
			if err := m.WriteFile(out); err != nil {
				return err
			}
			rep.Seconds = time.Since(start).Seconds()
			if asJSON {
				return writeJSON(c.stdout, rep)
			}
			printFinetune(c.stdout, &rep)
			return nil
		},
	}
	fl := cmd.Flags()
	addOutputFlag(cmd, &out, "output model (required)")
	addTrainFlags(cmd, &f)
	fl.BoolVar(&recal, "recalibrate-bn", false, "re-estimate BatchNorm running statistics (no weight change); with --epochs, fine-tune after")
	fl.IntVar(&batches, "batches", 100, "--recalibrate-bn: batches of --batch samples to average over")
	fl.BoolVar(&asJSON, "json", false, "print the report and the per-epoch curve as JSON (schema: docs/cli-json.md)")
	return cmd
}

func printFinetune(w io.Writer, r *finetuneJSON) {
	fmt.Fprintf(w, "%s → %s", r.Model, r.Output)
	if r.Teacher != "" {
		fmt.Fprintf(w, " (teacher %s)", r.Teacher)
	}
	fmt.Fprintln(w)
	if r.ValAccBefore != nil {
		fmt.Fprintf(w, "val accuracy before         %.2f%%\n", 100**r.ValAccBefore)
	}
	if b := r.BNRecal; b != nil {
		fmt.Fprintf(w, "BN recalibration            %d statistics over %d batches", b.Statistics, b.Batches)
		if b.ValAcc != nil {
			fmt.Fprintf(w, ": val accuracy %.2f%%", 100**b.ValAcc)
		}
		fmt.Fprintln(w)
	}
	if t := r.Tune; t != nil {
		fmt.Fprintf(w, "loss                        %s\n", t.Loss)
		fmt.Fprintf(w, "optimizer                   %s, lr %g, schedule %s, batch %d, %d thread(s), BN %s\n", t.Optimizer, t.LR, t.Schedule, t.Batch, t.Threads, t.BN)
		fmt.Fprintf(w, "trained                     %d tensors, %d values (%d pruned zeros held)\n", t.Params, t.Elements, t.Held)
		for _, e := range t.Epochs {
			fmt.Fprintf(w, "epoch %-3d                   loss %.4f", e.Epoch, e.Loss)
			if e.ValAcc != nil {
				fmt.Fprintf(w, ", val accuracy %.2f%%", 100**e.ValAcc)
			}
			fmt.Fprintf(w, " (%.1f s, %.0f samples/s)\n", e.Seconds, e.SamplesSec)
		}
	}
	fmt.Fprintf(w, "wrote %s in %.1f s\n", r.Output, r.Seconds)
}
