package engine

import (
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// recurrentOps are the ops whose weights training cannot update: they have
// no backward. A trainable parameter read by one is refused (rather than
// silently frozen, as a weight read only by a shape op is), so that a
// fine-tune never leaves a pruned LSTM's weights as they were without
// saying so; WithTrainable can exclude them explicitly.
var recurrentOps = map[string]bool{"LSTM": true, "GRU": true}

// refuseRecurrentParam returns a NodeError naming the first LSTM or GRU
// node that reads p, or nil.
func refuseRecurrentParam(g *onnx.GraphProto, p *onnxio.Param) error {
	for _, u := range p.Uses {
		if !recurrentOps[u.Node.GetOpType()] {
			continue
		}
		label := u.Node.GetName()
		for i, n := range g.GetNode() {
			if n == u.Node {
				label = onnxio.NodeLabel(n, i)
			}
		}
		return &NodeError{Node: label, Op: u.Node.GetOpType(), Err: notImpl(
			"op %s has no backward: its input %d (%s) cannot be trained; freeze it (engine.WithTrainable, edgeprune finetune --freeze) or use a criterion without gradients",
			u.Node.GetOpType(), u.Input, p.ID)}
	}
	return nil
}
