package main

import (
	"context"
	"fmt"
	"math"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/train"
	"github.com/spf13/cobra"
	"gorgonia.org/tensor"
)

// gradJSON is the schema of `grad --json` (docs/cli-json.md).
type gradJSON struct {
	Model   string  `json:"model"`
	Output  string  `json:"output"`
	Samples int     `json:"samples"`
	Loss    float64 `json:"loss"`
	LossFn  string  `json:"loss_fn"`
	Params  []struct {
		ID    string  `json:"id"`
		Shape []int   `json:"shape"`
		Norm  float64 `json:"grad_norm"`
	} `json:"params"`
}

func newGradCmd(c *cli) *cobra.Command {
	var f trainFlags
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "grad MODEL --data BATCH.npz -o GRADS.npz",
		Short: "The loss and the gradient of every float parameter for one batch",
		Long: `grad runs MODEL forward and backward on the pure-Go engine over every
sample of --data as one batch and writes a .npz with "loss" (the mean
loss, a float32 scalar) and "grad/<parameter ID>" for every float parameter
that gets a gradient (initializers by name, Constant-node weights by their
output, subgraph tensors by their path); with --bn train also
"running/<ID>", the BatchNorm running statistics after that forward.

The loss is what finetune would minimise: cross-entropy with the labels
(the NLL of the probabilities for a Softmax output), or with --teacher the
distillation loss. Use it when a fine-tune diverges, or to check the engine
against another framework's gradients.`,
		Example: `  edgeprune grad lenet5.onnx --data batch.npz -o grads.npz
  edgeprune grad pruned.onnx --data batch.npz -o grads.npz --teacher lenet5.onnx --temperature 4`,
		Args: exactArgs(1, "one MODEL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if out == "" {
				return usagef("grad needs -o GRADS.npz")
			}
			if f.data == "" {
				return usagef("grad needs --data BATCH.npz")
			}
			if f.bn != "train" && f.bn != "frozen" {
				return usagef("--bn %q: want train or frozen", f.bn)
			}
			if f.teacher == "" && f.alpha != 0 {
				return usagef("--alpha needs --teacher")
			}
			m, err := readModel(ctx, args[0])
			if err != nil {
				return err
			}
			teacher, err := readTeacher(ctx, f.teacher)
			if err != nil {
				return err
			}
			f.threads = 1
			d, err := openTrainData(cmd, m, &f)
			if err != nil {
				return err
			}
			defer d.Close()
			n := d.train.Len()
			loss, _, err := lossFor(m, teacher, &f, d.train.HasLabels())
			if err != nil {
				return err
			}
			bn := engine.BNFrozen
			if f.bn == "train" {
				bn = engine.BNTrain
			}
			prim, _, err := train.Compile(m, n, 1, engine.WithBatchNorm(bn))
			if err != nil {
				return err
			}
			if len(prim.Params()) == 0 {
				return fmt.Errorf("%s has no trainable float parameter", args[0])
			}
			b, err := d.train.Batch(ctx, dataset.Range(0, n))
			if err != nil {
				return err
			}
			outs, err := prim.Forward(ctx, b.Inputs)
			if err != nil {
				return err
			}
			in := train.LossInput{Student: map[string]train.Value{}, Labels: b.Labels, N: n}
			for name, t := range outs {
				if v, ok := t.Data().([]float32); ok {
					in.Student[name] = train.Value{Data: v, Shape: t.Shape().Clone()}
				}
			}
			if teacher != nil {
				tch, err := train.EngineTeacher(teacher, n, 1)
				if err != nil {
					return err
				}
				if in.Teacher, err = tch(ctx, b.Inputs); err != nil {
					return err
				}
			}
			seeds := map[string][]float32{}
			l, err := loss.Eval(in, seeds)
			if err != nil {
				return err
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return fmt.Errorf("the loss is %v on this batch; no output written", l)
			}
			prim.ZeroGrad()
			if err := prim.Backward(ctx, seeds); err != nil {
				return err
			}
			arrays := map[string]*tensor.Dense{"loss": tensor.New(tensor.WithShape(), tensor.WithBacking([]float32{float32(l)}))}
			rep := gradJSON{Model: args[0], Output: out, Samples: n, Loss: l, LossFn: loss.String()}
			for _, p := range prim.Params() {
				g := append([]float32(nil), p.Grad...)
				arrays["grad/"+p.ID] = tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(g))
				var s float64
				for _, v := range g {
					s += float64(v) * float64(v)
				}
				rep.Params = append(rep.Params, struct {
					ID    string  `json:"id"`
					Shape []int   `json:"shape"`
					Norm  float64 `json:"grad_norm"`
				}{p.ID, p.Shape, math.Sqrt(s)})
			}
			if bn == engine.BNTrain {
				for id, v := range prim.RunningStats() {
					arrays["running/"+id] = tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]float32(nil), v...)))
				}
			}
			if err := dataset.WriteNPZ(out, arrays); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.stdout, rep)
			}
			fmt.Fprintf(c.stdout, "loss %.6g (%s) over %d samples; %d gradients → %s\n", l, loss, n, len(rep.Params), out)
			for _, p := range rep.Params {
				fmt.Fprintf(c.stdout, "  grad/%-40s %-16v |g| %.4g\n", p.ID, p.Shape, p.Norm)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	addOutputFlag(cmd, &out, "output .npz (required)")
	fl.StringVar(&f.data, "data", "", "the batch: .npz (one array per model input + labels), .npy, or an image folder")
	fl.StringVar(&f.teacher, "teacher", "", "teacher model: the loss is distillation from its outputs")
	fl.Float64Var(&f.temperature, "temperature", 4, "--teacher: softening temperature T")
	fl.Float64Var(&f.alpha, "alpha", 0, "--teacher: weight of the labelled cross-entropy")
	addDataFlags(cmd, &f.df)
	fl.StringVar(&f.output, "output-name", "", "model output taken as the logits (default: the first)")
	fl.StringVar(&f.bn, "bn", "frozen", "BatchNormalization: frozen (running statistics) | train (batch statistics)")
	fl.BoolVar(&asJSON, "json", false, "print the loss and each gradient's norm as JSON")
	return cmd
}
