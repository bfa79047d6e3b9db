package engine

import (
	"github.com/edgeprune/edgeprune/internal/shapes"
	"github.com/edgeprune/edgeprune/onnxio"
)

// View ops change only the shape: their output shares the input's storage
// (no kernel runs). Reshape, Flatten, Squeeze, Unsqueeze, Identity and
// inference-mode Dropout.

func view(b *buildCtx, shape []int) (*built, error) {
	x := b.in[0]
	if numel(shape) != numel(x.shape) {
		return nil, invalid("cannot view %v as %v", x.shape, shape)
	}
	return &built{out: one(x.dt, shape), alias: 0}, nil
}

// buildReshape: the target shape comes from the attribute (opset < 5) or the
// second input, which must be known at compile time. 0 copies the input
// dimension (unless allowzero=1), -1 is inferred.
func buildReshape(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	var target []int64
	if b.opset < 5 {
		t, ok := b.attrInts("shape")
		if !ok {
			return nil, invalid("Reshape without shape")
		}
		target = t
	} else {
		t, ok, err := b.constInts(1)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, invalid("Reshape without shape input")
		}
		target = t
	}
	shape, err := shapes.Reshape(b.in[0].shape, target, b.attrInt("allowzero", 0) == 1)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return view(b, shape)
}

func buildFlatten(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	shape, err := shapes.Flatten(b.in[0].shape, b.attrInt("axis", 1))
	if err != nil {
		return nil, invalid("%v", err)
	}
	return view(b, shape)
}

// axesArg reads the axes of Squeeze/Unsqueeze/Reduce*: an attribute before
// opset inputFrom, an optional input (index 1) from then on.
func axesArg(b *buildCtx, inputFrom int64) (axes []int64, ok bool, err error) {
	if b.opset < inputFrom {
		a, ok := b.attrInts("axes")
		return a, ok, nil
	}
	return b.constInts(1)
}

func buildSqueeze(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	x := b.in[0]
	axes, ok, err := axesArg(b, 13)
	if err != nil {
		return nil, err
	}
	if !ok {
		axes = nil // every dimension of 1
	} else if axes == nil {
		axes = []int64{}
	}
	shape, err := shapes.Squeeze(x.shape, axes)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return view(b, shape)
}

func buildUnsqueeze(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	x := b.in[0]
	axes, ok, err := axesArg(b, 13)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("Unsqueeze without axes")
	}
	shape, err := shapes.Unsqueeze(x.shape, axes)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return view(b, shape)
}

func buildIdentity(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	return view(b, b.in[0].shape)
}

// buildDropout is inference-mode Dropout: the identity, and an all-true mask
// when asked for. training_mode=true is not implemented.
func buildDropout(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	if b.opset < 7 && b.attrInt("is_test", 0) == 0 {
		return nil, notImpl("Dropout in training mode (is_test=0)")
	}
	if tm := b.input(2); tm != nil {
		if tm.konst == nil {
			return nil, notImpl("Dropout training_mode not known at compile time")
		}
		if tm.konst.i[0] != 0 {
			return nil, notImpl("Dropout training_mode=true")
		}
	}
	if b.nOut > 1 && b.node.GetOutput()[1] != "" {
		x := b.in[0]
		mask := newData(onnxio.Bool, x.shape)
		for i := range mask.i {
			mask.i[i] = 1
		}
		return &built{k: &copyKernel{mask: mask}, out: []outSpec{{x.dt, x.shape}, {onnxio.Bool, x.shape}}, alias: -1}, nil
	}
	return view(b, b.in[0].shape)
}

// copyKernel copies input 0 to output 0 (and a constant to output 1).
type copyKernel struct{ mask *data }

func (k *copyKernel) forward(_ *exec, in, out []*data) {
	copy(out[0].f, in[0].f)
	copy(out[0].i, in[0].i)
	if k.mask != nil && len(out) > 1 && out[1] != nil {
		copy(out[1].i, k.mask.i)
	}
}
