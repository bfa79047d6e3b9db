package pack

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"unsafe"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// WriteONNX reads the rest of the pack, checks it as ReadModel does, and
// writes the ONNX model it holds to w: exactly the bytes onnxio's
// Model.Marshal gives for ReadModel's model, without building that model.
// It returns the number of bytes written. It may be called once, instead of
// ReadModel.
//
// Memory: the decoded sections (bounded by ReadLimits.MaxDecodedBytes), the
// skeleton, and one buffer the size of the largest payload; never the
// model. The skeleton's bytes are copied through; each payload is decoded
// and written into its tensor in turn; the length prefixes of the messages
// that contain payloads (the graph, nodes, attributes, tensors) are
// computed beforehand from the tensor table, so nothing is written twice.
//
// Every checksum is verified and every size checked before the first byte
// is written, but a pack whose streams are inconsistent (a bad position
// or code) fails part-way through: write to a temporary file that is
// renamed only on success (internal/atomicfile, as `edgeprune unpack` does)
// when a failure must leave nothing behind.
func (rd *Reader) WriteONNX(w io.Writer) (int64, error) {
	if rd.done {
		return 0, fmt.Errorf("pack: WriteONNX after ReadModel or WriteONNX")
	}
	rd.done = true
	defer func() { rd.sec, rd.zbuf = decoded{}, nil }()
	if err := rd.readRest(); err != nil {
		return 0, err
	}
	sk, err := rd.readSkeleton()
	if err != nil {
		return 0, err
	}
	// The skeleton is canonical (readSkeleton): its bytes are those the
	// payloads are inserted into.
	mp, skel := sk.proto, sk.bytes
	s, err := rd.newStreamer(sk)
	if err != nil {
		return 0, err
	}
	n, err := s.measure(skel, msgModel, mp)
	if err != nil {
		return 0, err
	}
	if n > onnxio.MaxProtoBytes {
		return 0, &SectionError{Section: "skeleton", Offset: rd.h.Sections[1].Offset, Err: ErrLimit, Reason: fmt.Sprintf("the unpacked model is %d bytes, over protobuf's 2 GiB", n)}
	}
	cw := &countingWriter{w: w}
	s.out = bufio.NewWriterSize(cw, 256<<10)
	if err := s.emit(skel, msgModel, mp); err != nil {
		return cw.n, err
	}
	if err := s.out.Flush(); err != nil {
		return cw.n, err
	}
	if cw.n != n {
		return cw.n, fmt.Errorf("pack: WriteONNX wrote %d bytes, measured %d", cw.n, n)
	}
	return cw.n, nil
}

// msgKind is the type of a message on the path from the model to a
// parameter tensor.
type msgKind uint8

const (
	msgOther msgKind = iota
	msgModel
	msgGraph
	msgNode
	msgAttr
	msgTensor
)

// Field numbers of the ONNX schema (onnxio/onnxpb/onnx-ml.proto) on the paths Model.Params walks.
const (
	fModelGraph       = 7
	fGraphNode        = 1
	fGraphInitializer = 5
	fNodeAttribute    = 5
	fAttrT            = 5
	fAttrG            = 6
	fAttrGraphs       = 11
)

// protoNum is the TensorProto field number of a payload field.
func (f Field) protoNum() protowire.Number {
	switch f {
	case FieldRaw:
		return 9
	case FieldFloat:
		return 4
	case FieldInt32:
		return 5
	case FieldInt64:
		return 7
	case FieldDouble:
		return 10
	}
	return 11 // FieldUint64
}

// tensorFields are TensorProto's known fields: deterministic marshalling
// writes them in increasing number, then the unknown fields.
var tensorFields = (&onnx.TensorProto{}).ProtoReflect().Descriptor().Fields()

// streamer writes the skeleton with the payloads put back.
type streamer struct {
	rd      *Reader
	tensors map[*onnx.TensorProto][]int // table rows per tensor, by field number
	at      [][numKinds]int             // per row: where its bytes start in each stream
	psize   []int64                     // per row: bytes of the packed payload field's value
	sizes   map[proto.Message]int64     // new sizes of the messages that contain payloads
	buf     []byte                      // decoded payload, the size of the largest
	scratch []byte
	varints []byte
	out     *bufio.Writer
}

// newStreamer binds the table rows to the skeleton's tensors, makes the
// same checks as ReadModel (onnxio.FromProto on the restored model, with
// placeholders of the payloads' lengths), and measures every payload field.
func (rd *Reader) newStreamer(sk *skeleton) (*streamer, error) {
	s := &streamer{rd: rd, tensors: map[*onnx.TensorProto][]int{}, sizes: map[proto.Message]int64{},
		at: make([][numKinds]int, len(rd.entries)), psize: make([]int64, len(rd.entries))}
	cur := cursor{s: &rd.sec}
	maxBytes := 0
	for i := range rd.entries {
		e := &rd.entries[i]
		s.at[i] = cur.off
		cur.skip(e)
		s.tensors[sk.rows[i]] = append(s.tensors[sk.rows[i]], i)
		maxBytes = max(maxBytes, e.count*e.width)
	}
	for _, rows := range s.tensors {
		slices.SortFunc(rows, func(a, b int) int {
			return int(rd.entries[a].field.protoNum()) - int(rd.entries[b].field.protoNum())
		})
	}
	// One buffer, as uint64 so that typed views of it are aligned: the
	// placeholders below, then each decoded payload in turn.
	words := make([]uint64, (maxBytes+7)/8)
	s.buf = view[byte](words, 8*len(words))
	for t, rows := range s.tensors {
		for _, i := range rows {
			setPlaceholder(t, &rd.entries[i], words)
		}
	}
	_, err := onnxio.FromProto(sk.proto, onnxio.WithLimits(onnxio.Limits{MaxTensorBytes: rd.l.MaxTensorBytes}))
	for t, rows := range s.tensors {
		for _, i := range rows {
			setPlaceholder(t, &rd.entries[i], nil)
		}
	}
	if err != nil {
		return nil, &SectionError{Section: "skeleton", Offset: rd.h.Sections[1].Offset, Err: ErrMalformed, Reason: err.Error()}
	}
	for i := range rd.entries {
		e := &rd.entries[i]
		switch e.field {
		case FieldRaw, FieldFloat, FieldDouble:
			s.psize[i] = int64(e.count) * int64(e.width)
		default: // varints: their size depends on the values
			data, err := s.decode(i)
			if err != nil {
				return nil, err
			}
			s.psize[i] = varintsSize(data, e.field)
		}
	}
	return s, nil
}

// view reinterprets buf as n elements of T (n·sizeof(T) ≤ 8·len(buf)).
func view[T any](buf []uint64, n int) []T {
	if len(buf) == 0 || n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(buf))), n)
}

// setPlaceholder sets e's field of t to a slice of e.count elements over
// buf, or to nil when buf is nil. Only its length is used: onnxio.FromProto
// checks payload lengths, never values.
func setPlaceholder(t *onnx.TensorProto, e *entry, buf []uint64) {
	n := e.count
	switch e.field {
	case FieldRaw:
		t.RawData = view[byte](buf, n*e.width)
	case FieldFloat:
		t.FloatData = view[float32](buf, n)
	case FieldInt32:
		t.Int32Data = view[int32](buf, n)
	case FieldInt64:
		t.Int64Data = view[int64](buf, n)
	case FieldDouble:
		t.DoubleData = view[float64](buf, n)
	case FieldUint64:
		t.Uint64Data = view[uint64](buf, n)
	}
}

// decode decodes row i's payload into s.buf.
func (s *streamer) decode(i int) ([]byte, error) {
	e := &s.rd.entries[i]
	out := s.buf[:e.count*e.width]
	if e.enc != EncDense {
		clear(out)
	}
	cur := cursor{s: &s.rd.sec, off: s.at[i]}
	return decodePayload(e, &cur, out, &s.scratch)
}

// varintsSize is the size of the packed varints of a decoded int32, int64
// or uint64 payload.
func varintsSize(data []byte, f Field) int64 {
	var n int64
	if f == FieldInt32 {
		for k := 0; k < len(data); k += 4 {
			n += int64(protowire.SizeVarint(uint64(int64(int32(binary.LittleEndian.Uint32(data[k:]))))))
		}
		return n
	}
	for k := 0; k < len(data); k += 8 {
		n += int64(protowire.SizeVarint(binary.LittleEndian.Uint64(data[k:])))
	}
	return n
}

func sizeBytes(n int64) int64 { return int64(protowire.SizeVarint(uint64(n))) + n }

// child returns the message that field num of obj (of kind k) holds, if it
// is on a path to a parameter tensor; occ counts the occurrences of the
// repeated fields seen so far. The bytes are those of obj marshalled, so the
// k-th occurrence of a repeated field is element k of its slice.
func child(k msgKind, obj proto.Message, num protowire.Number, occ *[16]int) (msgKind, proto.Message) {
	next := func(n int) int {
		i := occ[num]
		occ[num]++
		if i >= n {
			return -1
		}
		return i
	}
	switch k {
	case msgModel:
		if g := obj.(*onnx.ModelProto).GetGraph(); num == fModelGraph && g != nil {
			return msgGraph, g
		}
	case msgGraph:
		g := obj.(*onnx.GraphProto)
		switch num {
		case fGraphNode:
			if i := next(len(g.Node)); i >= 0 && g.Node[i] != nil {
				return msgNode, g.Node[i]
			}
		case fGraphInitializer:
			if i := next(len(g.Initializer)); i >= 0 && g.Initializer[i] != nil {
				return msgTensor, g.Initializer[i]
			}
		}
	case msgNode:
		n := obj.(*onnx.NodeProto)
		if num == fNodeAttribute {
			if i := next(len(n.Attribute)); i >= 0 && n.Attribute[i] != nil {
				return msgAttr, n.Attribute[i]
			}
		}
	case msgAttr:
		a := obj.(*onnx.AttributeProto)
		switch num {
		case fAttrT:
			if a.T != nil {
				return msgTensor, a.T
			}
		case fAttrG:
			if a.G != nil {
				return msgGraph, a.G
			}
		case fAttrGraphs:
			if i := next(len(a.Graphs)); i >= 0 && a.Graphs[i] != nil {
				return msgGraph, a.Graphs[i]
			}
		}
	}
	return msgOther, nil
}

// field splits off the next field of b: its number, the length of its tag
// and of the whole field.
func field(b []byte) (num protowire.Number, typ protowire.Type, tagLen, n int, err error) {
	num, typ, tagLen = protowire.ConsumeTag(b)
	if tagLen < 0 {
		return 0, 0, 0, 0, fmt.Errorf("pack: re-marshalled skeleton: %w", protowire.ParseError(tagLen))
	}
	m := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
	if m < 0 {
		return 0, 0, 0, 0, fmt.Errorf("pack: re-marshalled skeleton: %w", protowire.ParseError(m))
	}
	return num, typ, tagLen, tagLen + m, nil
}

// measure returns the size of message b (of kind k, decoded as obj) with
// the payloads put back, and records the new size of every message that
// grows.
func (s *streamer) measure(b []byte, k msgKind, obj proto.Message) (int64, error) {
	if k == msgTensor {
		n := int64(len(b))
		for _, i := range s.tensors[obj.(*onnx.TensorProto)] {
			n += int64(protowire.SizeTag(s.rd.entries[i].field.protoNum())) + sizeBytes(s.psize[i])
		}
		if n != int64(len(b)) {
			s.sizes[obj] = n
		}
		return n, nil
	}
	known, err := knownLen(b, obj)
	if err != nil {
		return 0, err
	}
	n := int64(len(b) - known) // the unknown fields are copied through
	orig := int64(len(b))
	b = b[:known]
	var occ [16]int
	for len(b) > 0 {
		num, typ, tagLen, fn, err := field(b)
		if err != nil {
			return 0, err
		}
		if typ == protowire.BytesType && num < 16 {
			if ck, c := child(k, obj, num, &occ); c != nil {
				v, _ := protowire.ConsumeBytes(b[tagLen:])
				cn, err := s.measure(v, ck, c)
				if err != nil {
					return 0, err
				}
				n += int64(tagLen) + sizeBytes(cn)
				b = b[fn:]
				continue
			}
		}
		n += int64(fn)
		b = b[fn:]
	}
	if n != orig {
		s.sizes[obj] = n
	}
	return n, nil
}

// emit writes message b (of kind k, decoded as obj) with the payloads put
// back. Messages that do not grow are copied through.
func (s *streamer) emit(b []byte, k msgKind, obj proto.Message) error {
	if k == msgTensor {
		return s.emitTensor(b, obj.(*onnx.TensorProto))
	}
	known, err := knownLen(b, obj)
	if err != nil {
		return err
	}
	b, unknown := b[:known], b[known:]
	var occ [16]int
	for len(b) > 0 {
		num, typ, tagLen, fn, err := field(b)
		if err != nil {
			return err
		}
		if typ == protowire.BytesType && num < 16 {
			if ck, c := child(k, obj, num, &occ); c != nil {
				if size, grew := s.sizes[c]; grew {
					v, _ := protowire.ConsumeBytes(b[tagLen:])
					s.out.Write(b[:tagLen])
					s.out.Write(protowire.AppendVarint(s.varints[:0], uint64(size)))
					if err := s.emit(v, ck, c); err != nil {
						return err
					}
					b = b[fn:]
					continue
				}
			}
		}
		if _, err := s.out.Write(b[:fn]); err != nil {
			return err
		}
		b = b[fn:]
	}
	_, err = s.out.Write(unknown)
	return err
}

// emitTensor writes tensor t with its payload fields inserted where
// deterministic marshalling puts them: among the known fields by number,
// before the unknown fields (which may reuse a known number with another
// wire type, so they are told apart by t's unknown bytes, not by number).
func (s *streamer) emitTensor(b []byte, t *onnx.TensorProto) error {
	known, err := knownLen(b, t)
	if err != nil {
		return err
	}
	b, unknown := b[:known], b[known:]
	rows := s.tensors[t]
	for len(b) > 0 {
		num, _, _, fn, err := field(b)
		if err != nil {
			return err
		}
		for len(rows) > 0 && s.rd.entries[rows[0]].field.protoNum() < num {
			if err := s.emitPayload(rows[0]); err != nil {
				return err
			}
			rows = rows[1:]
		}
		if _, err := s.out.Write(b[:fn]); err != nil {
			return err
		}
		b = b[fn:]
	}
	for _, i := range rows {
		if err := s.emitPayload(i); err != nil {
			return err
		}
	}
	_, err = s.out.Write(unknown)
	return err
}

// emitPayload decodes row i's payload and writes it as its packed field.
func (s *streamer) emitPayload(i int) error {
	e := &s.rd.entries[i]
	data, err := s.decode(i)
	if err != nil {
		return err
	}
	v := protowire.AppendTag(s.varints[:0], e.field.protoNum(), protowire.BytesType)
	v = protowire.AppendVarint(v, uint64(s.psize[i]))
	if _, err := s.out.Write(v); err != nil {
		return err
	}
	switch e.field {
	case FieldRaw, FieldFloat, FieldDouble: // bytes, fixed32 and fixed64 are little-endian
		_, err = s.out.Write(data)
		return err
	}
	v = v[:0]
	for k := 0; k < len(data); k += e.width {
		if len(v) > 64<<10 {
			if _, err := s.out.Write(v); err != nil {
				return err
			}
			v = v[:0]
		}
		var x uint64
		if e.field == FieldInt32 {
			x = uint64(int64(int32(binary.LittleEndian.Uint32(data[k:]))))
		} else {
			x = binary.LittleEndian.Uint64(data[k:])
		}
		v = protowire.AppendVarint(v, x)
	}
	s.varints = v
	_, err = s.out.Write(v)
	return err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
