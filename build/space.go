// Package build fits a model to a device profile: it measures how much each
// structured pruning choice costs in accuracy (a sensitivity table) and in
// latency (the profile's cost model), picks one choice per dependency group
// under the budgets (a multiple-choice knapsack), verifies the result,
// repairs it greedily when the sum of damages was optimistic, and reports
// every budget against its value. It also drives calibration of the cost
// model (Calibrate), which needs the same structured variants.
//
// Design notes: docs/profiles.md.
package build

import (
	"fmt"
	"slices"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/prune"
)

// Space is the structured search space of a model: for each keep level, a
// per-group plan (layer scope: each group keeps that fraction of its
// channels, the least important by L1 norm going first, rounded to the
// alignment). A choice picks one level per group.
type Space struct {
	Keep    []float64 // descending, Keep[0] = 1 (dense)
	RoundTo int
	Groups  []int // indices into plans' Groups of the prunable groups
	plans   []*prune.StructuredPlan
	orig    []byte // the model, serialised, to copy variants from

	// ULayers are the per-layer unstructured options (AddUnstructured,
	// unstructured.go); a choice lists them after the groups.
	ULayers []uLayer
	// UMeasured: every unstructured option is run on the calibration data
	// (search.unstructured.sensitivity: measured); otherwise the sparse
	// coded options are composed from their twins (unstructured.go).
	UMeasured bool
	// PackFiles: metrics give the exact package size as the file size
	// (set once the solver runs; the sensitivity pass uses cheaper sizes).
	PackFiles bool
}

// NewSpace plans every keep level on m (m is not modified).
func NewSpace(m *onnxio.Model, keep []float64, roundTo int, shapes map[string][]int64) (*Space, error) {
	keep = slices.Clone(keep)
	slices.Sort(keep)
	slices.Reverse(keep)
	keep = slices.Compact(keep)
	if len(keep) == 0 || keep[0] != 1 {
		keep = append([]float64{1}, keep...)
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	s := &Space{Keep: keep, RoundTo: roundTo, orig: data}
	for _, k := range keep {
		opts := []prune.Option{prune.WithSparsity(min(1-k, 0.999)), prune.WithScope(prune.Layer), prune.WithRoundTo(roundTo)}
		if len(shapes) > 0 {
			opts = append(opts, prune.WithInputShapes(shapes))
		}
		sp, err := prune.NewStructured(opts...)
		if err != nil {
			return nil, err
		}
		p, err := sp.Plan(m)
		if err != nil {
			return nil, fmt.Errorf("build: planning keep %.3g: %w", k, err)
		}
		s.plans = append(s.plans, p)
	}
	for i, g := range s.plans[0].Groups {
		if g.Reason != "" {
			continue
		}
		// A group is searched when some level prunes it.
		for _, p := range s.plans[1:] {
			if len(p.Groups[i].Pruned) > 0 {
				s.Groups = append(s.Groups, i)
				break
			}
		}
	}
	return s, nil
}

// Group returns the plan of group g (an index of Groups) at level l.
func (s *Space) Group(g, l int) prune.GroupPlan { return s.plans[l].Groups[s.Groups[g]] }

// Plan returns the structured plan that picks level choice[g] for each
// searched group (len(choice) == len(Groups), or more: the unstructured
// layers' choices follow, and Plan ignores them).
func (s *Space) Plan(choice []int) *prune.StructuredPlan {
	choice, _ = s.splitChoice(choice)
	p := *s.plans[0]
	p.Groups = slices.Clone(s.plans[0].Groups)
	for g, l := range choice {
		i := s.Groups[g]
		p.Groups[i] = s.plans[l].Groups[i]
	}
	p.Sparsity = 0
	return &p
}

// Model returns a fresh copy of the original model pruned by choice
// (structured, then the unstructured layers' sparsity and coding).
func (s *Space) Model(choice []int) (*onnxio.Model, *prune.StructuredPlan, error) {
	m, err := onnxio.Decode(s.orig)
	if err != nil {
		return nil, nil, err
	}
	sc, uc := s.splitChoice(choice)
	p := s.Plan(sc)
	if !allZero(sc) {
		if err := prune.ApplyStructured(m, p); err != nil {
			return nil, nil, err
		}
	}
	if !allZero(uc) {
		if err := s.applyUnstructured(m, uc); err != nil {
			return nil, nil, err
		}
	}
	return m, p, nil
}

// Original returns a fresh copy of the unpruned model.
func (s *Space) Original() (*onnxio.Model, error) { return onnxio.Decode(s.orig) }

func allZero(c []int) bool {
	for _, x := range c {
		if x != 0 {
			return false
		}
	}
	return true
}

// Uniform is the choice of level l for every group; the unstructured
// layers (if any) are dense at l = 0 and at their smallest option
// otherwise.
func (s *Space) Uniform(l int) []int {
	c := make([]int, len(s.Groups), len(s.Groups)+len(s.ULayers))
	for i := range c {
		c[i] = l
	}
	for _, u := range s.ULayers {
		if l == 0 {
			c = append(c, 0)
		} else {
			c = append(c, u.floorOption())
		}
	}
	return c
}

func pruneApply(m *onnxio.Model, p *prune.StructuredPlan) error {
	if len(p.Groups) == 0 {
		return nil
	}
	return prune.ApplyStructured(m, p)
}
