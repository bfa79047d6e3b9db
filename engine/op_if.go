package engine

import (
	"context"
	"fmt"
)

// ifKernel runs one of two compiled branches, as the boolean condition
// says, and copies the branch's outputs into the node's outputs. A condition
// known at compile time compiles only the branch taken.
type ifKernel struct {
	then, els *program // nil when not compiled
	fixed     int      // -1: decided at run time; 1: then; 0: else
}

func buildIf(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	cond := b.in[0]
	if numel(cond.shape) != 1 {
		return nil, invalid("If condition has shape %v", cond.shape)
	}
	k := &ifKernel{fixed: -1}
	if cond.konst != nil {
		if cond.isInt() {
			k.fixed = int(b2i(cond.konst.i[0] != 0))
		} else {
			k.fixed = int(b2i(cond.konst.f[0] != 0))
		}
	}
	var outs []outSpec
	for _, br := range []struct {
		attr string
		dst  **program
		take int
	}{{"then_branch", &k.then, 1}, {"else_branch", &k.els, 0}} {
		if k.fixed >= 0 && k.fixed != br.take {
			continue
		}
		a, ok := b.attrs[br.attr]
		if !ok || a.GetG() == nil {
			return nil, invalid("If without %s", br.attr)
		}
		prog, err := b.c.compileSub(a.GetG(), b.scope)
		if err != nil {
			return nil, err
		}
		if len(prog.outputs) != b.nOut {
			return nil, invalid("%s has %d outputs, the node %d", br.attr, len(prog.outputs), b.nOut)
		}
		var specs []outSpec
		for _, id := range prog.outputs {
			v := b.c.values[id]
			specs = append(specs, outSpec{v.dt, v.shape})
		}
		if outs == nil {
			outs = specs
		} else {
			for i := range outs {
				if outs[i].dt != specs[i].dt || !sameShape(outs[i].shape, specs[i].shape) {
					return nil, notImpl("If branches give output %d different types or shapes (%v %v, %v %v)",
						i, outs[i].dt, outs[i].shape, specs[i].dt, specs[i].shape)
				}
			}
		}
		*br.dst = prog
	}
	bt := &built{k: k, out: outs, alias: -1}
	if k.then != nil {
		bt.sub = append(bt.sub, k.then)
	}
	if k.els != nil {
		bt.sub = append(bt.sub, k.els)
	}
	return bt, nil
}

func (k *ifKernel) forward(*exec, []*data, []*data) {
	panic("engine: ifKernel runs through run")
}

func (k *ifKernel) run(ctx context.Context, w *workspace, x *exec, in, out []*data) error {
	take := k.fixed
	if take < 0 {
		c := in[0]
		if c.i != nil {
			take = int(b2i(c.i[0] != 0))
		} else {
			take = int(b2i(c.f[0] != 0))
		}
	}
	prog := k.els
	if take == 1 {
		prog = k.then
	}
	if prog == nil {
		return fmt.Errorf("engine: If branch %d was not compiled", take)
	}
	if err := w.runProgram(ctx, x, prog); err != nil {
		return err
	}
	for i, id := range prog.outputs {
		src := w.vals[id]
		copy(out[i].f, src.f)
		copy(out[i].i, src.i)
	}
	return nil
}
