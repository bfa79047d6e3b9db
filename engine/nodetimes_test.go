package engine

import (
	"context"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// TestNodeTimes: one time per node of the report, every running node timed,
// input shapes in the report, bad arguments refused.
func TestNodeTimes(t *testing.T) {
	m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.CNN()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	in := RandomInputs(p)
	nodes, total, err := p.NodeTimes(context.Background(), in, 1, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Report()
	if len(nodes) != len(r.Nodes) {
		t.Fatalf("%d times for %d nodes", len(nodes), len(r.Nodes))
	}
	for i, d := range nodes {
		if d <= 0 {
			t.Errorf("node %s: time %v", r.Nodes[i].Name, d)
		}
	}
	if total <= 0 {
		t.Errorf("total %v", total)
	}
	for _, n := range r.Nodes {
		if len(n.Inputs) == 0 || n.Inputs[0] == nil {
			t.Errorf("node %s: no input shapes in the report", n.Name)
		}
	}
	if _, _, err := p.NodeTimes(context.Background(), in, 0, 0, 0); err == nil {
		t.Error("runs 0 accepted")
	}
	if _, _, err := p.NodeTimes(context.Background(), map[string]*tensor.Dense{}, 0, 1, 0.5); err == nil {
		t.Error("missing input accepted")
	}
}
