package ortoracle

import "fmt"

// OptLevel is ONNX Runtime's graph optimization level.
type OptLevel string

// The levels of ONNX Runtime's SessionOptions.graphOptimizationLevel.
const (
	OptDisabled OptLevel = "disabled"
	OptBasic    OptLevel = "basic"
	OptExtended OptLevel = "extended"
	OptLayout   OptLevel = "layout"
	OptAll      OptLevel = "all"
)

// maxThreads bounds WithThreads; tools/ort/run.js accepts up to 9999.
const maxThreads = 1024

// Option configures one Run.
type Option func(*config) error

type config struct {
	threads int
	opt     OptLevel
}

func newConfig(opts []Option) (config, error) {
	c := config{threads: 1, opt: OptAll}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// WithThreads sets ONNX Runtime's intra-op thread count (default 1). Results
// are deterministic for a given count; they may differ in the last bits
// between counts.
func WithThreads(n int) Option {
	return func(c *config) error {
		if n < 1 || n > maxThreads {
			return fmt.Errorf("ortoracle: WithThreads(%d): must be in [1, %d]", n, maxThreads)
		}
		c.threads = n
		return nil
	}
}

// WithOptimization sets ONNX Runtime's graph optimization level (default OptAll).
func WithOptimization(level OptLevel) Option {
	return func(c *config) error {
		switch level {
		case OptDisabled, OptBasic, OptExtended, OptLayout, OptAll:
			c.opt = level
			return nil
		}
		return fmt.Errorf("ortoracle: WithOptimization(%q): unknown level", level)
	}
}
