package engine

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. A model that uses something the engine does not
// implement (valid ONNX) is kept apart from one that is malformed.
var (
	// ErrNotImplemented: the model uses an op, attribute value or data type
	// the engine does not implement.
	ErrNotImplemented = errors.New("engine: not implemented")
	// ErrInvalidModel: the model contradicts the ONNX spec (wrong input
	// count, shapes that do not broadcast, unknown value names, cycles).
	ErrInvalidModel = errors.New("engine: invalid model")
	// ErrInput: the inputs given to Run do not match the plan.
	ErrInput = errors.New("engine: bad input")
)

// NodeError says which node a compile error comes from.
type NodeError struct {
	Node string // node name, or "<OpType>#<index>" when unnamed
	Op   string
	Err  error
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("node %s (%s): %v", e.Node, e.Op, e.Err)
}

func (e *NodeError) Unwrap() error { return e.Err }

// UnsupportedError lists every op type of a model the engine lacks. It wraps
// ErrNotImplemented.
type UnsupportedError struct {
	Ops []string // "Op" or "domain:Op", sorted
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%v: unsupported ops: %s", ErrNotImplemented, strings.Join(e.Ops, ", "))
}

func (e *UnsupportedError) Unwrap() error { return ErrNotImplemented }

func notImpl(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotImplemented, fmt.Sprintf(format, args...))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidModel, fmt.Sprintf(format, args...))
}
