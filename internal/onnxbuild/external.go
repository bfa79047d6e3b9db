package onnxbuild

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// ExternalAlign is the alignment of every tensor's offset in the data file
// written by [WriteWithExternalData], as onnx's own writer aligns large
// tensors to the page size. The gaps are zero bytes.
const ExternalAlign = 4096

// WriteWithExternalData writes a copy of m to dir/modelFile with the
// raw_data of every initializer of at least threshold bytes moved into
// dir/dataFile, following the ONNX external data format
// (https://github.com/onnx/onnx/blob/main/docs/ExternalData.md).
//
// Initializers of subgraphs (If branches, Loop bodies) are moved too;
// Constant node values and tensors without raw_data (float_data and the
// like) stay inline. Moved tensors get data_location EXTERNAL and
// external_data entries location=dataFile, offset and length, in that
// order; offsets are multiples of [ExternalAlign]. dataFile must be a
// local file name relative to dir. m is not modified.
//
// It builds test fixtures and is independent of onnxio.
func WriteWithExternalData(m *onnx.ModelProto, dir, modelFile, dataFile string, threshold int) error {
	if !filepath.IsLocal(dataFile) {
		return fmt.Errorf("onnxbuild: external data file %q is not a local path", dataFile)
	}
	m = proto.Clone(m).(*onnx.ModelProto)
	var data bytes.Buffer
	for _, t := range initializers(m.GetGraph()) {
		if len(t.RawData) == 0 || len(t.RawData) < threshold {
			continue
		}
		if pad := data.Len() % ExternalAlign; pad != 0 {
			data.Write(make([]byte, ExternalAlign-pad))
		}
		offset := data.Len()
		data.Write(t.RawData)
		t.RawData = nil
		t.DataLocation = onnx.TensorProto_EXTERNAL.Enum()
		t.ExternalData = []*onnx.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String(filepath.ToSlash(dataFile))},
			{Key: proto.String("offset"), Value: proto.String(strconv.Itoa(offset))},
			{Key: proto.String("length"), Value: proto.String(strconv.Itoa(data.Len() - offset))},
		}
	}
	if err := os.WriteFile(filepath.Join(dir, dataFile), data.Bytes(), 0o644); err != nil {
		return fmt.Errorf("onnxbuild: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, modelFile), Marshal(m), 0o644); err != nil {
		return fmt.Errorf("onnxbuild: %w", err)
	}
	return nil
}

// initializers returns the initializers of g and of every subgraph in its
// node attributes, depth first in node order.
func initializers(g *onnx.GraphProto) []*onnx.TensorProto {
	if g == nil {
		return nil
	}
	out := append([]*onnx.TensorProto(nil), g.Initializer...)
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			out = append(out, initializers(a.G)...)
			for _, sub := range a.Graphs {
				out = append(out, initializers(sub)...)
			}
		}
	}
	return out
}
