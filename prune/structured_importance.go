package prune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// GroupImportance scores the units of a dependency group: units with lower
// scores are pruned first. It sees every coupled parameter slice of the
// group (Group.Coupled), so a score from gradients or activations (Taylor,
// Hessian) plugs in beside the norms without touching the selection.
type GroupImportance interface {
	// Name identifies the criterion in plans and on the command line.
	Name() string
	// Scores sets dst[u] to the score of unit u of g, len(dst) == g.Units.
	// It returns a non-empty why when it cannot score g (the group is then
	// left whole and the report says why); err is for failures.
	Scores(dst []float64, g *Group) (why string, err error)
}

// GroupNorm scores a unit by the p-norm of the element scores of Imp over
// every coupled weight and scale slice of the unit — the producers' output
// slices, the consumers' input slices, BatchNormalization scales — as
// Torch-Pruning's GroupMagnitudeImportance does: (Σ sᵖ)^(1/p), p =
// Imp.GroupNorm(). Imp.Score is called with a nil *Target.
type GroupNorm struct{ Imp Importance }

// Name is the element importance's name ("l1", "l2").
func (n GroupNorm) Name() string { return n.Imp.Name() }

// Scores implements GroupImportance.
func (n GroupNorm) Scores(dst []float64, g *Group) (string, error) {
	clear(dst)
	p := n.Imp.GroupNorm()
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
		inner := int(prod(toInts(shape[c.Axis+1:])))
		dim := int(shape[c.Axis])
		for off := 0; off < len(w); off += len(buf) {
			m := min(len(buf), len(w)-off)
			n.Imp.Score(buf[:m], w[off:off+m], nil, off)
			for i, s := range buf[:m] {
				ch := ((off + i) / inner) % dim
				u := g.UnitOf(c.Space, ch)
				if p == 2 {
					dst[u] += float64(s) * float64(s)
				} else {
					dst[u] += float64(s)
				}
			}
		}
	}
	if p == 2 {
		for i, v := range dst {
			dst[i] = math.Sqrt(v)
		}
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
func (BNScale) Scores(dst []float64, g *Group) (string, error) {
	clear(dst)
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
			dst[g.UnitOf(c.Space, ch)] += math.Abs(float64(v))
		}
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
func (r Random) Scores(dst []float64, g *Group) (string, error) {
	rng := rand.New(rand.NewPCG(r.Seed, uint64(g.ID)))
	for i := range dst {
		dst[i] = rng.Float64()
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
