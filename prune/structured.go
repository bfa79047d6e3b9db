package prune

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"

	"github.com/edgeprune/edgeprune/onnxio"
)

// StructuredSchema identifies the JSON form of a StructuredPlan
// (docs/cli-json.md, "prune --structured").
const StructuredSchema = "edgeprune.prune.structured/v1"

// StructuredPlan is what a structured pruning run decides: the settings and,
// for every dependency group, which units go. It is data: it prints as JSON,
// reads back with ReadStructuredPlan, and ApplyStructured replays it on the
// same model or another with the same graph (a fine-tuned copy), shrunk or
// masked. Layers and Totals are filled in by ApplyStructured.
type StructuredPlan struct {
	Schema      string             `json:"schema"`
	Criterion   string             `json:"criterion"`
	Scope       string             `json:"scope"`
	Sparsity    float64            `json:"sparsity"`
	RoundTo     int                `json:"round_to"`
	MinChannels int                `json:"min_channels"`
	Seed        uint64             `json:"seed"`
	Include     []string           `json:"include"`
	Exclude     []string           `json:"exclude"`
	InputShapes map[string][]int64 `json:"input_shapes"`
	Masked      bool               `json:"masked"` // applied as zeros at the original shapes

	Groups []GroupPlan      `json:"groups"`
	Layers []LayerPlan      `json:"layers"`
	Totals StructuredTotals `json:"totals"`
	dg     *DepGraph        // the analysis the plan was made on
	model  *onnxio.Model    // and its model
}

// GroupPlan is one dependency group.
type GroupPlan struct {
	ID    int      `json:"id"`
	Roots []string `json:"roots"` // nodes whose output channels start it
	// Values is the number of values whose channels are in the group.
	Values int `json:"values"`
	// Units is the number of channels (units) the group has, Prunable how
	// many of them may go, Kept how many the plan keeps.
	Units    int `json:"units"`
	Prunable int `json:"prunable"`
	Kept     int `json:"kept"`
	// Pruned lists the units removed, ascending.
	Pruned []int `json:"pruned"`
	// Reason is why the group is not pruned at all ("" if it may be);
	// Fixed says why some of its units are kept regardless.
	Reason string   `json:"reason,omitempty"`
	Fixed  []string `json:"fixed,omitempty"`
}

// LayerPlan is one Conv/ConvTranspose/Gemm/MatMul weight, before and after.
type LayerPlan struct {
	Node        string  `json:"node"`
	Op          string  `json:"op"`
	Weight      string  `json:"weight"`
	ShapeBefore []int64 `json:"shape_before"`
	ShapeAfter  []int64 `json:"shape_after"`
	OutBefore   int64   `json:"out_channels_before"`
	OutAfter    int64   `json:"out_channels_after"`
	InBefore    int64   `json:"in_channels_before"`
	InAfter     int64   `json:"in_channels_after"`
}

// StructuredTotals sums a plan's effect.
type StructuredTotals struct {
	Groups        int `json:"groups"`
	PrunedGroups  int `json:"pruned_groups"`
	RefusedGroups int `json:"refused_groups"`
	Units         int `json:"units"`
	PrunedUnits   int `json:"pruned_units"`
	// Params counts the elements of every float tensor stored in the model
	// (initializers and Constant nodes).
	ParamsBefore int64 `json:"params_before"`
	ParamsAfter  int64 `json:"params_after"`
	// MACs and FLOPs of one inference at InputShapes, from the engine's
	// compiled plan (FLOPsSource "engine"); -1 when it could not compile
	// the model (FLOPsSource says why).
	MACsBefore  int64  `json:"macs_before"`
	MACsAfter   int64  `json:"macs_after"`
	FLOPsBefore int64  `json:"flops_before"`
	FLOPsAfter  int64  `json:"flops_after"`
	FLOPsSource string `json:"flops_source"`
}

// The options of structured pruning are the package's Option: WithSparsity
// (the fraction of channels to remove) and WithScope (Global: one ranking of
// all groups' units, scores normalised by each group's mean; Layer: each
// group loses the ratio of its channels), and these.

// WithCriterion sets the group importance (default GroupNorm{Magnitude{}}).
func WithCriterion(imp GroupImportance) Option {
	return named("WithCriterion", func(c *config) error {
		if imp == nil {
			return fmt.Errorf("%w: nil criterion", ErrInvalid)
		}
		c.criterion = imp
		return nil
	})
}

// WithSeed records the seed of a random criterion in the plan.
func WithSeed(s uint64) Option {
	return named("WithSeed", func(c *config) error { c.seed = s; return nil })
}

// DefaultRoundTo is the channel alignment used unless RoundTo says
// otherwise: kept channel counts that are multiples of 8 keep the blocked
// kernels of ONNX Runtime, XNNPACK and NEON code on their fast paths (odd
// counts made mobilenet_v2 pruned by half slower than dense in ORT;
// docs/benchmarks.md, "Structured pruning").
const DefaultRoundTo = 8

// WithRoundTo keeps every group's channel count a multiple of n (SIMD
// widths: 4, 8, 16), rounding the kept count up; default DefaultRoundTo. 1
// (or 0) keeps exact ratios.
func WithRoundTo(n int) Option {
	return named("WithRoundTo", func(c *config) error {
		if n < 0 || n > 1<<16 {
			return fmt.Errorf("%w: round_to %d: want 1 (exact ratios) or a small positive multiple such as 8", ErrInvalid, n)
		}
		c.roundTo = n
		return nil
	})
}

// WithMinChannels keeps at least n channels in every group (default 1).
func WithMinChannels(n int) Option {
	return named("WithMinChannels", func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: min channels %d: must be ≥ 0", ErrInvalid, n)
		}
		c.minChannels = n
		return nil
	})
}

// WithIncludeGroups prunes only groups with a root node name, or root
// weight ID, matching one of the expressions; WithExcludeGroups leaves
// such groups whole.
func WithIncludeGroups(res ...*regexp.Regexp) Option {
	return named("WithIncludeGroups", func(c *config) error { c.include = append(c.include, res...); return nil })
}

// WithExcludeGroups: see WithIncludeGroups.
func WithExcludeGroups(res ...*regexp.Regexp) Option {
	return named("WithExcludeGroups", func(c *config) error { c.exclude = append(c.exclude, res...); return nil })
}

// StructuredPruner removes whole channels by dependency group.
type StructuredPruner struct{ c *config }

// NewStructured returns a StructuredPruner; a sparsity is required.
func NewStructured(opts ...Option) (*StructuredPruner, error) {
	c := &config{criterion: GroupNorm{Magnitude{}}, minChannels: 1, roundTo: DefaultRoundTo}
	if err := c.apply(opts, forStructured, "NewStructured"); err != nil {
		return nil, err
	}
	if !c.sparsitySet {
		return nil, fmt.Errorf("%w: no sparsity set (e.g. 0.5 to remove half the channels)", ErrInvalid)
	}
	if c.scope == Row {
		return nil, fmt.Errorf("%w: WithScope(row): structured pruning ranks channels per group (layer) or over all groups (global)", ErrInvalid)
	}
	return &StructuredPruner{c: c}, nil
}

func (c *config) graphOptions() []Option {
	var o []Option
	if c.reg != nil {
		o = append(o, WithRegistry(c.reg))
	}
	if c.shapes != nil {
		o = append(o, WithInputShapes(c.shapes))
	}
	return o
}

// Plan analyses m and decides which units of which groups go, without
// changing m.
func (sp *StructuredPruner) Plan(m *onnxio.Model) (*StructuredPlan, error) {
	c := sp.c
	d, err := BuildDepGraph(m, c.graphOptions()...)
	if err != nil {
		return nil, err
	}
	plan := &StructuredPlan{
		Schema: StructuredSchema, Criterion: c.criterion.Name(), Scope: c.scope.String(), Sparsity: c.sparsity,
		RoundTo: c.roundTo, MinChannels: c.minChannels, Seed: c.seed,
		Include: regexps(c.include), Exclude: regexps(c.exclude), InputShapes: d.InputShapes,
		dg: d, model: m,
		Groups: make([]GroupPlan, 0, len(d.Groups)), // stable addresses below
	}
	for _, re := range append(slices.Clone(c.include), c.exclude...) {
		if !slices.ContainsFunc(d.Groups, func(g *Group) bool { return groupMatches(d, g, re) }) {
			return nil, fmt.Errorf("%w: %q matches no group's root node or weight; the report lists the groups", ErrNoMatch, re)
		}
	}
	type cand struct {
		g      *Group
		gp     *GroupPlan
		scores []float32
		hi     int
	}
	var cands []cand
	scored := 0
	impWhy := ""
	for _, g := range d.Groups {
		gp := GroupPlan{ID: g.ID, Roots: nonNil(g.Roots), Values: len(g.Spaces), Units: g.Units, Prunable: g.Prunable(),
			Kept: g.Units, Pruned: []int{}, Reason: g.Reason, Fixed: fixedReasons(g)}
		plan.Groups = append(plan.Groups, gp)
		gpp := &plan.Groups[len(plan.Groups)-1]
		if gp.Reason != "" {
			continue
		}
		switch {
		case len(c.include) > 0 && !slices.ContainsFunc(c.include, func(re *regexp.Regexp) bool { return groupMatches(d, g, re) }):
			gpp.Reason = "not selected by --include"
			continue
		case slices.ContainsFunc(c.exclude, func(re *regexp.Regexp) bool { return groupMatches(d, g, re) }):
			gpp.Reason = "excluded by --exclude"
			continue
		}
		s := make([]float32, g.Units)
		why, err := c.criterion.Scores(s, g)
		if err != nil {
			return nil, err
		}
		if why != "" {
			gpp.Reason = why
			impWhy = why
			continue
		}
		scored++
		hi := sp.maxPruned(g)
		cands = append(cands, cand{g: g, gp: gpp, scores: unitScores(g, s, c.scope == Global), hi: hi})
	}
	if scored == 0 {
		why := "no group can be pruned"
		if impWhy != "" {
			why = impWhy
		} else if len(plan.Groups) > 0 {
			why = fmt.Sprintf("none of the %d groups can be pruned (first: %s)", len(plan.Groups), plan.Groups[0].Reason)
		}
		return nil, fmt.Errorf("%w: %s", ErrNoTarget, why)
	}
	counts := make([]int, len(cands))
	if c.scope == Layer {
		for i, k := range cands {
			counts[i] = min(roundHalfEven(c.sparsity, k.g.Units), k.hi)
		}
	} else {
		total := 0
		srcs := make([]source, len(cands))
		lo := make([]int, len(cands))
		hi := make([]int, len(cands))
		sumHi := 0
		for i, k := range cands {
			total += k.g.Units
			srcs[i] = unitSource(k.scores)
			hi[i] = k.hi
			sumHi += k.hi
		}
		kk := min(roundHalfEven(c.sparsity, total), sumHi)
		_, cnt, err := selectGlobal(srcs, lo, hi, kk)
		if err != nil {
			return nil, err
		}
		copy(counts, cnt)
	}
	for i, k := range cands {
		k.gp.Pruned = pickUnits(k.g, k.scores, sp.rounded(k.g, counts[i]), max(c.minChannels, 1))
		k.gp.Kept = k.g.Units - len(k.gp.Pruned)
	}
	plan.sumGroups()
	return plan, nil
}

// maxPruned is the most units g may lose: its prunable units, keeping
// MinChannels (at least 1) and a RoundTo multiple.
func (sp *StructuredPruner) maxPruned(g *Group) int {
	keep := max(sp.c.minChannels, 1)
	if r := sp.c.roundTo; r > 1 {
		keep = (keep + r - 1) / r * r
	}
	return max(0, min(g.Prunable(), g.Units-keep))
}

// rounded lowers a count so the kept channels are a RoundTo multiple (or
// the whole group).
func (sp *StructuredPruner) rounded(g *Group, n int) int {
	n = min(max(n, 0), sp.maxPruned(g))
	r := sp.c.roundTo
	if r <= 1 || n == 0 {
		return n
	}
	kept := g.Units - n
	kept = min((kept+r-1)/r*r, g.Units)
	return g.Units - kept
}

// unitScores turns a group's scores into selection scores: fixed units
// score +Inf (never taken within the bound), and for the global scope
// scores are divided by the mean over the prunable units.
func unitScores(g *Group, s []float32, normalize bool) []float32 {
	mean, n := 0.0, 0
	for u, v := range s {
		if !g.Fixed[u] {
			mean += float64(v)
			n++
		}
	}
	if n > 0 {
		mean /= float64(n)
	}
	out := make([]float32, len(s))
	for u, v := range s {
		switch {
		case g.Fixed[u]:
			out[u] = float32(math.Inf(1))
		case normalize && mean > 0:
			out[u] = float32(float64(v) / mean)
		default:
			out[u] = v
		}
	}
	return out
}

// unitSource is a group's unit scores as a selection source.
type unitSource []float32

func (u unitSource) units() int { return len(u) }
func (u unitSource) scan(fn func(int, []float32)) error {
	fn(0, u)
	return nil
}

// pickUnits chooses up to n units of g to prune, lowest score first (ties
// by unit index), skipping fixed units and any unit whose removal would
// leave a layer of the group (a root space: one branch of a Concat) with
// fewer than minKeep channels, or any other value of the group (one half of
// a channel split) with none. It returns them ascending.
func pickUnits(g *Group, scores []float32, n, minKeep int) []int {
	roots := g.Spaces
	// hits[u][r]: channels of space r in unit u.
	hits := make([][]int, g.Units)
	kept := make([]int, len(roots))
	floor := make([]int, len(roots))
	for r, s := range roots {
		floor[r] = 1
		if s.Root != "" {
			floor[r] = minKeep
		}
		kept[r] = s.Size
		for i := range s.Size {
			u := g.UnitOf(s, i)
			if hits[u] == nil {
				hits[u] = make([]int, len(roots))
			}
			hits[u][r]++
		}
	}
	order := make([]int, g.Units)
	for u := range order {
		order[u] = u
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpKey(key(scores[a]), key(scores[b])) })
	out := []int{}
	for _, u := range order {
		if len(out) >= n {
			break
		}
		if g.Fixed[u] {
			continue
		}
		ok := true
		for r, h := range hits[u] {
			if h > 0 && kept[r]-h < floor[r] {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for r, h := range hits[u] {
			kept[r] -= h
		}
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

func cmpKey(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func groupMatches(d *DepGraph, g *Group, re *regexp.Regexp) bool {
	if slices.ContainsFunc(g.Roots, re.MatchString) {
		return true
	}
	for _, c := range g.Coupled {
		if c.Space.Root != "" && c.Node == c.Space.Root && re.MatchString(c.Param.ID) {
			return true
		}
	}
	return false
}

func fixedReasons(g *Group) []string {
	var out []string
	for u, f := range g.Fixed {
		if f && !slices.Contains(out, g.FixedWhy[u]) {
			out = append(out, g.FixedWhy[u])
		}
	}
	return out
}

func (p *StructuredPlan) sumGroups() {
	t := &p.Totals
	t.Groups, t.PrunedGroups, t.RefusedGroups, t.Units, t.PrunedUnits = len(p.Groups), 0, 0, 0, 0
	for _, g := range p.Groups {
		t.Units += g.Units
		t.PrunedUnits += len(g.Pruned)
		if len(g.Pruned) > 0 {
			t.PrunedGroups++
		}
		if g.Prunable == 0 {
			t.RefusedGroups++
		}
	}
}

// Prune plans and removes the channels from m in place.
func (sp *StructuredPruner) Prune(m *onnxio.Model) (*StructuredPlan, error) {
	plan, err := sp.Plan(m)
	if err != nil {
		return nil, err
	}
	if err := ApplyStructured(m, plan); err != nil {
		return nil, err
	}
	return plan, nil
}

// WriteJSON writes the plan as indented JSON.
func (p *StructuredPlan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// ReadStructuredPlan reads a plan written by WriteJSON and checks it.
func ReadStructuredPlan(r io.Reader) (*StructuredPlan, error) {
	var p StructuredPlan
	if err := json.NewDecoder(io.LimitReader(r, 1<<30)).Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlan, err)
	}
	if p.Schema != StructuredSchema {
		return nil, fmt.Errorf("%w: schema %q, want %q", ErrPlan, p.Schema, StructuredSchema)
	}
	for _, g := range p.Groups {
		prev := -1
		for _, u := range g.Pruned {
			if u <= prev || u >= g.Units {
				return nil, fmt.Errorf("%w: group %d: pruned units must ascend within [0, %d)", ErrPlan, g.ID, g.Units)
			}
			prev = u
		}
	}
	return &p, nil
}
