package build

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/edgeprune/edgeprune/prune"
)

// ReadReport decodes what `edgeprune report` renders: a build.json, or a
// `prune --report` file (schema edgeprune.prune/v1 or
// edgeprune.prune.structured/v1) turned into a Result with the plan's
// layers (and, structured, its groups) and no budgets.
func ReadReport(r io.Reader) (*Result, error) {
	raw, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, err
	}
	var head struct {
		Schema  string  `json:"schema"`
		Model   string  `json:"model"`
		Output  string  `json:"output"`
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("build: reading the report: %w", err)
	}
	res := &Result{Schema: ResultSchema, Model: filepath.Base(head.Model), Feasible: true,
		Phases: map[string]float64{"prune": head.Seconds}, Finetune: "–", CostSource: "none: a prune report has no profile",
		Before: Metrics{ByClassMS: map[string]float64{}}, After: Metrics{ByClassMS: map[string]float64{}}}
	switch head.Schema {
	case ResultSchema:
		return ReadResult(bytes.NewReader(raw))
	case prune.PlanSchema:
		p, err := prune.ReadPlan(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		res.Source = fmt.Sprintf("prune --report: %s → %s, %s pattern, %s scope", head.Model, head.Output, p.Pattern, p.Scope)
		res.Damage = "not measured: importance " + p.Importance
		for _, e := range p.Params {
			out, in := axisDim(e.Shape, e.OutAxis), axisDim(e.Shape, e.InAxis)
			zeros := e.ZerosAfter
			if zeros < 0 {
				zeros = e.ZerosBefore
			}
			res.Layers = append(res.Layers, LayerRow{Node: e.Node, Op: e.Op, OutBefore: out, OutAfter: out, InBefore: in, InAfter: in,
				Params: e.Elements - zeros, Sparsity: e.SparsityAfter})
			res.Before.Params += e.Elements - e.ZerosBefore
			res.After.Params += e.Elements - zeros
		}
		return res, nil
	case prune.StructuredSchema:
		p, err := prune.ReadStructuredPlan(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		res.Source = fmt.Sprintf("prune --structured --report: %s → %s, criterion %s, %s scope, sparsity %g", head.Model, head.Output, p.Criterion, p.Scope, p.Sparsity)
		res.Damage = "not measured: criterion " + p.Criterion
		for _, g := range p.Groups {
			if g.Reason != "" || g.Units == 0 {
				continue
			}
			gr := GroupResult{Roots: g.Roots, Units: g.Units, Options: []Option{{Keep: 1, Kept: g.Units}}}
			if g.Kept != g.Units {
				gr.Options = append(gr.Options, Option{Keep: float64(g.Kept) / float64(g.Units), Kept: g.Kept})
				gr.Choice = 1
			}
			res.Groups = append(res.Groups, gr)
		}
		for _, l := range p.Layers {
			params := int64(1)
			for _, d := range l.ShapeAfter {
				params *= d
			}
			res.Layers = append(res.Layers, LayerRow{Node: l.Node, Op: l.Op, OutBefore: l.OutBefore, OutAfter: l.OutAfter, InBefore: l.InBefore, InAfter: l.InAfter, Params: params})
		}
		res.Before.Params, res.After.Params = p.Totals.ParamsBefore, p.Totals.ParamsAfter
		res.Before.FLOPs, res.After.FLOPs = max(p.Totals.FLOPsBefore, 0), max(p.Totals.FLOPsAfter, 0)
		return res, nil
	}
	return nil, fmt.Errorf("build: schema %q: want %s (build.json), %s or %s (prune --report)", head.Schema, ResultSchema, prune.PlanSchema, prune.StructuredSchema)
}

func axisDim(shape []int64, axis int) int64 {
	if axis < 0 || axis >= len(shape) {
		return 0
	}
	return shape[axis]
}
