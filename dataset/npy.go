package dataset

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/edgeprune/edgeprune/internal/atomicfile"
	"gorgonia.org/tensor"
)

// NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// magic "\x93NUMPY", version (1.0, 2.0 or 3.0), a little-endian header
// length (2 bytes in 1.0, 4 bytes after), a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (N, ...), } padded with
// spaces and a newline, then the elements in row-major order.

// Limits on what a header may declare, checked before anything is
// allocated.
const (
	// MaxHeaderLen bounds a .npy header (numpy itself writes < 1 KiB).
	MaxHeaderLen = 1 << 16
	// MaxRank bounds the rank of an array.
	MaxRank = 32
	// MaxElements bounds the elements of one array.
	MaxElements = 1<<40 - 1
	// MaxBatchElements bounds the elements one Batch call materialises.
	MaxBatchElements = 1<<31 - 1
)

// DType is an element type of a .npy array.
type DType int

// The element types read. Integers and bools are read as exact values; on
// model inputs they become float32.
const (
	Float32 DType = iota + 1
	Float64
	Float16
	Int8
	Uint8
	Int16
	Uint16
	Int32
	Uint32
	Int64
	Uint64
	Bool
)

var dtypes = []struct {
	descr string
	dt    DType
	size  int
}{
	{"f4", Float32, 4}, {"f8", Float64, 8}, {"f2", Float16, 2},
	{"i1", Int8, 1}, {"u1", Uint8, 1}, {"i2", Int16, 2}, {"u2", Uint16, 2},
	{"i4", Int32, 4}, {"u4", Uint32, 4}, {"i8", Int64, 8}, {"u8", Uint64, 8}, {"b1", Bool, 1},
}

// Size is the element size in bytes.
func (d DType) Size() int {
	for _, e := range dtypes {
		if e.dt == d {
			return e.size
		}
	}
	return 0
}

// IsInteger is true for the integer and bool types.
func (d DType) IsInteger() bool { return d >= Int8 }

func (d DType) String() string {
	for _, e := range dtypes {
		if e.dt == d {
			return e.descr
		}
	}
	return "dtype(" + strconv.Itoa(int(d)) + ")"
}

// Header is a parsed .npy header: what ReadNPYHeader reads without the
// payload.
type Header struct {
	DType DType
	Shape []int
	// Offset is the byte offset of the first element in the .npy stream.
	Offset int64
}

// Elements is the product of the shape.
func (h *Header) Elements() int64 {
	n := int64(1)
	for _, d := range h.Shape {
		n *= int64(d)
	}
	return n
}

// rowElems is the number of elements of one sample (axis 0).
func (h *Header) rowElems() int64 {
	n := int64(1)
	for _, d := range h.Shape[1:] {
		n *= int64(d)
	}
	return n
}

// readHeader parses the header at the start of r. name is used in errors.
func readHeader(r io.Reader, name string) (*Header, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: %s: short .npy header: %v", ErrMalformed, name, err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("%w: %s: not a .npy array (bad magic)", ErrMalformed, name)
	}
	var hlen, off int64
	switch pre[6] {
	case 1:
		hlen, off = int64(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		var more [2]byte
		if _, err := io.ReadFull(r, more[:]); err != nil {
			return nil, fmt.Errorf("%w: %s: short .npy header: %v", ErrMalformed, name, err)
		}
		hlen, off = int64(binary.LittleEndian.Uint32(append(pre[8:10:10], more[:]...))), 12
	default:
		return nil, fmt.Errorf("%w: %s: .npy format version %d.%d", ErrUnsupported, name, pre[6], pre[7])
	}
	if hlen > MaxHeaderLen {
		return nil, fmt.Errorf("%w: %s: .npy header of %d bytes (limit %d)", ErrMalformed, name, hlen, MaxHeaderLen)
	}
	buf := make([]byte, hlen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: %s: short .npy header: %v", ErrMalformed, name, err)
	}
	h, err := parseHeaderDict(string(buf))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h.Offset = off + hlen
	return h, nil
}

// parseHeaderDict parses {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
func parseHeaderDict(s string) (*Header, error) {
	bad := func(why string) (*Header, error) {
		return nil, fmt.Errorf("%w: .npy header %q: %s", ErrMalformed, trunc(s, 120), why)
	}
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") || !strings.HasSuffix(t, "}") {
		return bad("not a dict")
	}
	t = t[1 : len(t)-1]
	var descr, fortran, shape string
	var seen [3]bool
	for len(strings.TrimSpace(t)) > 0 {
		t = strings.TrimLeft(t, " \t\n,")
		if t == "" {
			break
		}
		key, rest, ok := quoted(t)
		if !ok {
			return bad("key is not a quoted string")
		}
		rest = strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(rest, ":") {
			return bad("no ':' after key " + key)
		}
		rest = strings.TrimLeft(rest[1:], " ")
		var val string
		switch {
		case strings.HasPrefix(rest, "("):
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return bad("unterminated shape tuple")
			}
			val, rest = rest[:end+1], rest[end+1:]
		case strings.HasPrefix(rest, "'") || strings.HasPrefix(rest, `"`):
			v, r, ok := quoted(rest)
			if !ok {
				return bad("unterminated string")
			}
			val, rest = v, r
		default:
			end := strings.IndexAny(rest, ",}")
			if end < 0 {
				end = len(rest)
			}
			val, rest = strings.TrimSpace(rest[:end]), rest[end:]
		}
		switch key {
		case "descr":
			descr, seen[0] = val, true
		case "fortran_order":
			fortran, seen[1] = val, true
		case "shape":
			shape, seen[2] = val, true
		default:
			return bad("unknown key " + key)
		}
		t = rest
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return bad("needs descr, fortran_order and shape")
	}
	h := &Header{}
	if fortran != "False" {
		if fortran == "True" {
			return nil, fmt.Errorf("%w: Fortran-order array: save it C-ordered (np.ascontiguousarray)", ErrUnsupported)
		}
		return bad("fortran_order is " + fortran)
	}
	if len(descr) < 3 {
		return bad("descr " + descr)
	}
	order, code := descr[0], descr[1:]
	for _, e := range dtypes {
		if e.descr == code {
			h.DType = e.dt
		}
	}
	switch {
	case h.DType == 0:
		return nil, fmt.Errorf("%w: dtype %q (want float32/64/16, integers or bool)", ErrUnsupported, descr)
	case order == '>' && h.DType.Size() > 1:
		return nil, fmt.Errorf("%w: big-endian dtype %q: save it little-endian (a.astype('<%s'))", ErrUnsupported, descr, code)
	case order != '<' && order != '|' && order != '=' && order != '>':
		return bad("descr " + descr)
	}
	if len(shape) < 2 || shape[0] != '(' || shape[len(shape)-1] != ')' {
		return bad("shape is not a tuple")
	}
	inner := strings.TrimSpace(shape[1 : len(shape)-1])
	h.Shape = []int{}
	if inner != "" {
		for _, part := range strings.Split(inner, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			part = strings.TrimSuffix(part, "L")
			d, err := strconv.ParseInt(part, 10, 64)
			if err != nil || d < 0 {
				return bad("shape dimension " + part)
			}
			if len(h.Shape) >= MaxRank {
				return bad(fmt.Sprintf("rank above %d", MaxRank))
			}
			h.Shape = append(h.Shape, int(min(d, math.MaxInt32+1)))
		}
	}
	n := int64(1)
	for _, d := range h.Shape {
		if d > 0 && n > MaxElements/int64(d) {
			return bad(fmt.Sprintf("shape %v has more than %d elements", h.Shape, int64(MaxElements)))
		}
		n *= int64(d)
	}
	return h, nil
}

func quoted(s string) (val, rest string, ok bool) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", s, false
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", s, false
	}
	return s[1 : 1+end], s[2+end:], true
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// decodeInto converts raw little-endian elements of dt into dst (float32).
func decodeFloat(dst []float32, raw []byte, dt DType) {
	le := binary.LittleEndian
	switch dt {
	case Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case Float64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
	case Float16:
		for i := range dst {
			dst[i] = halfToFloat(le.Uint16(raw[2*i:]))
		}
	default:
		for i := range dst {
			dst[i] = float32(intAt(raw, dt, i))
		}
	}
}

// decodeInt converts raw elements of an integer dt into dst.
func decodeInt(dst []int64, raw []byte, dt DType) {
	for i := range dst {
		dst[i] = intAt(raw, dt, i)
	}
}

func intAt(raw []byte, dt DType, i int) int64 {
	le := binary.LittleEndian
	switch dt {
	case Int8:
		return int64(int8(raw[i]))
	case Uint8:
		return int64(raw[i])
	case Bool:
		if raw[i] != 0 {
			return 1
		}
		return 0
	case Int16:
		return int64(int16(le.Uint16(raw[2*i:])))
	case Uint16:
		return int64(le.Uint16(raw[2*i:]))
	case Int32:
		return int64(int32(le.Uint32(raw[4*i:])))
	case Uint32:
		return int64(le.Uint32(raw[4*i:]))
	case Int64:
		return int64(le.Uint64(raw[8*i:]))
	case Uint64:
		return int64(le.Uint64(raw[8*i:]))
	}
	return 0
}

// halfToFloat converts IEEE 754 binary16 to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		for frac&0x400 == 0 {
			frac <<= 1
			exp--
		}
		exp++
		frac &= 0x3ff
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// ReadNPY reads a whole .npy file: float types as a float32 tensor,
// integers as int64, bool as bool. Use Open to read a large array batch by
// batch.
func ReadNPY(path string) (*tensor.Dense, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeNPY(f, size, path)
}

// DecodeNPY reads a whole .npy stream of size bytes from r (as ReadNPY).
func DecodeNPY(r io.Reader, size int64, name string) (*tensor.Dense, error) {
	return decodeNPY(r, size, name)
}

func decodeNPY(r io.Reader, size int64, name string) (*tensor.Dense, error) {
	h, err := readHeader(r, name)
	if err != nil {
		return nil, err
	}
	n := h.Elements()
	if n == 0 {
		return nil, fmt.Errorf("%w: %s: shape %v has no elements", ErrUnsupported, name, h.Shape)
	}
	if need := n * int64(h.DType.Size()); size >= 0 && size-h.Offset < need {
		return nil, fmt.Errorf("%w: %s: %d bytes of data for shape %v %s (need %d)", ErrMalformed, name, size-h.Offset, h.Shape, h.DType, need)
	}
	if n > MaxBatchElements {
		return nil, fmt.Errorf("%w: %s: %d elements is more than one read may hold (%d); use dataset.Open to read it batch by batch", ErrUnsupported, name, n, MaxBatchElements)
	}
	raw := make([]byte, n*int64(h.DType.Size()))
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
	}
	shape := h.Shape
	if len(shape) == 0 {
		shape = nil // a scalar
	}
	switch {
	case h.DType == Bool:
		b := make([]bool, n)
		for i := range b {
			b[i] = raw[i] != 0
		}
		return newDense(shape, b), nil
	case h.DType.IsInteger():
		v := make([]int64, n)
		decodeInt(v, raw, h.DType)
		return newDense(shape, v), nil
	}
	v := make([]float32, n)
	decodeFloat(v, raw, h.DType)
	return newDense(shape, v), nil
}

// newDense builds a tensor; a nil shape is a scalar.
func newDense(shape []int, back any) *tensor.Dense {
	if len(shape) == 0 {
		switch v := back.(type) {
		case []float32:
			return tensor.New(tensor.FromScalar(v[0]))
		case []int64:
			return tensor.New(tensor.FromScalar(v[0]))
		case []bool:
			return tensor.New(tensor.FromScalar(v[0]))
		}
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(back))
}

// WriteNPY writes t (float32, float64, int64, int32 or bool) to path as a
// version 1.0 .npy file, through a temporary file renamed into place.
func WriteNPY(path string, t *tensor.Dense) error {
	var buf bytes.Buffer
	if err := EncodeNPY(&buf, t); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}

// EncodeNPY writes t as a .npy stream to w.
func EncodeNPY(w io.Writer, t *tensor.Dense) error {
	shape := t.Shape()
	if t.IsScalar() {
		shape = nil
	}
	var descr string
	var payload []byte
	le := binary.LittleEndian
	if t.Shape().TotalSize() == 0 && !t.IsScalar() { // (tensor.Dense.Data panics on no elements)
		switch t.Dtype() {
		case tensor.Float32:
			descr = "<f4"
		case tensor.Float64:
			descr = "<f8"
		case tensor.Int64:
			descr = "<i8"
		case tensor.Int32:
			descr = "<i4"
		case tensor.Bool:
			descr = "|b1"
		default:
			return fmt.Errorf("%w: writing a %v tensor as .npy", ErrUnsupported, t.Dtype())
		}
		_, err := w.Write(npyHeader(descr, shape))
		return err
	}
	switch d := t.Data().(type) {
	case []float32:
		descr = "<f4"
		payload = make([]byte, 4*len(d))
		for i, v := range d {
			le.PutUint32(payload[4*i:], math.Float32bits(v))
		}
	case float32:
		descr, payload = "<f4", le.AppendUint32(nil, math.Float32bits(d))
	case []float64:
		descr = "<f8"
		payload = make([]byte, 8*len(d))
		for i, v := range d {
			le.PutUint64(payload[8*i:], math.Float64bits(v))
		}
	case []int64:
		descr = "<i8"
		payload = make([]byte, 8*len(d))
		for i, v := range d {
			le.PutUint64(payload[8*i:], uint64(v))
		}
	case int64:
		descr, payload = "<i8", le.AppendUint64(nil, uint64(d))
	case []int32:
		descr = "<i4"
		payload = make([]byte, 4*len(d))
		for i, v := range d {
			le.PutUint32(payload[4*i:], uint32(v))
		}
	case bool:
		descr, payload = "|b1", []byte{0}
		if d {
			payload[0] = 1
		}
	case []bool:
		descr = "|b1"
		payload = make([]byte, len(d))
		for i, v := range d {
			if v {
				payload[i] = 1
			}
		}
	default:
		return fmt.Errorf("%w: writing a %v tensor as .npy", ErrUnsupported, t.Dtype())
	}
	_, err := w.Write(append(npyHeader(descr, shape), payload...))
	return err
}

// npyHeader is a version 1.0 header, padded so the data starts at a
// multiple of 64 bytes, as numpy writes it.
func npyHeader(descr string, shape []int) []byte {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	sh := "(" + strings.Join(parts, ", ")
	if len(parts) == 1 {
		sh += ","
	}
	sh += ")"
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, sh)
	hdr += strings.Repeat(" ", (64-(10+len(hdr)+1)%64)%64) + "\n"
	out := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), byte(len(hdr)>>8))
	return append(out, hdr...)
}
