package prune

import (
	"errors"
	"testing"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

type panicRule struct{ Rule }

func (panicRule) Couple(c *Coupler, n *onnx.NodeProto) { panic("Link out of range") }

// A rule that panics on an inconsistent model gives an error, not a crash.
func TestCoupleSafely(t *testing.T) {
	err := coupleSafely(panicRule{}, &Coupler{}, &onnx.NodeProto{OpType: proto.String("Conv")}, "conv1")
	if !errors.Is(err, onnxio.ErrMalformed) {
		t.Fatalf("err = %v", err)
	}
}
