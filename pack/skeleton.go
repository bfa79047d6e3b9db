package pack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// marshalOpts is how the writer marshals the skeleton and how the reader
// checks it: onnxio's Model.Marshal (deterministic marshalling).
var marshalOpts = proto.MarshalOptions{Deterministic: true}

// payload is one non-empty payload field of one parameter tensor, as
// little-endian element bytes.
type payload struct {
	param int // index in Model.Params() order
	id    string
	dtype onnxio.DataType
	dims  []int64
	field Field
	width int // bytes per element: 1, 2, 4 or 8
	count int // elements
	data  []byte
}

// rawWidth is the element width used for a raw_data payload of dtype dt:
// the type's own size when it divides the payload, else 1.
func rawWidth(dt onnxio.DataType, n int) int {
	w := 1
	switch dt {
	case onnxio.Uint16, onnxio.Int16, onnxio.Float16, onnxio.BFloat16:
		w = 2
	case onnxio.Float, onnxio.Int32, onnxio.Uint32:
		w = 4
	case onnxio.Int64, onnxio.Uint64, onnxio.Double, onnxio.Complex64:
		w = 8
	}
	if n%w != 0 {
		return 1
	}
	return w
}

// stripped remembers what was taken out of a tensor, to put it back.
type stripped struct {
	t        *onnx.TensorProto
	raw      []byte
	f32      []float32
	i32      []int32
	i64      []int64
	f64      []float64
	u64      []uint64
	loc      *onnx.TensorProto_DataLocation
	external []*onnx.StringStringEntryProto
}

func (s *stripped) restore() {
	s.t.RawData, s.t.FloatData, s.t.Int32Data, s.t.Int64Data, s.t.DoubleData, s.t.Uint64Data = s.raw, s.f32, s.i32, s.i64, s.f64, s.u64
	s.t.DataLocation, s.t.ExternalData = s.loc, s.external
}

// extract takes every parameter payload out of m (returned in model order)
// and returns a function that puts them back. Tensors loaded from external
// data are packed inline: their external-data references are dropped.
func extract(m *onnxio.Model) ([]payload, func()) {
	var out []payload
	var saved []*stripped
	undo := func() {
		for _, s := range saved {
			s.restore()
		}
	}
	for i, p := range m.Params() {
		t := p.Tensor
		s := &stripped{t: t, raw: t.RawData, f32: t.FloatData, i32: t.Int32Data, i64: t.Int64Data,
			f64: t.DoubleData, u64: t.Uint64Data, loc: t.DataLocation, external: t.ExternalData}
		saved = append(saved, s)
		add := func(f Field, width, count int, data []byte) {
			out = append(out, payload{param: i, id: p.ID, dtype: p.DataType(), dims: t.GetDims(), field: f, width: width, count: count, data: data})
		}
		if len(t.RawData) > 0 {
			w := rawWidth(p.DataType(), len(t.RawData))
			add(FieldRaw, w, len(t.RawData)/w, t.RawData)
		}
		if len(t.FloatData) > 0 {
			b := make([]byte, 4*len(t.FloatData))
			for k, v := range t.FloatData {
				binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(v))
			}
			add(FieldFloat, 4, len(t.FloatData), b)
		}
		if len(t.Int32Data) > 0 {
			b := make([]byte, 4*len(t.Int32Data))
			for k, v := range t.Int32Data {
				binary.LittleEndian.PutUint32(b[4*k:], uint32(v))
			}
			add(FieldInt32, 4, len(t.Int32Data), b)
		}
		if len(t.Int64Data) > 0 {
			b := make([]byte, 8*len(t.Int64Data))
			for k, v := range t.Int64Data {
				binary.LittleEndian.PutUint64(b[8*k:], uint64(v))
			}
			add(FieldInt64, 8, len(t.Int64Data), b)
		}
		if len(t.DoubleData) > 0 {
			b := make([]byte, 8*len(t.DoubleData))
			for k, v := range t.DoubleData {
				binary.LittleEndian.PutUint64(b[8*k:], math.Float64bits(v))
			}
			add(FieldDouble, 8, len(t.DoubleData), b)
		}
		if len(t.Uint64Data) > 0 {
			b := make([]byte, 8*len(t.Uint64Data))
			for k, v := range t.Uint64Data {
				binary.LittleEndian.PutUint64(b[8*k:], v)
			}
			add(FieldUint64, 8, len(t.Uint64Data), b)
		}
		// Only the fields taken out are cleared: a field that is present but
		// empty (proto2 presence) stays in the skeleton as it was.
		if len(t.RawData) > 0 {
			t.RawData = nil
		}
		if len(t.FloatData) > 0 {
			t.FloatData = nil
		}
		if len(t.Int32Data) > 0 {
			t.Int32Data = nil
		}
		if len(t.Int64Data) > 0 {
			t.Int64Data = nil
		}
		if len(t.DoubleData) > 0 {
			t.DoubleData = nil
		}
		if len(t.Uint64Data) > 0 {
			t.Uint64Data = nil
		}
		if p.External != nil || t.GetDataLocation() == onnx.TensorProto_EXTERNAL {
			t.DataLocation, t.ExternalData = nil, nil
		}
	}
	return out, undo
}

// fieldWidth is the element width of a typed field (0 for raw_data, whose
// width depends on the data type).
func fieldWidth(f Field) int {
	switch f {
	case FieldFloat, FieldInt32:
		return 4
	case FieldInt64, FieldDouble, FieldUint64:
		return 8
	}
	return 0
}

// setField stores data (count elements of width bytes) into field f of t,
// which readSkeleton has checked is absent.
func setField(t *onnx.TensorProto, f Field, data []byte, count int) {
	le := binary.LittleEndian
	switch f {
	case FieldRaw:
		t.RawData = data
	case FieldFloat:
		v := make([]float32, count)
		for k := range v {
			v[k] = math.Float32frombits(le.Uint32(data[4*k:]))
		}
		t.FloatData = v
	case FieldInt32:
		v := make([]int32, count)
		for k := range v {
			v[k] = int32(le.Uint32(data[4*k:]))
		}
		t.Int32Data = v
	case FieldInt64:
		v := make([]int64, count)
		for k := range v {
			v[k] = int64(le.Uint64(data[8*k:]))
		}
		t.Int64Data = v
	case FieldDouble:
		v := make([]float64, count)
		for k := range v {
			v[k] = math.Float64frombits(le.Uint64(data[8*k:]))
		}
		t.DoubleData = v
	case FieldUint64:
		v := make([]uint64, count)
		for k := range v {
			v[k] = le.Uint64(data[8*k:])
		}
		t.Uint64Data = v
	}
}

// skeleton is a decoded skeleton section with the table rows bound to its
// tensors.
type skeleton struct {
	proto *onnx.ModelProto
	bytes []byte              // the section: canonical, so also Marshal(proto)
	rows  []*onnx.TensorProto // per table row, the tensor it fills
}

// readSkeleton decodes the skeleton section and binds the table rows to its
// tensors, enforcing what a skeleton may hold (docs/pack-format.md,
// "Skeleton"). ReadModel and WriteONNX both start from it, so they accept
// the same packs and write the same bytes:
//
//  1. The section is canonical: it is exactly the deterministic marshalling
//     of the ModelProto it decodes to. One model has one skeleton; in
//     particular unknown fields sit after the known fields of their message,
//     where marshalling puts them.
//  2. Every row names a parameter (Params order) whose dims and data type
//     match the row, and whose row field is absent from the skeleton (not
//     even present and empty, which proto2 presence could express).
//  3. No two rows fill the same field of the same tensor.
func (rd *Reader) readSkeleton() (*skeleton, error) {
	b := rd.sec[KindSkeleton]
	rd.sec[KindSkeleton] = nil
	bad := func(format string, args ...any) error {
		return &SectionError{Section: "skeleton", Offset: rd.h.Sections[1].Offset, Err: ErrMalformed, Reason: fmt.Sprintf(format, args...)}
	}
	mp := &onnx.ModelProto{}
	if err := proto.Unmarshal(b, mp); err != nil {
		return nil, bad("%v", err)
	}
	canon, err := marshalOpts.Marshal(mp)
	if err != nil {
		return nil, bad("%v", err)
	}
	if !bytes.Equal(canon, b) {
		i := 0
		for i < min(len(b), len(canon)) && b[i] == canon[i] {
			i++
		}
		return nil, bad("not canonical: deterministic marshalling of the model it holds gives %d bytes, differing at byte %d", len(canon), i)
	}
	params := (&onnxio.Model{Proto: mp}).Params()
	type slot struct {
		t *onnx.TensorProto
		f Field
	}
	given := map[slot]bool{}
	sk := &skeleton{proto: mp, bytes: b, rows: make([]*onnx.TensorProto, len(rd.entries))}
	for i := range rd.entries {
		e := &rd.entries[i]
		t, err := bind(e, params)
		if err != nil {
			return nil, err
		}
		if t.ProtoReflect().Has(tensorFields.ByNumber(e.field.protoNum())) || given[slot{t, e.field}] {
			return nil, &SectionError{Section: "table", Tensor: e.id, Err: ErrMalformed, Reason: fmt.Sprintf("%v given twice", e.field)}
		}
		given[slot{t, e.field}] = true
		sk.rows[i] = t
	}
	return sk, nil
}

// bind returns the skeleton tensor that row e restores, after checking it
// agrees with the row.
func bind(e *entry, params []*onnxio.Param) (*onnx.TensorProto, error) {
	bad := func(format string, args ...any) error {
		return &SectionError{Section: "table", Tensor: e.id, Err: ErrMalformed, Reason: fmt.Sprintf(format, args...)}
	}
	if e.param >= len(params) {
		return nil, bad("parameter %d of %d", e.param, len(params))
	}
	t := params[e.param].Tensor
	if !slices.Equal(t.GetDims(), e.dims) || onnxio.DataType(t.GetDataType()) != e.dtype {
		return nil, bad("shape %v %v, the skeleton has %v %v", e.dims, e.dtype, t.GetDims(), onnxio.DataType(t.GetDataType()))
	}
	return t, nil
}

// knownLen is the length of the known fields of message b, canonically
// marshalled from m: its unknown fields are the rest.
func knownLen(b []byte, m proto.Message) (int, error) {
	u := m.ProtoReflect().GetUnknown()
	n := len(b) - len(u)
	if n < 0 || !bytes.Equal(b[n:], u) {
		return 0, fmt.Errorf("pack: skeleton message does not end with its unknown fields")
	}
	return n, nil
}
