package build

import (
	"math"
	"testing"
)

// taskLoss is the mean cross-entropy of the softmax against the labels;
// better orders candidates by it, then by top-1.
func TestTaskLossAndBetter(t *testing.T) {
	got := [][]float32{{0, 0}, {float32(math.Log(3)), 0}}
	want := (math.Log(2) + math.Log(4.0/3)) / 2
	if l := taskLoss(got, []int64{1, 0}); math.Abs(l-want) > 1e-6 {
		t.Errorf("taskLoss %g, want %g", l, want)
	}
	if l := taskLoss(got, []int64{1, 2}); !math.IsNaN(l) {
		t.Errorf("label out of range: %g, want NaN", l)
	}
	f := func(x float64) *float64 { return &x }
	a := Candidate{Loss: f(0.2), Top1: f(0.9)}
	b := Candidate{Loss: f(0.3), Top1: f(0.95)}
	if !better(a, b) || better(b, a) {
		t.Error("the lower loss must win over the higher top-1")
	}
	c := Candidate{Loss: f(0.2), Top1: f(0.95)}
	if !better(c, a) || better(a, c) {
		t.Error("equal loss: the higher top-1 must win")
	}
	if better(Candidate{}, Candidate{}) {
		t.Error("unscored candidates: the first found must stay")
	}
}
