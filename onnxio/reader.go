package onnxio

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// ReadFile reads the model at path, resolving external data against the
// file's directory. Errors name the file.
func ReadFile(path string, opts ...ReadOption) (*Model, error) {
	c, err := newReadConfig(opts)
	if err != nil {
		return nil, err
	}
	data, err := readFileLimited(path, c.limits.MaxModelBytes)
	if err != nil {
		return nil, err
	}
	if !c.baseDirSet {
		c.baseDir = filepath.Dir(path)
	}
	m, err := decode(data, c)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	m.Path = path
	releaseRead(len(data))
	return m, nil
}

// releaseCollectBytes is the file size from which ReadFile collects its
// read buffer before returning.
const releaseCollectBytes = 8 << 20

// releaseRead runs a garbage collection once a large file's bytes (n) are
// no longer referenced. While decoding, the heap held the file and its
// decoded copy (protobuf copies byte fields), about twice the file; the
// collector sized its next goal on that, so without a collection here the
// heap would grow to about four times the file, the file's dead bytes
// included, before they were reused: resnet18 (47 MB) peaked at 194 MB
// resident when compiled and run, not the 2× it holds.
func releaseRead(n int) {
	if n >= releaseCollectBytes {
		runtime.GC()
	}
}

// readFileLimited reads a whole model file after checking its size against
// the limit. Errors name the file.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if st.IsDir() {
		return nil, &FileError{Path: path, Err: fmt.Errorf("is a directory, not an ONNX file")}
	}
	if st.Size() > limit {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: file is %d bytes, limit %d", ErrLimit, st.Size(), limit)}
	}
	data, err := readAllLimited(f, limit, st.Size())
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return data, nil
}

// Read reads a model from r. External data is resolved only if
// WithBaseDir is given.
func Read(r io.Reader, opts ...ReadOption) (*Model, error) {
	c, err := newReadConfig(opts)
	if err != nil {
		return nil, err
	}
	data, err := readAllLimited(r, c.limits.MaxModelBytes, 0)
	if err != nil {
		return nil, err
	}
	return decode(data, c)
}

// Decode decodes a model from bytes. The model keeps no reference to data
// (protobuf copies byte fields), so the caller may reuse it.
func Decode(data []byte, opts ...ReadOption) (*Model, error) {
	c, err := newReadConfig(opts)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > c.limits.MaxModelBytes {
		return nil, fmt.Errorf("%w: model is %d bytes, limit %d", ErrLimit, len(data), c.limits.MaxModelBytes)
	}
	return decode(data, c)
}

func readAllLimited(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	var buf bytes.Buffer
	if sizeHint > 0 && sizeHint <= limit {
		buf.Grow(int(sizeHint) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%w: model is over %d bytes", ErrLimit, limit)
	}
	return buf.Bytes(), nil
}

func decode(data []byte, c *readConfig) (*Model, error) {
	mp := &onnx.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if mp.GetGraph() == nil {
		return nil, fmt.Errorf("%w: model has no graph", ErrMalformed)
	}
	m := &Model{Proto: mp, baseDir: c.baseDir}
	if err := validateTensors(mp, c.limits); err != nil {
		return nil, err
	}
	if !c.skipExternal {
		if err := m.loadExternal(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// validateTensors checks every stored tensor's rank, dimensions and payload
// length against its declared shape and the limits.
func validateTensors(mp *onnx.ModelProto, l Limits) error {
	return forEachTensor(mp, l.MaxGraphDepth, func(t *onnx.TensorProto, where string) error {
		return validateTensor(t, where, l)
	})
}

func validateTensor(t *onnx.TensorProto, where string, l Limits) error {
	dims := t.GetDims()
	if len(dims) > l.MaxDims {
		return tensorErr(where, ErrLimit, "rank %d exceeds limit %d", len(dims), l.MaxDims)
	}
	n, err := NumElements(dims)
	if err != nil {
		return &TensorError{Tensor: where, Err: ErrMalformed, Reason: err.Error()}
	}
	dt := DataType(t.GetDataType())
	if want := dt.rawBytes(n); want > l.MaxTensorBytes || (want < 0 && n > l.MaxTensorBytes) {
		return tensorErr(where, ErrLimit, "shape %v of %v needs %d bytes, limit %d", dims, dt, want, l.MaxTensorBytes)
	}
	if t.GetSegment() != nil {
		return nil // a segment of a larger tensor: passed through unchecked
	}
	if isExternal(t) {
		return nil // checked when resolved
	}
	if raw := t.GetRawData(); len(raw) > 0 {
		if want := dt.rawBytes(n); want >= 0 && int64(len(raw)) != want {
			return tensorErr(where, ErrMalformed, "raw_data has %d bytes, shape %v of %v needs %d", len(raw), dims, dt, want)
		}
		return nil
	}
	var got int64
	switch dt {
	case Float:
		got = int64(len(t.GetFloatData()))
	case Complex64:
		got = int64(len(t.GetFloatData())) / 2
	case Double:
		got = int64(len(t.GetDoubleData()))
	case Complex128:
		got = int64(len(t.GetDoubleData())) / 2
	case Int64:
		got = int64(len(t.GetInt64Data()))
	case Uint32, Uint64:
		got = int64(len(t.GetUint64Data()))
	case String:
		got = int64(len(t.GetStringData()))
	case Uint8, Int8, Uint16, Int16, Int32, Bool, Float16, BFloat16:
		got = int64(len(t.GetInt32Data()))
	default:
		return nil // packed or unknown types: passed through
	}
	if got != n {
		return tensorErr(where, ErrMalformed, "has %d values, shape %v of %v needs %d", got, dims, dt, n)
	}
	return nil
}
