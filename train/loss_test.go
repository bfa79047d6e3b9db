package train

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func randValue(r *rand.Rand, shape ...int) Value {
	n := 1
	for _, s := range shape {
		n *= s
	}
	v := Value{Shape: shape, Data: make([]float32, n)}
	for i := range v.Data {
		v.Data[i] = float32(r.NormFloat64() * 2)
	}
	return v
}

func softmaxRows(v Value) Value {
	n, c, _ := v.rows()
	out := Value{Shape: v.Shape, Data: make([]float32, len(v.Data))}
	ls := make([]float64, c)
	for i := range n {
		logSoftmax(ls, v.Data[i*c:(i+1)*c], 1, false)
		for j := range c {
			out.Data[i*c+j] = float32(math.Exp(ls[j]))
		}
	}
	return out
}

// TestLossGradients checks every loss's seeds against central differences of
// its value (the loss is computed in float64 from float32 inputs).
func TestLossGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, c, N = 4, 5, 8 // a shard of 4 samples of a batch of 8
	logits := randValue(r, n, c)
	tlogits := randValue(r, n, c)
	feat := randValue(r, n, 3, 2)
	tfeat := randValue(r, n, 3, 2)
	labels := []int64{0, 4, 2, 2}
	cases := []struct {
		loss    Loss
		student map[string]Value
	}{
		{CrossEntropy{Output: "logits"}, map[string]Value{"logits": logits}},
		{CrossEntropy{Output: "p", Probs: true, Weight: 0.5}, map[string]Value{"p": softmaxRows(logits)}},
		{Distill{Output: "logits", T: 3}, map[string]Value{"logits": logits}},
		{Distill{Output: "p", TeacherOutput: "logits", T: 2, Probs: true}, map[string]Value{"p": softmaxRows(logits)}},
		{FeatureMSE{Name: "f", Weight: 2}, map[string]Value{"f": feat}},
		{Sum{CrossEntropy{Output: "logits", Weight: 0.3}, Distill{Output: "logits", T: 4, Weight: 0.7}, FeatureMSE{Name: "f"}},
			map[string]Value{"logits": logits, "f": feat}},
	}
	for _, tc := range cases {
		t.Run(tc.loss.String(), func(t *testing.T) {
			in := LossInput{Student: tc.student, Teacher: map[string]Value{"logits": tlogits, "f": tfeat}, Labels: labels, N: N}
			seeds := map[string][]float32{}
			if _, err := tc.loss.Eval(in, seeds); err != nil {
				t.Fatal(err)
			}
			for name, v := range tc.student {
				g := seeds[name]
				if len(g) != len(v.Data) {
					t.Fatalf("seed %q has %d values, want %d", name, len(g), len(v.Data))
				}
				for i := range v.Data {
					orig := v.Data[i]
					h := float32(1e-3) * max(1e-2, float32(math.Abs(float64(orig))))
					v.Data[i] = orig + h
					hp := float64(v.Data[i] - orig)
					lp, _ := tc.loss.Eval(in, map[string][]float32{})
					v.Data[i] = orig - h
					hm := float64(orig - v.Data[i])
					lm, _ := tc.loss.Eval(in, map[string][]float32{})
					v.Data[i] = orig
					num := (lp - lm) / (hp + hm)
					if d := math.Abs(num - float64(g[i])); d > 2e-3*max(1, math.Abs(num)) {
						t.Errorf("d/d%s[%d] = %g, central difference %g", name, i, g[i], num)
					}
				}
			}
		})
	}
}

// TestDistillIdenticalIsZero: a student equal to its teacher has zero KD loss
// and zero gradient; the T² scaling makes the gradient's size independent of T
// to first order.
func TestDistillIdenticalIsZero(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	z := randValue(r, 3, 4)
	in := LossInput{Student: map[string]Value{"y": z}, Teacher: map[string]Value{"y": z}, N: 3}
	seeds := map[string][]float32{}
	l, err := Distill{Output: "y", T: 4}.Eval(in, seeds)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(l) > 1e-12 {
		t.Errorf("loss %g, want 0", l)
	}
	for i, g := range seeds["y"] {
		if math.Abs(float64(g)) > 1e-7 {
			t.Errorf("seed[%d] = %g, want 0", i, g)
		}
	}
}

func TestCrossEntropyLabels(t *testing.T) {
	v := Value{Shape: []int{2, 3}, Data: make([]float32, 6)}
	for _, tc := range []struct {
		labels []int64
		want   string
	}{
		{nil, "no labels"},
		{[]int64{0}, "1 labels for 2 samples"},
		{[]int64{0, 3}, "label 3 of sample 1 is outside 0..2"},
		{[]int64{-1, 0}, "label -1 of sample 0"},
	} {
		_, err := CrossEntropy{Output: "y"}.Eval(LossInput{Student: map[string]Value{"y": v}, Labels: tc.labels, N: 2}, map[string][]float32{})
		if !errors.Is(err, ErrLabels) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("labels %v: error %v, want ErrLabels saying %q", tc.labels, err, tc.want)
		}
	}
	// uniform logits: loss log 3 exactly
	l, err := CrossEntropy{Output: "y"}.Eval(LossInput{Student: map[string]Value{"y": v}, Labels: []int64{0, 2}, N: 2}, map[string][]float32{})
	if err != nil || math.Abs(l-math.Log(3)) > 1e-12 {
		t.Errorf("uniform logits: loss %v (%v), want log 3", l, err)
	}
}
