package onnxio

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// littleEndian is true on every target edgeprune ships for (amd64, arm64,
// armv7); ONNX raw_data is little-endian, so float32 raw data can be viewed
// in place there.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// NumElements is the product of dims, or an error (wrapping ErrMalformed)
// for a negative dimension or an overflowing product.
func NumElements(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension %d in %v", ErrMalformed, d, dims)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("%w: dimensions %v overflow", ErrMalformed, dims)
		}
		n *= d
	}
	return n, nil
}

func tensorName(t *onnx.TensorProto) string { return t.GetName() }

// isExternal reports whether t's payload lives in an external file.
func isExternal(t *onnx.TensorProto) bool {
	return t.GetDataLocation() == onnx.TensorProto_EXTERNAL
}

// Float32s returns the tensor's values as float32.
//
// For float32 tensors the result is a view: it shares memory with the
// tensor's raw_data (or float_data), so writes through it change the model.
// view reports that. For float16, bfloat16 and float64 it is a converted copy
// (view == false); write changes back with SetFloat32s. Integer types are
// converted to float32 as well (copy). Other types give ErrNotFloat.
func Float32s(t *onnx.TensorProto) (data []float32, view bool, err error) {
	name := tensorName(t)
	n, err := NumElements(t.GetDims())
	if err != nil {
		return nil, false, &TensorError{Tensor: name, Err: ErrMalformed, Reason: err.Error()}
	}
	if isExternal(t) && len(t.GetRawData()) == 0 && n > 0 {
		return nil, false, tensorErr(name, ErrExternalData, "external data not loaded")
	}
	dt := DataType(t.GetDataType())
	raw := t.GetRawData()
	switch dt {
	case Float:
		if len(raw) > 0 {
			if int64(len(raw)) != n*4 {
				return nil, false, tensorErr(name, ErrMalformed, "raw_data has %d bytes, want %d for shape %v", len(raw), n*4, t.GetDims())
			}
			if !littleEndian {
				out := make([]float32, n)
				for i := range out {
					out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
				}
				return out, false, nil
			}
			if uintptr(unsafe.Pointer(&raw[0]))%4 != 0 {
				f := make([]float32, n)
				copy(unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(raw)), raw)
				t.RawData = unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(raw))
				return f, true, nil
			}
			return unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n), true, nil
		}
		fd := t.GetFloatData()
		if int64(len(fd)) != n {
			return nil, false, tensorErr(name, ErrMalformed, "float_data has %d values, want %d for shape %v", len(fd), n, t.GetDims())
		}
		return fd, true, nil
	case Float16, BFloat16:
		conv := Float16ToFloat32
		if dt == BFloat16 {
			conv = BFloat16ToFloat32
		}
		out := make([]float32, n)
		if len(raw) > 0 {
			if int64(len(raw)) != n*2 {
				return nil, false, tensorErr(name, ErrMalformed, "raw_data has %d bytes, want %d", len(raw), n*2)
			}
			for i := range out {
				out[i] = conv(binary.LittleEndian.Uint16(raw[2*i:]))
			}
			return out, false, nil
		}
		id := t.GetInt32Data()
		if int64(len(id)) != n {
			return nil, false, tensorErr(name, ErrMalformed, "int32_data has %d values, want %d", len(id), n)
		}
		for i, v := range id {
			out[i] = conv(uint16(v))
		}
		return out, false, nil
	case Double:
		out := make([]float32, n)
		if len(raw) > 0 {
			if int64(len(raw)) != n*8 {
				return nil, false, tensorErr(name, ErrMalformed, "raw_data has %d bytes, want %d", len(raw), n*8)
			}
			for i := range out {
				out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
			}
			return out, false, nil
		}
		dd := t.GetDoubleData()
		if int64(len(dd)) != n {
			return nil, false, tensorErr(name, ErrMalformed, "double_data has %d values, want %d", len(dd), n)
		}
		for i, v := range dd {
			out[i] = float32(v)
		}
		return out, false, nil
	}
	if dt.IsInteger() && dt != Uint4 && dt != Int4 {
		iv, err := Int64s(t)
		if err != nil {
			return nil, false, err
		}
		out := make([]float32, len(iv))
		for i, v := range iv {
			out[i] = float32(v)
		}
		return out, false, nil
	}
	return nil, false, tensorErr(name, ErrNotFloat, "data type %v has no float32 form", dt)
}

// Int64s returns the values of an integer or bool tensor as int64 (a copy).
func Int64s(t *onnx.TensorProto) ([]int64, error) {
	name := tensorName(t)
	n, err := NumElements(t.GetDims())
	if err != nil {
		return nil, &TensorError{Tensor: name, Err: ErrMalformed, Reason: err.Error()}
	}
	if isExternal(t) && len(t.GetRawData()) == 0 && n > 0 {
		return nil, tensorErr(name, ErrExternalData, "external data not loaded")
	}
	dt := DataType(t.GetDataType())
	if !dt.IsInteger() || dt == Uint4 || dt == Int4 {
		return nil, tensorErr(name, ErrUnsupported, "data type %v is not an integer type", dt)
	}
	raw := t.GetRawData()
	out := make([]int64, n)
	if len(raw) > 0 {
		if want := dt.rawBytes(n); int64(len(raw)) != want {
			return nil, tensorErr(name, ErrMalformed, "raw_data has %d bytes, want %d for %v %v", len(raw), want, dt, t.GetDims())
		}
		le := binary.LittleEndian
		for i := range out {
			switch dt {
			case Uint8, Bool:
				out[i] = int64(raw[i])
			case Int8:
				out[i] = int64(int8(raw[i]))
			case Uint16:
				out[i] = int64(le.Uint16(raw[2*i:]))
			case Int16:
				out[i] = int64(int16(le.Uint16(raw[2*i:])))
			case Int32:
				out[i] = int64(int32(le.Uint32(raw[4*i:])))
			case Uint32:
				out[i] = int64(le.Uint32(raw[4*i:]))
			case Int64:
				out[i] = int64(le.Uint64(raw[8*i:]))
			case Uint64:
				out[i] = int64(le.Uint64(raw[8*i:]))
			}
		}
		return out, nil
	}
	var got int
	switch dt {
	case Int64:
		got = len(t.GetInt64Data())
		copy(out, t.GetInt64Data())
	case Uint32, Uint64:
		got = len(t.GetUint64Data())
		for i, v := range t.GetUint64Data() {
			if i < len(out) {
				out[i] = int64(v)
			}
		}
	default:
		got = len(t.GetInt32Data())
		for i, v := range t.GetInt32Data() {
			if i < len(out) {
				out[i] = int64(v)
			}
		}
	}
	if int64(got) != n {
		return nil, tensorErr(name, ErrMalformed, "has %d typed values, want %d for shape %v", got, n, t.GetDims())
	}
	return out, nil
}

// SetFloat32s replaces a floating-point tensor's shape and values, storing
// them in the tensor's own data type (float16/bfloat16/float64 are rounded
// from float32) and in the field it used before (raw_data or the typed
// field). If data already is the tensor's float32 view, nothing is copied.
func SetFloat32s(t *onnx.TensorProto, data []float32, dims []int64) error {
	name := tensorName(t)
	n, err := NumElements(dims)
	if err != nil {
		return &TensorError{Tensor: name, Err: ErrMalformed, Reason: err.Error()}
	}
	if int64(len(data)) != n {
		return tensorErr(name, ErrMalformed, "SetFloat32s: %d values for shape %v (%d elements)", len(data), dims, n)
	}
	dt := DataType(t.GetDataType())
	typed := len(t.GetRawData()) == 0 && !isExternal(t) && (len(t.GetFloatData()) > 0 || len(t.GetInt32Data()) > 0 || len(t.GetDoubleData()) > 0)
	newDims := append([]int64(nil), dims...)
	switch dt {
	case Float:
		if typed {
			t.FloatData = data
			t.RawData = nil
		} else {
			t.RawData = float32Bytes(data)
			t.FloatData = nil
		}
	case Float16, BFloat16:
		conv := Float32ToFloat16
		if dt == BFloat16 {
			conv = Float32ToBFloat16
		}
		if typed {
			iv := make([]int32, n)
			for i, v := range data {
				iv[i] = int32(conv(v))
			}
			t.Int32Data, t.RawData = iv, nil
		} else {
			raw := make([]byte, 2*n)
			for i, v := range data {
				binary.LittleEndian.PutUint16(raw[2*i:], conv(v))
			}
			t.RawData, t.Int32Data = raw, nil
		}
	case Double:
		if typed {
			dd := make([]float64, n)
			for i, v := range data {
				dd[i] = float64(v)
			}
			t.DoubleData, t.RawData = dd, nil
		} else {
			raw := make([]byte, 8*n)
			for i, v := range data {
				binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(float64(v)))
			}
			t.RawData, t.DoubleData = raw, nil
		}
	default:
		return tensorErr(name, ErrNotFloat, "SetFloat32s: data type %v", dt)
	}
	t.Dims = newDims
	return nil
}

// float32Bytes returns the little-endian bytes of data; on little-endian
// machines it aliases data (no copy).
func float32Bytes(data []float32) []byte {
	if len(data) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data))
	}
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}
