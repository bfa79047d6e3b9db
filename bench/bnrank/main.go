// Command bnrank measures how well a pruned candidate's score before
// fine-tuning predicts its accuracy after (docs/profiles.md, "Session 8
// (s8-bn)"): for structured choices of a model with BatchNormalization
// nodes, the damage and calibration loss with the original's running
// statistics (what the build measured until session 8) and with the
// statistics re-estimated on the calibration images (train.RecalibrateBN:
// EagleEye's adaptive BN), one JSON line per choice, and the pruned model
// (original statistics) written for fine-tuning by `edgeprune finetune`.
//
//	bnrank -model bncnn.onnx -data mnist_test.npz -out DIR [-calib 256] [-keep 1,.875,...] [-round 8] [-choices "0,4,2;..."]
//
// Without -choices every distinct combination of the space's levels is
// written.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/train"
)

func main() {
	model := flag.String("model", "", "ONNX model")
	data := flag.String("data", "", "labelled .npz (the first -calib samples calibrate and score, the rest are the test)")
	out := flag.String("out", "", "output directory")
	calib := flag.Int("calib", 256, "calibration samples")
	keepS := flag.String("keep", "1,.875,.75,.625,.5,.375,.25", "keep levels")
	choicesS := flag.String("choices", "", "choices (level per group, ';'-separated); default: every distinct one")
	batch := flag.Int("bn-batch", 64, "RecalibrateBN batch")
	round := flag.Int("round", 8, "channel rounding (the profile's search.structured.round_to)")
	flag.Parse()
	if err := run(*model, *data, *out, *calib, *keepS, *choicesS, *batch, *round); err != nil {
		fmt.Fprintln(os.Stderr, "bnrank:", err)
		os.Exit(1)
	}
}

func run(model, data, out string, calib int, keepS, choicesS string, bnBatch, round int) error {
	ctx := context.Background()
	m, err := onnxio.ReadFile(model)
	if err != nil {
		return err
	}
	var keep []float64
	for _, s := range strings.Split(keepS, ",") {
		k, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		keep = append(keep, k)
	}
	sp, err := build.NewSpace(m, keep, round, nil)
	if err != nil {
		return err
	}
	d, err := dataset.Open(data)
	if err != nil {
		return err
	}
	defer d.Close()
	cd := dataset.Subset(d, dataset.Range(0, calib))
	test := dataset.Subset(d, dataset.Range(calib, d.Len()-calib))
	batches := func(ds dataset.Dataset) ([]engine.Batch, error) {
		var bs []engine.Batch
		for i := 0; i < ds.Len(); i += 500 {
			b, err := ds.Batch(ctx, dataset.Range(i, min(500, ds.Len()-i)))
			if err != nil {
				return nil, err
			}
			bs = append(bs, engine.Batch(b))
		}
		return bs, nil
	}
	cb, err := batches(cd)
	if err != nil {
		return err
	}
	tb, err := batches(test)
	if err != nil {
		return err
	}
	ref, err := logits(ctx, m, cb)
	if err != nil {
		return err
	}
	var choices [][]int
	if choicesS != "" {
		for _, c := range strings.Split(choicesS, ";") {
			var ch []int
			for _, s := range strings.Split(c, ",") {
				l, err := strconv.Atoi(s)
				if err != nil {
					return err
				}
				ch = append(ch, l)
			}
			choices = append(choices, ch)
		}
	} else {
		seen := map[string]bool{}
		var rec func(c []int)
		rec = func(c []int) {
			if len(c) == len(sp.Groups) {
				k := fmt.Sprint(kept(sp, c))
				if !seen[k] {
					seen[k] = true
					choices = append(choices, append([]int(nil), c...))
				}
				return
			}
			for l := range sp.Keep {
				rec(append(c, l))
			}
		}
		rec(nil)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	for _, ch := range choices {
		pm, _, err := sp.Model(ch)
		if err != nil {
			return err
		}
		name := filepath.Join(out, "cand-"+strings.Trim(strings.ReplaceAll(fmt.Sprint(kept(sp, ch)), " ", "-"), "[]")+".onnx")
		if err := pm.WriteFile(name); err != nil {
			return err
		}
		row := map[string]any{"model": name, "choice": ch, "kept": kept(sp, ch)}
		if err := score(ctx, pm, cb, tb, ref, row, ""); err != nil {
			return err
		}
		rm, _, err := sp.Model(ch) // a second copy, recalibrated
		if err != nil {
			return err
		}
		if _, err := train.RecalibrateBN(ctx, rm, cd, calib/bnBatch, bnBatch, 1); err != nil {
			return err
		}
		if err := score(ctx, rm, cb, tb, ref, row, "bn_"); err != nil {
			return err
		}
		p, err := engine.Compile(pm, engine.WithInputShape("input", 1, 1, 28, 28))
		if err != nil {
			return err
		}
		row["flops"] = p.Report().FLOPs
		if err := enc.Encode(row); err != nil {
			return err
		}
	}
	return nil
}

func kept(sp *build.Space, c []int) []int {
	k := make([]int, len(c))
	for g, l := range c {
		k[g] = sp.Group(g, l).Kept
	}
	return k
}

// score puts the KL from ref, the loss and top-1 on the calibration
// samples, and the top-1 on the test samples into row (keys prefixed).
func score(ctx context.Context, m *onnxio.Model, cb, tb []engine.Batch, ref [][]float32, row map[string]any, prefix string) error {
	got, err := logits(ctx, m, cb)
	if err != nil {
		return err
	}
	var kl, loss float64
	var hit int
	var labels []int64
	for _, b := range cb {
		labels = append(labels, b.Labels...)
	}
	kl = build.Fidelity{Metric: "kl"}.Damage(ref, got) * float64(len(got)) // the build's own KL
	for i := range got {
		q := softmax(got[i])
		loss -= math.Log(math.Max(q[labels[i]], 1e-30))
		if argmax(got[i]) == int(labels[i]) {
			hit++
		}
	}
	n := float64(len(got))
	row[prefix+"calib_kl"], row[prefix+"calib_loss"], row[prefix+"calib_top1"] = kl/n, loss/n, float64(hit)/n
	tg, err := logits(ctx, m, tb)
	if err != nil {
		return err
	}
	hit = 0
	k := 0
	for _, b := range tb {
		for _, y := range b.Labels {
			if argmax(tg[k]) == int(y) {
				hit++
			}
			k++
		}
	}
	row[prefix+"test_top1"] = float64(hit) / float64(k)
	return nil
}

func logits(ctx context.Context, m *onnxio.Model, bs []engine.Batch) ([][]float32, error) {
	var out [][]float32
	plans := map[int]*engine.Program{}
	for _, b := range bs {
		x := b.Inputs["input"]
		n := x.Shape()[0]
		p := plans[n]
		if p == nil {
			var err error
			if p, err = engine.Compile(m, engine.WithInputShape("input", x.Shape()...)); err != nil {
				return nil, err
			}
			plans[n] = p
		}
		res, err := p.Run(ctx, b.Inputs)
		if err != nil {
			return nil, err
		}
		f := res[p.Outputs()[0].Name].Data().([]float32)
		per := len(f) / n
		for i := range n {
			out = append(out, f[i*per:(i+1)*per])
		}
	}
	return out, nil
}

func softmax(v []float32) []float64 {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, float64(x))
	}
	out := make([]float64, len(v))
	var z float64
	for i, x := range v {
		out[i] = math.Exp(float64(x) - mx)
		z += out[i]
	}
	for i := range out {
		out[i] /= z
	}
	return out
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
