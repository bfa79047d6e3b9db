package prune

import (
	"fmt"
	"math"
	"strings"
)

// Importance scores the elements of a pruning target: units with lower
// scores are pruned first. It only scores; which units go is decided by the
// selection (scope and pattern) and zeroing them is done by Apply, so an
// importance computed from gradients or activations plugs in beside
// Magnitude without touching either.
//
// A unit of several elements (an RxC block; a channel group in structured
// pruning, through GroupNorm) is scored by the p-norm of its elements'
// scores, p = Norm(): (Σ sᵖ)^(1/p), summed in float64. A criterion from
// calibration data (gradients, activations) finds its per-weight data by
// t.Param; see GroupImportance.
type Importance interface {
	// Name identifies the importance in plans and on the command line.
	Name() string
	// Score sets dst[i] to the score of element off+i of t (row-major),
	// for i < len(dst); w holds those elements' values, t.Values()[off:].
	// Scores must not depend on anything but t and the element (the
	// selection scores a target more than once).
	Score(dst, w []float32, t *Target, off int)
	// Norm is p of the p-norm that scores a unit of several elements: 1
	// or 2.
	Norm() int
}

// Magnitude is the L1 criterion of torch.nn.utils.prune.L1Unstructured: an
// element scores |w|, a group the sum of its |w|.
type Magnitude struct{}

// Name is "l1".
func (Magnitude) Name() string { return "l1" }

// Score sets dst[i] = |w[i]|.
func (Magnitude) Score(dst, w []float32, _ *Target, _ int) { absInto(dst, w) }

// Norm is 1.
func (Magnitude) Norm() int { return 1 }

// L2 scores an element |w| (the same order as Magnitude) and a group by the
// Euclidean norm of its weights, sqrt(Σ w²).
type L2 struct{}

// Name is "l2".
func (L2) Name() string { return "l2" }

// Score sets dst[i] = |w[i]|.
func (L2) Score(dst, w []float32, _ *Target, _ int) { absInto(dst, w) }

// Norm is 2.
func (L2) Norm() int { return 2 }

// absInto sets dst[i] = |w[i]|, clearing the sign bit (so -0 scores 0).
func absInto(dst, w []float32) {
	w = w[:len(dst)]
	for i, v := range w {
		dst[i] = math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
	}
}

// ImportanceByName returns the built-in importance called name ("l1",
// "magnitude", "l2").
func ImportanceByName(name string) (Importance, error) {
	switch strings.ToLower(name) {
	case "l1", "magnitude", "":
		return Magnitude{}, nil
	case "l2":
		return L2{}, nil
	}
	return nil, fmt.Errorf("%w: importance %q: want l1 (magnitude) or l2", ErrInvalid, name)
}
