package train

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Schedule gives the learning rate at optimizer step t (0-based).
type Schedule interface {
	LR(t int) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR is the constant.
func (c Constant) LR(int) float64 { return float64(c) }

// StepDecay multiplies Base by Gamma every Every steps (torch StepLR).
type StepDecay struct {
	Base  float64
	Every int
	Gamma float64
}

// LR is Base·Gamma^⌊t/Every⌋.
func (s StepDecay) LR(t int) float64 { return s.Base * math.Pow(s.Gamma, float64(t/s.Every)) }

// Cosine anneals from Base to Min over Total steps (torch
// CosineAnnealingLR with T_max = Total), then stays at Min.
type Cosine struct {
	Base, Min float64
	Total     int
}

// LR is Min + (Base−Min)(1 + cos(π·t/Total))/2.
func (c Cosine) LR(t int) float64 {
	t = min(t, c.Total)
	return c.Min + (c.Base-c.Min)*(1+math.Cos(math.Pi*float64(t)/float64(c.Total)))/2
}

// OneCycle is torch's OneCycleLR with cosine annealing: from Max/Div up to
// Max over the first PctStart of Total steps, then down to Max/(Div·FinalDiv).
type OneCycle struct {
	Max      float64
	Total    int
	PctStart float64 // 0: 0.3
	Div      float64 // 0: 25
	FinalDiv float64 // 0: 1e4
}

// LR follows torch's OneCycleLR (anneal_strategy "cos", three_phase false).
func (o OneCycle) LR(t int) float64 {
	if o.PctStart == 0 {
		o.PctStart = 0.3
	}
	if o.Div == 0 {
		o.Div = 25
	}
	if o.FinalDiv == 0 {
		o.FinalDiv = 1e4
	}
	initial := o.Max / o.Div
	final := initial / o.FinalDiv
	up := o.PctStart*float64(o.Total) - 1
	end := float64(o.Total) - 1
	x := float64(min(t, o.Total-1))
	cos := func(a, b, pct float64) float64 { return b + (a-b)/2*(1+math.Cos(math.Pi*pct)) }
	if x <= up {
		return cos(initial, o.Max, x/up)
	}
	return cos(o.Max, final, (x-up)/(end-up))
}

// Warmup ramps the learning rate linearly over the first Steps steps, from
// Inner.LR(0)/Steps up to Inner's, then follows Inner (shifted by nothing:
// Inner sees the same t).
type Warmup struct {
	Steps int
	Inner Schedule
}

// LR is Inner.LR(t)·(t+1)/Steps during warm-up.
func (w Warmup) LR(t int) float64 {
	lr := w.Inner.LR(t)
	if t < w.Steps {
		lr *= float64(t+1) / float64(w.Steps)
	}
	return lr
}

// ParseSchedule reads a schedule from the CLI's spelling, for a base
// learning rate lr and a run of epochs×stepsPerEpoch optimizer steps:
//
//	constant            lr throughout
//	step:E[:G]          ×G (default 0.1) every E epochs
//	cosine[:MIN]        cosine from lr to MIN (default 0) over the run
//	onecycle[:PCT]      one cycle peaking at lr after PCT (default 0.3) of the run
//
// warmup is a number of warm-up epochs (fractions allowed), 0 for none.
func ParseSchedule(spec string, lr float64, epochs, stepsPerEpoch int, warmup float64) (Schedule, error) {
	if !(lr > 0) || math.IsInf(lr, 0) {
		return nil, fmt.Errorf("%w: learning rate %v: need > 0", ErrInvalid, lr)
	}
	if epochs < 1 || stepsPerEpoch < 1 {
		return nil, fmt.Errorf("%w: schedule over %d epochs of %d steps", ErrInvalid, epochs, stepsPerEpoch)
	}
	total := epochs * stepsPerEpoch
	name, rest, _ := strings.Cut(spec, ":")
	var args []float64
	if rest != "" {
		for _, a := range strings.Split(rest, ":") {
			v, err := strconv.ParseFloat(a, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: schedule %q: %q is not a number", ErrInvalid, spec, a)
			}
			args = append(args, v)
		}
	}
	arg := func(i int, def float64) float64 {
		if i < len(args) {
			return args[i]
		}
		return def
	}
	maxArgs := map[string]int{"constant": 0, "step": 2, "cosine": 1, "onecycle": 1}
	n, ok := maxArgs[name]
	if !ok {
		return nil, fmt.Errorf("%w: schedule %q: want constant, step:EPOCHS[:GAMMA], cosine[:MIN_LR] or onecycle[:PCT_START]", ErrInvalid, spec)
	}
	if len(args) > n {
		return nil, fmt.Errorf("%w: schedule %q: %s takes at most %d argument(s)", ErrInvalid, spec, name, n)
	}
	var s Schedule
	switch name {
	case "constant":
		s = Constant(lr)
	case "step":
		if len(args) == 0 {
			return nil, fmt.Errorf("%w: schedule %q: step needs the epochs between decays, as step:E[:GAMMA]", ErrInvalid, spec)
		}
		every := int(math.Round(args[0] * float64(stepsPerEpoch)))
		gamma := arg(1, 0.1)
		if every < 1 || !(gamma > 0 && gamma <= 1) {
			return nil, fmt.Errorf("%w: schedule %q: need epochs > 0 and 0 < gamma ≤ 1", ErrInvalid, spec)
		}
		s = StepDecay{Base: lr, Every: every, Gamma: gamma}
	case "cosine":
		m := arg(0, 0)
		if !(m >= 0 && m < lr) {
			return nil, fmt.Errorf("%w: schedule %q: need 0 ≤ min lr < lr %v", ErrInvalid, spec, lr)
		}
		s = Cosine{Base: lr, Min: m, Total: total}
	case "onecycle":
		pct := arg(0, 0.3)
		if !(pct > 0 && pct < 1) || total < 2 {
			return nil, fmt.Errorf("%w: schedule %q: need 0 < pct_start < 1 and at least 2 steps", ErrInvalid, spec)
		}
		s = OneCycle{Max: lr, Total: total, PctStart: pct}
	}
	if !(warmup >= 0) {
		return nil, fmt.Errorf("%w: warm-up %v epochs: need ≥ 0", ErrInvalid, warmup)
	}
	if w := int(math.Round(warmup * float64(stepsPerEpoch))); w > 0 {
		s = Warmup{Steps: w, Inner: s}
	}
	return s, nil
}
