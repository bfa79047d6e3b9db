package build

import (
	"maps"
	"strings"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/profile"
	"github.com/edgeprune/edgeprune/prune"
)

// The sparse class of the cost model (profile.Sparse: a Conv, Gemm or
// MatMul the engine runs on its sparse kernels) is fitted by calibrate
// from sparse variants: every weight layer magnitude-pruned at a random
// 75–97% on top of a random structured choice, so that the engine's own
// per-layer cost model runs some of them sparse. Only their sparse nodes
// are fitted on (the dense nodes and whole runs are the dense variants');
// held-out sparse variants validate the whole-run prediction with the
// fitted class against the same coefficients with the class at its
// default (profile.DefaultOps: a fixed efficiency).

// SparseValidation compares the fitted sparse class with the default on
// the held-out sparse variants.
type SparseValidation struct {
	FitVariants int `json:"fit_variants"`
	// FitNodes are the sparse-node timings fitted on (0: no variant ran a
	// node sparse, and the class keeps its default).
	FitNodes int `json:"fit_nodes"`
	// Fitted and Default: the whole runs' prediction error.
	Fitted  profile.ErrorStats `json:"fitted"`
	Default profile.ErrorStats `json:"default"`
	// NodesFitted and NodesDefault: the sparse nodes' summed time.
	NodesFitted  profile.ErrorStats `json:"nodes_fitted"`
	NodesDefault profile.ErrorStats `json:"nodes_default"`
	Points       []SparsePoint      `json:"points"`
}

// SparsePoint is one held-out sparse variant.
type SparsePoint struct {
	Model            string  `json:"model"`
	Sparsity         float64 `json:"sparsity"`
	SparseNodes      int     `json:"sparse_nodes"`
	Measured         float64 `json:"measured_ms"`
	Predicted        float64 `json:"predicted_ms"`
	PredictedDefault float64 `json:"predicted_default_ms"`
	// The sparse nodes alone: measured, predicted fitted and default.
	SparseMS               float64 `json:"sparse_ms"`
	SparsePredicted        float64 `json:"sparse_predicted_ms"`
	SparsePredictedDefault float64 `json:"sparse_predicted_default_ms"`
}

// sparsify zeroes the smallest |w| of every weight layer of m at sparsity
// (element pattern, each layer on its own).
func sparsify(m *onnxio.Model, sparsity float64) error {
	pr, err := prune.New(prune.WithSparsity(sparsity), prune.WithScope(prune.Layer))
	if err != nil {
		return err
	}
	_, err = pr.Prune(m)
	return err
}

// defaultSparse is co with the sparse class (and its per-op keys) back
// at the default.
func defaultSparse(co *profile.Coeffs) *profile.Coeffs {
	d := *co
	d.Ops = maps.Clone(co.Ops)
	for k := range d.Ops {
		if k == string(profile.Sparse) || strings.HasPrefix(k, string(profile.Sparse)+"/") {
			delete(d.Ops, k)
		}
	}
	d.Ops[string(profile.Sparse)] = profile.DefaultOps()[string(profile.Sparse)]
	return &d
}

// validateSparse predicts t's held-out sparse variants with co and with
// co's sparse class at its default (nil when t has no sparse variants).
func validateSparse(co *profile.Coeffs, t *Timings, q float64) *SparseValidation {
	v := &SparseValidation{}
	def := defaultSparse(co)
	var meas, fit, dflt, nMeas, nFit, nDflt []float64
	any := false
	for _, mt := range t.Models {
		for _, pt := range mt.Plans {
			switch pt.Kind {
			case PlanSparseFit:
				any = true
				v.FitVariants++
				for _, n := range pt.Nodes {
					if n.MS > 0 && n.Class == profile.Sparse {
						v.FitNodes++
					}
				}
				continue
			case PlanSparseValidate:
				any = true
			default:
				continue
			}
			var sp []profile.NodeSample
			p := SparsePoint{Model: mt.Model, Sparsity: pt.Sparsity, Measured: pt.Run.Quantile(q)}
			for _, n := range pt.Nodes {
				if n.Class == profile.Sparse {
					sp = append(sp, n)
					p.SparseMS += n.MS
				}
			}
			p.SparseNodes = len(sp)
			outs := profile.OutElems(pt.Nodes)
			nodes, nodesDef := profile.PredictNodes(co, pt.Nodes), profile.PredictNodes(def, pt.Nodes)
			p.Predicted = co.PredictRun(nodes, len(pt.Nodes), outs)
			p.PredictedDefault = co.PredictRun(nodesDef, len(pt.Nodes), outs)
			p.SparsePredicted, p.SparsePredictedDefault = profile.PredictNodes(co, sp), profile.PredictNodes(def, sp)
			v.Points = append(v.Points, p)
			meas, fit, dflt = append(meas, p.Measured), append(fit, p.Predicted), append(dflt, p.PredictedDefault)
			if p.SparseMS > 0 {
				nMeas, nFit, nDflt = append(nMeas, p.SparseMS), append(nFit, p.SparsePredicted), append(nDflt, p.SparsePredictedDefault)
			}
		}
	}
	if !any {
		return nil
	}
	v.Fitted, v.Default = profile.Stats(fit, meas), profile.Stats(dflt, meas)
	v.NodesFitted, v.NodesDefault = profile.Stats(nFit, nMeas), profile.Stats(nDflt, nMeas)
	return v
}
