package prune

import (
	"fmt"
	"slices"

	"github.com/edgeprune/edgeprune/internal/shapes"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// concatRule: along the channel axis output channels are the inputs'
// channels at their offsets; along another axis every input carries the
// same channels.
type concatRule struct{ NoRewrite }

func (concatRule) Couple(c *Coupler, n *onnx.NodeProto) {
	ysh := c.Shape(n.GetOutput()[0])
	var any *Space
	for slot := range n.GetInput() {
		if s := c.In(n, slot); s != nil {
			any = s
		}
	}
	if any == nil {
		return
	}
	why := func(s string) string { return fmt.Sprintf("Concat %q: %s", c.Label(n), s) }
	if ysh == nil {
		c.BlockInputs(n, why("shapes unknown"))
		return
	}
	axis := int(AttrInt(n, "axis", 0))
	if axis < 0 {
		axis += len(ysh)
	}
	if any.Axis != axis {
		for slot := range n.GetInput() {
			if s := c.In(n, slot); s == nil || s.Axis != any.Axis || s.Size != any.Size {
				c.BlockInputs(n, why("inputs carry different channels"))
				return
			}
		}
		out := c.PassThrough(n, any, any.Axis)
		for slot := range n.GetInput() {
			c.LinkAll(c.In(n, slot), out)
		}
		return
	}
	out := c.Derive(n, 0, axis, ysh[axis])
	off := 0
	for slot, name := range n.GetInput() {
		sh := c.Shape(name)
		if sh == nil || axis >= len(sh) {
			c.Block(out, why("shape of "+name+" unknown"))
			c.BlockInputs(n, why("shape of "+name+" unknown"))
			return
		}
		s := c.In(n, slot)
		switch {
		case s == nil:
			for i := range sh[axis] {
				c.BlockAt(out, off+i, why(name+" has no prunable channels"))
			}
		case s.Axis != axis:
			c.Block(s, why("input channels on another axis"))
			for i := range sh[axis] {
				c.BlockAt(out, off+i, why("input channels on another axis"))
			}
		default:
			for i := range s.Size {
				c.Link(s, i, out, off+i)
			}
		}
		off += sh[axis]
	}
}

// splitSizes returns Split's sizes along axis (from the input or the
// attribute, or equal parts), or false.
func splitSizes(c *Coupler, n *onnx.NodeProto, dim int) ([]int64, bool) {
	if len(n.GetInput()) > 1 && n.GetInput()[1] != "" {
		return c.Ints(n, 1)
	}
	if v, ok := AttrInts(n, "split"); ok {
		return v, true
	}
	k := len(n.GetOutput())
	if k == 0 || dim%k != 0 {
		return nil, false
	}
	out := make([]int64, k)
	for i := range out {
		out[i] = int64(dim / k)
	}
	return out, true
}

// splitRule: along the channel axis output i takes the channels in its
// range; the sizes are rewritten. Along other axes channels pass through.
type splitRule struct{}

func (splitRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("Split %q reads channels as sizes", c.Label(n)), 0)
	if s == nil {
		return
	}
	sh := c.Shape(n.GetInput()[0])
	if sh == nil {
		c.Block(s, fmt.Sprintf("Split %q: shape unknown", c.Label(n)))
		return
	}
	axis := int(AttrInt(n, "axis", 0))
	if axis < 0 {
		axis += len(sh)
	}
	if axis != s.Axis {
		for i, o := range n.GetOutput() {
			if o != "" {
				out := c.Derive(n, i, s.Axis, s.Size)
				c.LinkAll(s, out)
			}
		}
		return
	}
	sizes, ok := splitSizes(c, n, s.Size)
	if !ok || len(sizes) != len(n.GetOutput()) {
		c.Block(s, fmt.Sprintf("Split %q: sizes unknown", c.Label(n)))
		return
	}
	for i := range sizes {
		c.Claim(n, 1, i)
	}
	off := 0
	for i, o := range n.GetOutput() {
		if o != "" {
			out := c.Derive(n, i, axis, int(sizes[i]))
			for j := range out.Size {
				c.Link(s, off+j, out, j)
			}
		}
		off += int(sizes[i])
	}
	if off != s.Size {
		c.Block(s, fmt.Sprintf("Split %q: sizes %v do not add up to %d", c.Label(n), sizes, s.Size))
	}
}

func (splitRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	s := r.In(n, 0)
	if s == nil || r.Kept(s) == s.Size {
		return nil
	}
	var sizes []int64
	for _, o := range n.GetOutput() {
		out := r.Space(o)
		if out == nil || out.Axis != s.Axis {
			return nil // split along another axis
		}
		sizes = append(sizes, int64(r.Kept(out)))
	}
	if r.Opset() >= 13 {
		return r.SetInputInts(n, 1, sizes)
	}
	r.SetAttrInts(n, "split", sizes)
	return nil
}

// sliceParams returns Slice's starts, ends, axes and steps (constants), or
// false.
func sliceParams(c *Coupler, n *onnx.NodeProto, rank int) (starts, ends, axes, steps []int64, ok bool) {
	if c.Opset() < 10 {
		starts, _ = AttrInts(n, "starts")
		ends, _ = AttrInts(n, "ends")
		axes, _ = AttrInts(n, "axes")
	} else {
		var ok1, ok2 bool
		starts, ok1 = c.Ints(n, 1)
		ends, ok2 = c.Ints(n, 2)
		if !ok1 || !ok2 {
			return nil, nil, nil, nil, false
		}
		if len(n.GetInput()) > 3 && n.GetInput()[3] != "" {
			if axes, ok = c.Ints(n, 3); !ok {
				return nil, nil, nil, nil, false
			}
		}
		if len(n.GetInput()) > 4 && n.GetInput()[4] != "" {
			if steps, ok = c.Ints(n, 4); !ok {
				return nil, nil, nil, nil, false
			}
		}
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if len(starts) != len(ends) || len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
		return nil, nil, nil, nil, false
	}
	for i := range axes {
		if axes[i] < 0 {
			axes[i] += int64(rank)
		}
	}
	return starts, ends, axes, steps, true
}

// clampRange resolves a Slice start/end (step 1) on a dimension to
// [lo, hi) (shapes.SliceRange).
func clampRange(start, end int64, dim int) (int, int) {
	lo, n, _ := shapes.SliceRange(start, end, 1, dim)
	return lo, lo + n
}

// sliceRule: a Slice with constant bounds and step 1 on the channel axis
// keeps a window of channels (its bounds are rewritten); on other axes
// channels pass through.
type sliceRule struct{}

func (sliceRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("Slice %q reads channels as bounds", c.Label(n)), 0)
	if s == nil {
		return
	}
	sh := c.Shape(n.GetInput()[0])
	starts, ends, axes, steps, ok := sliceParams(c, n, len(sh))
	if sh == nil || !ok {
		c.Block(s, fmt.Sprintf("Slice %q: bounds computed at run time", c.Label(n)))
		return
	}
	k := slices.Index(axes, int64(s.Axis))
	if k < 0 {
		c.PassThrough(n, s, s.Axis)
		return
	}
	if steps != nil && steps[k] != 1 {
		c.Block(s, fmt.Sprintf("Slice %q: step %d on the channel axis", c.Label(n), steps[k]))
		return
	}
	lo, hi := clampRange(starts[k], ends[k], s.Size)
	if c.Opset() >= 10 {
		c.Claim(n, 1, k)
		c.Claim(n, 2, k)
	}
	out := c.Derive(n, 0, s.Axis, hi-lo)
	for j := range out.Size {
		c.Link(s, lo+j, out, j)
	}
}

func (sliceRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	s := r.In(n, 0)
	out := r.Space(n.GetOutput()[0])
	if s == nil || out == nil || r.Kept(s) == s.Size {
		return nil
	}
	c := &Coupler{d: r.d}
	starts, ends, axes, _, ok := sliceParams(c, n, len(r.Shape(n.GetInput()[0])))
	if !ok {
		return nil
	}
	k := slices.Index(axes, int64(s.Axis))
	if k < 0 {
		return nil
	}
	lo, hi := clampRange(starts[k], ends[k], s.Size)
	keep := r.Keep(s)
	newLo := 0
	for i := range lo {
		if keep[i] {
			newLo++
		}
	}
	newHi := newLo
	for i := lo; i < hi; i++ {
		if keep[i] {
			newHi++
		}
	}
	starts, ends = slices.Clone(starts), slices.Clone(ends)
	starts[k], ends[k] = int64(newLo), int64(newHi)
	if r.Opset() < 10 {
		r.SetAttrInts(n, "starts", starts)
		r.SetAttrInts(n, "ends", ends)
		return nil
	}
	if err := r.SetInputInts(n, 1, starts); err != nil {
		return err
	}
	return r.SetInputInts(n, 2, ends)
}

// transposeRule moves the channel axis.
type transposeRule struct{ NoRewrite }

func (transposeRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	if s == nil {
		return
	}
	perm, ok := AttrInts(n, "perm")
	sh := c.Shape(n.GetInput()[0])
	if !ok {
		if sh == nil {
			c.Block(s, fmt.Sprintf("Transpose %q: rank unknown", c.Label(n)))
			return
		}
		for i := range sh {
			perm = append(perm, int64(len(sh)-1-i))
		}
	}
	k := slices.Index(perm, int64(s.Axis))
	if k < 0 {
		c.Block(s, fmt.Sprintf("Transpose %q: bad perm %v", c.Label(n), perm))
		return
	}
	c.PassThrough(n, s, k)
}

// flattenRule: channel c of [d0…, C, inner…] becomes its block of inner
// features, for every outer index, in the flattened axis 1.
type flattenRule struct{ NoRewrite }

func (flattenRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	if s == nil {
		return
	}
	sh := c.Shape(n.GetInput()[0])
	if sh == nil {
		c.Block(s, fmt.Sprintf("Flatten %q: shape unknown", c.Label(n)))
		return
	}
	ax := int(AttrInt(n, "axis", 1))
	if ax < 0 {
		ax += len(sh)
	}
	if s.Axis < ax {
		c.Block(s, fmt.Sprintf("Flatten %q merges the channel axis into its first output axis", c.Label(n)))
		return
	}
	c.MergeChannels(n, s, 1, prod(sh[ax:s.Axis]), prod(sh[s.Axis+1:]))
}

// reshapeRule: a constant target (stored, or computed from Shape and
// folded at analysis time) that keeps the channel axis (its size is
// rewritten), or merges it with the axes after it (Flatten). Splitting the
// channel axis is refused unless it starts a channel shuffle
// (depgraph_shuffle.go).
type reshapeRule struct{}

// reshapeMap finds where channel axis a of x lands in y: the output axis,
// and the features per channel along it (1: kept as is).
func reshapeMap(x, y []int, a int) (axis, inner int, ok bool) {
	pre, rest := prod(x[:a]), prod(x[a+1:])
	p := 1
	for k := range y {
		if p > pre && p > 0 {
			break
		}
		if p == pre {
			if y[k] == x[a] && prod(y[k+1:]) == rest {
				return k, 1, true
			}
			if x[a] > 0 && y[k]%x[a] == 0 && prod(y[k+1:])*(y[k]/x[a]) == rest {
				return k, y[k] / x[a], true
			}
		}
		p *= y[k]
	}
	return 0, 0, false
}

// reshapeMergeMap is reshapeMap for a channel axis merged with axes before
// it too (a bidirectional LSTM's [T, B, 2, H] → [T, B, 2·H]): x[j:a] (outer
// entries in all) and x[a+1:a'] (inner) become output axis k, feature
// (o·C + c)·inner + r being channel c.
func reshapeMergeMap(x, y []int, a int) (axis, outer, inner int, ok bool) {
	for j := a - 1; j >= 0; j-- {
		pre, outer := prod(x[:j]), prod(x[j:a])
		p := 1
		for k := range y {
			if p > pre {
				break
			}
			if p == pre {
				if d := outer * x[a]; d > 0 && y[k]%d == 0 && prod(y[k+1:])*(y[k]/d) == prod(x[a+1:]) {
					return k, outer, y[k] / d, true
				}
			}
			p *= y[k]
		}
	}
	return 0, 0, 0, false
}

func (reshapeRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("Reshape %q reads channels as its target", c.Label(n)), 0)
	if s == nil {
		return
	}
	if _, ok := c.Ints(n, 1); !ok {
		c.Block(s, fmt.Sprintf("Reshape %q: target shape computed at run time", c.Label(n)))
		return
	}
	x, y := c.Shape(n.GetInput()[0]), c.Shape(n.GetOutput()[0])
	if x == nil || y == nil {
		c.Block(s, fmt.Sprintf("Reshape %q: shapes unknown", c.Label(n)))
		return
	}
	k, inner, ok := reshapeMap(x, y, s.Axis)
	if !ok {
		if k, outer, inner, ok := reshapeMergeMap(x, y, s.Axis); ok {
			if t, _ := c.Ints(n, 1); k < len(t) && !keepsDim(n, t[k]) {
				c.Claim(n, 1, k)
			}
			c.MergeChannels(n, s, k, outer, inner)
			return
		}
		if !c.FollowShuffle(n, s, x, y) {
			c.Block(s, fmt.Sprintf("Reshape %q %v → %v splits or mixes the channel axis %d (and is not a channel shuffle)", c.Label(n), x, y, s.Axis))
		}
		return
	}
	if t, _ := c.Ints(n, 1); k < len(t) && !keepsDim(n, t[k]) {
		c.Claim(n, 1, k)
	}
	if inner == 1 {
		c.PassThrough(n, s, k)
		return
	}
	c.MergeChannels(n, s, k, 1, inner)
}

// keepsDim reports whether Reshape target entry v is inferred (-1) or
// copied from the input (0 without allowzero).
func keepsDim(n *onnx.NodeProto, v int64) bool {
	return v == -1 || (v == 0 && AttrInt(n, "allowzero", 0) == 0)
}

func (reshapeRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	if started, err := r.RewriteShuffle(n); started || err != nil {
		return err
	}
	s := r.In(n, 0)
	out := r.Space(n.GetOutput()[0])
	if s == nil || out == nil || r.Kept(s) == s.Size {
		return nil
	}
	t, ok := r.Ints(n, 1)
	if !ok || out.Axis >= len(t) || keepsDim(n, t[out.Axis]) {
		return nil
	}
	t[out.Axis] = int64(r.Kept(out))
	return r.SetReshapeTarget(n, t)
}

// resizeRule: Resize/Upsample with scale 1 (or the same size) on the
// channel axis.
type resizeRule struct{}

func (resizeRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("%s %q reads channels as sizes", n.GetOpType(), c.Label(n)), 0)
	if s == nil {
		return
	}
	x, y := c.Shape(n.GetInput()[0]), c.Shape(n.GetOutput()[0])
	if x == nil || y == nil || len(x) != len(y) || y[s.Axis] != x[s.Axis] {
		c.Block(s, fmt.Sprintf("%s %q resizes the channel axis", n.GetOpType(), c.Label(n)))
		return
	}
	if n.GetOpType() == "Resize" && len(n.GetInput()) > 3 && n.GetInput()[3] != "" {
		if _, ok := c.Ints(n, 3); !ok {
			c.Block(s, fmt.Sprintf("Resize %q: sizes computed at run time", c.Label(n)))
			return
		}
		c.Claim(n, 3, s.Axis)
	}
	c.PassThrough(n, s, s.Axis)
}

func (resizeRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	s := r.In(n, 0)
	if s == nil || r.Kept(s) == s.Size || n.GetOpType() != "Resize" || len(n.GetInput()) < 4 || n.GetInput()[3] == "" {
		return nil
	}
	sizes, ok := r.Ints(n, 3)
	if !ok || s.Axis >= len(sizes) {
		return nil
	}
	sizes = slices.Clone(sizes)
	sizes[s.Axis] = int64(r.Kept(s))
	return r.SetInputInts(n, 3, sizes)
}

// padRule: Pad with no padding on the channel axis.
type padRule struct{ NoRewrite }

func (padRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("Pad %q reads channels as pads", c.Label(n)), 0)
	if s == nil {
		return
	}
	x, y := c.Shape(n.GetInput()[0]), c.Shape(n.GetOutput()[0])
	if x == nil || y == nil || len(x) != len(y) || y[s.Axis] != x[s.Axis] {
		c.Block(s, fmt.Sprintf("Pad %q pads the channel axis", c.Label(n)))
		return
	}
	c.PassThrough(n, s, s.Axis)
}

// shapeRule: Shape is folded when its input's shape is known (its
// consumers are then checked by checkShapeReads); otherwise the channel
// count is read at run time.
type shapeRule struct{ NoRewrite }

func (shapeRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	if s != nil && !c.Folded(n.GetOutput()[0]) {
		c.Block(s, fmt.Sprintf("its channel count is read by Shape %q at run time (shape unknown)", c.Label(n)))
	}
}
