package engine

import (
	"fmt"
	"runtime"
)

// Option configures Compile.
type Option func(*config) error

type config struct {
	shapes  map[string][]int
	threads int
}

func newConfig(opts []Option) (*config, error) {
	c := &config{shapes: map[string][]int{}, threads: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// WithInputShape binds the shape of input name, fixing its dynamic
// dimensions. Without it, an input's shape is the one the model declares,
// with a dynamic first (batch) dimension bound to 1.
func WithInputShape(name string, dims ...int) Option {
	return func(c *config) error {
		for _, d := range dims {
			if d < 0 {
				return fmt.Errorf("engine: WithInputShape(%q, %v): negative dimension", name, dims)
			}
		}
		c.shapes[name] = append([]int{}, dims...)
		return nil
	}
}

// WithThreads sets how many goroutines kernels may use (default: GOMAXPROCS).
func WithThreads(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 4096 {
			return fmt.Errorf("engine: WithThreads(%d): must be in [1, 4096]", n)
		}
		c.threads = n
		return nil
	}
}
