package prune

import "errors"

// Sentinel errors. Errors returned by this package wrap one of them and say
// what to change.
var (
	// ErrInvalid: a setting is out of range or malformed (sparsity, pattern,
	// schedule, bounds).
	ErrInvalid = errors.New("prune: invalid setting")
	// ErrNoMatch: an --include or --exclude expression, or the op types,
	// select no prunable parameter.
	ErrNoMatch = errors.New("prune: selects no prunable parameter")
	// ErrNoTarget: no selected parameter can take the pattern (for example
	// no input-channel axis is a multiple of M for N:M).
	ErrNoTarget = errors.New("prune: no parameter to prune")
	// ErrInfeasible: the per-layer bounds cannot meet the global sparsity.
	ErrInfeasible = errors.New("prune: infeasible sparsity bounds")
	// ErrShapes: structured pruning cannot infer the model's shapes at the
	// input shapes given (a wrong rank, an op the engine lacks); the error
	// names the value or node.
	ErrShapes = errors.New("prune: cannot infer the model's shapes")
	// ErrPlan: a plan does not fit the model it is replayed on.
	ErrPlan = errors.New("prune: plan does not fit the model")
)
