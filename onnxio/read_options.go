package onnxio

import "errors"

// ReadOption configures Read, ReadFile and Decode.
type ReadOption func(*readConfig) error

type readConfig struct {
	limits       Limits
	baseDir      string
	baseDirSet   bool
	skipExternal bool
}

// WithLimits sets the allocation limits (zero fields keep their defaults).
func WithLimits(l Limits) ReadOption {
	return func(c *readConfig) error {
		if err := l.validate(); err != nil {
			return err
		}
		c.limits = l.withDefaults()
		return nil
	}
}

// WithBaseDir sets the directory external data is resolved against. ReadFile
// defaults to the model file's directory; Read and Decode have none, so a model
// with external data read from a stream needs this option.
func WithBaseDir(dir string) ReadOption {
	return func(c *readConfig) error {
		if dir == "" {
			return errors.New("onnxio: WithBaseDir: empty directory")
		}
		c.baseDir, c.baseDirSet = dir, true
		return nil
	}
}

// WithoutExternalData leaves external-data references unresolved: their
// tensors have no payload in memory and cannot be viewed or written inline.
func WithoutExternalData() ReadOption {
	return func(c *readConfig) error { c.skipExternal = true; return nil }
}

func newReadConfig(opts []ReadOption) (*readConfig, error) {
	c := &readConfig{limits: DefaultLimits}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}
