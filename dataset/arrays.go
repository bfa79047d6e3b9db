package dataset

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/edgeprune/edgeprune/internal/atomicfile"
	"gorgonia.org/tensor"
)

// array is one .npy array whose rows (axis-0 slices) are read on demand.
type array struct {
	name     string // input name it feeds
	where    string // file (and entry) for errors
	h        *Header
	rowBytes int64

	at   io.ReaderAt // random access; element 0 at base
	base int64

	// A compressed entry: streamed forward; the first time a read goes
	// back it is decompressed into memory whole if it fits in limit bytes,
	// else reopened.
	open  func() (io.ReadCloser, error)
	rc    io.ReadCloser
	next  int // the row rc delivers next
	limit int64
}

// load decompresses the whole payload into memory for random access.
func (a *array) load() error {
	rc, err := a.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, a.h.Offset); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, a.where, err)
	}
	buf := make([]byte, a.h.Elements()*int64(a.h.DType.Size()))
	if _, err := io.ReadFull(rc, buf); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, a.where, err)
	}
	if a.rc != nil {
		a.rc.Close()
		a.rc = nil
	}
	a.at, a.base = bytes.NewReader(buf), 0
	return nil
}

func newArray(name, where string, h *Header) (*array, error) {
	if len(h.Shape) == 0 {
		return nil, fmt.Errorf("%w: %s: a scalar, not samples along axis 0", ErrMalformed, where)
	}
	if h.rowElems() == 0 {
		return nil, fmt.Errorf("%w: %s: samples of shape %v have no elements", ErrUnsupported, where, h.Shape[1:])
	}
	if h.rowElems() > MaxBatchElements {
		return nil, fmt.Errorf("%w: %s: one sample of shape %v is too large", ErrUnsupported, where, h.Shape[1:])
	}
	return &array{name: name, where: where, h: h, rowBytes: h.rowElems() * int64(h.DType.Size())}, nil
}

func (a *array) rows() int { return a.h.Shape[0] }

// readRow reads row i into dst (rowBytes long).
func (a *array) readRow(dst []byte, i int) error {
	if a.at != nil {
		if _, err := a.at.ReadAt(dst, a.base+int64(i)*a.rowBytes); err != nil {
			return fmt.Errorf("%w: %s: sample %d: %v", ErrMalformed, a.where, i, err)
		}
		return nil
	}
	if a.rc != nil && i < a.next && a.h.Elements()*int64(a.h.DType.Size()) <= a.limit {
		if err := a.load(); err != nil {
			return err
		}
		return a.readRow(dst, i)
	}
	if a.rc == nil || i < a.next {
		if a.rc != nil {
			a.rc.Close()
		}
		rc, err := a.open()
		if err != nil {
			return err
		}
		a.rc, a.next = rc, 0
		if _, err := io.CopyN(io.Discard, rc, a.h.Offset); err != nil {
			rc.Close()
			a.rc = nil
			return fmt.Errorf("%w: %s: %v", ErrMalformed, a.where, err)
		}
	}
	if skip := int64(i-a.next) * a.rowBytes; skip > 0 {
		if _, err := io.CopyN(io.Discard, a.rc, skip); err != nil {
			a.rc.Close()
			a.rc = nil
			return fmt.Errorf("%w: %s: sample %d: %v", ErrMalformed, a.where, i, err)
		}
	}
	if _, err := io.ReadFull(a.rc, dst); err != nil {
		a.rc.Close()
		a.rc = nil
		return fmt.Errorf("%w: %s: sample %d: %v", ErrMalformed, a.where, i, err)
	}
	a.next = i + 1
	return nil
}

func (a *array) close() error {
	if a.rc != nil {
		return a.rc.Close()
	}
	return nil
}

// arrays is a dataset of .npy arrays (a .npy file, or a .npz's entries).
type arrays struct {
	path   string
	mu     sync.Mutex
	inputs []*array // sorted by name
	labels []int64
	n      int
	closer io.Closer
}

func (d *arrays) Len() int        { return d.n }
func (d *arrays) HasLabels() bool { return d.labels != nil }
func (d *arrays) Inputs() []string {
	out := make([]string, len(d.inputs))
	for i, a := range d.inputs {
		out[i] = a.name
	}
	return out
}

func (d *arrays) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var first error
	for _, a := range d.inputs {
		if err := a.close(); err != nil && first == nil {
			first = err
		}
	}
	if d.closer != nil {
		if err := d.closer.Close(); err != nil && first == nil {
			first = err
		}
		d.closer = nil
	}
	return first
}

func (d *arrays) Batch(ctx context.Context, idx []int) (Batch, error) {
	if err := checkIdx(idx, d.n, d.path); err != nil {
		return Batch{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// Reading in ascending order keeps streamed arrays going forward.
	order := make([]int, len(idx))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return idx[order[a]] < idx[order[b]] })
	b := Batch{Inputs: map[string]*tensor.Dense{}}
	for _, a := range d.inputs {
		re := a.h.rowElems()
		if int64(len(idx))*re > MaxBatchElements {
			return Batch{}, fmt.Errorf("%w: %s: a batch of %d samples of shape %v is too large", ErrInvalid, a.where, len(idx), a.h.Shape[1:])
		}
		out := make([]float32, int64(len(idx))*re)
		raw := make([]byte, a.rowBytes)
		for k, o := range order {
			if k%256 == 0 {
				if err := ctx.Err(); err != nil {
					return Batch{}, err
				}
			}
			if err := a.readRow(raw, idx[o]); err != nil {
				return Batch{}, err
			}
			decodeFloat(out[int64(o)*re:int64(o+1)*re], raw, a.h.DType)
		}
		b.Inputs[a.name] = tensor.New(tensor.WithShape(append([]int{len(idx)}, a.h.Shape[1:]...)...), tensor.WithBacking(out))
	}
	if d.labels != nil {
		b.Labels = make([]int64, len(idx))
		for i, j := range idx {
			b.Labels[i] = d.labels[j]
		}
	}
	return b, nil
}

func openNPY(path string, c *config) (Dataset, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	a, err := openArrayAt(f, size, path, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	a.name = "input"
	if c.inputName != "" {
		a.name = c.inputName
	}
	return &arrays{path: path, inputs: []*array{a}, n: a.rows(), closer: f}, nil
}

// openArrayAt reads the header of a .npy stored at offset 0 of r (size
// bytes) and checks the payload fits.
func openArrayAt(r io.ReaderAt, size int64, name, where string) (*array, error) {
	h, err := readHeader(io.NewSectionReader(r, 0, size), where)
	if err != nil {
		return nil, err
	}
	a, err := newArray(name, where, h)
	if err != nil {
		return nil, err
	}
	if need := h.Elements() * int64(h.DType.Size()); size-h.Offset < need {
		return nil, fmt.Errorf("%w: %s: %d bytes of data for shape %v %s (need %d)", ErrMalformed, where, size-h.Offset, h.Shape, h.DType, need)
	}
	a.at, a.base = r, h.Offset
	return a, nil
}

// openSized opens path for reading and returns its size; on error nothing
// is left open.
func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

func openNPZ(path string, c *config) (Dataset, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	d, err := npzDataset(f, size, path, c)
	if err != nil {
		f.Close()
		return nil, err
	}
	d.closer = f
	return d, nil
}

// npzEntries lists a .npz's arrays by name (entry name without ".npy").
func npzEntries(r io.ReaderAt, size int64, path string) (map[string]*zip.File, []string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: not a .npz (zip) file: %v", ErrMalformed, path, err)
	}
	files := map[string]*zip.File{}
	var names []string
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		if _, dup := files[name]; dup {
			return nil, nil, fmt.Errorf("%w: %s: array %q twice", ErrMalformed, path, name)
		}
		files[name] = f
		names = append(names, name)
	}
	sort.Strings(names)
	return files, names, nil
}

func npzDataset(r io.ReaderAt, size int64, path string, c *config) (*arrays, error) {
	files, names, err := npzEntries(r, size, path)
	if err != nil {
		return nil, err
	}
	d := &arrays{path: path}
	for _, name := range names {
		zf := files[name]
		where := path + ": " + zf.Name
		if name == c.labels {
			l, err := readLabels(zf, where)
			if err != nil {
				return nil, err
			}
			d.labels = l
			continue
		}
		a, err := zipArray(r, size, zf, name, where, c.memLimit)
		if err != nil {
			return nil, err
		}
		d.inputs = append(d.inputs, a)
	}
	if len(d.inputs) == 0 {
		return nil, fmt.Errorf("%w: %s: no input arrays (only %q)", ErrMalformed, path, names)
	}
	if c.inputName != "" {
		switch {
		case len(d.inputs) == 1:
			d.inputs[0].name = c.inputName
		case !slices.ContainsFunc(d.inputs, func(a *array) bool { return a.name == c.inputName }):
			return nil, fmt.Errorf("%w: %s: no array named %q among %d input arrays", ErrMalformed, path, c.inputName, len(d.inputs))
		}
	}
	d.n = d.inputs[0].rows()
	for _, a := range d.inputs[1:] {
		if a.rows() != d.n {
			return nil, fmt.Errorf("%w: %s: array %q has %d samples, %q has %d", ErrMalformed, path, a.name, a.rows(), d.inputs[0].name, d.n)
		}
	}
	if d.labels != nil && len(d.labels) != d.n {
		return nil, fmt.Errorf("%w: %s: %d labels for %d samples", ErrMalformed, path, len(d.labels), d.n)
	}
	return d, nil
}

// zipArray opens the .npy in zf: in place when stored; streamed when
// compressed, and decompressed into memory whole (within limit) once a
// read goes back.
func zipArray(r io.ReaderAt, size int64, zf *zip.File, name, where string, limit int64) (*array, error) {
	if zf.Method == zip.Store {
		off, err := zf.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)
		}
		if zf.CompressedSize64 != zf.UncompressedSize64 || zf.CompressedSize64 > uint64(size) || off > size-int64(zf.CompressedSize64) {
			return nil, fmt.Errorf("%w: %s: stored entry of %d bytes at offset %d of a %d-byte file", ErrMalformed, where, zf.CompressedSize64, off, size)
		}
		return openArrayAt(io.NewSectionReader(r, off, int64(zf.CompressedSize64)), int64(zf.CompressedSize64), name, where)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)
	}
	h, err := readHeader(rc, where)
	if err != nil {
		rc.Close()
		return nil, err
	}
	a, err := newArray(name, where, h)
	if err != nil {
		rc.Close()
		return nil, err
	}
	need := h.Elements() * int64(h.DType.Size())
	if err := plausible(zf, h.Offset+need, where); err != nil {
		rc.Close()
		return nil, err
	}
	if uint64(h.Offset+need) > zf.UncompressedSize64 {
		rc.Close()
		return nil, fmt.Errorf("%w: %s: %d bytes for shape %v %s (need %d)", ErrMalformed, where, zf.UncompressedSize64, h.Shape, h.DType, h.Offset+need)
	}
	rc.Close()
	a.limit = limit
	a.open = func() (io.ReadCloser, error) {
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)
		}
		return rc, nil
	}
	return a, nil
}

// readLabels reads a 1-D integer array whole.
func readLabels(zf *zip.File, where string) ([]int64, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)
	}
	defer rc.Close()
	h, err := readHeader(rc, where)
	if err != nil {
		return nil, err
	}
	if len(h.Shape) != 1 || !h.DType.IsInteger() {
		return nil, fmt.Errorf("%w: %s: labels must be a 1-D integer array, not %s %v", ErrMalformed, where, h.DType, h.Shape)
	}
	if h.Elements() > MaxBatchElements/8 {
		return nil, fmt.Errorf("%w: %s: %d labels", ErrUnsupported, where, h.Elements())
	}
	raw := make([]byte, h.Elements()*int64(h.DType.Size()))
	if err := plausible(zf, h.Offset+int64(len(raw)), where); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rc, raw); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)
	}
	l := make([]int64, h.Elements())
	decodeInt(l, raw, h.DType)
	return l, nil
}

// ReadNPZ reads every array of a .npz whole, keyed by entry name without
// ".npy", as ReadNPY types them. For a dataset larger than memory use Open.
func ReadNPZ(path string) (map[string]*tensor.Dense, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeNPZ(f, size, path)
}

// WriteNPZ writes arrays as an uncompressed .npz (numpy.savez: one
// NAME.npy entry per array, sorted by name), through a temporary file
// renamed into place. ReadNPZ reads it back.
func WriteNPZ(path string, arrays map[string]*tensor.Dense) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	zw := zip.NewWriter(f)
	names := make([]string, 0, len(arrays))
	for k := range arrays {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
		if err != nil {
			return err
		}
		if err := EncodeNPY(w, arrays[name]); err != nil {
			return fmt.Errorf("%s: %s: %w", path, name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Commit()
}

func decodeNPZ(r io.ReaderAt, size int64, path string) (map[string]*tensor.Dense, error) {
	files, names, err := npzEntries(r, size, path)
	if err != nil {
		return nil, err
	}
	out := map[string]*tensor.Dense{}
	for _, name := range names {
		zf := files[name]
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s: %v", ErrMalformed, path, zf.Name, err)
		}
		size := int64(min(zf.UncompressedSize64, 1<<62))
		if err := plausible(zf, size, path+": "+zf.Name); err != nil {
			rc.Close()
			return nil, err
		}
		t, err := decodeNPY(rc, size, path+": "+zf.Name)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// maxDeflateRatio bounds how many bytes deflate can make of one compressed
// byte (1032 in theory): sizes declared beyond it are refused before
// anything is allocated.
const maxDeflateRatio = 1040

// plausible checks that zf can hold n uncompressed bytes.
func plausible(zf *zip.File, n int64, where string) error {
	limit := int64(min(zf.CompressedSize64, 1<<52))
	if zf.Method != zip.Store {
		limit *= maxDeflateRatio
	}
	if n > limit {
		return fmt.Errorf("%w: %s: %d bytes cannot come from %d compressed bytes", ErrMalformed, where, n, zf.CompressedSize64)
	}
	return nil
}
