// Package magprune zeroes the smallest-magnitude weights of a model, one
// global threshold over every Conv, Gemm and MatMul weight: the stand-in
// pruner that pack's tests and benchmarks use to make sparse models until
// the real pruner (package prune) is available to them.
package magprune

import (
	"fmt"
	"math"
	"slices"

	"github.com/edgeprune/edgeprune/onnxio"
)

// Weights returns the float32 parameters that are weights of Conv (input
// 1), Gemm (input 1) or MatMul (either input), in model order.
func Weights(m *onnxio.Model) []*onnxio.Param {
	var out []*onnxio.Param
	for _, p := range m.Params() {
		if p.DataType() != onnxio.Float || len(p.Shape()) < 2 {
			continue
		}
		for _, u := range p.Uses {
			op := u.Node.GetOpType()
			if (op == "Conv" || op == "Gemm") && u.Input == 1 || op == "MatMul" {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// Global zeroes the fraction sparsity (in [0, 1]) of all Weights(m)
// elements with the smallest |w|, in place: every element with |w| below
// the global threshold is set to +0, ties at the threshold broken in model
// order so exactly round(sparsity·n) elements end up zero-valued (counting
// those already zero). It returns the number of elements zeroed.
func Global(m *onnxio.Model, sparsity float64) (int, error) {
	if sparsity < 0 || sparsity > 1 || math.IsNaN(sparsity) {
		return 0, fmt.Errorf("magprune: sparsity %v not in [0, 1]", sparsity)
	}
	ws := Weights(m)
	var all []float32
	views := make([][]float32, len(ws))
	for i, p := range ws {
		d, view, err := p.Float32()
		if err != nil {
			return 0, err
		}
		if !view {
			return 0, fmt.Errorf("magprune: %s: no float32 view", p.ID)
		}
		views[i] = d
		for _, v := range d {
			all = append(all, float32(math.Abs(float64(v))))
		}
	}
	k := int(math.Round(sparsity * float64(len(all))))
	if k == 0 {
		return 0, nil
	}
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	thr := sorted[k-1]
	below := 0 // elements strictly below thr: all zeroed
	for _, v := range sorted[:k] {
		if v < thr {
			below++
		}
	}
	atThr := k - below // of the elements equal to thr, zero this many
	zeroed := 0
	for _, d := range views {
		for i, v := range d {
			a := float32(math.Abs(float64(v)))
			if a < thr || (a == thr && atThr > 0) {
				if a == thr {
					atThr--
				}
				d[i] = 0
				zeroed++
			}
		}
	}
	return zeroed, nil
}
