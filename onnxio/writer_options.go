package onnxio

import "fmt"

// ExternalMode says which tensors WriteFile stores in an external data file.
type ExternalMode int

const (
	// ExternalAuto keeps tensors that were read from external data external,
	// and moves every tensor at or over the threshold out when the model
	// would not fit protobuf's 2 GiB limit inline. The default.
	ExternalAuto ExternalMode = iota
	// ExternalAlways stores every raw tensor at or over the threshold
	// externally.
	ExternalAlways
	// ExternalNever writes everything inline (an error over 2 GiB).
	ExternalNever
)

// WriteOption configures WriteFile.
type WriteOption func(*writeConfig) error

type writeConfig struct {
	mode      ExternalMode
	threshold int64
	dataFile  string
	align     int64
}

// WithExternalData sets which tensors are stored externally.
func WithExternalData(mode ExternalMode) WriteOption {
	return func(c *writeConfig) error {
		if mode < ExternalAuto || mode > ExternalNever {
			return fmt.Errorf("onnxio: WithExternalData: unknown mode %d", mode)
		}
		c.mode = mode
		return nil
	}
}

// WithExternalThreshold sets the payload size in bytes from which a tensor
// is stored externally (default 1024, as onnx's save_model uses).
func WithExternalThreshold(bytes int64) WriteOption {
	return func(c *writeConfig) error {
		if bytes < 0 {
			return fmt.Errorf("onnxio: WithExternalThreshold: %d < 0", bytes)
		}
		c.threshold = bytes
		return nil
	}
}

// WithExternalFile names the external data file, relative to the model's
// directory (default: the model's file name + ".data").
func WithExternalFile(name string) WriteOption {
	return func(c *writeConfig) error {
		if name == "" {
			return fmt.Errorf("onnxio: WithExternalFile: empty name")
		}
		if err := checkLocation(name, name); err != nil {
			return fmt.Errorf("onnxio: WithExternalFile: %w", err)
		}
		c.dataFile = name
		return nil
	}
}

func newWriteConfig(opts []WriteOption) (*writeConfig, error) {
	c := &writeConfig{mode: ExternalAuto, threshold: 1024, align: 4096}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}
