package prune

import (
	"fmt"
	"slices"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Channel shuffle (ShuffleNet, Zhang et al. 2018; torch's
// channel_shuffle): x [N, C, …] → Reshape [N, g, C/g, …] → Transpose
// swapping axes 1 and 2 → Reshape [N, C, …]. It is a fixed permutation of
// the channels: input channel i·(C/g) + j lands on output channel j·g + i.
// The rules follow it exactly, channel by channel, as one step from x to
// the last Reshape's output; the 5-D values in between carry no space.
//
// The permutation is not coupled further. Keeping the g-way form (every
// group keeping the same channels j) would tie channel j of each group into
// one unit; in ShuffleNet v2 the first half of every unit's output is the
// next unit's pass-through, so these units double with every block and a
// whole stage collapses into one unit. Instead, when channels go the
// shrunk model keeps the Reshape–Transpose–Reshape form (targets rewritten)
// if the kept channels still form g equal groups with the same positions,
// and otherwise replaces the three nodes by one Gather on the channel axis
// with the permutation restricted to the kept channels: the same values in
// the same order, for any selection.

// shuffle is one channel shuffle found by the Reshape rule.
type shuffle struct {
	first, tr, back *onnx.NodeProto
	axis, g, cg     int // channel axis, groups, channels per group
	in, out         *Space
}

// shuffleAt recognises the channel shuffle starting at Reshape n (input
// space s, shapes x → y) and follows it; it reports whether it did.
func shuffleAt(c *Coupler, n *onnx.NodeProto, s *Space, x, y []int) bool {
	d := c.d
	a := s.Axis
	if len(y) != len(x)+1 || a+1 >= len(y) || !slices.Equal(y[:a], x[:a]) || !slices.Equal(y[a+2:], x[a+1:]) ||
		y[a] <= 1 || y[a]*y[a+1] != x[a] {
		return false
	}
	only := func(v string) *onnx.NodeProto {
		us := d.consumers[v]
		if len(us) != 1 || us[0].slot != 0 || d.outputs[v] || d.subUses[v] || !isDefaultDomain(us[0].node) {
			return nil
		}
		return us[0].node
	}
	tr := only(n.GetOutput()[0])
	if tr == nil || tr.GetOpType() != "Transpose" {
		return false
	}
	perm, ok := AttrInts(tr, "perm")
	if !ok || len(perm) != len(y) {
		return false
	}
	for i, p := range perm {
		want := int64(i)
		switch i {
		case a:
			want = int64(a + 1)
		case a + 1:
			want = int64(a)
		}
		if p != want {
			return false
		}
	}
	back := only(tr.GetOutput()[0])
	if back == nil || back.GetOpType() != "Reshape" || !slices.Equal(c.Shape(back.GetOutput()[0]), x) {
		return false
	}
	if _, ok := c.Ints(back, 1); !ok {
		return false
	}
	g, cg := y[a], y[a+1]
	out := d.newSpace(back.GetOutput()[0], a, x[a], "")
	for i := range g {
		for j := range cg {
			c.Link(s, i*cg+j, out, j*g+i)
		}
	}
	c.Claim(n, 1, a, a+1)
	c.Claim(back, 1, a)
	d.shuffles[n] = &shuffle{first: n, tr: tr, back: back, axis: a, g: g, cg: cg, in: s, out: out}
	return true
}

// rewriteShuffle shrinks a channel shuffle (see the comment above).
func (r *Rewriter) rewriteShuffle(sh *shuffle) error {
	if r.Kept(sh.in) == sh.in.Size {
		return nil
	}
	keepIn, keepOut := r.Keep(sh.in), r.Keep(sh.out)
	newIdx := make([]int, len(keepIn))
	k := 0
	for c, kept := range keepIn {
		newIdx[c] = k
		if kept {
			k++
		}
	}
	var idx []int64
	for o, kept := range keepOut {
		if kept {
			idx = append(idx, int64(newIdx[(o%sh.g)*sh.cg+o/sh.g]))
		}
	}
	if k != len(idx) {
		return fmt.Errorf("%w: shuffle keeps %d input and %d output channels", ErrInvalid, k, len(idx))
	}
	if kg := k / sh.g; k%sh.g == 0 && kg > 0 {
		same := true
		for p, v := range idx {
			if v != int64((p%sh.g)*kg+p/sh.g) {
				same = false
				break
			}
		}
		if same {
			t1, ok1 := r.Ints(sh.first, 1)
			t2, ok2 := r.Ints(sh.back, 1)
			if !ok1 || !ok2 {
				return fmt.Errorf("%w: shuffle targets unknown", ErrInvalid)
			}
			// The 5-D values in between carry no space: their
			// value_info would be stale.
			r.gone(sh.first.GetOutput()[0], sh.tr.GetOutput()[0])
			t1[sh.axis], t1[sh.axis+1] = int64(sh.g), int64(kg)
			t2[sh.axis] = int64(k)
			if err := r.SetReshapeTarget(sh.first, t1); err != nil {
				return err
			}
			return r.SetReshapeTarget(sh.back, t2)
		}
	}
	n := sh.first
	r.gone(n.GetOutput()[0], sh.tr.GetOutput()[0])
	n.OpType = proto.String("Gather")
	n.Input = []string{n.GetInput()[0], ""}
	n.Output = []string{sh.back.GetOutput()[0]}
	n.Attribute = []*onnx.AttributeProto{{Name: proto.String("axis"), Type: onnx.AttributeProto_INT.Enum(), I: proto.Int64(int64(sh.axis))}}
	r.drop[sh.tr], r.drop[sh.back] = true, true
	return r.SetInputInts(n, 1, idx)
}

// FollowShuffle is the extension point's way to a channel shuffle: called
// from a rule's Couple for Reshape n, whose input carries space s (shapes
// x → y), it recognises a shuffle (Reshape → Transpose → Reshape, the
// group and channel axes swapped) starting at n and follows it as a
// permutation of s; it reports whether it did. RewriteShuffle then shrinks
// it. The built-in Reshape rule uses it.
func (c *Coupler) FollowShuffle(n *onnx.NodeProto, s *Space, x, y []int) bool {
	return shuffleAt(c, n, s, x, y)
}

// RewriteShuffle shrinks the channel shuffle that FollowShuffle followed
// from Reshape n: its targets rewritten when the selection keeps the
// g-way structure, else one Gather on the channel axis. started is false
// when no shuffle starts at n (nothing is done).
func (r *Rewriter) RewriteShuffle(n *onnx.NodeProto) (started bool, err error) {
	sh := r.d.shuffles[n]
	if sh == nil {
		return false, nil
	}
	return true, r.rewriteShuffle(sh)
}
