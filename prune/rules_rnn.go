package prune

import (
	"fmt"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// rnnRule: LSTM and GRU (https://onnx.ai/onnx/operators/onnx__LSTM.html).
// The input features (axis 2 of X) are W's axis 2, as a Gemm's input. The
// hidden units start a space on the outputs (axis 3 of Y, 2 of Y_h and
// Y_c, in either layout), shared by both directions because hidden_size
// is. Hidden unit j is, in every direction:
//
//	W, R rows q·H + j of every gate q (axis 1), R column j (axis 2),
//	B entries q·H + j of the 2·gates stacked biases, P entries q·H + j of
//	the 3 peepholes, initial_h and initial_c entry j (axis 2).
//
// Rewrite sets hidden_size. Initial states must be constants (sliced with
// the units) or all zeros made at run time (an Expand or ConstantOfShape of
// 0, as torch exports them), which equal an omitted state: the pruned node
// then omits them. Anything else blocks the hidden units, naming the node.
type rnnRule struct{ gates int }

// rnnOutAxes is the hidden axis of Y, Y_h and Y_c (both layouts).
var rnnOutAxes = []int{3, 2, 2}

// rnnNote is what Couple tells Rewrite about a node.
type rnnNote struct {
	root       *Space
	zeroStates []int // input slots of run-time zero initial states
}

func (r rnnRule) stateSlots() []int {
	if r.gates == 4 {
		return []int{5, 6}
	}
	return []int{5}
}

func (r rnnRule) Couple(c *Coupler, n *onnx.NodeProto) {
	op, label := n.GetOpType(), c.Label(n)
	in := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("%s %q reads them as weights, lengths or states", op, label), 0)
	w, rw := c.Param(n, 1), c.Param(n, 2)
	if w == nil || rw == nil || len(w.Shape()) != 3 || len(rw.Shape()) != 3 {
		c.Block(in, fmt.Sprintf("%s %q has no constant W and R", op, label))
		return
	}
	hid := int(rw.Shape()[2])
	gh := r.gates * hid
	if int(w.Shape()[1]) != gh || int(rw.Shape()[1]) != gh {
		c.Block(in, fmt.Sprintf("%s %q: W %v and R %v do not stack %d gates of %d", op, label, w.Shape(), rw.Shape(), r.gates, hid))
		return
	}
	if in != nil {
		if in.Axis != 2 {
			c.Block(in, fmt.Sprintf("%s %q reads features on axis 2, the channels are on axis %d", op, label, in.Axis))
		} else {
			c.Couple(n, 1, 2, in, KindWeight)
		}
	}
	rootSlot := -1
	for slot, o := range n.GetOutput() {
		if o != "" && slot < len(rnnOutAxes) {
			rootSlot = slot
			break
		}
	}
	if rootSlot < 0 {
		return
	}
	root := c.NewRoot(n, rootSlot, rnnOutAxes[rootSlot], hid)
	for slot := rootSlot + 1; slot < len(n.GetOutput()) && slot < len(rnnOutAxes); slot++ {
		if n.GetOutput()[slot] != "" {
			c.LinkAll(root, c.Derive(n, slot, rnnOutAxes[slot], hid))
		}
	}
	note := &rnnNote{root: root}
	for _, slot := range r.stateSlots() {
		switch {
		case slot >= len(n.GetInput()) || n.GetInput()[slot] == "":
		case c.Param(n, slot) != nil:
			c.Couple(n, slot, 2, root, KindShift)
		case c.zeroState(n, slot):
			note.zeroStates = append(note.zeroStates, slot)
		default:
			c.Block(root, fmt.Sprintf("input %d (initial state) of %s %q is computed at run time and not zeros", slot, op, label))
		}
	}
	c.Note(n, note)
	// stacked makes a space of k·H entries, entry q·H + j being unit j.
	stacked := func(k int) *Space {
		s := c.d.newSpace(fmt.Sprintf("%s#%s-stack%d", n.GetOutput()[rootSlot], op, k), 1, k*hid, "")
		for q := range k {
			for j := range hid {
				c.Link(root, j, s, q*hid+j)
			}
		}
		return s
	}
	g := stacked(r.gates)
	c.Couple(n, 1, 1, g, KindWeight)
	c.Couple(n, 2, 1, g, KindWeight)
	c.Couple(n, 2, 2, root, KindWeight)
	if c.Param(n, 3) != nil || (len(n.GetInput()) > 3 && n.GetInput()[3] != "") {
		c.Couple(n, 3, 1, stacked(2*r.gates), KindBias)
	}
	if r.gates == 4 && len(n.GetInput()) > 7 && n.GetInput()[7] != "" {
		c.Couple(n, 7, 1, stacked(3), KindBias)
	}
}

// zeroState reports whether input slot of n is an Expand or ConstantOfShape
// of constant zeros.
func (c *Coupler) zeroState(n *onnx.NodeProto, slot int) bool {
	p := c.d.producer[n.GetInput()[slot]]
	if p == nil || !isDefaultDomain(p) {
		return false
	}
	switch p.GetOpType() {
	case "Expand":
		v, ok := c.Floats(p, 0)
		if !ok {
			return false
		}
		for _, x := range v {
			if x != 0 {
				return false
			}
		}
		return true
	case "ConstantOfShape":
		for _, a := range p.GetAttribute() {
			if a.GetName() == "value" {
				t := a.GetT()
				for _, x := range t.GetFloatData() {
					if x != 0 {
						return false
					}
				}
				for _, b := range t.GetRawData() {
					if b != 0 {
						return false
					}
				}
				return len(t.GetInt32Data())+len(t.GetInt64Data())+len(t.GetDoubleData()) == 0
			}
		}
		return true // value defaults to a float 0
	}
	return false
}

func (r rnnRule) Rewrite(rw *Rewriter, n *onnx.NodeProto) error {
	note, ok := rw.Note(n).(*rnnNote)
	if !ok {
		return nil
	}
	kept := rw.Kept(note.root)
	if kept == note.root.Size {
		return nil
	}
	rw.SetAttrInt(n, "hidden_size", int64(kept))
	for _, slot := range note.zeroStates {
		name := n.GetInput()[slot]
		n.Input[slot] = ""
		if p := rw.d.producer[name]; p != nil && len(rw.d.consumers[name]) == 1 && !rw.d.outputs[name] {
			rw.drop[p] = true
			rw.gone(name)
		}
	}
	for len(n.Input) > 0 && n.Input[len(n.Input)-1] == "" {
		n.Input = n.Input[:len(n.Input)-1]
	}
	return nil
}

// gatherRule: Gather with constant indices along an axis other than the
// channels' passes them through (a step of a sequence, a direction of a
// recurrent layer's state); along the channel axis it blocks them.
type gatherRule struct{ NoRewrite }

func (gatherRule) Couple(c *Coupler, n *onnx.NodeProto) {
	s := c.In(n, 0)
	c.BlockOthers(n, fmt.Sprintf("Gather %q reads them as indices", c.Label(n)), 0)
	if s == nil {
		return
	}
	x, idx := c.Shape(n.GetInput()[0]), c.Shape(n.GetInput()[1])
	if x == nil || (idx == nil && c.Param(n, 1) == nil) {
		c.Block(s, fmt.Sprintf("Gather %q: shapes unknown", c.Label(n)))
		return
	}
	if idx == nil {
		idx = toInts(c.Param(n, 1).Shape())
	}
	axis := int(AttrInt(n, "axis", 0))
	if axis < 0 {
		axis += len(x)
	}
	switch {
	case axis == s.Axis:
		c.Block(s, fmt.Sprintf("Gather %q selects along the channel axis %d", c.Label(n), axis))
	case s.Axis < axis:
		c.PassThrough(n, s, s.Axis)
	default:
		c.PassThrough(n, s, s.Axis-1+len(idx))
	}
}

// rnnWeightAxes says whether input slot of an LSTM or GRU is a prunable
// weight: W [D, gates·H, I] and R [D, gates·H, H], rows (axis 1, every gate
// of every unit) as output channels and axis 2 (input features, hidden
// units) as the reduction axis, which is what N:M groups run along. Biases,
// peepholes, lengths and initial states are not weights (why says so).
func rnnWeightAxes(n *onnx.NodeProto, slot, rank int) (weight bool, why string) {
	role := map[int]string{3: "bias", 4: "sequence_lens", 5: "initial_h", 6: "initial_c", 7: "peepholes"}[slot]
	switch {
	case (slot == 1 || slot == 2) && rank == 3:
		return true, ""
	case role != "":
		return false, fmt.Sprintf("input %d of %s %q is its %s, not a weight", slot, n.GetOpType(), n.GetName(), role)
	}
	return false, ""
}

// rnnBlockFits refuses block rows that would straddle two gates of an
// LSTM or GRU weight (rows q·H … q·H + H − 1 are gate q): "" when r rows
// divide the hidden size.
func rnnBlockFits(t *Target, r int) string {
	gates := map[string]int64{"LSTM": 4, "GRU": 3}[t.Op]
	if gates == 0 || len(t.Shape) != 3 {
		return ""
	}
	if hid := t.Shape[1] / gates; hid%int64(r) != 0 {
		return fmt.Sprintf("%s gates have %d rows each, not a multiple of %d: a block would straddle two gates", t.Op, hid, r)
	}
	return ""
}
