package pack

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// WriterOption configures NewWriter.
type WriterOption func(*writeConfig) error

type writeConfig struct {
	level        int // zstd scale, 1..22
	values       ValueCode
	codebookBits int
	encodings    []Encoding // nil: all
	forced       bool       // EncDense not allowed: prefer any sparse candidate
	maxWindow    int
	perTensor    map[string]TensorCode // WithTensorValues
}

// TensorCode is one tensor's value code for WithTensorValues.
type TensorCode struct {
	Values ValueCode
	Bits   int // codebook bits in [2, 8] (Codebook only)
}

// WithTensorValues sets the value code of the tensors named (by the ID
// onnxio.Model.Params gives them), overriding WithFP16/WithCodebook for
// those tensors only: a build chooses a coding per layer. As with the
// writer-wide codes, only float32 payloads of at least 256 finite elements
// are coded. The header records the most lossy code used (Codebook over
// FP16) and the most codebook bits.
func WithTensorValues(codes map[string]TensorCode) WriterOption {
	return func(c *writeConfig) error {
		for id, tc := range codes {
			switch tc.Values {
			case Exact, FP16:
			case Codebook:
				if tc.Bits < 2 || tc.Bits > 8 {
					return fmt.Errorf("pack: WithTensorValues: tensor %q: codebook bits %d must be in [2, 8]", id, tc.Bits)
				}
			default:
				return fmt.Errorf("pack: WithTensorValues: tensor %q: unknown value code %d", id, tc.Values)
			}
		}
		c.perTensor = codes
		return nil
	}
}

// valueCode is the code and codebook bits for tensor id.
func (c *writeConfig) valueCode(id string) (ValueCode, int) {
	if tc, ok := c.perTensor[id]; ok {
		return tc.Values, tc.Bits
	}
	return c.values, c.codebookBits
}

// DefaultLevel is the zstd level NewWriter uses unless WithLevel says
// otherwise (the best compression klauspost/compress offers).
const DefaultLevel = 19

// WithLevel sets the zstd compression level on zstd's 1..22 scale; it maps
// to klauspost/compress's levels as zstd.EncoderLevelFromZstd does
// (1–2 fastest, 3–5 default, 6–9 better, 10+ best).
func WithLevel(n int) WriterOption {
	return func(c *writeConfig) error {
		if n < 1 || n > 22 {
			return fmt.Errorf("pack: WithLevel(%d): must be in [1, 22]", n)
		}
		c.level = n
		return nil
	}
}

// WithFP16 stores float32 weights as IEEE half precision (lossy; unpack
// writes float32 weights holding the rounded values). Only float32 payloads
// of at least 256 finite elements are coded; the rest stay exact.
func WithFP16() WriterOption {
	return func(c *writeConfig) error {
		c.values, c.codebookBits = FP16, 0
		return nil
	}
}

// WithCodebook stores each float32 weight tensor's nonzeros as indices into
// its own k-means codebook of 2^bits centroids, bits in [2, 8] (Deep
// Compression's weight sharing; lossy). Zeros stay exact zeros; the same
// tensors as for WithFP16 are coded.
func WithCodebook(bits int) WriterOption {
	return func(c *writeConfig) error {
		if bits < 2 || bits > 8 {
			return fmt.Errorf("pack: WithCodebook(%d): bits must be in [2, 8]", bits)
		}
		c.values, c.codebookBits = Codebook, bits
		return nil
	}
}

// WithEncodings restricts the payload encodings the writer may pick. EncDense
// is still used when no listed encoding applies; without EncDense in the list
// a sparse encoding is preferred whenever one applies (for tests and
// benchmarks of one encoding).
func WithEncodings(encs ...Encoding) WriterOption {
	return func(c *writeConfig) error {
		if len(encs) == 0 {
			return fmt.Errorf("pack: WithEncodings: no encoding given")
		}
		for _, e := range encs {
			if e > EncNM {
				return fmt.Errorf("pack: WithEncodings: unknown encoding %d", e)
			}
		}
		c.encodings = append([]Encoding(nil), encs...)
		c.forced = !c.allowed(EncDense)
		return nil
	}
}

// WithMaxWindow caps the zstd window in bytes (a power of two in [1 KiB,
// 512 MiB]; default 64 MiB). Readers must allow at least this window
// (ReadLimits.MaxWindow).
func WithMaxWindow(n int) WriterOption {
	return func(c *writeConfig) error {
		if n < zstd.MinWindowSize || n > 512<<20 || n&(n-1) != 0 {
			return fmt.Errorf("pack: WithMaxWindow(%d): must be a power of two in [1 KiB, 512 MiB]", n)
		}
		c.maxWindow = n
		return nil
	}
}

func (c *writeConfig) allowed(e Encoding) bool {
	if c.encodings == nil {
		return true
	}
	for _, x := range c.encodings {
		if x == e {
			return true
		}
	}
	return false
}

func newWriteConfig(opts []WriterOption) (*writeConfig, error) {
	c := &writeConfig{level: DefaultLevel, maxWindow: 64 << 20}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}
