package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorgonia.org/tensor"
)

// NodeTimes runs p on inputs warmup times, then runs times with a clock
// around every node, and returns for each node of Report().Nodes (same
// order) its time at quantile q of the runs (0 the fastest, 0.5 the
// median), and the same quantile of the whole run's time. An If
// node's time includes its branch; the branch's own nodes get 0.
//
// It is the measuring side of the cost model (profile.Calibrate): the
// clock reads add about 50 ns per node.
func (p *Program) NodeTimes(ctx context.Context, inputs map[string]*tensor.Dense, warmup, runs int, q float64) (nodes []time.Duration, total time.Duration, err error) {
	if runs < 1 || !(q >= 0 && q <= 1) {
		return nil, 0, fmt.Errorf("engine: NodeTimes: runs %d, quantile %v", runs, q)
	}
	for i := 0; i < warmup; i++ {
		if _, err := p.Run(ctx, inputs); err != nil {
			return nil, 0, err
		}
	}
	// Bind inputs once through Run's path, then time the programs.
	w := p.newWorkspace()
	for _, id := range p.inputs {
		v := p.values[id]
		t, ok := inputs[v.name]
		if !ok || t == nil {
			return nil, 0, fmt.Errorf("%w: input %q missing", ErrInput, v.name)
		}
		d, err := fromDense(v, t)
		if err != nil {
			return nil, 0, err
		}
		w.vals[id].f, w.vals[id].i = d.f, d.i
	}
	for _, id := range p.aliasOfInputs {
		r := w.vals[p.values[id].alias]
		w.vals[id].f, w.vals[id].i = r.f, r.i
	}
	samples := make([][]time.Duration, p.nsteps)
	totals := make([]time.Duration, runs)
	x := &exec{threads: p.threads, scratch: w.scratch}
	for r := 0; r < runs; r++ {
		t0 := time.Now()
		for i := range p.main.steps {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			s := &p.main.steps[i]
			a := w.args[s.id]
			x.threads = s.threads
			ts := time.Now()
			if s.sub != nil {
				if err := s.k.(*ifKernel).run(ctx, w, x, a[0], a[1]); err != nil {
					return nil, 0, err
				}
			} else {
				s.k.forward(x, a[0], a[1])
			}
			samples[s.id] = append(samples[s.id], time.Since(ts))
		}
		totals[r] = time.Since(t0)
	}
	nodes = make([]time.Duration, p.nsteps)
	for i, s := range samples {
		if len(s) > 0 {
			slices.Sort(s)
			nodes[i] = s[int(q*float64(len(s)-1)+0.5)]
		}
	}
	slices.Sort(totals)
	return nodes, totals[int(q*float64(runs-1)+0.5)], nil
}
