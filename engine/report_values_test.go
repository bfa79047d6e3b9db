package engine

import (
	"slices"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestReportValues: the report lists every value of the main graph with the
// shape inferred at the bound input shape, and the folded shape computation
// (Shape → Cast → Slice → Cast → Concat) with its elements.
func TestReportValues(t *testing.T) {
	m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.RuntimeFlatten()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Value{}
	for _, v := range p.Report().Values {
		got[v.Name] = v
	}
	want := map[string]struct {
		shape  []int
		folded bool
		ints   []int64
	}{
		"x": {[]int{1, 3, 8, 8}, false, nil}, "conv": {[]int{1, 8, 8, 8}, false, nil}, "relu": {[]int{1, 8, 8, 8}, false, nil},
		"g": {[]int{1, 8, 1, 1}, false, nil}, "shape": {[]int{4}, true, []int64{1, 8, 1, 1}},
		"batch": {[]int{1}, true, []int64{1}}, "target": {[]int{2}, true, []int64{1, -1}},
		"rest": {[]int{1}, false, []int64{-1}}, "flat": {[]int{1, 8}, false, nil}, "y": {[]int{1, 5}, false, nil},
	}
	for name, w := range want {
		v, ok := got[name]
		if !ok {
			t.Errorf("%s: not reported", name)
			continue
		}
		if !slices.Equal(v.Shape, w.shape) || v.Folded != w.folded || !slices.Equal(v.Ints, w.ints) {
			t.Errorf("%s: shape %v folded %v ints %v; want %v %v %v", name, v.Shape, v.Folded, v.Ints, w.shape, w.folded, w.ints)
		}
	}
	for _, n := range m.Graph().GetNode() {
		for _, o := range n.GetOutput() {
			if _, ok := got[o]; !ok {
				t.Errorf("output %s of %s not reported", o, n.GetOpType())
			}
		}
	}
}
