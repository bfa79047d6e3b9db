package build

import (
	"math"
	"slices"
)

// The joint knapsack of structured and unstructured options (issue 11:
// one multiple-choice knapsack minimising damage under the budgets).
//
// Each unstructured layer is attached to the structured group that thins
// its weight the most (its output channels' group, usually); layers no
// group thins stand alone. An attached group's options are then the
// products (keep level l) × (one option per attached layer): damage
//
//	D_g(l) + Σ_j D_j(k_j)
//
// (the sensitivity tables, additive as they are), costs
//
//	C_g(l) + Σ_j f_gj(l) · C_j(k_j)
//
// with f_gj(l) the fraction of layer j's weights that level l keeps. The
// scaling is what makes one knapsack price both kinds: thinning a layer
// whose tensor an option already shrank to C_j saves f·C_j less than
// thinning it dense, and the product's cost counts that once (a layer of
// dense bytes B at level l and option k costs f·(B + ΔC_k) = f·B_k, not
// f·B + ΔC_k). For a multiplier vector w the Lagrangian picks, per
// group and level, each attached layer's best option independently (its
// cost given l is fixed), then the best level: the product space is
// searched exactly without listing it. The thinning of a layer by a group
// it is not attached to (its input channels' group) is not scaled: that
// error and the packer's are what the solver's exact checks correct.

// jointKnapsack is the knapsack over groups: the structured ones (Kind "")
// first, as many as the space has, then one per unstructured layer in the
// space's order (the choice's layout). frac is evaluator.frac.
func jointKnapsack(groups []GroupResult, frac [][][]float64) knapsack {
	nG := 0
	for nG < len(groups) && groups[nG].Kind == "" {
		nG++
	}
	nU := len(groups) - nG
	f := func(g, l, j int) float64 {
		if g < len(frac) && l < len(frac[g]) && j < len(frac[g][l]) {
			return frac[g][l][j]
		}
		return 1
	}
	// Attach each layer to the group whose smallest level thins it most.
	owner := make([]int, nU)
	att := make([][]int, nG)
	for j := range nU {
		owner[j] = -1
		least := 1 - 1e-9
		for g := range nG {
			if x := f(g, len(groups[g].Options)-1, j); x < least {
				owner[j], least = g, x
			}
		}
		if owner[j] >= 0 {
			att[owner[j]] = append(att[owner[j]], j)
		}
	}
	scost := func(o Option) [4]float64 {
		return [4]float64{o.DeltaMS, float64(o.DeltaRAM), float64(o.DeltaRAM), float64(o.DeltaFile)}
	}
	ucost := func(o Option) [4]float64 { // an unstructured option leaves the activations alone
		return [4]float64{o.DeltaMS, float64(o.DeltaRAM), 0, float64(o.DeltaFile)}
	}
	// scale is the fraction of layer j's weights the choice keeps (by its owner).
	scale := func(choice []int, j int) float64 {
		if g := owner[j]; g >= 0 {
			return f(g, choice[g], j)
		}
		return 1
	}
	// bestOption is layer j's option minimising damage + w·(s·cost).
	bestOption := func(j int, s float64, w [4]float64) (int, float64) {
		bestK, bestV := 0, math.Inf(1)
		for k, o := range groups[nG+j].Options {
			if v := o.Damage + s*dot(w, ucost(o)); v < bestV-1e-15 {
				bestK, bestV = k, v
			}
		}
		return bestK, bestV
	}
	return knapsack{
		pick: func(w [4]float64) []int {
			choice := make([]int, len(groups))
			for g := range nG {
				bestL, bestV := 0, math.Inf(1)
				for l, o := range groups[g].Options {
					v := o.Damage + dot(w, scost(o))
					for _, j := range att[g] {
						_, bv := bestOption(j, f(g, l, j), w)
						v += bv
					}
					if v < bestV-1e-15 {
						bestL, bestV = l, v
					}
				}
				choice[g] = bestL
				for _, j := range att[g] {
					choice[nG+j], _ = bestOption(j, f(g, bestL, j), w)
				}
			}
			for j := range nU {
				if owner[j] < 0 {
					choice[nG+j], _ = bestOption(j, 1, w)
				}
			}
			return choice
		},
		sum: func(choice []int) (float64, [4]float64) {
			var d float64
			var sum [4]float64
			for g := range nG {
				o := groups[g].Options[choice[g]]
				d += o.Damage
				sum = add(sum, scost(o), 1)
			}
			for j := range nU {
				o := groups[nG+j].Options[choice[nG+j]]
				d += o.Damage
				sum = add(sum, ucost(o), scale(choice, j))
			}
			return d, sum
		},
		moves: stepMoves(groups),
	}
}

// knapsackOf is the knapsack of groups: joint when some are unstructured
// layers, plain otherwise.
func (e *evaluator) knapsackOf(groups []GroupResult) knapsack {
	if slices.ContainsFunc(groups, func(g GroupResult) bool { return g.Kind == "unstructured" }) {
		return jointKnapsack(groups, e.frac)
	}
	return plainKnapsack(groups)
}

// recordFrac notes, for the model of group g at level l (the other groups
// dense), the fraction of each unstructured layer's weights it keeps.
func (e *evaluator) recordFrac(g, l int, ev *evaluated) {
	s := e.space
	if len(s.ULayers) == 0 {
		return
	}
	for len(e.frac) <= g {
		e.frac = append(e.frac, nil)
	}
	for len(e.frac[g]) <= l {
		e.frac[g] = append(e.frac[g], nil)
	}
	held := map[string]int64{}
	if ev != nil {
		for _, p := range ev.m.Params() {
			held[p.ID] = p.NumElements()
		}
	}
	row := make([]float64, len(s.ULayers))
	for j, u := range s.ULayers {
		row[j] = 1
		if n, ok := held[u.ID]; ok && ev != nil {
			row[j] = float64(n) / float64(max(u.Elems, 1))
		} else if ev == nil && l > 0 && e.frac[g][l-1] != nil {
			row[j] = e.frac[g][l-1][j] // a level keeping the same channels as the one before
		}
	}
	e.frac[g][l] = row
}
