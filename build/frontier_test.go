package build

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestFrontier: on bncnn (three groups, 56 distinct choices) at a latency
// target (75% of its predicted latency), the frontier's choices all lie in [frontierBand, 1] × the target
// (predicted), are the shortlist's best by the composed score, ordered,
// and each score is the composed model's own: its statistics re-estimated
// (adaptive BN), then the calibration loss — recomputed here from the
// model with train.RecalibrateBN. The shortlist is the frontierShortlist
// least summed damages of the in-band choices, found here by brute force.
// And Build adds the fitting ones as candidates, named "frontier",
// only with Options.Frontier.
func TestFrontier(t *testing.T) {
	ctx := context.Background()
	m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/bncnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	calib := mnistCalib(t, 128, 64)
	p := hostProfile(t, "latency_ms=75%") // uncalibrated: the floor is predicted at 61%
	res, err := Build(ctx, p, "bncnn", m, Options{Threads: 1, Calib: calib, Frontier: true})
	if err != nil {
		t.Fatal(err)
	}
	off, err := Build(ctx, p, "bncnn", m, Options{Threads: 1, Calib: calib})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range off.Selection.Candidates {
		if strings.Contains(c.Name, "frontier") {
			t.Errorf("without Options.Frontier: candidate %s", c.Name)
		}
	}
	var front []Candidate
	for _, c := range res.Selection.Candidates {
		if strings.Contains(c.Name, "frontier") {
			front = append(front, c)
		}
	}
	if len(front) == 0 || len(front) > frontierKeep {
		t.Fatalf("candidates %+v: want 1 to %d frontier candidates", res.Selection.Candidates, frontierKeep)
	}

	// The search again, on Build's table, to look at the frontier itself.
	space, err := NewSpace(m, p.Search.Structured.Keep, p.Search.Structured.RoundTo, nil)
	if err != nil {
		t.Fatal(err)
	}
	co, _ := p.Coeffs()
	ev := &evaluator{ctx: ctx, p: p, co: co, space: space, threads: 1}
	dense, err := ev.metricsModel(space.Uniform(0))
	if err != nil {
		t.Fatal(err)
	}
	abn, _, err := newAdaptiveBN(ctx, m, "", calib)
	if err != nil || abn == nil {
		t.Fatalf("adaptive BN: %v, %v", abn, err)
	}
	target := budgetsOf(p, dense.met)
	s := &candidateSearch{ev: ev, groups: res.Groups, dense: dense, target: target, calib: calib, bn: abn, logf: func(string, ...any) {}}
	aim := target.latency * target.margin
	got, err := s.frontier(ctx, aim, func([]int) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("no frontier at the target")
	}
	// Brute force: every distinct choice in the band (predicted exactly),
	// its summed damage.
	type row struct {
		kept   string
		summed float64
	}
	var band []row
	seen := map[string]bool{}
	var walk func(c []int)
	walk = func(c []int) {
		if len(c) == len(space.Groups) {
			e, err := ev.metricsModel(slices.Clone(c))
			if err != nil {
				t.Fatal(err)
			}
			k := s.key(c)
			if seen[k] {
				return
			}
			seen[k] = true
			if e.met.LatencyMS <= aim && e.met.LatencyMS >= frontierBand*aim {
				var d float64
				for g, l := range c {
					d += res.Groups[g].Options[l].Damage
				}
				band = append(band, row{k, d})
			}
			return
		}
		for l := range space.Keep {
			walk(append(c, l))
		}
	}
	walk(nil)
	slices.SortStableFunc(band, func(a, b row) int { return int(math.Copysign(1, a.summed-b.summed)) })
	for i, fc := range got {
		if l := fc.e.met.LatencyMS; l > aim || l < frontierBand*aim {
			t.Errorf("frontier %v: predicted %g ms, outside [%g, %g]", s.kept(fc.e.choice), l, frontierBand*aim, aim)
		}
		if i > 0 && fc.loss < got[i-1].loss {
			t.Errorf("frontier not ordered by composed loss: %g after %g", fc.loss, got[i-1].loss)
		}
		// Among the shortlist: its summed damage at most the
		// frontierShortlist-th of the band's (the additive prefilter may
		// drop a choice the exact prediction keeps, never add one).
		if n := min(len(band), frontierShortlist); fc.summed > band[n-1].summed+1e-12 {
			t.Errorf("frontier %v: summed damage %g, beyond the shortlist's %g", s.kept(fc.e.choice), fc.summed, band[n-1].summed)
		}
		// The composed score, recomputed.
		v, _, err := space.Model(fc.e.choice)
		if err != nil {
			t.Fatal(err)
		}
		if err := abn.recalibrate(ctx, v, space.changedLayers(fc.e.choice)...); err != nil {
			t.Fatal(err)
		}
		out, err := scores(ctx, v, calib, 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := taskLoss(out, labelsOf(calib)); math.Abs(fc.loss-want) > 1e-9*(1+want) {
			t.Errorf("frontier %v: composed loss %g, want %g", s.kept(fc.e.choice), fc.loss, want)
		}
	}
	if len(got) < 2 {
		t.Fatalf("frontier %d choices: want several at the target on bncnn", len(got))
	}
	// Build's frontier candidates are the first frontierKeep (nothing is
	// measured here, so all fit), in order.
	for i, c := range front {
		if s.key(c.Choice) != s.key(got[i].e.choice) {
			t.Errorf("Build's frontier candidate %d %v, want %v", i, c.Kept, s.kept(got[i].e.choice))
		}
	}
}
