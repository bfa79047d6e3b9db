package prune

import (
	"fmt"
	"slices"
	"strings"

	"github.com/edgeprune/edgeprune/onnxio"
)

// Pruner prunes models by one setting of importance, pattern, scope and
// sparsity. It is safe for concurrent use on different models.
type Pruner struct{ c *config }

// New returns a Pruner. Options are validated: a sparsity is required
// (except for N:M), bounds apply to the global scope only.
func New(opts ...Option) (*Pruner, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Pruner{c: c}, nil
}

// Prune plans and applies: it zeroes the chosen weights of m in place and
// returns the plan, with the sparsity achieved.
func (pr *Pruner) Prune(m *onnxio.Model) (*Plan, error) {
	plan, err := pr.Plan(m)
	if err != nil {
		return nil, err
	}
	if err := ApplyWith(m, plan, pr.c.imp); err != nil {
		return nil, err
	}
	return plan, nil
}

// Plan decides what to prune in m without changing it: which parameters,
// with which pattern, and how many units each loses.
func (pr *Pruner) Plan(m *onnxio.Model) (*Plan, error) {
	c := pr.c
	targets, err := Targets(m, c.sel)
	if err != nil {
		return nil, err
	}
	plan := &Plan{
		Schema: PlanSchema, Importance: c.imp.Name(), Pattern: c.pattern.String(), Scope: c.scope.String(),
		Sparsity: c.sparsity, MinLayerSparsity: c.minLayer, MaxLayerSparsity: c.maxLayer,
		OpTypes: nonNil(c.sel.OpTypes), Include: regexps(c.sel.Include), Exclude: regexps(c.sel.Exclude),
		Params: []ParamPlan{},
		cache:  &planCache{model: m, cuts: map[string]cut{}, blocks: map[string]*blockSource{}},
	}
	if len(plan.OpTypes) == 0 {
		plan.OpTypes = slices.Clone(DefaultOpTypes)
	}
	var fit []*Target
	var fitIdx []int
	var dense []string
	for _, t := range targets {
		w, err := t.Values()
		if err != nil {
			return nil, err
		}
		e := ParamPlan{
			ID: t.ID(), Where: t.Param.Where.String(), Graph: strings.TrimSuffix(t.Param.GraphPath, "/"), Op: t.Op, Node: t.Node, DType: t.Param.DataType().String(), Shape: slices.Clone(t.Shape),
			OutAxis: t.OutAxis, InAxis: t.InAxis, Pattern: c.pattern.String(), Elements: int64(len(w)),
			UnitSize: c.pattern.UnitSize(), ZerosBefore: int64(zeros(w)), ZerosAfter: -1,
		}
		e.SparsityBefore = frac(e.ZerosBefore, e.Elements)
		e.Units = e.Elements / int64(e.UnitSize)
		ok, why := c.pattern.fits(t)
		if ok && c.scope == Row && t.OutAxis < 0 {
			ok, why = false, "no output-channel axis known (its uses disagree): no rows to prune"
		}
		if !ok {
			e.Pattern, e.Reason, e.Units, e.UnitSize = Dense, why, 0, 0
			dense = append(dense, t.ID()+": "+why)
		} else {
			fit = append(fit, t)
			fitIdx = append(fitIdx, len(plan.Params))
		}
		plan.Params = append(plan.Params, e)
	}
	if len(fit) == 0 {
		if len(dense) > 3 {
			dense = append(dense[:3], fmt.Sprintf("and %d more", len(dense)-3))
		}
		return nil, fmt.Errorf("%w: pattern %s fits none of the %d selected parameters (%s); choose another pattern or parameters",
			ErrNoTarget, c.pattern, len(targets), strings.Join(dense, "; "))
	}
	if c.pattern.Kind == NM {
		for i := range fit {
			e := &plan.Params[fitIdx[i]]
			e.PrunedUnits = e.Units / int64(c.pattern.M) * int64(c.pattern.M-c.pattern.N)
		}
		plan.sum()
		return plan, nil
	}
	if c.scope == Row {
		for i, t := range fit {
			plan.Params[fitIdx[i]].PrunedUnits = int64(rowPruned(t, c.sparsity))
		}
		plan.sum()
		return plan, nil
	}
	buf := make([]float32, chunkElems)
	srcs := make([]source, len(fit))
	for i, t := range fit {
		w, _ := t.Values()
		if c.pattern.Kind == Block {
			b := newBlockSource(t, c.imp, c.pattern, w, buf)
			plan.cache.blocks[t.ID()] = b
			srcs[i] = b
		} else {
			srcs[i] = &elementSource{t: t, imp: c.imp, w: w, buf: buf}
		}
	}
	cuts, counts, err := pr.selectUnits(srcs, fit)
	if err != nil {
		return nil, err
	}
	for i, t := range fit {
		plan.Params[fitIdx[i]].PrunedUnits = int64(counts[i])
		plan.cache.cuts[t.ID()] = cuts[i]
	}
	for _, t := range fit { // drop copies of float16/float64 weights
		if !t.view {
			t.values = nil
		}
	}
	plan.sum()
	return plan, nil
}

// selectUnits chooses how many units each source loses, and the cuts.
func (pr *Pruner) selectUnits(srcs []source, fit []*Target) ([]cut, []int, error) {
	c := pr.c
	if c.scope == Layer {
		cuts := make([]cut, len(srcs))
		counts := make([]int, len(srcs))
		for i, s := range srcs {
			counts[i] = roundHalfEven(c.sparsity, s.units())
			var err error
			if cuts[i], err = selectLowest(s, counts[i]); err != nil {
				return nil, nil, err
			}
		}
		return cuts, counts, nil
	}
	lo := make([]int, len(srcs))
	hi := make([]int, len(srcs))
	total, sumLo, sumHi := 0, 0, 0
	for i, s := range srcs {
		n := s.units()
		lo[i], hi[i] = roundHalfEven(c.minLayer, n), roundHalfEven(c.maxLayer, n)
		total += n
		sumLo += lo[i]
		sumHi += hi[i]
	}
	k := roundHalfEven(c.sparsity, total)
	if k < sumLo || k > sumHi {
		return nil, nil, fmt.Errorf("%w: global sparsity %g is %d of %d units, but the per-layer bounds [%g, %g] allow only %d to %d: widen the bounds or change the sparsity",
			ErrInfeasible, c.sparsity, k, total, c.minLayer, c.maxLayer, sumLo, sumHi)
	}
	return selectGlobal(srcs, lo, hi, k)
}

// Apply replays plan on m with the plan's built-in importance: it zeroes,
// in each listed parameter, the plan's number of lowest-scoring units (or
// applies N:M), and fills in the zeros before and after. The parameters
// must exist in m with the plan's shapes; m is changed only if the plan
// fits.
func Apply(m *onnxio.Model, plan *Plan) error {
	imp, err := ImportanceByName(plan.Importance)
	if err != nil {
		return fmt.Errorf("%w: %v (use ApplyWith for other importances)", ErrPlan, err)
	}
	return ApplyWith(m, plan, imp)
}

// ApplyWith is Apply with the importance given.
func ApplyWith(m *onnxio.Model, plan *Plan, imp Importance) error {
	if err := plan.check(); err != nil {
		return err
	}
	if imp.Name() != plan.Importance {
		return fmt.Errorf("%w: plan was made with importance %q, not %q", ErrPlan, plan.Importance, imp.Name())
	}
	pat, _ := ParsePattern(plan.Pattern)
	byID := map[string]Candidate{}
	for _, c := range Candidates(m) {
		byID[c.Param.ID] = c
	}
	// Check everything before changing anything.
	targets := make([]*Target, len(plan.Params))
	for i, e := range plan.Params {
		c, ok := byID[e.ID]
		switch {
		case !ok:
			return fmt.Errorf("%w: no parameter %q in the model", ErrPlan, e.ID)
		case !slices.Equal(c.Param.Shape(), e.Shape):
			return fmt.Errorf("%w: parameter %q has shape %v, the plan %v", ErrPlan, e.ID, c.Param.Shape(), e.Shape)
		case e.Pattern == Dense:
			continue
		case c.Target == nil:
			return fmt.Errorf("%w: parameter %q is not a prunable weight here (%s)", ErrPlan, e.ID, c.Reason)
		}
		if ok, why := pat.fits(c.Target); !ok {
			return fmt.Errorf("%w: parameter %q: pattern %s does not fit: %s", ErrPlan, e.ID, pat, why)
		}
		targets[i] = c.Target
	}
	cache := plan.cache
	if cache != nil && cache.model != m {
		cache = nil
	}
	buf := make([]float32, chunkElems)
	for i := range plan.Params {
		e := &plan.Params[i]
		t := targets[i]
		if t == nil {
			vals, _, err := byID[e.ID].Param.Float32()
			if err != nil {
				return err
			}
			e.ZerosBefore = int64(zeros(vals))
			e.ZerosAfter = e.ZerosBefore
			e.SparsityBefore = frac(e.ZerosBefore, e.Elements)
			e.SparsityAfter = e.SparsityBefore
			continue
		}
		w, err := t.Values()
		if err != nil {
			return err
		}
		e.ZerosBefore = int64(zeros(w))
		switch {
		case plan.Scope == Row.String():
			if t.OutAxis < 0 {
				return fmt.Errorf("%w: parameter %q: no output-channel axis for the row scope", ErrPlan, e.ID)
			}
			if err := applyRows(t, imp, plan.Sparsity, w); err != nil {
				return err
			}
		case pat.Kind == NM:
			applyNM(t, imp, pat.N, pat.M, w, buf)
		case pat.Kind == Block:
			var s *blockSource
			if cache != nil {
				s = cache.blocks[e.ID]
			}
			if s == nil {
				s = newBlockSource(t, imp, pat, w, buf)
			}
			ct, ok := cache.cut(e.ID)
			if !ok {
				if ct, err = selectLowest(s, int(e.PrunedUnits)); err != nil {
					return err
				}
			}
			applyBlocks(s, ct, w)
		default:
			s := &elementSource{t: t, imp: imp, w: w, buf: buf}
			ct, ok := cache.cut(e.ID)
			if !ok {
				if ct, err = selectLowest(s, int(e.PrunedUnits)); err != nil {
					return err
				}
			}
			applyElements(s, ct)
		}
		e.ZerosAfter = int64(zeros(w))
		e.SparsityBefore = frac(e.ZerosBefore, e.Elements)
		e.SparsityAfter = frac(e.ZerosAfter, e.Elements)
		if err := t.store(); err != nil {
			return err
		}
	}
	plan.cache = nil
	plan.sum()
	return nil
}

func (c *planCache) cut(id string) (cut, bool) {
	if c == nil {
		return cut{}, false
	}
	ct, ok := c.cuts[id]
	return ct, ok
}

func zeros(w []float32) int {
	n := 0
	for _, v := range w {
		if v == 0 {
			n++
		}
	}
	return n
}

func regexps[T interface{ String() string }](rs []T) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}
