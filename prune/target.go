package prune

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// DefaultOpTypes are the ops whose weights are prunable by default.
var DefaultOpTypes = []string{"Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU"}

// maxPassThrough bounds how many Cast/Identity nodes are followed from a
// parameter to the op that uses it as a weight.
const maxPassThrough = 4

// Target is one parameter the pruner may prune: a floating-point weight of
// rank ≥ 2 that every node reading it (directly, or through Cast and
// Identity) uses as the weight input of one of the selected op types.
type Target struct {
	Param *onnxio.Param
	// Op and Node are the op type and name of the first node using the
	// parameter as a weight.
	Op, Node string
	Shape    []int64
	// OutAxis and InAxis are the output-channel and input-channel
	// (reduction) axes of the weight, or -1 when the uses disagree.
	OutAxis, InAxis int

	nodes  []string // every node reading it, for --include/--exclude
	ops    []string // op types using it as a weight
	uses   []use    // the nodes using it as a weight, and the input slot
	values []float32
	view   bool // values share memory with the model
}

// ID is the parameter's ID (see onnxio.Param).
func (t *Target) ID() string { return t.Param.ID }

// NumElements is the number of elements.
func (t *Target) NumElements() int { return int(t.Param.NumElements()) }

// Values returns the weights as float32: a view of the model's data for
// float32 tensors, a copy for float16, bfloat16 and float64 ones (written
// back by Apply).
func (t *Target) Values() ([]float32, error) {
	if t.values == nil {
		v, view, err := t.Param.Float32()
		if err != nil {
			return nil, err
		}
		t.values, t.view = v, view
	}
	return t.values, nil
}

// store writes copied values back into the model, then drops them.
func (t *Target) store() error {
	if t.values == nil || t.view {
		return nil
	}
	err := t.Param.SetFloat32(t.values, t.Param.Shape())
	t.values = nil
	return err
}

// Selection narrows the default prunable set. Its zero value selects every
// weight of DefaultOpTypes.
type Selection struct {
	// OpTypes are the op types whose weights are pruned (default
	// DefaultOpTypes; others are refused).
	OpTypes []string
	// Include keeps only parameters whose ID, or the name of a node
	// reading them, matches one of the expressions.
	Include []*regexp.Regexp
	// Exclude drops parameters whose ID or a node name matches one.
	Exclude []*regexp.Regexp
}

func (s Selection) validate() error {
	for _, op := range s.OpTypes {
		if !slices.Contains(DefaultOpTypes, op) {
			return fmt.Errorf("%w: op type %q cannot be pruned: choose among %s", ErrInvalid, op, strings.Join(DefaultOpTypes, ", "))
		}
	}
	return nil
}

// Candidate is a parameter as the pruner sees it: a Target, or why not.
type Candidate struct {
	Target *Target // nil when not prunable
	Param  *onnxio.Param
	Reason string // why not prunable ("" for targets)
}

// Candidates lists every parameter of m in model order, each with its
// Target or the reason it is not prunable by default (any op type of
// DefaultOpTypes; no include/exclude).
func Candidates(m *onnxio.Model) []Candidate {
	params := m.Params()
	parents := nodeGraphs(m.Graph())
	out := make([]Candidate, 0, len(params))
	for _, p := range params {
		t, reason := analyze(p, parents)
		out = append(out, Candidate{Target: t, Param: p, Reason: reason})
	}
	return out
}

// Targets returns the parameters of m to prune under s, in model order. An
// include or exclude expression that matches no prunable parameter, or op
// types that leave none, give an error wrapping ErrNoMatch.
func Targets(m *onnxio.Model, s Selection) ([]*Target, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	ops := s.OpTypes
	if len(ops) == 0 {
		ops = DefaultOpTypes
	}
	cands := Candidates(m)
	var all []*Target
	for _, c := range cands {
		if c.Target != nil && c.Target.onlyOps(ops) {
			all = append(all, c.Target)
		}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: the model has no float weight of rank ≥ 2 used by %s", ErrNoMatch, strings.Join(ops, ", "))
	}
	for _, re := range append(slices.Clone(s.Include), s.Exclude...) {
		if !slices.ContainsFunc(all, func(t *Target) bool { return t.matches(re) }) {
			return nil, noMatch(re, cands)
		}
	}
	var out []*Target
	for _, t := range all {
		if len(s.Include) > 0 && !slices.ContainsFunc(s.Include, t.matches) {
			continue
		}
		if slices.ContainsFunc(s.Exclude, t.matches) {
			continue
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --include and --exclude together leave no parameter", ErrNoMatch)
	}
	return out, nil
}

// noMatch explains an expression that matches no prunable parameter.
func noMatch(re *regexp.Regexp, cands []Candidate) error {
	for _, c := range cands {
		if re.MatchString(c.Param.ID) && c.Target == nil {
			return fmt.Errorf("%w: %q matches %s, which is not prunable (%s); match parameter IDs or node names of weights",
				ErrNoMatch, re, c.Param.ID, c.Reason)
		}
	}
	return fmt.Errorf("%w: %q matches no parameter ID or node name; see `edgeprune inspect` for the IDs", ErrNoMatch, re)
}

func (t *Target) matches(re *regexp.Regexp) bool {
	return re.MatchString(t.Param.ID) || slices.ContainsFunc(t.nodes, re.MatchString)
}

// onlyOps reports whether every op using t as a weight is in ops.
func (t *Target) onlyOps(ops []string) bool {
	for _, op := range t.ops {
		if !slices.Contains(ops, op) {
			return false
		}
	}
	return true
}

// use is a node input reading a value.
type use struct {
	node *onnx.NodeProto
	slot int
}

// analyze returns p's Target, or why p is not prunable.
func analyze(p *onnxio.Param, parents map[*onnx.NodeProto]*onnx.GraphProto) (*Target, string) {
	if !p.DataType().IsFloat() {
		return nil, "data type " + p.DataType().String()
	}
	shape := p.Shape()
	if len(shape) < 2 {
		return nil, fmt.Sprintf("rank %d: biases and scales are not pruned", len(shape))
	}
	if p.NumElements() == 0 {
		return nil, "empty"
	}
	var uses []use
	var names []string
	for _, u := range p.Uses {
		names = append(names, u.Node.GetName())
		uses = append(uses, finalUses(use{u.Node, u.Input}, parents, 0, &names)...)
	}
	if len(uses) == 0 {
		return nil, "not used as a weight"
	}
	t := &Target{Param: p, Shape: shape, OutAxis: -1, InAxis: -1, nodes: names, uses: uses}
	for i, u := range uses {
		out, in, why := weightAxes(u.node, u.slot, len(shape))
		if why != "" {
			return nil, why
		}
		if i == 0 {
			t.Op, t.Node, t.OutAxis, t.InAxis = u.node.GetOpType(), u.node.GetName(), out, in
			t.ops = []string{t.Op}
			continue
		}
		if !slices.Contains(t.ops, u.node.GetOpType()) {
			t.ops = append(t.ops, u.node.GetOpType())
		}
		if out != t.OutAxis || in != t.InAxis {
			t.OutAxis, t.InAxis = -1, -1
		}
	}
	return t, ""
}

// finalUses follows u through Cast and Identity nodes to the nodes that use
// the value, appending the names of the nodes passed to names.
func finalUses(u use, parents map[*onnx.NodeProto]*onnx.GraphProto, depth int, names *[]string) []use {
	op := u.node.GetOpType()
	if (op != "Cast" && op != "Identity") || !isDefaultDomain(u.node) || len(u.node.GetOutput()) != 1 {
		return []use{u}
	}
	if depth >= maxPassThrough {
		return []use{u} // refused by weightAxes
	}
	if op == "Cast" && !castsToFloat(u.node) {
		return []use{u}
	}
	var out []use
	for _, c := range consumers(parents[u.node], u.node.GetOutput()[0], 0) {
		*names = append(*names, c.node.GetName())
		out = append(out, finalUses(c, parents, depth+1, names)...)
	}
	return out
}

// castsToFloat reports whether a Cast node's target type is a float type.
func castsToFloat(n *onnx.NodeProto) bool {
	for _, a := range n.GetAttribute() {
		if a.GetName() == "to" {
			return onnxio.DataType(a.GetI()).IsFloat()
		}
	}
	return false
}

func isDefaultDomain(n *onnx.NodeProto) bool {
	return n.GetDomain() == "" || n.GetDomain() == "ai.onnx"
}

// consumers lists the node inputs reading name in g and in the subgraphs
// of g's nodes that do not define name themselves.
func consumers(g *onnx.GraphProto, name string, depth int) []use {
	if g == nil || depth > 64 {
		return nil
	}
	var out []use
	for _, n := range g.GetNode() {
		for slot, in := range n.GetInput() {
			if in == name {
				out = append(out, use{n, slot})
			}
		}
		for _, sg := range onnxio.Subgraphs(n) {
			if !onnxio.Defined(sg)[name] {
				out = append(out, consumers(sg, name, depth+1)...)
			}
		}
	}
	return out
}

// nodeGraphs maps every node of g and its subgraphs to the graph holding it.
func nodeGraphs(g *onnx.GraphProto) map[*onnx.NodeProto]*onnx.GraphProto {
	m := map[*onnx.NodeProto]*onnx.GraphProto{}
	var walk func(g *onnx.GraphProto, depth int)
	walk = func(g *onnx.GraphProto, depth int) {
		if g == nil || depth > 1<<10 {
			return
		}
		for _, n := range g.GetNode() {
			m[n] = g
			for _, sg := range onnxio.Subgraphs(n) {
				walk(sg, depth+1)
			}
		}
	}
	walk(g, 0)
	return m
}

// weightAxes returns the output- and input-channel axes of a weight of the
// given rank read by input slot of n, or why n does not use it as a
// prunable weight.
func weightAxes(n *onnx.NodeProto, slot, rank int) (out, in int, why string) {
	op := n.GetOpType()
	if !isDefaultDomain(n) {
		return 0, 0, fmt.Sprintf("read by %s of domain %s", op, n.GetDomain())
	}
	not := func(role string) (int, int, string) {
		return 0, 0, fmt.Sprintf("input %d of %s %q is its %s, not a weight", slot, op, n.GetName(), role)
	}
	switch op {
	case "Conv":
		if slot == 1 && rank >= 3 {
			return 0, 1, ""
		}
		if slot == 2 {
			return not("bias")
		}
	case "ConvTranspose":
		if slot == 1 && rank >= 3 {
			return 1, 0, ""
		}
		if slot == 2 {
			return not("bias")
		}
	case "Gemm":
		if rank != 2 {
			break
		}
		switch slot {
		case 0: // A [M,K], or [K,M] with transA
			if intAttr(n, "transA") != 0 {
				return 1, 0, ""
			}
			return 0, 1, ""
		case 1: // B [K,N], or [N,K] with transB
			if intAttr(n, "transB") != 0 {
				return 0, 1, ""
			}
			return 1, 0, ""
		case 2:
			return not("bias")
		}
	case "LSTM", "GRU":
		if w, why := rnnWeightAxes(n, slot, rank); why != "" || w {
			return 1, 2, why
		}
	case "MatMul":
		switch slot {
		case 0: // [.., M, K]
			return rank - 2, rank - 1, ""
		case 1: // [.., K, N]
			return rank - 1, rank - 2, ""
		}
	}
	return 0, 0, fmt.Sprintf("read by %s %q (input %d), whose weights are not pruned", op, n.GetName(), slot)
}

func intAttr(n *onnx.NodeProto, name string) int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return 0
}
