package prune

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/edgeprune/edgeprune/onnxio"
)

// PlanSchema identifies the JSON form of a Plan (docs/cli-json.md).
const PlanSchema = "edgeprune.prune/v1"

// Dense is ParamPlan.Pattern for a selected parameter the pattern does not
// fit, left as it is.
const Dense = "dense"

// Plan is what a pruning run decides: the settings, and for every selected
// parameter the pattern applied and how many units it loses. It is data: it
// prints as JSON, reads back with ReadPlan, and Apply replays it on the same
// model (giving the same weights, bit for bit) or on another model with the
// same parameter IDs and shapes (a fine-tuned copy), there pruning each
// parameter by the same count and pattern.
type Plan struct {
	Schema     string `json:"schema"`
	Importance string `json:"importance"`
	Pattern    string `json:"pattern"`
	Scope      string `json:"scope"`
	// Sparsity is the requested fraction of units pruned (per layer, or
	// over all parameters for the global scope).
	Sparsity         float64  `json:"sparsity"`
	MinLayerSparsity float64  `json:"min_layer_sparsity"`
	MaxLayerSparsity float64  `json:"max_layer_sparsity"`
	OpTypes          []string `json:"op_types"`
	Include          []string `json:"include"`
	Exclude          []string `json:"exclude"`

	Params []ParamPlan `json:"params"`
	Totals Totals      `json:"totals"`

	cache *planCache // selection results, valid for the model planned
}

// ParamPlan is one selected parameter.
type ParamPlan struct {
	ID string `json:"id"`
	// Where is "initializer" or "constant" (a Constant node); Graph the
	// subgraph path ("" for the main graph).
	Where string  `json:"where"`
	Graph string  `json:"graph"`
	Op    string  `json:"op"`   // op using it as a weight
	Node  string  `json:"node"` // that node's name
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
	// OutAxis and InAxis are its output- and input-channel axes (-1 if
	// unknown).
	OutAxis int `json:"out_axis"`
	InAxis  int `json:"in_axis"`
	// Pattern is the plan's pattern, or "dense" when it does not fit.
	Pattern string `json:"pattern"`
	Reason  string `json:"reason,omitempty"` // why dense
	// Units is the number of units (elements, or RxC blocks), UnitSize
	// the elements in each, PrunedUnits how many the plan prunes (for N:M,
	// M−N per group of M).
	Units       int64 `json:"units"`
	UnitSize    int   `json:"unit_size"`
	PrunedUnits int64 `json:"pruned_units"`
	Elements    int64 `json:"elements"`
	// Zeros before and after Apply (ZerosAfter is -1 until applied).
	ZerosBefore    int64   `json:"zeros_before"`
	ZerosAfter     int64   `json:"zeros_after"`
	SparsityBefore float64 `json:"sparsity_before"`
	SparsityAfter  float64 `json:"sparsity_after"`
}

// Totals sums the selected parameters.
type Totals struct {
	Pruned         int     `json:"pruned_params"` // parameters the pattern fits
	Dense          int     `json:"dense_params"`  // selected but left dense
	Elements       int64   `json:"elements"`
	ZerosBefore    int64   `json:"zeros_before"`
	ZerosAfter     int64   `json:"zeros_after"`
	SparsityBefore float64 `json:"sparsity_before"`
	SparsityAfter  float64 `json:"sparsity_after"`
}

// planCache remembers what Plan computed, so that Apply on the same model
// does not select again.
type planCache struct {
	model  *onnxio.Model
	cuts   map[string]cut
	blocks map[string]*blockSource
}

func (p *Plan) sum() {
	t := Totals{}
	for _, e := range p.Params {
		if e.Pattern == Dense {
			t.Dense++
		} else {
			t.Pruned++
		}
		t.Elements += e.Elements
		t.ZerosBefore += e.ZerosBefore
		t.ZerosAfter += e.ZerosAfter
	}
	t.SparsityBefore = frac(t.ZerosBefore, t.Elements)
	t.SparsityAfter = frac(t.ZerosAfter, t.Elements)
	if t.ZerosAfter < 0 || slices.ContainsFunc(p.Params, func(e ParamPlan) bool { return e.ZerosAfter < 0 }) {
		t.ZerosAfter, t.SparsityAfter = -1, 0
	}
	p.Totals = t
}

func frac(a, b int64) float64 {
	if b <= 0 || a < 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// WriteJSON writes the plan as indented JSON.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// ReadPlan reads a plan written by WriteJSON (or a `prune --report` file)
// and checks it is consistent. Unknown fields are ignored.
func ReadPlan(r io.Reader) (*Plan, error) {
	var p Plan
	dec := json.NewDecoder(io.LimitReader(r, 1<<30))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlan, err)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// check validates a plan read from outside.
func (p *Plan) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrPlan}, args...)...)
	}
	if p.Schema != PlanSchema {
		return bad("schema %q, want %q", p.Schema, PlanSchema)
	}
	pat, err := ParsePattern(p.Pattern)
	if err != nil {
		return bad("%v", err)
	}
	if _, err := ParseScope(p.Scope); err != nil {
		return bad("%v", err)
	}
	if !rowScopeOK(p.Scope, p.Pattern) {
		return bad("the row scope takes the element pattern, not %q", p.Pattern)
	}
	seen := map[string]bool{}
	for _, e := range p.Params {
		if seen[e.ID] {
			return bad("parameter %q listed twice", e.ID)
		}
		seen[e.ID] = true
		if e.Pattern == Dense {
			continue
		}
		if e.Pattern != pat.String() {
			return bad("parameter %q: pattern %q, plan's is %q", e.ID, e.Pattern, pat)
		}
		n, err := onnxio.NumElements(e.Shape)
		if err != nil {
			return bad("parameter %q: %v", e.ID, err)
		}
		if e.Units*int64(pat.UnitSize()) != n || e.PrunedUnits < 0 || e.PrunedUnits > e.Units {
			return bad("parameter %q: %d of %d units of %d elements for shape %v", e.ID, e.PrunedUnits, e.Units, pat.UnitSize(), e.Shape)
		}
	}
	return nil
}
