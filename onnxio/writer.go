package onnxio

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/edgeprune/edgeprune/internal/atomicfile"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// MaxProtoBytes is the largest model protobuf can serialise (2 GiB - 1).
// Larger models need external data.
const MaxProtoBytes = 1<<31 - 1

// protoLimit is MaxProtoBytes; tests lower it to exercise the >2 GiB paths.
var protoLimit = MaxProtoBytes

var marshalOpts = proto.MarshalOptions{Deterministic: true}

// Marshal serialises the model with every tensor inline.
func (m *Model) Marshal() ([]byte, error) {
	if n := marshalOpts.Size(m.Proto); n > protoLimit {
		return nil, fmt.Errorf("%w: model is %d bytes inline, over protobuf's 2 GiB: write it with external data", ErrLimit, n)
	}
	return marshalOpts.Marshal(m.Proto)
}

// Write writes the model to w with every tensor inline.
func (m *Model) Write(w io.Writer) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// WriteFile writes the model to path atomically: a failed write leaves
// neither a partial model nor a partial data file. See ExternalMode for
// which tensors go to the external data file.
func (m *Model) WriteFile(path string, opts ...WriteOption) error {
	c, err := newWriteConfig(opts)
	if err != nil {
		return err
	}
	if c.dataFile == "" {
		c.dataFile = filepath.Base(path) + ".data"
	}
	ext := m.pickExternal(c)
	if len(ext) == 0 {
		b, err := m.Marshal()
		if err != nil {
			return &FileError{Path: path, Err: err}
		}
		if err := atomicfile.WriteFile(path, b); err != nil {
			return &FileError{Path: path, Err: err}
		}
		return nil
	}
	dataPath := filepath.Join(filepath.Dir(path), filepath.FromSlash(c.dataFile))
	df, err := atomicfile.Create(dataPath)
	if err != nil {
		return &FileError{Path: dataPath, Err: err}
	}
	defer df.Abort()
	saved, err := writeExternal(df.File, ext, c)
	if err != nil {
		return &FileError{Path: dataPath, Err: err}
	}
	b, err := func() ([]byte, error) {
		defer restore(saved)
		if n := marshalOpts.Size(m.Proto); n > protoLimit {
			return nil, fmt.Errorf("%w: model is %d bytes even with external data", ErrLimit, n)
		}
		return marshalOpts.Marshal(m.Proto)
	}()
	if err != nil {
		return &FileError{Path: path, Err: err}
	}
	mf, err := atomicfile.Create(path)
	if err != nil {
		return &FileError{Path: path, Err: err}
	}
	defer mf.Abort()
	if _, err := mf.Write(b); err != nil {
		return &FileError{Path: path, Err: err}
	}
	if err := df.Commit(); err != nil {
		return &FileError{Path: dataPath, Err: err}
	}
	if err := mf.Commit(); err != nil {
		os.Remove(dataPath)
		return &FileError{Path: path, Err: err}
	}
	return nil
}

// pickExternal lists the tensors to store externally, in model order.
func (m *Model) pickExternal(c *writeConfig) []*onnx.TensorProto {
	if c.mode == ExternalNever {
		return nil
	}
	all := c.mode == ExternalAlways || marshalOpts.Size(m.Proto) > protoLimit
	var out []*onnx.TensorProto
	_ = forEachTensor(m.Proto, 1<<20, func(t *onnx.TensorProto, _ string) error {
		if len(t.GetRawData()) == 0 || int64(len(t.GetRawData())) < c.threshold {
			return nil
		}
		if all || m.external[t] != nil {
			out = append(out, t)
		}
		return nil
	})
	return out
}

type savedTensor struct {
	t   *onnx.TensorProto
	raw []byte
	loc *onnx.TensorProto_DataLocation
	ext []*onnx.StringStringEntryProto
}

// writeExternal writes the tensors' payloads to w (each at an offset aligned
// to c.align) and points the tensors at them; restore undoes the pointing.
func writeExternal(w io.Writer, ts []*onnx.TensorProto, c *writeConfig) ([]savedTensor, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var off int64
	var pad [4096]byte
	saved := make([]savedTensor, 0, len(ts))
	for _, t := range ts {
		if r := off % c.align; r != 0 {
			n := c.align - r
			if _, err := bw.Write(pad[:n]); err != nil {
				restore(saved)
				return nil, err
			}
			off += n
		}
		raw := t.GetRawData()
		if _, err := bw.Write(raw); err != nil {
			restore(saved)
			return nil, err
		}
		saved = append(saved, savedTensor{t: t, raw: raw, loc: t.DataLocation, ext: t.ExternalData})
		t.RawData = nil
		t.DataLocation = onnx.TensorProto_EXTERNAL.Enum()
		t.ExternalData = []*onnx.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String(c.dataFile)},
			{Key: proto.String("offset"), Value: proto.String(strconv.FormatInt(off, 10))},
			{Key: proto.String("length"), Value: proto.String(strconv.Itoa(len(raw)))},
		}
		off += int64(len(raw))
	}
	if err := bw.Flush(); err != nil {
		restore(saved)
		return nil, err
	}
	return saved, nil
}

func restore(saved []savedTensor) {
	for _, s := range saved {
		s.t.RawData = s.raw
		s.t.DataLocation = s.loc
		s.t.ExternalData = s.ext
	}
}
