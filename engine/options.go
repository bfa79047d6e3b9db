package engine

import (
	"fmt"
	"runtime"
	"slices"

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

	// A tune record (WithTuneRecord): its Conv paths by node name, and
	// the record, checked against the plan and applied after compiling.
	// pathsAll asks every Conv for one path (CalibrateConvPaths).
	record    *ThreadChoice
	convPaths map[string]string
	pathsAll  string

	adapt bool // WithAdaptiveThreads

	// Training (CompileTrainable only; trainable.go).
	trainable func(id string) bool
	bn        BNMode
	keep      []string
}

func newConfig(opts []Option) (*config, error) {
	c := &config{shapes: map[string][]int{}, values: map[string]*tensor.Dense{}, threads: runtime.GOMAXPROCS(0), adapt: adaptDefault()}
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

// WithAdaptiveThreads turns on or off the choice, run by run, between the
// plan's per-node threads and one goroutine (adapt.go). It is on by
// default unless the environment has EDGEPRUNE_ADAPT=off; it does nothing
// in a plan of one thread. Results do not depend on it.
func WithAdaptiveThreads(on bool) Option {
	return func(c *config) error {
		c.adapt = on
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

// WithTuneRecord compiles the plan with what `edgeprune tune --model`
// measured for it (CalibrateConvPaths, CalibrateThreads): each Conv on its
// recorded path, each node on its recorded threads. Compile fails with
// ErrThreadChoiceOtherPlan, before building anything, when r was measured
// on another CPU or GOARCH or for another thread count, and after building
// when the plan's nodes (names, ops) or a Conv's path differ from r's (the
// model changed, or r's path cannot run that node): the caller then
// compiles without it. Results do not depend on r beyond the rounding of
// the Conv paths' sums (op_conv_path.go).
func WithTuneRecord(r ThreadChoice) Option {
	return func(c *config) error {
		c.record = &r
		c.convPaths = map[string]string{}
		for _, n := range r.Nodes {
			if n.Path == "" {
				continue
			}
			if !slices.Contains(ConvPaths, n.Path) {
				return fmt.Errorf("engine: WithTuneRecord: node %q: unknown Conv path %q (one of %v)", n.Name, n.Path, ConvPaths)
			}
			c.convPaths[n.Name] = n.Path
		}
		return nil
	}
}
