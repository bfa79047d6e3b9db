// Package shapespec parses an input's shape as the tools spell it,
// NAME=D0,D1,... (the CLI's --shape, the bench tools' -shape), so that the
// spelling and its checks are written once.
package shapespec

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/edgeprune/edgeprune/engine"
)

// MaxDim bounds each dimension.
const MaxDim = 1 << 20

// Parse reads NAME=D0,D1,... with every dimension an integer in [1, MaxDim].
// Its errors say what is wrong without the value itself, for the caller to
// prefix ("--shape x=1,a: dimension \"a\" must be ...").
func Parse(spec string) (name string, dims []int, err error) {
	name, list, ok := strings.Cut(spec, "=")
	if !ok || name == "" || list == "" {
		return "", nil, fmt.Errorf("want NAME=D0,D1,... (e.g. x=1,3,224,224)")
	}
	for _, f := range strings.Split(list, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || d < 1 || d > MaxDim {
			return "", nil, fmt.Errorf("dimension %q must be an integer in [1, %d]", f, MaxDim)
		}
		dims = append(dims, d)
	}
	return name, dims, nil
}

// Option parses spec into the engine's option for that input's shape; its
// errors name the spec.
func Option(spec string) (engine.Option, error) {
	name, dims, err := Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("shape %s: %w", spec, err)
	}
	return engine.WithInputShape(name, dims...), nil
}
