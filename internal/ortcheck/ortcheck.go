// Package ortcheck checks a model written by edgeprune against ONNX Runtime
// on a labelled .npz: the engine's and ORT's top-1 accuracy, how often their
// predictions agree, and where the model keeps its weights (initializers or
// Constant nodes), so a benchmark or test can assert that the written model
// runs in ORT as it does in the engine and kept its producer's layout.
package ortcheck

import (
	"context"
	"fmt"
	"math"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// Result is what Check measured.
type Result struct {
	Samples     int     `json:"samples"`
	EngineTop1  float64 `json:"engine_top1"`
	ORTTop1     float64 `json:"ort_top1"`
	Agree       float64 `json:"agree_top1"`   // fraction of samples where both pick the same class
	MaxAbsDiff  float64 `json:"max_abs_diff"` // largest |engine − ORT| over every output score
	ORTVersion  string  `json:"ort_version"`
	Initializer int     `json:"initializers"`   // float weight tensors (≥ 2 elements) stored as initializers
	Constant    int     `json:"constant_nodes"` // float weight tensors (≥ 2 elements) stored in Constant nodes
}

// Layout counts m's weight tensors (float32 parameters of ≥ 2 elements; not
// int64 shapes such as a Reshape's, which structured pruning may add as
// initializers) by where they are stored.
func Layout(m *onnxio.Model) (initializers, constants int) {
	for _, p := range m.Params() {
		n := int64(1)
		for _, d := range p.Tensor.GetDims() {
			n *= d
		}
		if n < 2 || onnxio.DataType(p.Tensor.GetDataType()) != onnxio.Float {
			continue
		}
		if p.Where == onnxio.ConstantNode {
			constants++
		} else {
			initializers++
		}
	}
	return initializers, constants
}

// Check runs the model at path on the .npz at data (one array named after
// the model's single input, and labels) in the engine, batch samples at a
// time, and in ONNX Runtime, and compares the first output's argmax.
func Check(ctx context.Context, path, data, labels string, batch int) (*Result, error) {
	m, err := onnxio.ReadFile(path)
	if err != nil {
		return nil, err
	}
	info := m.Info()
	if len(info.Inputs) != 1 || len(info.Outputs) == 0 {
		return nil, fmt.Errorf("%s: ortcheck wants one input and an output, the model has %d inputs and %d outputs", path, len(info.Inputs), len(info.Outputs))
	}
	in, out := info.Inputs[0].Name, info.Outputs[0].Name
	arrays, err := dataset.ReadNPZ(data)
	if err != nil {
		return nil, err
	}
	x, ok := arrays[in]
	if !ok {
		return nil, fmt.Errorf("%s: no array %q (the model's input)", data, in)
	}
	y, ok := arrays[labels]
	if !ok {
		return nil, fmt.Errorf("%s: no labels array %q", data, labels)
	}
	xs, ok := x.Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("%s: %q is %v, want float32", data, in, x.Dtype())
	}
	ys, ok := y.Data().([]int64)
	if !ok {
		return nil, fmt.Errorf("%s: labels %q are %v, want int64", data, labels, y.Dtype())
	}
	shape := x.Shape()
	n := shape[0]
	if n == 0 || len(ys) != n {
		return nil, fmt.Errorf("%s: %d samples and %d labels", data, n, len(ys))
	}
	per := len(xs) / n
	batch = max(1, min(batch, n))
	r := &Result{Samples: n}
	r.Initializer, r.Constant = Layout(m)

	// Engine, in batches (the last one may be smaller: its own plan).
	eng := make([]float32, 0)
	var classes int
	plans := map[int]*engine.Program{}
	for lo := 0; lo < n; lo += batch {
		k := min(batch, n-lo)
		p := plans[k]
		if p == nil {
			dims := append([]int{k}, shape[1:]...)
			if p, err = engine.Compile(m, engine.WithInputShape(in, dims...)); err != nil {
				return nil, fmt.Errorf("%s: engine: %w", path, err)
			}
			plans[k] = p
		}
		t := tensor.New(tensor.WithShape(append([]int{k}, shape[1:]...)...), tensor.WithBacking(xs[lo*per:(lo+k)*per]))
		outs, err := p.Run(ctx, map[string]*tensor.Dense{in: t})
		if err != nil {
			return nil, fmt.Errorf("%s: engine: %w", path, err)
		}
		o := outs[out]
		if o.Shape()[0] != k || len(o.Shape()) != 2 {
			return nil, fmt.Errorf("%s: output %q has shape %v, want [%d, classes]", path, out, o.Shape(), k)
		}
		classes = o.Shape()[1]
		eng = append(eng, o.Data().([]float32)...)
	}

	// ONNX Runtime, the same batches.
	o, err := ortoracle.Find()
	if err != nil {
		return nil, err
	}
	r.ORTVersion = o.Version()
	ort := make([]float32, 0, len(eng))
	for lo := 0; lo < n; lo += batch {
		k := min(batch, n-lo)
		dims := []int64{int64(k)}
		for _, d := range shape[1:] {
			dims = append(dims, int64(d))
		}
		outs, err := o.Run(ctx, path, []ortoracle.Tensor{ortoracle.FromFloat32(in, dims, xs[lo*per:(lo+k)*per])})
		if err != nil {
			return nil, fmt.Errorf("%s: ORT: %w", path, err)
		}
		v, err := outs[0].Float32()
		if err != nil {
			return nil, fmt.Errorf("%s: ORT output: %w", path, err)
		}
		ort = append(ort, v...)
	}
	if len(ort) != len(eng) {
		return nil, fmt.Errorf("%s: ORT gave %d scores, the engine %d", path, len(ort), len(eng))
	}
	argmax := func(v []float32) int {
		b := 0
		for i := range v {
			if v[i] > v[b] {
				b = i
			}
		}
		return b
	}
	var ce, co, ag int
	for i := range n {
		e, t := argmax(eng[i*classes:(i+1)*classes]), argmax(ort[i*classes:(i+1)*classes])
		if int64(e) == ys[i] {
			ce++
		}
		if int64(t) == ys[i] {
			co++
		}
		if e == t {
			ag++
		}
	}
	for i := range eng {
		r.MaxAbsDiff = math.Max(r.MaxAbsDiff, math.Abs(float64(eng[i])-float64(ort[i])))
	}
	r.EngineTop1 = float64(ce) / float64(n)
	r.ORTTop1 = float64(co) / float64(n)
	r.Agree = float64(ag) / float64(n)
	return r, nil
}
