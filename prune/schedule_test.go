package prune

import (
	"errors"
	"math"
	"testing"
)

func TestCubic(t *testing.T) {
	c, err := NewCubic(0.1, 0.9, 100, 10, 50)
	if err != nil {
		t.Fatal(err)
	}
	if c.At(0) != 0.1 || c.At(99) != 0.1 || c.At(100) != 0.1 {
		t.Errorf("before and at start: %v %v %v, want 0.1", c.At(0), c.At(99), c.At(100))
	}
	if c.At(600) != 0.9 || c.At(10000) != 0.9 {
		t.Errorf("at and after the end: %v %v, want 0.9", c.At(600), c.At(10000))
	}
	prev := c.At(0)
	for step := 0; step <= 700; step++ {
		s := c.At(step)
		if s < prev {
			t.Fatalf("At(%d) = %v < At(%d) = %v", step, s, step-1, prev)
		}
		if step > 100 && (step-100)%50 != 0 && s != prev {
			t.Fatalf("sparsity changed at step %d, between updates", step)
		}
		prev = s
	}
	// Zhu & Gupta's formula at update j: s_f + (s_i − s_f)(1 − j/n)³.
	steps, sp := c.Updates()
	if len(steps) != 11 || steps[0] != 100 || steps[10] != 600 {
		t.Fatalf("updates at %v", steps)
	}
	for j, s := range sp {
		want := 0.9 + (0.1-0.9)*math.Pow(1-float64(j)/10, 3)
		if math.Abs(s-want) > 1e-12 {
			t.Errorf("update %d: %v, want %v", j, s, want)
		}
	}
	// Cubic: the first steps add more than the last.
	if sp[1]-sp[0] <= sp[10]-sp[9] {
		t.Errorf("first increment %v ≤ last %v", sp[1]-sp[0], sp[10]-sp[9])
	}
	for _, bad := range []Cubic{{0.5, 0.4, 0, 1, 1}, {0, 1, 0, 1, 1}, {0, 0.5, -1, 1, 1}, {0, 0.5, 0, 0, 1}, {0, 0.5, 0, 1, 0}, {-0.1, 0.5, 0, 1, 1}} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", bad, err)
		}
	}
}

// TestCubicIterative prunes along the schedule: each round keeps the zeros
// of the last and reaches the round's sparsity.
func TestCubicIterative(t *testing.T) {
	c, err := NewCubic(0, 0.9, 0, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, zooModel())
	prev := snapshot(t, m)
	_, sp := c.Updates()
	for _, s := range sp[1:] {
		plan := mustPrune(t, m, WithSparsity(s))
		now := snapshot(t, m)
		for id, w := range prev {
			for i, v := range w {
				if v == 0 && now[id][i] != 0 {
					t.Fatalf("sparsity %v: %s[%d] came back", s, id, i)
				}
			}
		}
		if math.Abs(plan.Totals.SparsityAfter-s) > 1/float64(plan.Totals.Elements) {
			t.Errorf("round at %v: sparsity %v", s, plan.Totals.SparsityAfter)
		}
		prev = now
	}
}
