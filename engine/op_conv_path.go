package engine

import "github.com/edgeprune/edgeprune/onnxio"

// A dense convolution with constant weights can run on several paths
// (op_conv.go's doc: im2col, the implicit product by rows or linear, the
// swapped product, the swapped implicit one; a depthwise one flat or by tap
// rows). Which of them may run a layer is fixed by its geometry and the
// micro-kernel (pathOK); which one is fastest is a guess (rulePath: panel
// fills and costs tuned on one machine) unless it is measured on the
// machine at hand (CalibrateConvPaths, schedule_paths.go), in which case
// Compile takes the measured path per node (WithTuneRecord).
//
// The paths compute the same product with different depth blocks, so they
// agree to the rounding of float32 sums (within 1e-5 of the output's scale:
// TestConvFastPathsMatchReference, TestConvPathEveryChoice); each path
// gives the same bits on any number of threads.

// Conv path names, as CalibrateConvPaths and tune records give them.
const (
	PathIm2col   = "im2col"   // im2col (none for 1×1) and the packed SGEMM (gemmForward)
	PathImplicit = "implicit" // the implicit product by output rows (implicitForward)
	PathLinear   = "linear"   // the implicit product over the padded rows as one row
	PathSwapped  = "swapped"  // the transposed product over im2col (swappedForward)
	PathSwTaps   = "swtaps"   // the transposed implicit product (swTapsForward)
	PathDWFlat   = "dwflat"   // depthwise, flat (op_conv_dw.go)
	PathDWRows   = "dwrows"   // depthwise, by tap rows over padded planes
)

// ConvPaths lists every Conv path name.
var ConvPaths = []string{PathIm2col, PathImplicit, PathLinear, PathSwapped, PathSwTaps, PathDWFlat, PathDWRows}

// path is the path k was built for; "" for a path that is not chosen (a
// sparse layer, or weights computed at run time).
func (k *convKernel) path() string {
	switch {
	case k.sp != nil || (!k.depthwise && k.packed == nil && k.swapped == nil && k.swt == nil):
		return ""
	case k.swt != nil:
		return PathSwTaps
	case k.swapped != nil:
		return PathSwapped
	case k.linear:
		return PathLinear
	case k.implicit:
		return PathImplicit
	case k.flat != nil:
		return PathDWFlat
	case k.depthwise:
		return PathDWRows
	}
	return PathIm2col
}

// pathOK reports whether path p can run k, whose constant weights are to
// be packed for kern (nil for a depthwise layer). These are the paths'
// preconditions, not preferences: each one computes k correctly.
func (k *convKernel) pathOK(p string, kern *microKernel) bool {
	if k.depthwise {
		return p == PathDWRows || p == PathDWFlat && k.flat != nil
	}
	if kern == nil {
		return false
	}
	switch p {
	case PathIm2col:
		return true
	case PathImplicit:
		return kern.runTaps != nil && (k.pointwise || k.subsample() || k.plane != nil)
	case PathLinear:
		return k.implicitLinearOK(kern)
	case PathSwapped:
		return k.swappedFits(kern)
	case PathSwTaps:
		return k.swTapsOK(kern)
	}
	return false
}

// rulePath is the path the rules choose for k (constant weights packed
// for kern, nil when k is depthwise or its weights are computed at run
// time): the swapped implicit path where it fills the kernel's blocks at
// least as well as the implicit ones, the linear path where it fills
// linearMinFill of the panels (a stride-2 layer whose rows fill the panels
// keeps them), the swapped path where its cost model says so, the implicit
// path by rows where they fill the panels, else im2col.
func (k *convKernel) rulePath(kern *microKernel) string {
	switch {
	case k.depthwise && k.flat != nil:
		return PathDWFlat
	case k.depthwise:
		return PathDWRows
	case kern == nil:
		return PathIm2col
	case k.swTapsOK(kern) && k.swTapsBetter(kern):
		return PathSwTaps
	case k.implicitLinearOK(kern) && k.linearFill(kern) >= linearMinFill && !(k.phased() && k.implicitOK(kern)):
		return PathLinear
	case k.swappedOK(kern):
		return PathSwapped
	case k.implicitOK(kern):
		return PathImplicit
	}
	return PathIm2col
}

// setupPath sets k up for path p (pathOK) with the constant weights w
// (nil when they are computed at run time) and returns the scratch, in
// floats, that the path needs.
func (k *convKernel) setupPath(p string, kern *microKernel, w []float32) int {
	switch p {
	case PathSwTaps:
		return k.setupSwTaps(w)
	case PathLinear, PathImplicit:
		k.implicit, k.linear = true, p == PathLinear
		return k.setupImplicit(kern, w)
	case PathSwapped:
		return k.setupSwapped(w)
	case PathDWFlat:
		return k.flat.scratch()
	case PathDWRows:
		k.flat = nil
		return 0
	}
	if kern != nil {
		k.packDense(kern, w)
	}
	if k.pointwise {
		return 0
	}
	return k.c / k.group * k.kh * k.kw * k.oh * k.ow
}

// convPath is the path asked for the Conv being built, "" for the rules':
// training plans always take the rules.
func (b *buildCtx) convPath() string {
	c := b.c
	if c == nil || c.train != nil {
		return ""
	}
	if c.pathsAll != "" {
		return c.pathsAll
	}
	return c.paths[onnxio.NodeLabel(b.node, b.index)]
}
