package build

import (
	"context"
	"fmt"
	"math"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
)

// scores runs m on every batch and returns the first output per sample.
// With more than one thread the batches run side by side, one thread each
// (sideBySide, tail.go: the same values).
func scores(ctx context.Context, m *onnxio.Model, batches []engine.Batch, threads int) ([][]float32, error) {
	workers := 1
	if threads > 1 && !plainSensitivity {
		workers = min(threads, len(batches))
		threads = max(1, threads/workers)
	}
	per := make([][][]float32, len(batches))
	var plans planCache
	err := sideBySide(workers, len(batches), func(bi int) error {
		p, in, err := plans.get(m, batches[bi].Inputs, nil, threads)
		if err != nil {
			return err
		}
		res, err := p.Run(ctx, in)
		if err != nil {
			return err
		}
		first := p.Outputs()[0]
		per[bi], err = samples(res[first.Name], first.Name)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out [][]float32
	for _, s := range per {
		out = append(out, s...)
	}
	return out, nil
}

// Fidelity is how the build scores a model's outputs against the
// original's when there are no labels: the sensitivity table's damage and
// the held-out check. ChooseFidelity picks it from the original's outputs
// on the calibration data and says why (build.json "fidelity").
type Fidelity struct {
	// Metric is "kl" (mean KL divergence of the softmax, in nats) or
	// "relative-mse" (mean squared error of the outputs over Scale).
	Metric string `json:"metric"`
	// Scale normalises relative-mse: the original's outputs' variance over
	// the data (per output, averaged), or over the outputs of one sample
	// when they do not depend on the input.
	Scale  float64 `json:"scale,omitempty"`
	Reason string  `json:"reason"`
	// InputIndependent: the original's outputs are the same for every
	// sample, so agreement and cosine say nothing (a warning).
	InputIndependent bool `json:"input_independent,omitempty"`
	// The statistics of the original's outputs the choice was made from.
	SpreadData    float64 `json:"spread_over_data"`    // mean over outputs of the variance over samples
	SpreadOutputs float64 `json:"spread_over_outputs"` // mean over samples of the variance over outputs
	Entropy       float64 `json:"softmax_entropy"`     // mean entropy of the softmax / log(outputs)
}

// The thresholds of ChooseFidelity.
const (
	// Outputs whose spread over the data is below this fraction of their
	// spread over the outputs do not depend on the input: float32 keeps
	// about 7 digits, so what is left is rounding.
	inputIndependentRatio = 1e-6
	// A softmax whose mean entropy is above this fraction of the uniform
	// one is nearly flat (KL ≈ half the variance of the logits' change,
	// tiny and bound to the logits' scale); below minEntropy it is
	// saturated (KL ignores every change but the top class's).
	maxEntropy, minEntropy = 0.99, 0.01
)

// ChooseFidelity picks the damage metric from the original's outputs ref:
// KL of the softmax when the softmax is informative, else the relative
// MSE of the outputs against their spread over the data, or over the
// outputs when the outputs do not depend on the input.
func ChooseFidelity(ref [][]float32) Fidelity {
	var f Fidelity
	if len(ref) == 0 || len(ref[0]) == 0 {
		return Fidelity{Metric: "kl", Reason: "no outputs to choose from"}
	}
	n, c := len(ref), len(ref[0])
	mean := make([]float64, c)
	for _, r := range ref {
		for j, x := range r {
			mean[j] += float64(x) / float64(n)
		}
	}
	for _, r := range ref {
		var mu float64
		for _, x := range r {
			mu += float64(x) / float64(c)
		}
		for j, x := range r {
			f.SpreadData += (float64(x) - mean[j]) * (float64(x) - mean[j])
			f.SpreadOutputs += (float64(x) - mu) * (float64(x) - mu)
		}
		if c > 1 {
			f.Entropy += entropy(softmax(r)) / math.Log(float64(c))
		}
	}
	f.SpreadData /= float64(n * c)
	f.SpreadOutputs /= float64(n * c)
	f.Entropy /= float64(n)
	switch {
	case f.SpreadData == 0 && f.SpreadOutputs == 0:
		f.Metric, f.Reason = "kl", "the original's outputs are all equal: nothing to normalise by"
	case f.SpreadData <= inputIndependentRatio*f.SpreadOutputs:
		f.Metric, f.Scale, f.InputIndependent = "relative-mse", f.SpreadOutputs, true
		f.Reason = fmt.Sprintf("the original's outputs do not depend on the input on this data (variance over the samples %.3g, %.2g of the variance over the outputs %.3g): "+
			"agreement and KL cannot see damage; relative MSE of the outputs against their variance over the outputs (1: as far off as a constant)",
			f.SpreadData, f.SpreadData/math.Max(f.SpreadOutputs, 1e-300), f.SpreadOutputs)
	case c < 2 || f.Entropy > maxEntropy || f.Entropy < minEntropy:
		f.Metric, f.Scale = "relative-mse", f.SpreadData
		why := "one output: no softmax"
		if c > 1 && f.Entropy > maxEntropy {
			why = fmt.Sprintf("the softmax is nearly uniform (mean entropy %.4f of the maximum): KL is half the logits' change variance, bound to their scale", f.Entropy)
		} else if c > 1 {
			why = fmt.Sprintf("the softmax is saturated (mean entropy %.4f of the maximum): KL sees only the top class", f.Entropy)
		}
		f.Reason = why + fmt.Sprintf("; relative MSE of the outputs against their variance over the data %.3g (1: as far off as the mean output)", f.SpreadData)
	default:
		f.Metric = "kl"
		f.Reason = fmt.Sprintf("the softmax is informative (mean entropy %.3f of the maximum) and the outputs vary over the data (variance %.3g)", f.Entropy, f.SpreadData)
	}
	return f
}

// Damage scores got against ref with the chosen metric.
func (f Fidelity) Damage(ref, got [][]float32) float64 {
	if f.Metric == "relative-mse" {
		return relMSE(ref, got, f.Scale)
	}
	return meanKL(ref, got)
}

// relMSE is the mean squared difference of the outputs over scale.
func relMSE(ref, got [][]float32, scale float64) float64 {
	var s float64
	var n int
	for i := range ref {
		for j, x := range ref[i] {
			d := float64(got[i][j]) - float64(x)
			s += d * d
		}
		n += len(ref[i])
	}
	if n == 0 || scale <= 0 {
		return 0
	}
	return s / float64(n) / scale
}

func entropy(p []float64) float64 {
	var h float64
	for _, x := range p {
		if x > 0 {
			h -= x * math.Log(x)
		}
	}
	return h
}

// meanKL is the mean KL divergence KL(softmax(ref) ‖ softmax(got)) over
// samples, in nats.
func meanKL(ref, got [][]float32) float64 {
	var s float64
	for i := range ref {
		p, q := softmax(ref[i]), softmax(got[i])
		for j := range p {
			if p[j] > 0 {
				s += p[j] * (math.Log(p[j]) - math.Log(math.Max(q[j], 1e-30)))
			}
		}
	}
	return s / float64(max(len(ref), 1))
}

func softmax(v []float32) []float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, float64(x))
	}
	out := make([]float64, len(v))
	var z float64
	for i, x := range v {
		out[i] = math.Exp(float64(x) - m)
		z += out[i]
	}
	for i := range out {
		out[i] /= z
	}
	return out
}

// agreement is the fraction of samples whose top-1 class is the same.
func agreement(ref, got [][]float32) float64 {
	n := 0
	for i := range ref {
		if argmax(ref[i]) == argmax(got[i]) {
			n++
		}
	}
	return float64(n) / float64(max(len(ref), 1))
}

// accuracy is top-1 accuracy against labels (batches in order).
func accuracy(got [][]float32, batches []engine.Batch) (float64, bool) {
	var labels []int64
	for _, b := range batches {
		if b.Labels == nil {
			return 0, false
		}
		labels = append(labels, b.Labels...)
	}
	if len(labels) != len(got) {
		return 0, false
	}
	n := 0
	for i := range got {
		if int64(argmax(got[i])) == labels[i] {
			n++
		}
	}
	return float64(n) / float64(max(len(got), 1)), true
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

// weightDamage is the fraction of the weights' energy (sum of squares)
// that pruning removed, summed over the original's float parameters: the
// damage estimate when there is no data.
func weightDamage(orig map[string]float64, m *onnxio.Model) float64 {
	now := paramEnergy(m)
	var d float64
	for name, e := range orig {
		if e > 0 {
			d += math.Max(0, e-now[name]) / e
		}
	}
	return d
}

func paramEnergy(m *onnxio.Model) map[string]float64 {
	out := map[string]float64{}
	for _, p := range m.Params() {
		if !p.DataType().IsFloat() {
			continue
		}
		f, _, err := p.Float32()
		if err != nil {
			continue
		}
		var s float64
		for _, x := range f {
			s += float64(x) * float64(x)
		}
		out[p.ID] = s
	}
	return out
}
