package prune

import (
	"fmt"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// normRule: BatchNormalization and InstanceNormalization, per-channel
// parameters along axis 1.
type normRule struct {
	NoRewrite
	params []SliceKind
}

func (r normRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("%s %q reads channels as parameters", n.GetOpType(), c.Label(n)), 0)
	if s == nil {
		return
	}
	if s.Axis != 1 {
		c.Block(s, fmt.Sprintf("%s %q normalizes axis 1, the channels are on axis %d", n.GetOpType(), c.Label(n), s.Axis))
		return
	}
	for _, o := range n.GetOutput()[1:] {
		if o != "" {
			c.Block(s, fmt.Sprintf("%s %q in training mode", n.GetOpType(), c.Label(n)))
			return
		}
	}
	out := c.PassThrough(n, s, 1)
	for i, k := range r.params {
		c.Couple(n, i+1, 0, out, k)
	}
}

// convRule: Conv. group 1 starts a space (output channels: weight axis 0,
// bias) and consumes its input's (weight axis 1). A depthwise Conv (one
// input channel per group) passes channels through, each input channel to
// its multiplier output channels, and its group count follows. A grouped
// Conv (several input channels per group) starts a space too, and prunes
// evenly: output channel j of every group is one unit, and input channel j
// of every group another (weight column j), so the group count stays.
type convRule struct{}

func (convRule) Couple(c *Coupler, n *onnx.NodeProto) {
	in := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("Conv %q reads channels as weights", c.Label(n)), 0)
	w := c.Param(n, 1)
	if w == nil || len(w.Shape()) < 3 {
		c.Block(in, fmt.Sprintf("Conv %q has no constant weight", c.Label(n)))
		return
	}
	group := int(AttrInt(n, "group", 1))
	cout, cinG := int(w.Shape()[0]), int(w.Shape()[1])
	if in != nil && in.Axis != 1 {
		c.Block(in, fmt.Sprintf("Conv %q: channels on axis %d", c.Label(n), in.Axis))
		in = nil
	}
	switch {
	case group == 1:
		if in != nil {
			c.Couple(n, 1, 1, in, KindWeight)
		}
		out := c.NewRoot(n, 0, 1, cout)
		c.Couple(n, 1, 0, out, KindWeight)
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			c.Couple(n, 2, 0, out, KindBias)
		}
	case cinG == 1 && in != nil && in.Size == group && cout%group == 0:
		out := c.Derive(n, 0, 1, cout)
		m := cout / group
		for ch := range group {
			for j := range m {
				c.Link(in, ch, out, ch*m+j)
			}
		}
		c.Couple(n, 1, 0, out, KindWeight)
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			c.Couple(n, 2, 0, out, KindBias)
		}
	case cout%group == 0 && (in == nil || in.Size == group*cinG):
		// Grouped: channel j of every group is one unit, on both sides,
		// so every group keeps the same channels and group stays.
		if in != nil {
			for i := 1; i < group; i++ {
				for j := range cinG {
					c.Link(in, j, in, i*cinG+j)
				}
			}
			c.CoupleFirst(n, 1, 1, in, KindWeight)
		}
		out := c.NewRoot(n, 0, 1, cout)
		coutG := cout / group
		for i := 1; i < group; i++ {
			for j := range coutG {
				c.Link(out, j, out, i*coutG+j)
			}
		}
		c.Couple(n, 1, 0, out, KindWeight)
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			c.Couple(n, 2, 0, out, KindBias)
		}
		c.Note(n, groupStays)
	default:
		c.Block(in, fmt.Sprintf("grouped Conv %q (group %d, %d input channels per group) does not divide its channels", c.Label(n), group, cinG))
	}
}

// groupStays notes a grouped Conv whose group count stays: it loses the
// same channels in every group.
const groupStays = "group stays"

func (convRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	if AttrInt(n, "group", 1) == 1 || r.Note(n) == groupStays {
		return nil
	}
	in := r.In(n, 0)
	if in == nil {
		return nil
	}
	r.SetAttrInt(n, "group", int64(r.Kept(in)))
	return nil
}

// convTransposeRule: ConvTranspose's weight is [C_in, C_out/group, k…].
type convTransposeRule struct{}

func (convTransposeRule) Couple(c *Coupler, n *onnx.NodeProto) {
	in := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("ConvTranspose %q reads channels as weights", c.Label(n)), 0)
	w := c.Param(n, 1)
	if w == nil || len(w.Shape()) < 3 {
		c.Block(in, fmt.Sprintf("ConvTranspose %q has no constant weight", c.Label(n)))
		return
	}
	if _, ok := AttrInts(n, "output_shape"); ok {
		c.Block(in, fmt.Sprintf("ConvTranspose %q has an output_shape", c.Label(n)))
		return
	}
	group := int(AttrInt(n, "group", 1))
	cin, coutG := int(w.Shape()[0]), int(w.Shape()[1])
	if in != nil && in.Axis != 1 {
		c.Block(in, fmt.Sprintf("ConvTranspose %q: channels on axis %d", c.Label(n), in.Axis))
		in = nil
	}
	switch {
	case group == 1:
		if in != nil {
			c.Couple(n, 1, 0, in, KindWeight)
		}
		out := c.NewRoot(n, 0, 1, coutG)
		c.Couple(n, 1, 1, out, KindWeight)
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			c.Couple(n, 2, 0, out, KindBias)
		}
	case coutG == 1 && in != nil && in.Size == group && cin == group:
		out := c.PassThrough(n, in, 1)
		c.Couple(n, 1, 0, in, KindWeight)
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			c.Couple(n, 2, 0, out, KindBias)
		}
	default:
		c.Block(in, fmt.Sprintf("grouped ConvTranspose %q (group %d) is not remapped", c.Label(n), group))
	}
}

func (convTransposeRule) Rewrite(r *Rewriter, n *onnx.NodeProto) error {
	return convRule{}.Rewrite(r, n)
}

// gemmRule: Y = αA'B' + βC with constant B starts a space of N features
// (axis 1 of Y) and consumes A's features (axis 1 of A, transA = 0).
type gemmRule struct{ NoRewrite }

func (gemmRule) Couple(c *Coupler, n *onnx.NodeProto) {
	in := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("Gemm %q reads channels as weights or bias", c.Label(n)), 0)
	w := c.Param(n, 1)
	if w == nil || len(w.Shape()) != 2 {
		c.Block(in, fmt.Sprintf("Gemm %q has no constant weight", c.Label(n)))
		return
	}
	transB := AttrInt(n, "transB", 0) != 0
	kAxis, nAxis := 0, 1
	if transB {
		kAxis, nAxis = 1, 0
	}
	if in != nil {
		if AttrInt(n, "transA", 0) != 0 || in.Axis != 1 {
			c.Block(in, fmt.Sprintf("Gemm %q reads its input transposed", c.Label(n)))
		} else {
			c.Couple(n, 1, kAxis, in, KindWeight)
		}
	}
	out := c.NewRoot(n, 0, 1, int(w.Shape()[nAxis]))
	c.Couple(n, 1, nAxis, out, KindWeight)
	if b := c.Param(n, 2); b != nil {
		if sh := b.Shape(); len(sh) > 0 && int(sh[len(sh)-1]) == out.Size && out.Size > 1 {
			c.Couple(n, 2, len(sh)-1, out, KindBias)
		}
	} else if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
		c.Block(out, fmt.Sprintf("Gemm %q has a computed bias", c.Label(n)))
	}
}

// matMulRule: A·B with a constant 2-D B [K,N] starts a space of N features
// on Y's last axis and consumes A's last axis.
type matMulRule struct{ NoRewrite }

func (matMulRule) Couple(c *Coupler, n *onnx.NodeProto) {
	in := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("MatMul %q reads channels as its right operand", c.Label(n)), 0)
	w := c.Param(n, 1)
	if w == nil || len(w.Shape()) != 2 {
		c.Block(in, fmt.Sprintf("MatMul %q has no constant 2-D right operand", c.Label(n)))
		return
	}
	ash, ysh := c.Shape(n.GetInput()[0]), c.Shape(n.GetOutput()[0])
	if ash == nil || ysh == nil || len(ash) < 1 {
		c.Block(in, fmt.Sprintf("MatMul %q: shapes unknown", c.Label(n)))
		return
	}
	if in != nil {
		if in.Axis != len(ash)-1 || len(ash) == 1 {
			c.Block(in, fmt.Sprintf("MatMul %q: channels on axis %d are not its reduction axis", c.Label(n), in.Axis))
		} else {
			c.Couple(n, 1, 0, in, KindWeight)
		}
	}
	if len(ysh) == 0 {
		return
	}
	out := c.NewRoot(n, 0, len(ysh)-1, int(w.Shape()[1]))
	c.Couple(n, 1, 1, out, KindWeight)
}
