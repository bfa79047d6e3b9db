package prune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// GroupImportance scores the units of a dependency group: units with lower
// scores are pruned first. It is the structured member of the one
// importance family: scores are float32, as Importance's are, and the
// usual way to write one is an Importance lifted by GroupNorm.
//
// A criterion that needs calibration data fits either way. Per-weight
// scores (Taylor |w·∂L/∂w|, SNIP, OBD's ½·h·w², Wanda's |w|·‖x‖) are an
// Importance whose Score looks its data up by t.Param (the same Target
// identity unstructured pruning passes) and GroupNorm sums them over every
// coupled slice. Per-channel scores (activation statistics, a BN-like
// gate) implement GroupImportance directly, reading Group.Coupled (each
// slice's Param, Node, Axis and Space) and mapping channels to units with
// Group.UnitOf. The data are gathered before Plan (the criterion holds
// them); scoring does not run the model.
type GroupImportance interface {
	// Name identifies the criterion in plans and on the command line.
	Name() string
	// Scores sets dst[u] to the score of unit u of g, len(dst) == g.Units.
	// It returns a non-empty why when it cannot score g (the group is then
	// left whole and the report says why); err is for failures.
	Scores(dst []float32, g *Group) (why string, err error)
}

// GroupNorm scores a unit by the p-norm of the element scores of Imp over
// every coupled weight and scale slice of the unit — the producers' output
// slices, the consumers' input slices, BatchNormalization scales — as
// Torch-Pruning's GroupMagnitudeImportance does: (Σ sᵖ)^(1/p), p =
// Imp.Norm(), summed in float64. Imp.Score sees the coupled parameter as
// its Target (Param, Op, Node, Shape; the axes -1).
type GroupNorm struct{ Imp Importance }

// Name is the element importance's name ("l1", "l2").
func (n GroupNorm) Name() string { return n.Imp.Name() }

// Scores implements GroupImportance.
func (n GroupNorm) Scores(dst []float32, g *Group) (string, error) {
	acc := make([]float64, len(dst))
	p := n.Imp.Norm()
	buf := make([]float32, chunkElems)
	for _, c := range g.Coupled {
		if c.Kind != KindWeight && c.Kind != KindScale {
			continue
		}
		w, _, err := c.Param.Float32()
		if err != nil {
			return "", err
		}
		shape := c.Param.Shape()
		t := &Target{Param: c.Param, Op: c.Op, Node: c.Node, Shape: shape, OutAxis: -1, InAxis: -1}
		inner := int(prod(toInts(shape[c.Axis+1:])))
		dim := int(shape[c.Axis])
		for off := 0; off < len(w); off += len(buf) {
			m := min(len(buf), len(w)-off)
			n.Imp.Score(buf[:m], w[off:off+m], t, off)
			for i, s := range buf[:m] {
				ch := ((off + i) / inner) % dim
				u := g.UnitOf(c.Space, ch)
				if p == 2 {
					acc[u] += float64(s) * float64(s)
				} else {
					acc[u] += float64(s)
				}
			}
		}
	}
	for i, v := range acc {
		if p == 2 {
			v = math.Sqrt(v)
		}
		dst[i] = float32(v)
	}
	return "", nil
}

// BNScale scores a unit by the sum of |γ| of the BatchNormalization scales
// coupled to it (Network Slimming, Liu et al. 2017). Groups without a
// BatchNormalization are not scored.
type BNScale struct{}

// Name is "bn".
func (BNScale) Name() string { return "bn" }

// Scores implements GroupImportance.
func (BNScale) Scores(dst []float32, g *Group) (string, error) {
	acc := make([]float64, len(dst))
	found := false
	for _, c := range g.Coupled {
		if c.Kind != KindScale || c.Op != "BatchNormalization" {
			continue
		}
		w, _, err := c.Param.Float32()
		if err != nil {
			return "", err
		}
		found = true
		for ch, v := range w {
			acc[g.UnitOf(c.Space, ch)] += math.Abs(float64(v))
		}
	}
	for i, v := range acc {
		dst[i] = float32(v)
	}
	if !found {
		return "criterion bn: no BatchNormalization in the group (BatchNorm folded into the Conv by the exporter?)", nil
	}
	return "", nil
}

// Random scores units uniformly at random from Seed and the group ID: the
// baseline every criterion must beat.
type Random struct{ Seed uint64 }

// Name is "random".
func (Random) Name() string { return "random" }

// Scores implements GroupImportance.
func (r Random) Scores(dst []float32, g *Group) (string, error) {
	rng := rand.New(rand.NewPCG(r.Seed, uint64(g.ID)))
	for i := range dst {
		dst[i] = float32(rng.Float64())
	}
	return "", nil
}

// GroupImportanceByName returns the built-in criterion: "l1", "l2", "bn",
// "random" (seeded with seed).
func GroupImportanceByName(name string, seed uint64) (GroupImportance, error) {
	switch strings.ToLower(name) {
	case "l1", "magnitude", "":
		return GroupNorm{Magnitude{}}, nil
	case "l2":
		return GroupNorm{L2{}}, nil
	case "bn":
		return BNScale{}, nil
	case "random":
		return Random{Seed: seed}, nil
	}
	return nil, fmt.Errorf("%w: criterion %q: want l1, l2, bn or random", ErrInvalid, name)
}
