package onnxio

import (
	"fmt"
	"io"
	"sort"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Info is what ReadInfo learns without decoding weight payloads.
type Info struct {
	IRVersion       int64
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	Opsets          []Opset
	Inputs          []ValueInfo // graph inputs that are not initializers
	Outputs         []ValueInfo
	// Ops counts nodes by op type, subgraphs included ("domain:Op" for
	// non-default domains).
	Ops   map[string]int
	Nodes int
	// Tensors counts stored tensors (initializers, tensor attributes,
	// subgraphs included); PayloadBytes is the size of their payloads.
	Tensors      int
	PayloadBytes int64
	// ExternalTensors counts tensors whose payload is in external files.
	ExternalTensors int
}

// Opset is one imported operator set.
type Opset struct {
	Domain  string
	Version int64
}

// ValueInfo describes a graph input or output.
type ValueInfo struct {
	Name     string
	ElemType DataType
	// Shape is nil when the rank is unknown.
	Shape []Dim
}

// Dim is one dimension: a fixed Value, or a symbolic Param, or neither
// (unknown).
type Dim struct {
	Value int64
	Param string
}

func (d Dim) String() string {
	switch {
	case d.Param != "":
		return d.Param
	case d.Value > 0:
		return fmt.Sprint(d.Value)
	}
	return "?"
}

// ValueInfoOf converts a ValueInfoProto (tensor types only; other types
// give ElemType Undefined and no shape).
func ValueInfoOf(vi *onnx.ValueInfoProto) ValueInfo {
	v := ValueInfo{Name: vi.GetName()}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return v
	}
	v.ElemType = DataType(tt.GetElemType())
	if sh := tt.GetShape(); sh != nil {
		v.Shape = make([]Dim, 0, len(sh.GetDim()))
		for _, d := range sh.GetDim() {
			v.Shape = append(v.Shape, Dim{Value: d.GetDimValue(), Param: d.GetDimParam()})
		}
	}
	return v
}

// ReadInfo reads the header, opsets, inputs, outputs and op histogram of the
// model at path without decoding weight payloads: they are skipped at the
// wire level, so memory stays near the file size.
func ReadInfo(path string, opts ...ReadOption) (*Info, error) {
	c, err := newReadConfig(opts)
	if err != nil {
		return nil, err
	}
	data, err := readFileLimited(path, c.limits.MaxModelBytes)
	if err != nil {
		return nil, err
	}
	info, err := infoFromBytes(data, c)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return info, nil
}

// ReadInfoFrom is ReadInfo for a stream.
func ReadInfoFrom(r io.Reader, opts ...ReadOption) (*Info, error) {
	c, err := newReadConfig(opts)
	if err != nil {
		return nil, err
	}
	data, err := readAllLimited(r, c.limits.MaxModelBytes, 0)
	if err != nil {
		return nil, err
	}
	return infoFromBytes(data, c)
}

func infoFromBytes(data []byte, c *readConfig) (*Info, error) {
	var payload int64
	stripped, err := stripPayloads(data, (&onnx.ModelProto{}).ProtoReflect().Descriptor(), &payload, 0, c.limits.MaxGraphDepth*4+8)
	if err != nil {
		return nil, err
	}
	mp := &onnx.ModelProto{}
	if err := proto.Unmarshal(stripped, mp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if mp.GetGraph() == nil {
		return nil, fmt.Errorf("%w: model has no graph", ErrMalformed)
	}
	info := infoOf(mp)
	info.PayloadBytes = payload
	return info, nil
}

// Info returns the same summary as ReadInfo for a decoded model.
func (m *Model) Info() *Info {
	info := infoOf(m.Proto)
	info.ExternalTensors = len(m.external)
	return info
}

func payloadBytes(t *onnx.TensorProto) int64 {
	if r := t.GetRawData(); len(r) > 0 {
		return int64(len(r))
	}
	n := int64(len(t.GetFloatData()))*4 + int64(len(t.GetInt32Data()))*4 + int64(len(t.GetInt64Data()))*8 +
		int64(len(t.GetDoubleData()))*8 + int64(len(t.GetUint64Data()))*8
	for _, s := range t.GetStringData() {
		n += int64(len(s))
	}
	return n
}

func infoOf(mp *onnx.ModelProto) *Info {
	info := &Info{
		IRVersion: mp.GetIrVersion(), ProducerName: mp.GetProducerName(),
		ProducerVersion: mp.GetProducerVersion(), Domain: mp.GetDomain(),
		ModelVersion: mp.GetModelVersion(), Ops: map[string]int{},
	}
	for _, o := range mp.GetOpsetImport() {
		info.Opsets = append(info.Opsets, Opset{Domain: o.GetDomain(), Version: o.GetVersion()})
	}
	g := mp.GetGraph()
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, vi := range g.GetInput() {
		if !inits[vi.GetName()] {
			info.Inputs = append(info.Inputs, ValueInfoOf(vi))
		}
	}
	for _, vi := range g.GetOutput() {
		info.Outputs = append(info.Outputs, ValueInfoOf(vi))
	}
	_ = forEachGraph(g, "", 0, func(sg *onnx.GraphProto, _ string, depth int) error {
		if depth > 1<<10 {
			return fmt.Errorf("too deep")
		}
		for _, n := range sg.GetNode() {
			op := n.GetOpType()
			if d := n.GetDomain(); d != "" && d != "ai.onnx" {
				op = d + ":" + op
			}
			info.Ops[op]++
			info.Nodes++
		}
		return nil
	})
	_ = forEachTensor(mp, 1<<20, func(t *onnx.TensorProto, _ string) error {
		info.Tensors++
		info.PayloadBytes += payloadBytes(t) // 0 for payloads stripped by ReadInfo
		if isExternal(t) {
			info.ExternalTensors++
		}
		return nil
	})
	return info
}

// OpNames returns the op histogram's keys, sorted.
func (i *Info) OpNames() []string {
	names := make([]string, 0, len(i.Ops))
	for k := range i.Ops {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

var tensorDesc = (&onnx.TensorProto{}).ProtoReflect().Descriptor()

// payloadFields are TensorProto's data fields, dropped by stripPayloads.
var payloadFields = map[protowire.Number]bool{
	4: true, 5: true, 6: true, 7: true, 9: true, 10: true, 11: true,
}

// stripPayloads re-encodes a message without TensorProto payload fields,
// recursing into message-typed fields of the ONNX schema. The payload size
// dropped is added to *payload.
func stripPayloads(b []byte, md protoreflect.MessageDescriptor, payload *int64, depth, maxDepth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: messages nested deeper than %d", ErrLimit, maxDepth)
	}
	isTensor := md.FullName() == tensorDesc.FullName()
	out := make([]byte, 0, 64)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		fieldLen := protowire.ConsumeFieldValue(num, typ, b[n:])
		if fieldLen < 0 {
			return nil, fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(fieldLen))
		}
		whole := b[:n+fieldLen]
		val := b[n : n+fieldLen]
		b = b[n+fieldLen:]
		if isTensor && payloadFields[num] {
			if typ == protowire.BytesType {
				inner, _ := protowire.ConsumeBytes(val)
				*payload += int64(len(inner))
			} else {
				*payload += int64(len(val))
			}
			continue
		}
		fd := md.Fields().ByNumber(num)
		if fd != nil && typ == protowire.BytesType && (fd.Kind() == protoreflect.MessageKind) {
			inner, m := protowire.ConsumeBytes(val)
			if m < 0 {
				return nil, fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(m))
			}
			s, err := stripPayloads(inner, fd.Message(), payload, depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			out = protowire.AppendTag(out, num, typ)
			out = protowire.AppendBytes(out, s)
			continue
		}
		out = append(out, whole...)
	}
	return out, nil
}

// DefaultShape is the shape to run v at when the caller gives none: its fixed
// dims, with a symbolic or unknown first dim (the batch) as 1. Any other
// dynamic dim, or an unknown rank, is an error naming the dim, which the
// caller resolves by asking for the shape.
func (v ValueInfo) DefaultShape() ([]int64, error) {
	if v.Shape == nil {
		return nil, fmt.Errorf("input %q has unknown rank", v.Name)
	}
	out := make([]int64, len(v.Shape))
	for i, d := range v.Shape {
		switch {
		case d.Value > 0:
			out[i] = d.Value
		case i == 0:
			out[i] = 1
		default:
			return nil, fmt.Errorf("input %q: dimension %d (%s) is dynamic", v.Name, i, d)
		}
	}
	return out, nil
}
