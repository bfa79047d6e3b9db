package build

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/train"
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

// TestProbeDivergence: when a candidate's probe diverges, every candidate
// is probed again at half the learning rate (all ranked after the same
// recipe) and the build goes on; when the probes diverge down to
// minProbeLRScale, the build fails saying what to do. LeNet-5 under 50% of
// its predicted latency, scored on 8 random labelled images; the probe is
// a fake that leaves the model as it is.
func TestProbeDivergence(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/lenet5.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	in := m.Info().Inputs[0].Name
	prog, err := engine.Compile(m, engine.WithInputShape(in, 8, 1, 28, 28))
	if err != nil {
		t.Fatal(err)
	}
	calib := []engine.Batch{{Inputs: engine.RandomInputs(prog), Labels: []int64{0, 1, 2, 3, 4, 5, 6, 7}}}
	build := func(probe Prober) (*Result, error) {
		t.Helper()
		p := hostProfile(t, "latency_ms=50%")
		p.Search.Structured.Keep = []float64{1, .75, .5, .25} // fewer levels: a shorter test
		return Build(context.Background(), p, "lenet5", m, Options{Threads: 1, Calib: calib, Probe: probe})
	}
	var scales []float64
	res, err := build(func(_ context.Context, _ *onnxio.Model, s float64) (*FinetuneReport, error) {
		scales = append(scales, s)
		if s == 1 && len(scales) == 2 { // the second candidate diverges at the full rate
			return nil, &train.NonFiniteError{Epoch: 1, Step: 25, GlobalStep: 25, What: "loss", Value: math.NaN()}
		}
		return &FinetuneReport{Data: "fake"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sel := res.Selection
	if sel == nil || sel.ProbeLRScale != 0.5 || len(sel.Diverged) != 1 || !strings.Contains(sel.Diverged[0], "loss is NaN") {
		t.Fatalf("selection %+v: want probe_lr_scale 0.5 and one divergence", sel)
	}
	if len(scales) < 4 || scales[0] != 1 || scales[1] != 1 {
		t.Fatalf("probe scales %v: want two at 1, then the rest at 0.5", scales)
	}
	probed := 0
	for _, s := range scales[2:] {
		if s != 0.5 {
			t.Errorf("probe scales %v: after the divergence every probe at 0.5", scales)
		}
	}
	for _, c := range sel.Candidates {
		if c.Excluded == "" {
			if c.Probe == "" || c.Loss == nil {
				t.Errorf("candidate %s not probed and scored after the divergence: %+v", c.Name, c)
			}
			probed++
		}
	}
	if probed < 2 || probed != len(scales)-2 {
		t.Errorf("%d candidates scored, %d probes at 0.5: want every scored candidate probed again once", probed, len(scales)-2)
	}

	scales = nil
	_, err = build(func(_ context.Context, _ *onnxio.Model, s float64) (*FinetuneReport, error) {
		scales = append(scales, s)
		return nil, &train.NonFiniteError{What: "loss", Value: math.NaN()}
	})
	var nf *train.NonFiniteError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "--probe-fraction 0") {
		t.Fatalf("always diverging: %v, want a NonFiniteError naming --probe-fraction 0", err)
	}
	if !slices.Equal(scales, []float64{1, 0.5, 0.25, 0.125}) {
		t.Errorf("probe scales %v: want 1, 0.5, 0.25, 0.125", scales)
	}
}

// demonetSpace is the project's demo model and its structured space
// (keep 1, .75, .5, .25), for the search's tests with a fake timer.
func demonetSpace(t *testing.T) (*onnxio.Model, *Space) {
	t.Helper()
	m, err := onnxio.ReadFile("../testdata/demo/demonet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := NewSpace(m, []float64{1, .75, .5, .25}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Groups) == 0 {
		t.Fatal("demonet has no dependency group")
	}
	return m, sp
}

// poolRounds adds a fake timer's per-round ratios to met: its ratio is the
// median of all its rounds (ms: the ratio × 10).
func poolRounds(met *Metrics, rs []float64) {
	met.ratioRounds = append(met.ratioRounds, rs...)
	met.MeasuredRatio = medianF(slices.Sorted(slices.Values(met.ratioRounds)))
	met.MeasuredMS = met.MeasuredRatio * 10
}

// TestFitsNearBudget: a measured candidate fits on one timing at or under
// budget × margin; between that and the budget it is timed again to
// nearLimitRounds rounds in all and fits when the 90% upper bound of its
// median (the second slowest of 8 rounds) is within the budget: one slow
// round does not exclude it; with two slow rounds and its median still
// within the budget it is timed to nearLimitMaxRounds and judged by the
// 12th smallest of 16 (a second look); over the budget it does not fit
// and is not timed again. Each choice is timed once (the pooled rounds are
// kept). The timings are given (a fake timer), so the verdicts are exact.
func TestFitsNearBudget(t *testing.T) {
	m, sp := demonetSpace(t)
	type timing struct {
		first []float64   // per-round ratios of the first timing
		more  [][]float64 // of each call to more, in turn
	}
	for _, tc := range []struct {
		name      string
		tm        timing
		noMore    bool // the search without a timer for more rounds: the margin alone
		fit       bool
		rounds    int     // rounds in the measurement returned
		wantRatio float64 // its median
	}{
		{"under the margin", timing{first: []float64{.44, .43, .45, .44}}, false, true, 4, .44},
		{"near, every round within", timing{[]float64{.47, .46, .48, .47}, [][]float64{{.49, .47, .46, .48}}}, false, true, 8, .47},
		{"near, one round over", timing{[]float64{.47, .46, .48, .47}, [][]float64{{.49, .56, .46, .48}}}, false, true, 8, .475},
		// Two rounds over on 8 (bound 0.51), median 0.48: a second look,
		// whose 12th smallest of 16 is 0.48.
		{"near, two rounds over, within on 16", timing{[]float64{.47, .46, .48, .51}, [][]float64{{.49, .56, .46, .48}, {.47, .48, .46, .49, .47, .48, .46, .47}}},
			false, true, 16, .475},
		// The same 8, then 16 whose 12th smallest is 0.51: over.
		{"near, two rounds over, over on 16", timing{[]float64{.47, .46, .48, .51}, [][]float64{{.49, .56, .46, .48}, {.49, .50, .51, .52, .49, .50, .53, .52}}},
			false, false, 16, .495},
		// Near on 4 rounds (0.465), over on 8 (bound 0.56) with their median
		// (0.45) at the margin: timed to 16, whose median 0.51 is over the
		// budget; found again, it still does not fit and is not timed again.
		{"near, pooled median at the margin", timing{[]float64{.44, .46, .47, .56}, [][]float64{{.40, .41, .42, .56}, {.56, .57, .55, .56, .58, .44, .45, .56}}},
			false, false, 16, .51},
		{"over the budget", timing{first: []float64{.52, .51, .53, .49}}, false, false, 4, .515},
		{"near, margin only", timing{first: []float64{.47, .46, .48, .47}}, true, false, 4, .47},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var measures, mores int
			s := &candidateSearch{ev: &evaluator{space: sp}, target: budgets{latency: 1, margin: .9},
				lim: latencyLimit{budget: .5, fraction: true}, limit: .45, budget: .5, logf: t.Logf}
			s.measure = func(*onnxio.Model) (Metrics, error) {
				measures++
				var met Metrics
				poolRounds(&met, tc.tm.first)
				return met, nil
			}
			if !tc.noMore {
				s.more = func(_ *onnxio.Model, met *Metrics, rounds int) error {
					if mores >= len(tc.tm.more) {
						t.Fatalf("more called %d times", mores+1)
					}
					want := []int{nearLimitRounds, nearLimitMaxRounds}[mores] - len(met.ratioRounds)
					if rounds != want || len(tc.tm.more[mores]) != want {
						t.Errorf("more call %d timed %d rounds, want %d", mores+1, rounds, want)
					}
					poolRounds(met, tc.tm.more[mores])
					mores++
					return nil
				}
			}
			e := &evaluated{choice: sp.Uniform(1), m: m}
			for range 2 { // the second call reuses the first's measurement
				ok, mm, err := s.fits(e)
				if err != nil {
					t.Fatal(err)
				}
				if ok != tc.fit || len(mm.ratioRounds) != tc.rounds || math.Abs(mm.MeasuredRatio-tc.wantRatio) > 1e-12 {
					t.Errorf("fits %v with %d rounds, ratio %.4g; want %v, %d, %.4g", ok, len(mm.ratioRounds), mm.MeasuredRatio, tc.fit, tc.rounds, tc.wantRatio)
				}
			}
			all := slices.Clone(tc.tm.first)
			looks := 0
			for _, r := range tc.tm.more {
				if len(all) < tc.rounds {
					all = append(all, r...)
					looks++
				}
			}
			if measures != 1 || mores != looks {
				t.Errorf("timed %d times and %d more: want once, and %d more", measures, mores, looks)
			}
			if c := s.candidate("x", e, s.timed[s.key(e.choice)]); c.MeasuredRounds != tc.rounds || c.MeasuredRatioUpper != medianUpperBound(all, .9) {
				t.Errorf("candidate %+v: want %d rounds and the upper bound of their median", c.Candidate, tc.rounds)
			}
		})
	}
}

// TestMedianUpperBound: the k-th smallest of n is the least order
// statistic whose binomial coverage of the median reaches the confidence,
// checked against the binomial coefficients counted directly.
func TestMedianUpperBound(t *testing.T) {
	for n := 1; n <= 12; n++ {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(n - i) // unsorted: n, n-1, ..., 1; the k-th smallest is k
		}
		for _, conf := range []float64{.5, .9, .95} {
			// P(B ≤ k-1) = Σ_{j<k} C(n, j) / 2^n
			want, cdf, c := n, 0.0, 1.0
			for k := 1; k <= n; k++ {
				cdf += c / math.Pow(2, float64(n))
				if cdf >= conf {
					want = k
					break
				}
				c = c * float64(n-k+1) / float64(k)
			}
			if got := medianUpperBound(xs, conf); got != float64(want) {
				t.Errorf("n %d conf %g: the %g-th smallest, want the %d-th", n, conf, got, want)
			}
		}
	}
	if got := medianUpperBound([]float64{.46, .46, .47, .47, .48, .48, .49, .56}, .9); got != .49 {
		t.Errorf("8 rounds at 0.9: %g, want the second largest 0.49", got)
	}
	if got := medianUpperBound([]float64{.3, .1, .2, .4}, .9); got != .4 {
		t.Errorf("4 rounds at 0.9: %g, want the largest 0.4", got)
	}
}

// TestConfirmWinner: the best candidate, accepted on a first timing under
// budget × margin, is timed to nearLimitRounds rounds before it is kept;
// when the pooled rounds put it over the budget it is excluded and the
// next best is confirmed instead; one already timed to 8 rounds is kept
// as judged; when none is confirmed the best stays.
func TestConfirmWinner(t *testing.T) {
	_, sp := demonetSpace(t)
	loss := func(x float64) *float64 { return &x }
	for _, tc := range []struct {
		name string
		more map[int][]float64 // the next 4 rounds of each candidate
		want int
		excl []int // excluded after
	}{
		{"best confirmed", map[int][]float64{0: {.44, .45, .43, .44}}, 0, nil},
		{"best read low at first", map[int][]float64{0: {.53, .54, .52, .53}, 1: {.45, .44, .46, .45}}, 1, []int{0}},
		{"none confirmed", map[int][]float64{0: {.53, .54, .52, .53}, 1: {.55, .56, .54, .55}, 2: {.6, .6, .6, .6}}, 0, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &candidateSearch{ev: &evaluator{space: sp}, target: budgets{latency: 1, margin: .9},
				lim: latencyLimit{budget: .5, fraction: true}, limit: .45, budget: .5, logf: t.Logf, timed: map[string]Metrics{}}
			s.measure = func(*onnxio.Model) (Metrics, error) { t.Fatal("measured afresh"); return Metrics{}, nil }
			var cs []candidate
			byModel := map[*onnxio.Model]int{}
			for i := range 3 {
				e := &evaluated{choice: sp.Uniform(i), m: &onnxio.Model{}}
				byModel[e.m] = i
				first := Metrics{ratioRounds: []float64{.43, .42, .44, .43}, MeasuredRatio: .43}
				s.timed[s.key(e.choice)] = first
				c := s.candidate(fmt.Sprint(i), e, first)
				c.Loss = loss(float64(i)) // 0 is the best, then 1, then 2
				cs = append(cs, c)
			}
			calls := 0
			s.more = func(mod *onnxio.Model, met *Metrics, rounds int) error {
				calls++
				i := byModel[mod]
				if rounds != nearLimitRounds-4 && rounds != nearLimitMaxRounds-nearLimitRounds {
					t.Errorf("candidate %d timed %d rounds more", i, rounds)
				}
				rs := tc.more[i]
				if len(met.ratioRounds) >= nearLimitRounds { // a second look: the same again
					rs = append(rs, rs...)
				}
				poolRounds(met, rs)
				return nil
			}
			got, err := s.confirm(cs, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("kept %d, want %d", got, tc.want)
			}
			for i, c := range cs {
				if want := slices.Contains(tc.excl, i); (c.Excluded != "") != want {
					t.Errorf("candidate %d excluded %q, want excluded %v", i, c.Excluded, want)
				}
			}
			if cs[got].MeasuredRounds < nearLimitRounds {
				t.Errorf("kept candidate timed %d rounds, want ≥ %d", cs[got].MeasuredRounds, nearLimitRounds)
			}
			// confirmed once: a second call times nothing more
			before := calls
			if _, err := s.confirm(cs, got); err != nil {
				t.Fatal(err)
			}
			if calls != before {
				t.Errorf("confirming the kept candidate again timed it again")
			}
		})
	}
}
