package onnxio_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

func TestSubgraphsAndOuterReads(t *testing.T) {
	m := onnxbuild.IfModel()
	var ifNode *onnx.NodeProto
	for _, n := range m.Graph.Node {
		if n.GetOpType() == "If" {
			ifNode = n
		}
	}
	subs := onnxio.Subgraphs(ifNode)
	if len(subs) != 2 || subs[0].GetName() != "then_branch" || subs[1].GetName() != "else_branch" {
		t.Fatalf("Subgraphs: %d graphs", len(subs))
	}
	// then reads x from the main graph; else reads x and gamma
	if got := onnxio.OuterReads(subs[0]); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("then branch reads %v from outside", got)
	}
	if got := onnxio.OuterReads(subs[1]); !slices.Equal(got, []string{"gamma", "x"}) {
		t.Fatalf("else branch reads %v from outside", got)
	}
	// a nested graph's reads of its parent's values are not outer reads of the parent
	parent := &onnx.GraphProto{
		Node: []*onnx.NodeProto{
			{OpType: proto.String("Relu"), Input: []string{"a"}, Output: []string{"b"}},
			{OpType: proto.String("If"), Input: []string{"c"}, Output: []string{"d"}, Attribute: []*onnx.AttributeProto{{
				Name: proto.String("then_branch"), Type: onnx.AttributeProto_GRAPH.Enum(),
				G: &onnx.GraphProto{Node: []*onnx.NodeProto{{OpType: proto.String("Add"), Input: []string{"b", "e"}, Output: []string{"f"}}},
					Output: []*onnx.ValueInfoProto{{Name: proto.String("f")}}},
			}}},
		},
		Output: []*onnx.ValueInfoProto{{Name: proto.String("d")}, {Name: proto.String("g")}},
	}
	if got := onnxio.OuterReads(parent); !slices.Equal(got, []string{"a", "c", "e", "g"}) {
		t.Fatalf("OuterReads = %v, want [a c e g]", got)
	}
	if onnxio.NodeLabel(&onnx.NodeProto{OpType: proto.String("Conv")}, 3) != "Conv#3" || onnxio.NodeLabel(&onnx.NodeProto{Name: proto.String("c1")}, 3) != "c1" {
		t.Fatal("NodeLabel")
	}
}

func TestDefaultShape(t *testing.T) {
	s, err := onnxio.ValueInfo{Name: "x", Shape: []onnxio.Dim{{Param: "N"}, {Value: 3}, {Value: 8}}}.DefaultShape()
	if err != nil || !slices.Equal(s, []int64{1, 3, 8}) {
		t.Fatalf("batch: %v %v", s, err)
	}
	if _, err := (onnxio.ValueInfo{Name: "x", Shape: []onnxio.Dim{{Value: 1}, {Param: "H"}}}).DefaultShape(); err == nil || !strings.Contains(err.Error(), "dimension 1 (H)") {
		t.Fatalf("dynamic H: %v", err)
	}
	if _, err := (onnxio.ValueInfo{Name: "x"}).DefaultShape(); err == nil {
		t.Fatal("unknown rank accepted")
	}
}
