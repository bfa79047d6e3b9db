package dataset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gorgonia.org/tensor"
)

var (
	// ErrMalformed: the file is not a valid dataset of its format.
	ErrMalformed = errors.New("dataset: malformed")
	// ErrUnsupported: a valid file that this package does not read (a
	// dtype, a version, a layout).
	ErrUnsupported = errors.New("dataset: unsupported")
	// ErrInvalid: an option or an argument is out of range.
	ErrInvalid = errors.New("dataset: invalid argument")
)

// Batch is a set of samples: one tensor per model input with the samples
// along axis 0, and their labels.
type Batch struct {
	Inputs map[string]*tensor.Dense // float32, axis 0 = samples
	Labels []int64                  // nil when the dataset has no labels
}

// Dataset is a sequence of samples read on demand. Implementations are safe
// for concurrent use.
type Dataset interface {
	// Len is the number of samples.
	Len() int
	// Inputs are the names of the inputs each sample provides, sorted.
	Inputs() []string
	// HasLabels says whether Batch returns labels.
	HasLabels() bool
	// Batch reads the samples at idx, in this order (indices may repeat).
	Batch(ctx context.Context, idx []int) (Batch, error)
	// Close releases the files. Views made by Subset and Split share their
	// dataset's files: close the dataset Open returned, once.
	Close() error
}

// Option configures Open.
type Option func(*config) error

type config struct {
	inputName  string
	labels     string
	pre        *Preprocess
	memLimit   int64
	limitGiven bool
}

// DefaultMemoryLimit is how many bytes of a compressed .npz array may be
// decompressed into memory for random access (see WithMemoryLimit).
const DefaultMemoryLimit = 1 << 30

// WithInputName names the model input that an image folder, a .npy file or
// the single non-label array of a .npz feeds (default: the array's own
// name; "input" for an image folder).
func WithInputName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return fmt.Errorf("%w: empty input name", ErrInvalid)
		}
		c.inputName = name
		return nil
	}
}

// WithLabels names the labels array of a .npz (default "labels").
func WithLabels(name string) Option {
	return func(c *config) error {
		if name == "" {
			return fmt.Errorf("%w: empty labels name", ErrInvalid)
		}
		c.labels = name
		return nil
	}
}

// WithPreprocess sets how an image folder's images become tensors (default:
// DefaultPreprocess). It applies to image folders only.
func WithPreprocess(p Preprocess) Option {
	return func(c *config) error {
		if err := p.Validate(); err != nil {
			return err
		}
		c.pre = &p
		return nil
	}
}

// WithMemoryLimit bounds how many bytes of a compressed (np.savez_compressed)
// .npz array are decompressed into memory for random access. A compressed
// array is streamed while it is read forward (in-order batches decompress
// only what they read); the first read that goes back decompresses it into
// memory whole if it fits the limit, else restarts its decompression — so
// shuffled access to a compressed array beyond the limit is slow: save it
// with np.savez (stored entries are read in place). Stored entries and .npy
// files are always read in place, batch by batch.
func WithMemoryLimit(bytes int64) Option {
	return func(c *config) error {
		if bytes < 0 {
			return fmt.Errorf("%w: memory limit %d", ErrInvalid, bytes)
		}
		c.memLimit, c.limitGiven = bytes, true
		return nil
	}
}

// Open opens a dataset:
//
//   - a .npz file: one array per model input, named after it, with the
//     samples along axis 0, plus an integer array of labels ("labels",
//     see WithLabels) if labelled; a single non-label array feeds the input
//     named by WithInputName;
//   - a .npy file: one array of inputs, no labels;
//   - a directory: an image folder as torchvision's ImageFolder (one
//     sub-folder per class, sorted names → labels 0..K−1, JPEG and PNG
//     files), or a flat folder of images (no labels), turned into tensors
//     by WithPreprocess.
//
// Arrays are read batch by batch, never whole (except compressed .npz
// arrays within WithMemoryLimit, and labels).
func Open(path string, opts ...Option) (Dataset, error) {
	c := &config{labels: "labels", memLimit: DefaultMemoryLimit}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return openImageFolder(path, c)
	}
	if c.pre != nil {
		return nil, fmt.Errorf("%w: %s: preprocessing applies to image folders only (a .npz/.npy holds tensors already)", ErrInvalid, path)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npz":
		return openNPZ(path, c)
	case ".npy":
		return openNPY(path, c)
	}
	return nil, fmt.Errorf("%w: %s: want a .npz, a .npy or an image folder", ErrUnsupported, path)
}

// Subset is the view of d holding the samples idx, in this order. It shares
// d's files (closing it does nothing).
func Subset(d Dataset, idx []int) Dataset {
	return &subset{d: d, idx: slices.Clone(idx)}
}

type subset struct {
	d   Dataset
	idx []int
}

func (s *subset) Len() int         { return len(s.idx) }
func (s *subset) Inputs() []string { return s.d.Inputs() }
func (s *subset) HasLabels() bool  { return s.d.HasLabels() }
func (s *subset) Close() error     { return nil }
func (s *subset) Batch(ctx context.Context, idx []int) (Batch, error) {
	inner := make([]int, len(idx))
	for i, j := range idx {
		if j < 0 || j >= len(s.idx) {
			return Batch{}, fmt.Errorf("%w: sample %d of a subset of %d", ErrInvalid, j, len(s.idx))
		}
		inner[i] = s.idx[j]
	}
	return s.d.Batch(ctx, inner)
}

// Split holds out round(valFraction·Len) samples of d, drawn with seed, as
// val; train has the rest. Both keep d's order (so streaming stays
// sequential) and share d's files.
func Split(d Dataset, valFraction float64, seed int64) (train, val Dataset, err error) {
	if !(valFraction > 0 && valFraction < 1) {
		return nil, nil, fmt.Errorf("%w: validation fraction %v: want a value in (0, 1), e.g. 0.1", ErrInvalid, valFraction)
	}
	n := d.Len()
	nv := int(math.Round(valFraction * float64(n)))
	if nv == 0 || nv == n {
		return nil, nil, fmt.Errorf("%w: a validation fraction of %v of %d samples leaves %d for validation and %d for training", ErrInvalid, valFraction, n, nv, n-nv)
	}
	perm := rand.New(rand.NewPCG(uint64(seed), 0x5b1175eed)).Perm(n)
	vi, ti := slices.Clone(perm[:nv]), slices.Clone(perm[nv:])
	slices.Sort(vi)
	slices.Sort(ti)
	return Subset(d, ti), Subset(d, vi), nil
}

// Shuffle is the order of n samples in an epoch: a permutation fixed by seed
// and epoch, the same on every machine.
func Shuffle(n int, seed int64, epoch int) []int {
	return rand.New(rand.NewPCG(uint64(seed), uint64(epoch))).Perm(n)
}

// Range is 0, 1, …, n−1 from start: the indices of one in-order batch.
func Range(start, n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = start + i
	}
	return idx
}

func checkIdx(idx []int, n int, name string) error {
	if len(idx) == 0 {
		return fmt.Errorf("%w: %s: empty batch", ErrInvalid, name)
	}
	for _, j := range idx {
		if j < 0 || j >= n {
			return fmt.Errorf("%w: %s: sample %d out of range [0, %d)", ErrInvalid, name, j, n)
		}
	}
	return nil
}
