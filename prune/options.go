package prune

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Scope is how far one sparsity target reaches.
type Scope int

const (
	// Global ranks the units of all targets together under one threshold
	// (torch.nn.utils.prune.global_unstructured), optionally with per-layer
	// bounds.
	Global Scope = iota
	// Layer prunes each target to the sparsity on its own.
	Layer
	// Row prunes each output row of each target (the slice at one index
	// of its output-channel axis) to the sparsity on its own: Wanda's
	// comparison group. Element pattern only.
	Row
)

func (s Scope) String() string {
	switch s {
	case Layer:
		return "layer"
	case Row:
		return "row"
	}
	return "global"
}

// ParseScope reads "global", "layer" or "row".
func ParseScope(s string) (Scope, error) {
	switch strings.ToLower(s) {
	case "global", "":
		return Global, nil
	case "layer":
		return Layer, nil
	case "row":
		return Row, nil
	}
	return 0, fmt.Errorf("%w: scope %q: want global, layer or row", ErrInvalid, s)
}

// Option configures a Pruner (New), a StructuredPruner (NewStructured) or
// the dependency graph (BuildDepGraph, ApplyStructured). One vocabulary for
// all three: an option that does not apply to the constructor it is given
// to is an ErrInvalid naming it (WithPattern to NewStructured, WithRoundTo
// to New).
type Option func(*config) error

type config struct {
	sparsity    float64
	sparsitySet bool
	scope       Scope
	pattern     Pattern
	imp         Importance
	sel         Selection
	minLayer    float64
	maxLayer    float64
	boundsSet   bool

	// structured pruning (structured.go)
	criterion   GroupImportance
	seed        uint64
	roundTo     int
	minChannels int
	include     []*regexp.Regexp
	exclude     []*regexp.Regexp
	// the dependency graph (depgraph.go)
	shapes map[string][]int64
	reg    *Registry

	used []string // option names, for refusing those that do not apply
}

// Which constructor an option applies to.
const (
	forPruner     = 1 << iota // New
	forStructured             // NewStructured
	forGraph                  // BuildDepGraph, ApplyStructured
)

// optionScope says where each option that not every constructor takes
// applies; an option not listed applies to New and NewStructured.
var optionScope = map[string]int{
	"WithPattern": forPruner, "WithImportance": forPruner, "WithSelection": forPruner, "WithLayerBounds": forPruner,
	"WithCriterion": forStructured, "WithSeed": forStructured, "WithRoundTo": forStructured,
	"WithMinChannels": forStructured, "WithIncludeGroups": forStructured, "WithExcludeGroups": forStructured,
	"WithInputShapes": forStructured | forGraph, "WithRegistry": forStructured | forGraph,
}

// named records that option name was given.
func named(name string, f func(*config) error) Option {
	return func(c *config) error {
		c.used = append(c.used, name)
		return f(c)
	}
}

// apply runs opts on c and refuses those that do not apply to the
// constructor what (forPruner, ...).
func (c *config) apply(opts []Option, what int, constructor string) error {
	for _, o := range opts {
		if err := o(c); err != nil {
			return err
		}
	}
	for _, name := range c.used {
		where, ok := optionScope[name]
		if !ok {
			where = forPruner | forStructured
		}
		if where&what == 0 {
			return fmt.Errorf("%w: %s does not apply to %s", ErrInvalid, name, constructor)
		}
	}
	return nil
}

// WithSparsity sets the fraction of units to prune, in [0, 1). Required
// unless the pattern is N:M, which fixes it at 1 − N/M.
func WithSparsity(s float64) Option {
	return named("WithSparsity", func(c *config) error {
		if !(s >= 0 && s < 1) {
			return fmt.Errorf("%w: sparsity %v: must be in [0, 1), e.g. 0.9 to prune 90%%", ErrInvalid, s)
		}
		c.sparsity, c.sparsitySet = s, true
		return nil
	})
}

// WithScope sets the scope (default Global).
func WithScope(s Scope) Option {
	return named("WithScope", func(c *config) error {
		if s != Global && s != Layer && s != Row {
			return fmt.Errorf("%w: scope %d", ErrInvalid, s)
		}
		c.scope = s
		return nil
	})
}

// WithPattern sets the pattern (default Element).
func WithPattern(p Pattern) Option {
	return named("WithPattern", func(c *config) error {
		if err := p.validate(); err != nil {
			return err
		}
		c.pattern = p
		return nil
	})
}

// WithImportance sets the importance (default Magnitude).
func WithImportance(imp Importance) Option {
	return named("WithImportance", func(c *config) error {
		if imp == nil {
			return fmt.Errorf("%w: nil importance", ErrInvalid)
		}
		if p := imp.Norm(); p != 1 && p != 2 {
			return fmt.Errorf("%w: importance %s: Norm %d, want 1 or 2", ErrInvalid, imp.Name(), p)
		}
		c.imp = imp
		return nil
	})
}

// WithSelection narrows which parameters are pruned.
func WithSelection(s Selection) Option {
	return named("WithSelection", func(c *config) error {
		if err := s.validate(); err != nil {
			return err
		}
		c.sel = s
		return nil
	})
}

// WithLayerBounds keeps every target's sparsity within [lo, hi] under the
// Global scope (lo = 0, hi = 1 by default).
func WithLayerBounds(lo, hi float64) Option {
	return named("WithLayerBounds", func(c *config) error {
		if !(lo >= 0 && lo <= hi && hi <= 1) {
			return fmt.Errorf("%w: layer sparsity bounds [%v, %v]: need 0 ≤ min ≤ max ≤ 1", ErrInvalid, lo, hi)
		}
		c.minLayer, c.maxLayer, c.boundsSet = lo, hi, true
		return nil
	})
}

func newConfig(opts []Option) (*config, error) {
	c := &config{imp: Magnitude{}, maxLayer: 1}
	if err := c.apply(opts, forPruner, "New (unstructured pruning)"); err != nil {
		return nil, err
	}
	switch {
	case c.pattern.Kind == NM:
		if want := c.pattern.Sparsity(); c.sparsitySet && math.Abs(c.sparsity-want) > 1e-9 {
			return nil, fmt.Errorf("%w: pattern %s fixes sparsity at %g: drop the sparsity or set it to %g", ErrInvalid, c.pattern, want, want)
		}
		if c.boundsSet {
			return nil, fmt.Errorf("%w: per-layer sparsity bounds do not apply to N:M, which prunes every layer alike", ErrInvalid)
		}
		c.sparsity = c.pattern.Sparsity()
	case !c.sparsitySet:
		return nil, fmt.Errorf("%w: no sparsity set (e.g. 0.9 to prune 90%% of the weights)", ErrInvalid)
	case c.boundsSet && c.scope != Global:
		return nil, fmt.Errorf("%w: per-layer sparsity bounds apply to the global scope only", ErrInvalid)
	case c.scope == Row && c.pattern.Kind != Element:
		return nil, fmt.Errorf("%w: the row scope prunes single elements: drop --pattern %s (N:M already works within rows)", ErrInvalid, c.pattern)
	}
	return c, nil
}

// roundHalfEven rounds x·n to an integer as Python's round does (the count
// torch.nn.utils.prune prunes for a float amount).
func roundHalfEven(x float64, n int) int {
	return int(math.RoundToEven(x * float64(n)))
}
