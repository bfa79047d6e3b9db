package profile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadString writes body to dir/name and loads it, returning the error text
// with dir removed.
func loadString(t *testing.T, dir, name, body string) (*Profile, string) {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(f)
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("error does not wrap ErrInvalid: %v", err)
		}
		return nil, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	}
	return p, ""
}

// TestLatencyFraction: budgets.latency_ms as a fraction of the original's
// latency loads, derives and shows as such; the two forms are exclusive and
// the fraction is in (0, 1], each error with its file and line.
func TestLatencyFraction(t *testing.T) {
	dir := t.TempDir()
	p, msg := loadString(t, dir, "t.yaml", replaceBlock(good, "budgets:\n  latency_ms: {fraction_of_original: 0.5, statistic: p50}\n"))
	if msg != "" {
		t.Fatal(msg)
	}
	l := p.Budgets.LatencyMS
	if !l.IsFraction() || l.FractionOfOriginal != 0.5 || l.Max != 0 || l.Statistic != "p50" {
		t.Fatalf("loaded %+v, want fraction 0.5 at p50 and no max", l)
	}
	d := p.Derive()
	if d.LatencyTargetFraction != 0.5*DefaultLatencyMargin || d.LatencyTargetMS != 0 {
		t.Errorf("derived target fraction %g ms %g, want %g and 0", d.LatencyTargetFraction, d.LatencyTargetMS, 0.5*DefaultLatencyMargin)
	}
	var b strings.Builder
	if err := p.Show(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "latency      p50 ≤ 50% of the original's (build aims at 45%") {
		t.Errorf("show:\n%s\nlacks the fractional budget", b.String())
	}

	cases := []struct {
		name, budgets, want string
	}{
		{"both set", "budgets:\n  latency_ms: {max: 20, fraction_of_original: 0.5}\n",
			"t.yaml:11: budgets.latency_ms: max (20 ms) and fraction_of_original (0.5) both set; give one"},
		{"both set, max 0", "budgets:\n  latency_ms: {max: 0, fraction_of_original: 0.5}\n",
			"t.yaml:11: budgets.latency_ms: max (0 ms) and fraction_of_original (0.5) both set"},
		{"over 1", "budgets:\n  latency_ms: {fraction_of_original: 1.5}\n",
			"t.yaml:11: budgets.latency_ms.fraction_of_original: invalid value 1.5: must be in (0, 1]"},
		{"zero", "budgets:\n  latency_ms:\n    statistic: p50\n    fraction_of_original: 0\n",
			"t.yaml:13: budgets.latency_ms.fraction_of_original: invalid value 0: must be in (0, 1]"},
		{"negative", "budgets:\n  latency_ms: {fraction_of_original: -0.5}\n",
			"t.yaml:11: budgets.latency_ms.fraction_of_original: invalid value -0.5: must be in (0, 1]"},
		{"percent written as a number", "budgets:\n  latency_ms: {fraction_of_original: 50}\n",
			"budgets.latency_ms.fraction_of_original: invalid value 50: must be in (0, 1]"},
		{"neither", "budgets:\n  latency_ms: {statistic: p50}\n",
			"t.yaml:11: budgets.latency_ms: missing: max (ms) or fraction_of_original"},
		{"not a number", "budgets:\n  latency_ms: {fraction_of_original: half}\n",
			"t.yaml:11: budgets.latency_ms.fraction_of_original: invalid value half: want a number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, msg := loadString(t, t.TempDir(), "t.yaml", replaceBlock(good, c.budgets))
			if !strings.Contains(msg, c.want) {
				t.Errorf("error\n%s\nlacks %q", msg, c.want)
			}
		})
	}
	if _, msg := loadString(t, dir, "t.yaml", replaceBlock(good, "budgets:\n  latency_ms: {fraction_of_original: 1}\n")); msg != "" {
		t.Errorf("fraction 1 (no slower than the original) rejected: %s", msg)
	}
}

// TestLatencyFractionExtends: a profile that gives one form over a base
// that gave the other replaces it (no "both set"); an unrelated child keeps
// the base's form.
func TestLatencyFractionExtends(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "abs.yaml"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "frac.yaml"), []byte(replaceBlock(good, "budgets:\n  latency_ms: {fraction_of_original: 0.3}\n")), 0o644)
	head := "schema: edgeprune/profile/v1\nname: c\nextends: "
	p, msg := loadString(t, dir, "c1.yaml", head+"abs.yaml\nbudgets:\n  latency_ms: {fraction_of_original: 0.5}\n")
	if msg != "" {
		t.Fatal(msg)
	}
	if l := p.Budgets.LatencyMS; l.Max != 0 || l.FractionOfOriginal != 0.5 {
		t.Errorf("fraction over an absolute base: %+v, want fraction 0.5 only", l)
	}
	p, msg = loadString(t, dir, "c2.yaml", head+"frac.yaml\nbudgets:\n  latency_ms: {max: 12}\n")
	if msg != "" {
		t.Fatal(msg)
	}
	if l := p.Budgets.LatencyMS; l.Max != 12 || l.FractionOfOriginal != 0 {
		t.Errorf("absolute over a fractional base: %+v, want max 12 only", l)
	}
	p, msg = loadString(t, dir, "c3.yaml", head+"frac.yaml\nbudgets:\n  latency_ms: {statistic: p50}\n")
	if msg != "" {
		t.Fatal(msg)
	}
	if l := p.Budgets.LatencyMS; l.FractionOfOriginal != 0.3 || l.Statistic != "p50" {
		t.Errorf("statistic over a fractional base: %+v, want fraction 0.3 at p50", l)
	}
	_, msg = loadString(t, dir, "c4.yaml", head+"abs.yaml\nbudgets:\n  latency_ms: {max: 10, fraction_of_original: 0.5}\n")
	if !strings.Contains(msg, "c4.yaml:5: budgets.latency_ms: max (10 ms) and fraction_of_original (0.5) both set") {
		t.Errorf("both in the child: %s", msg)
	}
}

// TestLatencyOverride: --budget latency_ms takes ms or a percentage of the
// original's latency; one replaces the other; bad values name the flag.
func TestLatencyOverride(t *testing.T) {
	cases := []struct {
		base, kv  string
		max, frac float64
		err       string
	}{
		{"abs", "latency_ms=50%", 0, 0.5, ""},
		{"abs", "latency_ms= 30 %", 0, 0.3, ""},
		{"frac", "latency_ms=40", 40, 0, ""},
		{"frac", "latency_ms=100%", 0, 1, ""},
		{"none", "latency_ms=25%", 0, 0.25, ""},
		{"abs", "latency_ms=150%", 0, 0, "--budget latency_ms=150%: budgets.latency_ms.fraction_of_original: invalid value 1.5: must be in (0, 1]"},
		{"abs", "latency_ms=0%", 0, 0, "--budget latency_ms=0%: budgets.latency_ms.fraction_of_original: invalid value 0: must be in (0, 1]"},
		{"frac", "latency_ms=-1", 0, 0, "--budget latency_ms=-1: budgets.latency_ms.max: invalid value -1: must be > 0"},
		{"abs", "latency_ms=half%", 0, 0, `latency_ms: "half%" is not a percentage`},
		{"abs", "latency_ms=0.5x", 0, 0, `latency_ms: "0.5x" is not a number of ms (40) or a percentage of the original's latency (50%)`},
		{"abs", "file_mb=50%", 0, 0, `file_mb: "50%": only latency_ms takes a percentage`},
	}
	bases := map[string]string{
		"abs":  good,
		"frac": replaceBlock(good, "budgets:\n  latency_ms: {fraction_of_original: 0.3}\n"),
		"none": replaceBlock(good, "budgets:\n  file_mb: {max: 3}\n"),
	}
	for _, c := range cases {
		t.Run(c.base+" "+c.kv, func(t *testing.T) {
			p, err := Parse("t.yaml", []byte(bases[c.base]))
			if err != nil {
				t.Fatal(err)
			}
			err = p.Override(c.kv)
			if c.err != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, want an ErrInvalid with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l := p.Budgets.LatencyMS; l.Max != c.max || l.FractionOfOriginal != c.frac {
				t.Errorf("got max %g fraction %g, want %g %g", l.Max, l.FractionOfOriginal, c.max, c.frac)
			}
		})
	}
}
