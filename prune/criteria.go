package prune

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/edgeprune/edgeprune/onnxio"
)

// Criteria that score weights on calibration data (../shared/design/
// training.md §2):
//
//	taylor  |w · g|, g = ∂L/∂w summed over the calibration batches, L the
//	        mean cross-entropy of a batch (first-order Taylor, Molchanov
//	        et al. 2019; Torch-Pruning's TaylorImportance)
//	snip    |w · g| / Σ|w · g| over every selected weight (connection
//	        sensitivity, Lee et al. 2019): the ranking of taylor,
//	        normalised to sum to 1
//	obd     ½ · F · w², F = E_n[g_n²] the diagonal of the empirical Fisher
//	        (one backward per sample; Optimal Brain Damage with a
//	        Hessian-free diagonal, Torch-Pruning's HessianImportance)
//	wanda   |w_ij| · ‖X_j‖₂, X_j the input feature w_ij multiplies over the
//	        calibration samples (Conv: the im2col column, input channel ×
//	        kernel offset over every output position); no gradient. Sun
//	        et al. 2023 compare within each output row: use the Row scope.
//
// Each is an *ElementScores: an Importance for unstructured pruning and a
// GroupImportance for structured pruning, where a unit scores the sum of
// its elements' scores over the coupled weight, bias and scale slices
// (Torch-Pruning's GroupTaylorImportance: Σ over the coupled slices of
// Σ|w·g|).

// Criteria lists the data-aware criteria by name.
var Criteria = []string{"taylor", "snip", "obd", "wanda"}

// IsDataCriterion reports whether name is a criterion that needs
// calibration data.
func IsDataCriterion(name string) bool {
	for _, c := range Criteria {
		if strings.EqualFold(c, name) {
			return true
		}
	}
	return false
}

// ElementScores holds one score per element of each scored parameter,
// computed on calibration data. Elements of parameters it has no scores
// for score NaN, which the selection ranks last: they are never pruned
// while a scored element is left.
type ElementScores struct {
	Criterion string
	Elem      map[string][]float32 // parameter ID → scores, row-major
}

// Name is the criterion ("taylor", "snip", "obd", "wanda").
func (s *ElementScores) Name() string { return s.Criterion }

// Score implements Importance.
func (s *ElementScores) Score(dst, _ []float32, t *Target, off int) {
	var sc []float32
	if t != nil {
		sc = s.Elem[t.ID()]
	}
	if len(sc) < off+len(dst) {
		for i := range dst {
			dst[i] = float32(math.NaN())
		}
		return
	}
	copy(dst, sc[off:off+len(dst)])
}

// Norm is 1: a block scores the sum of its elements' scores.
func (s *ElementScores) Norm() int { return 1 }

// Scores implements GroupImportance: each unit scores the sum of the
// element scores of its slices of the coupled weights, biases and scales.
func (s *ElementScores) Scores(dst []float32, g *Group) (string, error) {
	sum := make([]float64, len(dst)) // accumulated in float64, stored as float32
	found := false
	for _, c := range g.Coupled {
		if c.Kind != KindWeight && c.Kind != KindScale && c.Kind != KindBias {
			continue
		}
		sc, ok := s.Elem[c.Param.ID]
		if !ok {
			continue
		}
		shape := c.Param.Shape()
		if int64(len(sc)) != c.Param.NumElements() {
			return "", fmt.Errorf("prune: %s scores of %s: %d for %d elements", s.Criterion, c.Param.ID, len(sc), c.Param.NumElements())
		}
		found = true
		inner := int(prod(toInts(shape[c.Axis+1:])))
		dim := int(shape[c.Axis])
		for i, v := range sc {
			sum[g.UnitOf(c.Space, (i/inner)%dim)] += float64(v)
		}
	}
	if !found {
		return fmt.Sprintf("criterion %s: no scored parameter in the group", s.Criterion), nil
	}
	for i, v := range sum {
		dst[i] = float32(v)
	}
	return "", nil
}

// Taylor scores every float parameter |w · g| on the calibration data.
func Taylor(ctx context.Context, m *onnxio.Model, c *Calibration) (*ElementScores, error) {
	grads, err := GradientSums(ctx, m, c)
	if err != nil {
		return nil, err
	}
	s := &ElementScores{Criterion: "taylor", Elem: map[string][]float32{}}
	err = eachParam(m, grads, func(id string, w, g []float32) {
		v := make([]float32, len(w))
		for i := range v {
			v[i] = float32(math.Abs(float64(w[i]) * float64(g[i])))
		}
		s.Elem[id] = v
	})
	return s, err
}

// SNIP scores |w · g| / Σ|w · g|, the sum over the weights of the
// prunable targets of m (Selection's defaults).
func SNIP(ctx context.Context, m *onnxio.Model, c *Calibration) (*ElementScores, error) {
	s, err := Taylor(ctx, m, c)
	if err != nil {
		return nil, err
	}
	s.Criterion = "snip"
	targets, err := Targets(m, Selection{})
	if err != nil {
		return nil, err
	}
	var total float64
	for _, t := range targets {
		for _, v := range s.Elem[t.ID()] {
			total += float64(v)
		}
	}
	if total == 0 || math.IsInf(total, 0) || math.IsNaN(total) {
		return nil, fmt.Errorf("%w: snip: the weights' connection sensitivities sum to %v (zero gradients?)", ErrCalibration, total)
	}
	for _, v := range s.Elem {
		for i := range v {
			v[i] = float32(float64(v[i]) / total)
		}
	}
	return s, nil
}

// OBD scores ½ · F · w² with F the empirical Fisher diagonal.
func OBD(ctx context.Context, m *onnxio.Model, c *Calibration) (*ElementScores, error) {
	fisher, err := FisherDiagonal(ctx, m, c)
	if err != nil {
		return nil, err
	}
	s := &ElementScores{Criterion: "obd", Elem: map[string][]float32{}}
	err = eachParam(m, fisher, func(id string, w, f []float32) {
		v := make([]float32, len(w))
		for i := range v {
			v[i] = float32(0.5 * float64(f[i]) * float64(w[i]) * float64(w[i]))
		}
		s.Elem[id] = v
	})
	return s, err
}

// Wanda scores |w| · ‖X_j‖₂ for the weights of the prunable targets of m
// under sel.
func Wanda(ctx context.Context, m *onnxio.Model, c *Calibration, sel Selection) (*ElementScores, error) {
	targets, err := Targets(m, sel)
	if err != nil {
		return nil, err
	}
	norms, err := InputFeatureNorms(ctx, m, c, targets)
	if err != nil {
		return nil, err
	}
	s := &ElementScores{Criterion: "wanda", Elem: map[string][]float32{}}
	err = eachParam(m, norms, func(id string, w, x []float32) {
		v := make([]float32, len(w))
		for i := range v {
			v[i] = float32(math.Abs(float64(w[i])) * float64(x[i]))
		}
		s.Elem[id] = v
	})
	return s, err
}

// ScoreCriterion computes the named data-aware criterion ("taylor",
// "snip", "obd", "wanda") for m on c; sel narrows wanda's weights.
func ScoreCriterion(ctx context.Context, name string, m *onnxio.Model, c *Calibration, sel Selection) (*ElementScores, error) {
	switch strings.ToLower(name) {
	case "taylor":
		return Taylor(ctx, m, c)
	case "snip":
		return SNIP(ctx, m, c)
	case "obd":
		return OBD(ctx, m, c)
	case "wanda":
		return Wanda(ctx, m, c, sel)
	}
	return nil, fmt.Errorf("%w: criterion %q: want one of %s", ErrInvalid, name, strings.Join(Criteria, ", "))
}

// eachParam calls fn with the float32 values of every parameter of m that
// by holds a per-element array for.
func eachParam(m *onnxio.Model, by map[string][]float32, fn func(id string, w, v []float32)) error {
	for _, p := range m.Params() {
		v, ok := by[p.ID]
		if !ok {
			continue
		}
		w, _, err := p.Float32()
		if err != nil {
			return err
		}
		if len(w) != len(v) {
			return fmt.Errorf("prune: %s: %d values, %d per-element statistics", p.ID, len(w), len(v))
		}
		fn(p.ID, w, v)
	}
	return nil
}
