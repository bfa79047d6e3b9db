package pack

import (
	"encoding/binary"
	"math"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

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
		t.RawData, t.FloatData, t.Int32Data, t.Int64Data, t.DoubleData, t.Uint64Data = nil, nil, nil, nil, nil, nil
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

// setField stores data (count elements of width bytes) into field f of t.
// The field must be empty.
func setField(t *onnx.TensorProto, f Field, data []byte, count int) bool {
	le := binary.LittleEndian
	switch f {
	case FieldRaw:
		if len(t.RawData) > 0 {
			return false
		}
		t.RawData = data
	case FieldFloat:
		if len(t.FloatData) > 0 {
			return false
		}
		v := make([]float32, count)
		for k := range v {
			v[k] = math.Float32frombits(le.Uint32(data[4*k:]))
		}
		t.FloatData = v
	case FieldInt32:
		if len(t.Int32Data) > 0 {
			return false
		}
		v := make([]int32, count)
		for k := range v {
			v[k] = int32(le.Uint32(data[4*k:]))
		}
		t.Int32Data = v
	case FieldInt64:
		if len(t.Int64Data) > 0 {
			return false
		}
		v := make([]int64, count)
		for k := range v {
			v[k] = int64(le.Uint64(data[8*k:]))
		}
		t.Int64Data = v
	case FieldDouble:
		if len(t.DoubleData) > 0 {
			return false
		}
		v := make([]float64, count)
		for k := range v {
			v[k] = math.Float64frombits(le.Uint64(data[8*k:]))
		}
		t.DoubleData = v
	case FieldUint64:
		if len(t.Uint64Data) > 0 {
			return false
		}
		v := make([]uint64, count)
		for k := range v {
			v[k] = le.Uint64(data[8*k:])
		}
		t.Uint64Data = v
	default:
		return false
	}
	return true
}
