package engine

import (
	"fmt"
	"runtime"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"github.com/edgeprune/edgeprune/sparse"

	"gorgonia.org/tensor"
)

// Option configures Compile.
type Option func(*config) error

type config struct {
	shapes  map[string][]int
	values  map[string]*tensor.Dense
	threads int

	// Sparse weights (op_sparse_build.go).
	sparse  SparseMode
	sparseW map[*onnx.TensorProto]*sparse.CSR

	// Training (CompileTrainable only; trainable.go).
	trainable func(id string) bool
	bn        BNMode
	keep      []string
}

func newConfig(opts []Option) (*config, error) {
	c := &config{shapes: map[string][]int{}, values: map[string]*tensor.Dense{}, threads: runtime.GOMAXPROCS(0)}
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

// WithInputValue fixes input name to a value at compile time: it becomes a
// constant of the plan (Run no longer takes it), so everything computed
// from it is folded. Shape-like inputs (a Reshape target, Resize scales)
// must be bound this way when they are graph inputs.
func WithInputValue(name string, t *tensor.Dense) Option {
	return func(c *config) error {
		if t == nil {
			return fmt.Errorf("engine: WithInputValue(%q): nil tensor", name)
		}
		c.values[name] = t
		return nil
	}
}
