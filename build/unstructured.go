package build

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"github.com/edgeprune/edgeprune/pack"
	"github.com/edgeprune/edgeprune/profile"
	"github.com/edgeprune/edgeprune/prune"
	"google.golang.org/protobuf/proto"
)

// The unstructured part of the search space (profile search.unstructured):
// per weight layer, magnitude sparsity with one of prune's patterns and a
// value coding of the package (pack.WithTensorValues). These options are
// searched jointly with the structured keep levels: each layer is one
// more "group" of the knapsack, after the structured groups in a choice.
// Their damage is measured like the structured options' (KL on the
// calibration data from the cached activations before the layer), their
// latency is the cost model's on the engine's compiled plan (the sparse op
// class only where the engine's own cost model runs the weight sparse),
// their resident memory is the engine's (sparse weights held as CSR), and
// their file size comes from the packer: per option, the packed size of
// the layer's tensor alone; for the solver's exact checks and the budget
// table, the whole package.
//
// Sparsity and coding apply to the tensor as the structured choice left
// it: a layer both thinned and sparsified keeps the option's fraction of
// its remaining weights. The sensitivity is measured on the unthinned
// model, so the knapsack's sums are an approximation that the solver's
// exact check corrects.

// UOption is one unstructured option of a layer.
type UOption struct {
	Sparsity float64 `json:"sparsity,omitempty"` // fraction of weights zeroed
	Pattern  string  `json:"pattern,omitempty"`  // prune's pattern (element, N:M, block=RxC)
	Coding   string  `json:"coding,omitempty"`   // exact, fp16, codebook
	Bits     int     `json:"bits,omitempty"`     // codebook bits
}

func (o UOption) code() pack.TensorCode {
	switch o.Coding {
	case "fp16":
		return pack.TensorCode{Values: pack.FP16}
	case "codebook":
		return pack.TensorCode{Values: pack.Codebook, Bits: o.Bits}
	}
	return pack.TensorCode{}
}

// CodingName is "exact", "fp16" or "codebook:B".
func (o UOption) CodingName() string {
	switch o.Coding {
	case "", "exact":
		return "exact"
	case "codebook":
		return fmt.Sprintf("codebook:%d", o.Bits)
	}
	return o.Coding
}

func (o UOption) String() string {
	s := "dense"
	if o.Sparsity > 0 {
		s = fmt.Sprintf("%.3g %s", o.Sparsity, o.Pattern)
	}
	return s + " " + o.CodingName()
}

// uLayer is one weight searched for unstructured options.
type uLayer struct {
	ID    string // the parameter's ID
	Name  string // the value the nodes read (an initializer's name)
	Node  string // the node using it as a weight
	Op    string
	Cut   int // index of the first main-graph node reading it
	Elems int
	Opts  []UOption // Opts[0] is dense, exact
}

// AddUnstructured adds the per-layer options of u to the space: every
// prunable weight of the main graph with at least u.MinParams elements,
// with each pattern that fits it.
func (s *Space) AddUnstructured(m *onnxio.Model, u *profile.UnstructuredSearch) error {
	s.UMeasured = u.Sensitivity == "measured"
	var codings []UOption
	codings = append(codings, UOption{Coding: "exact"})
	for _, c := range u.Coding {
		name, bits, err := profile.ParseCoding(c)
		if err != nil {
			return fmt.Errorf("build: search.unstructured.coding: %w", err)
		}
		if name != "exact" {
			codings = append(codings, UOption{Coding: name, Bits: bits})
		}
	}
	var pats []prune.Pattern
	for _, ps := range u.Patterns {
		pat, err := prune.ParsePattern(ps)
		if err != nil {
			return fmt.Errorf("build: search.unstructured.patterns: %w", err)
		}
		pats = append(pats, pat)
	}
	first := map[string]int{}
	for i, n := range m.Graph().GetNode() {
		for _, in := range n.GetInput() {
			if _, ok := first[in]; !ok {
				first[in] = i
			}
		}
	}
	for _, c := range prune.Candidates(m) {
		t := c.Target
		if t == nil || c.Param.GraphPath != "" || t.NumElements() < max(u.MinParams, 256) {
			continue
		}
		cut, ok := first[c.Param.Name]
		if !ok {
			continue
		}
		l := uLayer{ID: t.ID(), Name: c.Param.Name, Node: t.Node, Op: t.Op, Cut: cut, Elems: t.NumElements()}
		sparsities := []UOption{{}}
		for _, pat := range pats {
			levels := u.Sparsity
			if pat.Kind == prune.NM {
				levels = []float64{pat.Sparsity()}
			}
			// The pattern must fit this weight (prune says which do not).
			if _, err := unstructuredPruner(t.ID(), levels[0], pat).Plan(m); err != nil {
				continue
			}
			for _, x := range levels {
				sparsities = append(sparsities, UOption{Sparsity: x, Pattern: pat.String()})
			}
		}
		for _, sp := range sparsities {
			for _, cd := range codings {
				l.Opts = append(l.Opts, UOption{Sparsity: sp.Sparsity, Pattern: sp.Pattern, Coding: cd.Coding, Bits: cd.Bits})
			}
		}
		if len(l.Opts) > 1 {
			s.ULayers = append(s.ULayers, l)
		}
	}
	return nil
}

func unstructuredPruner(id string, sparsity float64, pat prune.Pattern) *prune.Pruner {
	opts := []prune.Option{prune.WithScope(prune.Layer), prune.WithPattern(pat),
		prune.WithSelection(prune.Selection{Include: []*regexp.Regexp{regexp.MustCompile("^" + regexp.QuoteMeta(id) + "$")}})}
	if pat.Kind != prune.NM {
		opts = append(opts, prune.WithSparsity(sparsity))
	}
	pr, err := prune.New(opts...)
	if err != nil {
		panic("build: unstructured pruner: " + err.Error()) // the options are built here, from validated patterns
	}
	return pr
}

// splitChoice returns the structured part of a choice and the unstructured
// part (nil when the space has no unstructured layers or the choice is
// structured only).
func (s *Space) splitChoice(choice []int) (structured, unstructured []int) {
	if len(choice) > len(s.Groups) {
		return choice[:len(s.Groups)], choice[len(s.Groups):]
	}
	return choice, nil
}

// applyUnstructured sparsifies and codes m's layers as uc picks (indices
// into each layer's options), in place: every layer pruned first (Prune may
// replace tensors), then the coded layers' values from one listing of m's
// parameters.
func (s *Space) applyUnstructured(m *onnxio.Model, uc []int) error {
	for i, k := range uc {
		l, o := s.ULayers[i], s.ULayers[i].Opts[k]
		if o.Sparsity == 0 {
			continue
		}
		pat, err := prune.ParsePattern(o.Pattern)
		if err != nil {
			return err
		}
		if _, err := unstructuredPruner(l.ID, o.Sparsity, pat).Prune(m); err != nil {
			return fmt.Errorf("build: %s %s: %w", l.ID, o, err)
		}
	}
	return s.codeValues(m, uc)
}

// codeValues replaces the values of the layers uc codes by what the
// package will decode (pack.Lossy), in place: once after pruning, and again
// after fine-tuning moved the weights off their codes.
func (s *Space) codeValues(m *onnxio.Model, uc []int) error {
	params := map[string]*onnxio.Param{}
	for _, p := range m.Params() {
		params[p.ID] = p
	}
	for i, k := range uc {
		l, c := s.ULayers[i], s.ULayers[i].Opts[k].code()
		if c.Values == pack.Exact {
			continue
		}
		p := params[l.ID]
		if p == nil {
			return fmt.Errorf("build: %s: weight not found after pruning", l.ID)
		}
		v, _, err := p.Float32()
		if err != nil {
			return fmt.Errorf("build: %s: %w", l.ID, err)
		}
		if err := p.SetFloat32(pack.Lossy(v, c.Values, c.Bits), p.Shape()); err != nil {
			return fmt.Errorf("build: %s: %w", l.ID, err)
		}
	}
	return nil
}

// changedLayers names the weights whose values choice's unstructured
// options change (every layer not at its dense exact option, Opts[0]):
// for adaptive BN, which the graph alone does not tell (bn.go).
func (s *Space) changedLayers(choice []int) []string {
	_, uc := s.splitChoice(choice)
	var out []string
	for i, k := range uc {
		if k != 0 {
			out = append(out, s.ULayers[i].Name)
		}
	}
	return out
}

// codes are the value codes of the layers uc codes (for pack.WithTensorValues).
func (s *Space) codes(uc []int) map[string]pack.TensorCode {
	out := map[string]pack.TensorCode{}
	for i, k := range uc {
		if c := s.ULayers[i].Opts[k].code(); c.Values != pack.Exact {
			out[s.ULayers[i].ID] = c
		}
	}
	return out
}

// floorOption is the layer's option with the smallest packed tensor (the
// last, once the options are sorted by file size).
func (l *uLayer) floorOption() int { return len(l.Opts) - 1 }

// packModel packs m with the value codes of uc at the default level.
func (s *Space) packModel(m *onnxio.Model, uc []int) ([]byte, error) {
	var buf bytes.Buffer
	w, err := pack.NewWriter(&buf, pack.WithTensorValues(s.codes(uc)))
	if err != nil {
		return nil, err
	}
	if _, err := w.WriteModel(m); err != nil {
		return nil, fmt.Errorf("build: packing: %w", err)
	}
	return buf.Bytes(), nil
}

// unstructuredMetrics corrects what metricsModel predicted for a choice
// with unstructured options: resident weights as the engine holds them
// (a weight run sparse is held as CSR, not dense) and, once the solver
// runs (PackFiles), the file as the exact size of the package.
func (s *Space) unstructuredMetrics(choice []int, m *onnxio.Model, plan *engine.Program, met *Metrics) error {
	if len(s.ULayers) == 0 {
		return nil
	}
	r := plan.Report()
	var denseHeld int64
	for _, n := range r.Nodes {
		if strings.HasPrefix(n.Kernel, "sparse") && len(n.Inputs) > 1 && n.Inputs[1] != nil {
			e := int64(4)
			for _, d := range n.Inputs[1] {
				e *= int64(d)
			}
			denseHeld += e
		}
	}
	if denseHeld > 0 {
		d := r.SparseWeightBytes - denseHeld
		met.WeightBytes += d // RAMBytes counts the plan's held bytes already
	}
	if s.PackFiles {
		_, uc := s.splitChoice(choice)
		b, err := s.packModel(m, uc)
		if err != nil {
			return err
		}
		met.FileBytes, met.PackedBytes = int64(len(b)), int64(len(b))
	}
	return nil
}

// tensorPackedBytes is the size of a package holding only tensor t (with
// its values as opt leaves them, coded as opt says): the per-option file
// cost of the sensitivity table (the model's other tensors and skeleton
// are the same for every option of the layer).
func tensorPackedBytes(t *onnx.TensorProto, code pack.TensorCode) (int64, error) {
	t = proto.Clone(t).(*onnx.TensorProto)
	mp := &onnx.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnx.OperatorSetIdProto{{Version: proto.Int64(17)}},
		Graph: &onnx.GraphProto{Name: proto.String("t"), Initializer: []*onnx.TensorProto{t},
			Node:   []*onnx.NodeProto{{OpType: proto.String("Identity"), Input: []string{t.GetName()}, Output: []string{"y"}}},
			Output: []*onnx.ValueInfoProto{{Name: proto.String("y")}}}}
	data, err := proto.Marshal(mp)
	if err != nil {
		return 0, err
	}
	m, err := onnxio.Decode(data)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	w, err := pack.NewWriter(&buf, pack.WithTensorValues(map[string]pack.TensorCode{t.GetName(): code}))
	if err != nil {
		return 0, err
	}
	if _, err := w.WriteModel(m); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}

// unstructuredSensitivity measures every layer's options and appends one
// GroupResult per layer (Kind "unstructured") to res.Groups, its options
// sorted by packed size, largest first (so that one step further is one
// step smaller, as the greedy repair assumes). It reorders each layer's
// options in the space to match.
//
// score gives an option's damage and task damage from its outputs on the
// calibration data (as the structured groups' are: the two kinds'
// damages are summed by the joint knapsack).
//
// Unless s.UMeasured, an option both sparse and coded is not run: its
// damages are composed from its twins' (composeDamage), which are run.
//
// With adaptive BN (abn not nil) each option run has the statistics of
// the BatchNormalization nodes downstream of its layer re-estimated first,
// as the structured levels have (bn.go).
func (e *evaluator) unstructuredSensitivity(orig *onnxio.Model, tl *tails, abn *adaptiveBN, refCalib [][]float32, origEnergy map[string]float64,
	calib []engine.Batch, dense *evaluated, res *Result, score func(got [][]float32) (damage, task float64), logf func(string, ...any)) error {
	s := e.space
	var cc compareComposed
	// A layer's options are built and costed (one core) while the tails of
	// the layer before run (sensitivity.go).
	prepLayer := func(li int) (*layerPrep, error) {
		l := &s.ULayers[li]
		lp := &layerPrep{gr: GroupResult{Kind: "unstructured", Layer: l.Node, Roots: []string{l.ID}, Units: l.Elems},
			weights: make([][]float32, len(l.Opts)), tensors: make([]*onnx.TensorProto, len(l.Opts))}
		gr, weights, tensors := &lp.gr, lp.weights, lp.tensors
		for k, o := range l.Opts {
			opt := Option{Keep: 1, Kept: l.Elems, Unstructured: &l.Opts[k]}
			if refCalib != nil && !s.UMeasured && l.composable(k) {
				// Not run: no model is built. Its weight is the exact
				// twin's, coded (as codeValues codes it); its latency and
				// memory are the twin's (the engine decodes to float32).
				if err := l.codedTwin(k, &opt, gr.Options, weights, tensors); err != nil {
					return nil, err
				}
				gr.Options = append(gr.Options, opt)
				continue
			}
			choice := s.Uniform(0)
			choice[len(s.Groups)+li] = k
			mm, err := e.metricsModel(choice)
			if err != nil {
				return nil, fmt.Errorf("build: layer %s option %s: %w", l.ID, o, err)
			}
			opt.DeltaMS = mm.met.LatencyMS - dense.met.LatencyMS
			opt.DeltaRAM = mm.met.RAMBytes - dense.met.RAMBytes
			var p *onnxio.Param
			for _, q := range mm.m.Params() {
				if q.ID == l.ID {
					p = q
				}
			}
			if p == nil {
				return nil, fmt.Errorf("build: layer %s: weight not found", l.ID)
			}
			size, err := tensorPackedBytes(p.Tensor, o.code())
			if err != nil {
				return nil, fmt.Errorf("build: layer %s option %s: packing: %w", l.ID, o, err)
			}
			opt.DeltaFile = size
			if refCalib == nil {
				opt.Damage = weightDamage(origEnergy, mm.m)
			} else {
				v, _, err := p.Float32()
				if err != nil {
					return nil, fmt.Errorf("build: layer %s option %s: %w", l.ID, o, err)
				}
				weights[k], tensors[k] = v, p.Tensor
				if k > 0 && (s.UMeasured || !l.composable(k)) {
					if abn != nil {
						if err := abn.recalibrate(e.ctx, mm.m, l.Name); err != nil {
							return nil, err
						}
					}
					lp.models, lp.idx = append(lp.models, mm.m), append(lp.idx, k)
				}
			}
			gr.Options = append(gr.Options, opt)
		}
		return lp, nil
	}
	// Each layer's options are put in size order once every layer is
	// prepared: a preparation reads the other layers' option lists.
	sorted := make([][]UOption, len(s.ULayers))
	layerPreps := ahead(len(s.ULayers), prepLayer)
	for li := range s.ULayers {
		l := &s.ULayers[li]
		lp, err := layerPreps.next(li)
		if err != nil {
			return err
		}
		gr, models, idx, weights := lp.gr, lp.models, lp.idx, lp.weights
		base := gr.Options[0].DeltaFile
		for k := range gr.Options {
			gr.Options[k].DeltaFile -= base
		}
		if len(models) > 0 {
			got, ok, err := tl.run(l.Cut, models)
			if cerr := e.ctx.Err(); cerr != nil {
				return cerr // interrupted: no fallback to whole models
			}
			if err != nil || !ok {
				logf("      layer %s: running from the cut failed (%v); running whole models", l.ID, err)
				got = nil
				for _, lm := range models {
					sc, err := scores(e.ctx, lm, calib, e.threads)
					if err != nil {
						return err
					}
					got = append(got, sc)
				}
			} else {
				res.CachedNodes += l.Cut * len(models)
			}
			res.TotalNodes += len(orig.Graph().GetNode()) * len(models)
			res.UnstructuredRuns += len(models)
			for i, k := range idx {
				gr.Options[k].Damage, gr.Options[k].TaskDamage = score(got[i])
			}
		}
		if refCalib != nil {
			// The dense options first: a sparse option's dense twin may be composed.
			order := make([]int, len(gr.Options))
			for i := range order {
				order[i] = i
			}
			slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(l.Opts[a].Sparsity, l.Opts[b].Sparsity) })
			for _, k := range order {
				if !l.composable(k) {
					continue
				}
				d, t := l.composed(k, gr.Options, weights)
				if s.UMeasured {
					gr.Options[k].ComposedDamage = d
					cc.add(gr.Options, k, d)
					continue
				}
				gr.Options[k].Damage, gr.Options[k].TaskDamage, gr.Options[k].Priced = d, t, "composed"
				res.UnstructuredComposed++
			}
		}
		// Dense first, then by packed size, largest first.
		idx = make([]int, len(gr.Options))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx[1:], func(a, b int) int { return cmp.Compare(gr.Options[b].DeltaFile, gr.Options[a].DeltaFile) })
		opts, uopts := make([]Option, len(idx)), make([]UOption, len(idx))
		for i, j := range idx {
			opts[i], uopts[i] = gr.Options[j], l.Opts[j]
		}
		sorted[li] = uopts
		for i := range opts {
			opts[i].Unstructured = &uopts[i]
		}
		gr.Options = opts
		res.Groups = append(res.Groups, gr)
		logf("      layer %d/%d %s (%d weights): %d options, damage %s", li+1, len(s.ULayers), l.ID, l.Elems, len(opts), damages(opts))
		if err := e.ctx.Err(); err != nil {
			return err
		}
	}
	for li := range s.ULayers {
		s.ULayers[li].Opts = sorted[li] // the options of res.Groups point into these
	}
	logf("      layers: %d option runs on the calibration data, %d options composed from their twins", res.UnstructuredRuns, res.UnstructuredComposed)
	if s.UMeasured && cc.n > 0 {
		logf("      composed vs measured (%d options that composing would not run): %s", cc.n, &cc)
	}
	return nil
}

// twins returns, for option k of l, the index of its exact twin (the same
// sparsity and pattern, exact) and of its dense twin (dense, the same
// coding), -1 where l has none.
func (l *uLayer) twins(k int) (exact, dense int) {
	o := l.Opts[k]
	exact, dense = -1, -1
	for j, p := range l.Opts {
		if p.Sparsity == o.Sparsity && p.Pattern == o.Pattern && p.CodingName() == "exact" {
			exact = j
		}
		if p.Sparsity == 0 && p.CodingName() == o.CodingName() {
			dense = j
		}
	}
	return exact, dense
}

// codedTwin fills option k's costs without building its model: k is
// composable and not run, its weight is its exact twin's (earlier in
// l.Opts: each sparsity's codings come exact first) coded as codeValues
// codes it, packed alone for the file delta, and its latency and memory
// deltas are the twin's — the engine decodes every coding to float32, so
// the plans differ only where coding turns a value into a zero (fp16
// below 2⁻²⁴), which the sparse kernels' choice does not see.
func (l *uLayer) codedTwin(k int, opt *Option, opts []Option, weights [][]float32, tensors []*onnx.TensorProto) error {
	o := l.Opts[k]
	e := k
	if o.Sparsity == 0 {
		e = 0 // dense fp16: the dense exact weight
	} else {
		e, _ = l.twins(k)
	}
	if e < 0 || e >= k || tensors[e] == nil {
		return fmt.Errorf("build: layer %s option %s: its exact twin was not measured first", l.ID, o)
	}
	c := o.code()
	v := pack.Lossy(weights[e], c.Values, c.Bits)
	t := proto.Clone(tensors[e]).(*onnx.TensorProto)
	if err := onnxio.SetFloat32s(t, v, t.GetDims()); err != nil {
		return fmt.Errorf("build: layer %s option %s: %w", l.ID, o, err)
	}
	size, err := tensorPackedBytes(t, c)
	if err != nil {
		return fmt.Errorf("build: layer %s option %s: packing: %w", l.ID, o, err)
	}
	opt.DeltaFile, opt.DeltaMS, opt.DeltaRAM = size, opts[e].DeltaMS, opts[e].DeltaRAM
	weights[k], tensors[k] = v, t
	return nil
}

// fp16Ref is, for the dense fp16 option, the dense option whose coding
// prices it (the first dense coding other than exact and fp16), -1 when
// there is none.
func (l *uLayer) fp16Ref() int {
	for j, p := range l.Opts {
		if p.Sparsity == 0 && p.CodingName() != "exact" && p.CodingName() != "fp16" {
			return j
		}
	}
	return -1
}

// composable says whether option k of l (before the sort by size) can be
// priced instead of run: it is sparse and coded, and both twins exist; or
// it is the dense weight in fp16 and another coding of the dense weight is
// run (fp16's error, 2⁻¹¹ of each value, is orders of magnitude below a
// codebook's: its damage is then priced from that coding's).
func (l *uLayer) composable(k int) bool {
	o := l.Opts[k]
	if o.CodingName() == "exact" {
		return false
	}
	if o.Sparsity == 0 {
		return o.CodingName() == "fp16" && l.fp16Ref() >= 0
	}
	e, d := l.twins(k)
	return e >= 0 && d >= 0
}

// composed prices composable option k from its twins' damages and the
// weights of each option (weights[j] are option j's values as the model
// holds them, coded): see composeDamage. A sparse option's dense twin may
// itself be composed (dense fp16): it must be priced first.
func (l *uLayer) composed(k int, opts []Option, weights [][]float32) (damage, task float64) {
	if l.Opts[k].Sparsity == 0 { // dense fp16, from the reference coding's damage
		r := l.fp16Ref()
		eOpt, eRef := sqDiff(weights[k], weights[0]), sqDiff(weights[r], weights[0])
		return composeDamage(0, opts[r].Damage, eOpt, eRef), composeDamage(0, opts[r].TaskDamage, eOpt, eRef)
	}
	e, d := l.twins(k)
	eOpt := sqDiff(weights[k], weights[e])
	eDense := sqDiff(weights[d], weights[0])
	return composeDamage(opts[e].Damage, opts[d].Damage, eOpt, eDense), composeDamage(opts[e].TaskDamage, opts[d].TaskDamage, eOpt, eDense)
}

// composeDamage is the damage of a weight both sparsified and coded,
// from the damage dSparse of the sparsified weight (exact) and dCode of
// the dense weight coded: dSparse + dCode·eOpt/eDense, where eOpt is the
// coding's squared error on the sparse weight and eDense on the dense
// one. Coding touches only the nonzeros (pack codes the nonzeros; a
// codebook is fitted to them), so its error on the sparse weight is its
// own, measured in weight space; the scaling takes the damage to be
// proportional to that error (a small perturbation's KL is quadratic in
// it) and the two perturbations to be independent (no cross term). With
// eDense = 0 (the coding is lossless on the dense weight, so on any
// subset of its values) the damage is dSparse.
func composeDamage(dSparse, dCode, eOpt, eDense float64) float64 {
	if eDense == 0 {
		return dSparse
	}
	return dSparse + dCode*eOpt/eDense
}

func sqDiff(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

// compareComposed accumulates, with sensitivity: measured, the composed
// prices beside the measured ones: the relative errors and, per layer, the
// rank correlation of the layer's table with and without them.
type compareComposed struct {
	n       int
	rel     []float64 // |composed − measured| / measured
	rho     []float64 // per layer
	pending []float64 // the current layer's composed prices by option
	layer   []Option
}

func (c *compareComposed) add(opts []Option, k int, composed float64) {
	if c.layer == nil || &c.layer[0] != &opts[0] {
		c.flush()
		c.layer, c.pending = opts, make([]float64, len(opts))
		for i := range opts {
			c.pending[i] = opts[i].Damage
		}
	}
	c.pending[k] = composed
	c.n++
	m := opts[k].Damage
	c.rel = append(c.rel, math.Abs(composed-m)/math.Max(math.Abs(m), 1e-12))
}

func (c *compareComposed) flush() {
	if c.layer == nil {
		return
	}
	measured := make([]float64, len(c.layer))
	for i := range c.layer {
		measured[i] = c.layer[i].Damage
	}
	c.rho = append(c.rho, spearman(measured, c.pending))
	c.layer = nil
}

func (c *compareComposed) String() string {
	c.flush()
	rel := slices.Clone(c.rel)
	slices.Sort(rel)
	rho := slices.Clone(c.rho)
	slices.Sort(rho)
	q := func(x []float64, f float64) float64 { return x[min(len(x)-1, int(f*float64(len(x))))] }
	return fmt.Sprintf("relative error median %.3g, p90 %.3g, max %.3g; rank correlation of a layer's table min %.3f, median %.3f",
		q(rel, 0.5), q(rel, 0.9), rel[len(rel)-1], rho[0], q(rho, 0.5))
}

// spearman is the rank correlation of x and y (ties given their mean rank).
func spearman(x, y []float64) float64 {
	rx, ry := ranks(x), ranks(y)
	var mx, my float64
	for i := range rx {
		mx += rx[i]
		my += ry[i]
	}
	mx /= float64(len(rx))
	my /= float64(len(ry))
	var sxy, sxx, syy float64
	for i := range rx {
		sxy += (rx[i] - mx) * (ry[i] - my)
		sxx += (rx[i] - mx) * (rx[i] - mx)
		syy += (ry[i] - my) * (ry[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return 1
	}
	return sxy / math.Sqrt(sxx*syy)
}

func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(x[a], x[b]) })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// unstructuredLayers fills the sparsity, pattern and coding of each layer
// row from the choice (appending rows for layers the structured plan does
// not list).
func (s *Space) unstructuredLayers(rows []LayerRow, choice []int, m *onnxio.Model) []LayerRow {
	_, uc := s.splitChoice(choice)
	if uc == nil {
		return rows
	}
	params := map[string]*onnxio.Param{}
	for _, p := range m.Params() {
		params[p.ID] = p
	}
	for i, k := range uc {
		l, o := s.ULayers[i], s.ULayers[i].Opts[k]
		j := slices.IndexFunc(rows, func(r LayerRow) bool { return r.Node == l.Node })
		if j < 0 {
			rows = append(rows, LayerRow{Node: l.Node, Op: l.Op, Params: int64(l.Elems)})
			j = len(rows) - 1
		}
		rows[j].Pattern, rows[j].Coding = o.Pattern, o.CodingName()
		if p := params[l.ID]; p != nil {
			if n, nz := p.NumElements(), p.Nonzeros(); n > 0 && nz >= 0 {
				rows[j].Sparsity = float64(n-nz) / float64(n)
			}
		}
	}
	return rows
}

// packedFiles switches the file metric to the exact package size for the
// solver (Space.PackFiles) and re-evaluates the original. The structured
// options' file deltas, measured on model.onnx, are scaled by the
// original's package/onnx ratio so that all deltas are in package bytes.
func (e *evaluator) packedFiles(dense *evaluated, res *Result) (*evaluated, error) {
	onnxBytes := dense.met.FileBytes
	e.space.PackFiles = true
	d, err := e.metricsModel(dense.choice)
	if err != nil {
		return nil, err
	}
	ratio := float64(d.met.FileBytes) / float64(max(onnxBytes, 1))
	for g := range res.Groups {
		if res.Groups[g].Kind != "" {
			continue
		}
		for k := range res.Groups[g].Options {
			o := &res.Groups[g].Options[k]
			o.DeltaFile = int64(float64(o.DeltaFile) * ratio)
		}
	}
	return d, nil
}

// logUnstructured prints the unstructured choice of each layer that has
// one (the terminal's per-layer table).
func logUnstructured(rows []LayerRow, logf func(string, ...any)) {
	head := false
	for _, r := range rows {
		if r.Coding == "" {
			continue
		}
		if !head {
			logf("      %-28s %8s %-10s %-11s %10s", "layer", "sparsity", "pattern", "coding", "params")
			head = true
		}
		pat := r.Pattern
		if pat == "" {
			pat = "–"
		}
		logf("      %-28s %7.1f%% %-10s %-11s %10d", r.Node, 100*r.Sparsity, pat, r.Coding, r.Params)
	}
}

// onnxFileBytes sets the file sizes of before and after back to model.onnx
// bytes once the package is written (the solver saw package sizes: see
// unstructuredMetrics); the package's size is After.PackedBytes.
func (s *Space) onnxFileBytes(before, after *Metrics, orig, built *onnxio.Model) error {
	if !s.PackFiles {
		return nil
	}
	for _, x := range []struct {
		met *Metrics
		m   *onnxio.Model
	}{{before, orig}, {after, built}} {
		data, err := x.m.Marshal()
		if err != nil {
			return err
		}
		x.met.FileBytes = int64(len(data))
	}
	before.PackedBytes = 0
	return nil
}
