package pack

import "fmt"

// ReadLimits bound what a read may allocate. Every size the file declares
// is checked against them before allocating. Zero fields mean the default.
type ReadLimits struct {
	// MaxDecodedBytes caps the decompressed size of all sections together,
	// and separately the unpacked payloads together (default 4 GiB).
	MaxDecodedBytes int64
	// MaxTensorBytes caps one unpacked payload (default 4 GiB).
	MaxTensorBytes int64
	// MaxTensors caps the table rows (default 1<<20).
	MaxTensors int
	// MaxWindow caps the zstd window, i.e. the decoder's history buffer
	// (default 128 MiB; writers use at most 64 MiB unless told otherwise).
	MaxWindow int64
}

// DefaultReadLimits are used for zero fields of ReadLimits.
var DefaultReadLimits = ReadLimits{
	MaxDecodedBytes: 4 << 30,
	MaxTensorBytes:  4 << 30,
	MaxTensors:      1 << 20,
	MaxWindow:       128 << 20,
}

// ReaderOption configures NewReader and ReadHeader.
type ReaderOption func(*ReadLimits) error

// WithLimits sets the read limits; zero fields keep their defaults.
func WithLimits(l ReadLimits) ReaderOption {
	return func(c *ReadLimits) error {
		if l.MaxDecodedBytes < 0 || l.MaxTensorBytes < 0 || l.MaxTensors < 0 || l.MaxWindow < 0 {
			return fmt.Errorf("pack: WithLimits: limits must not be negative: %+v", l)
		}
		if l.MaxWindow != 0 && l.MaxWindow < 1024 {
			return fmt.Errorf("pack: WithLimits: MaxWindow %d is under zstd's 1 KiB minimum", l.MaxWindow)
		}
		if l.MaxDecodedBytes != 0 {
			c.MaxDecodedBytes = l.MaxDecodedBytes
		}
		if l.MaxTensorBytes != 0 {
			c.MaxTensorBytes = l.MaxTensorBytes
		}
		if l.MaxTensors != 0 {
			c.MaxTensors = l.MaxTensors
		}
		if l.MaxWindow != 0 {
			c.MaxWindow = l.MaxWindow
		}
		return nil
	}
}

func newReadLimits(opts []ReaderOption) (ReadLimits, error) {
	l := DefaultReadLimits
	for _, o := range opts {
		if err := o(&l); err != nil {
			return ReadLimits{}, err
		}
	}
	return l, nil
}
