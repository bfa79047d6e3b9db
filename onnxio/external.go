package onnxio

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// parseExternal reads a tensor's external_data entries.
func parseExternal(t *onnx.TensorProto, where string) (*ExternalRef, error) {
	ref := &ExternalRef{Length: -1}
	for _, kv := range t.GetExternalData() {
		switch kv.GetKey() {
		case "location":
			ref.Location = kv.GetValue()
		case "offset":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return nil, tensorErr(where, ErrExternalData, "bad offset %q", kv.GetValue())
			}
			ref.Offset = v
		case "length":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return nil, tensorErr(where, ErrExternalData, "bad length %q", kv.GetValue())
			}
			ref.Length = v
		case "checksum":
			ref.Checksum = kv.GetValue()
		}
	}
	if ref.Location == "" {
		return nil, tensorErr(where, ErrExternalData, "external data without a location")
	}
	return ref, nil
}

// checkLocation rejects locations that could leave the model's directory.
func checkLocation(loc, where string) error {
	if strings.IndexByte(loc, 0) >= 0 {
		return tensorErr(where, ErrExternalData, "location %q contains a NUL byte", loc)
	}
	if filepath.IsAbs(loc) || strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, `\`) || filepath.VolumeName(loc) != "" || (len(loc) >= 2 && loc[1] == ':') {
		return tensorErr(where, ErrExternalData, "location %q is an absolute path", loc)
	}
	for _, part := range strings.FieldsFunc(loc, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return tensorErr(where, ErrExternalData, "location %q has a '..' component", loc)
		}
	}
	return nil
}

type extFile struct {
	f    *os.File
	size int64
}

// loadExternal resolves every external-data tensor of the model: it checks
// the location stays inside the base directory (symlinks included), that
// the byte range lies inside the file and matches the tensor's shape, then
// reads the payload into raw_data and remembers the reference.
func (m *Model) loadExternal(c *readConfig) error {
	files := map[string]*extFile{}
	defer func() {
		for _, ef := range files {
			ef.f.Close()
		}
	}()
	var total int64
	return forEachTensor(m.Proto, c.limits.MaxGraphDepth, func(t *onnx.TensorProto, where string) error {
		if !isExternal(t) {
			return nil
		}
		ref, err := parseExternal(t, where)
		if err != nil {
			return err
		}
		if err := checkLocation(ref.Location, where); err != nil {
			return err
		}
		if !c.baseDirSet && c.baseDir == "" {
			return tensorErr(where, ErrExternalData, "model read from a stream has external data %q: give onnxio.WithBaseDir", ref.Location)
		}
		ef, ok := files[ref.Location]
		if !ok {
			ef, err = openInside(c.baseDir, ref.Location, where)
			if err != nil {
				return err
			}
			files[ref.Location] = ef
		}
		n, _ := NumElements(t.GetDims()) // validated already
		want := DataType(t.GetDataType()).rawBytes(n)
		length := ref.Length
		if length < 0 {
			length = ef.size - ref.Offset
		}
		if ref.Offset > ef.size || length > ef.size-ref.Offset {
			return tensorErr(where, ErrExternalData, "range offset %d length %d is outside %q (%d bytes)", ref.Offset, length, ref.Location, ef.size)
		}
		if want >= 0 && length != want {
			return tensorErr(where, ErrExternalData, "external length %d, shape %v of %v needs %d bytes", length, t.GetDims(), DataType(t.GetDataType()), want)
		}
		if length > c.limits.MaxTensorBytes {
			return tensorErr(where, ErrLimit, "external payload %d bytes, limit %d", length, c.limits.MaxTensorBytes)
		}
		total += length
		if total > c.limits.MaxExternalBytes {
			return tensorErr(where, ErrLimit, "external data totals over %d bytes", c.limits.MaxExternalBytes)
		}
		buf := make([]byte, length)
		if _, err := ef.f.ReadAt(buf, ref.Offset); err != nil && !(err == io.EOF && length == 0) {
			return tensorErr(where, ErrExternalData, "reading %q: %v", ref.Location, err)
		}
		t.RawData = buf
		t.DataLocation = nil
		t.ExternalData = nil
		ref.Length = length
		if m.external == nil {
			m.external = map[*onnx.TensorProto]*ExternalRef{}
		}
		m.external[t] = ref
		return nil
	})
}

// openInside opens base/loc after checking that, with symlinks resolved, it
// is a regular file inside base.
func openInside(base, loc, where string) (*extFile, error) {
	absBase, err := filepath.Abs(base)
	if err != nil {
		return nil, tensorErr(where, ErrExternalData, "%v", err)
	}
	realBase, err := filepath.EvalSymlinks(absBase)
	if err != nil {
		return nil, tensorErr(where, ErrExternalData, "model directory: %v", err)
	}
	p := filepath.Join(absBase, filepath.FromSlash(strings.ReplaceAll(loc, `\`, "/")))
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, tensorErr(where, ErrExternalData, "external file %q: %v", loc, err)
	}
	rel, err := filepath.Rel(realBase, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil, tensorErr(where, ErrExternalData, "external file %q resolves outside the model directory (to %s)", loc, real)
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, tensorErr(where, ErrExternalData, "%v", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, tensorErr(where, ErrExternalData, "%v", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, tensorErr(where, ErrExternalData, "external file %q is not a regular file", loc)
	}
	return &extFile{f: f, size: st.Size()}, nil
}

func (r *ExternalRef) String() string {
	return fmt.Sprintf("%s@%d+%d", r.Location, r.Offset, r.Length)
}
