package build

import (
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// The sensitivity pass has two kinds of work per group or layer: building
// and costing its options' models (decoding, pruning, compiling, costing,
// packing, re-estimating BatchNormalization statistics with adaptive BN:
// one goroutine) and running their tails on the calibration data (the
// engine's threads). ahead prepares the next group while the current
// one runs, so that the preparation takes the core the tails leave idle
// rather than adding to the wall time. It changes no value: each
// preparation is the same computation, on data nobody else writes.

// plainSensitivity turns the pass's shortcuts off: every head runs from
// the graph inputs (tails.fromInputs) and each preparation runs when its
// result is wanted. Tests set it to get the values the shortcuts must
// reproduce.
var plainSensitivity bool

// groupPrep is a structured group's levels, built and costed.
type groupPrep struct {
	gr     GroupResult
	models []*onnxio.Model // the levels to run on the calibration data
	idx    []int           // option index of each model
	frac   []*evaluated    // per level: recordFrac's argument
	// cut is the first node any of models changes, found before adaptive
	// BN (when on) re-estimated their statistics downstream of it.
	cut int
}

// prepared runs prep(i) for i = 0, 1, ... one ahead of its consumer: next(i)
// returns prep(i)'s result and starts prep(i+1).
type prepared[T any] struct {
	n    int
	prep func(int) (T, error)
	res  chan preparedResult[T]
}

type preparedResult[T any] struct {
	v   T
	err error
}

func ahead[T any](n int, prep func(int) (T, error)) *prepared[T] {
	p := &prepared[T]{n: n, prep: prep}
	p.start(0)
	return p
}

func (p *prepared[T]) start(i int) {
	if i >= p.n || plainSensitivity {
		p.res = nil
		return
	}
	ch := make(chan preparedResult[T], 1) // buffered: an abandoned preparation does not block
	p.res = ch
	go func() {
		v, err := p.prep(i)
		ch <- preparedResult[T]{v, err}
	}()
}

// next waits for prep(i) (i counts up from 0 by one) and starts prep(i+1).
func (p *prepared[T]) next(i int) (T, error) {
	if plainSensitivity {
		return p.prep(i)
	}
	r := <-p.res
	if r.err == nil {
		p.start(i + 1)
	}
	return r.v, r.err
}

// layerPrep is an unstructured layer's options, built and costed (the
// composed ones coded from their exact twins).
type layerPrep struct {
	gr      GroupResult
	models  []*onnxio.Model // the options to run on the calibration data
	idx     []int           // option index of each model
	weights [][]float32     // per option: the layer's weight as it runs
	tensors []*onnx.TensorProto
}
