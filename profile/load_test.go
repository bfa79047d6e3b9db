package profile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("../configs/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("configs: %v %v", files, err)
	}
	for _, f := range files {
		p, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if p.Device.CPU.FP32GFLOPSPeak.Total <= 0 || p.Budgets.LatencyMS == nil {
			t.Errorf("%s: no peak or latency budget: %+v", f, p)
		}
	}
}

func TestExtends(t *testing.T) {
	p, err := Load("../configs/pi-zero-2w-armv7.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "rpi-zero2w-armv7" || p.Device.Target.GOARCH != "arm" || p.Device.Target.GOARM != 7 {
		t.Errorf("own fields: %+v", p.Device.Target)
	}
	if p.Device.Memory.RAMMB != 512 || p.Budgets.RAMMB == nil || p.Budgets.RAMMB.Max != 150 {
		t.Errorf("base fields not inherited: %+v %+v", p.Device.Memory, p.Budgets.RAMMB)
	}
	if p.Search.Structured.RoundTo != 4 {
		t.Errorf("round_to %d, want 4", p.Search.Structured.RoundTo)
	}
}

const good = `schema: edgeprune/profile/v1
name: t
device:
  target: {goos: linux, goarch: arm64}
  cpu:
    clusters: [{uarch: cortex-a76, cores: 4, max_mhz: 2400}]
    fp32_gflops_peak: {per_core: 38.4}
  memory: {ram_mb: 8192, bandwidth_gbs: {theoretical: 17.1}}
run: {runtime: edgeprune, threads: 4}
budgets:
  latency_ms: {max: 100}
`

// TestBrokenProfiles: each broken profile gives its message with the line.
func TestBrokenProfiles(t *testing.T) {
	cases := []struct {
		name, edit string
		want       []string // substrings, each must appear
	}{
		{"unknown field", "device:\n  target: {goos: linux, goarch: arm64}\n  cpu:\n    clusters: [{uarch: a, cores: 1, max_mhz: 1}]\n    fp32_gflops_peak: {per_core: 1}\n  memory: {ram_mb: 1, bandwidth_gbs: {theoretical: 1}}\n  colour: red\n",
			[]string{"t.yaml:9: device.colour: unknown field; allowed: board, target"}},
		{"misspelt field", "budgets:\n  latency_ms: {max: 100}\n  file_md: {max: 3}\n",
			[]string{`t.yaml:12: budgets.file_md: unknown field (did you mean "file_mb"?)`}},
		{"wrong type", "run: {runtime: edgeprune, threads: four}\n", []string{`t.yaml:9: run.threads: invalid value four: want an integer`}},
		{"string for number", "budgets:\n  latency_ms: {max: fast}\n", []string{"t.yaml:11: budgets.latency_ms.max: invalid value fast: want a number"}},
		{"negative budget", "budgets:\n  latency_ms: {max: -3}\n", []string{"t.yaml:11: budgets.latency_ms.max: invalid value -3: must be > 0"}},
		{"missing target", "device:\n  cpu:\n    clusters: [{uarch: a, cores: 1, max_mhz: 1}]\n    fp32_gflops_peak: {per_core: 1}\n  memory: {ram_mb: 1, bandwidth_gbs: {theoretical: 1}}\n",
			[]string{"device.target.goos: missing", "device.target.goarch: missing"}},
		{"bad statistic", "budgets:\n  latency_ms: {max: 3, statistic: p42}\n", []string{"t.yaml:11: budgets.latency_ms.statistic: invalid value p42: must be one of p50, p90"}},
		{"threads over cores", "run: {runtime: edgeprune, threads: 9}\n", []string{"t.yaml:9: run.threads: invalid value 9: must be in [1, 4]"}},
		{"several at once", "run: {runtime: tflite, threads: 0}\nbudgets:\n  latency_ms: {max: 0}\n  accuracy: {metric: top5, goal: max-degradation, value: 2}\n",
			[]string{"run.runtime: invalid value tflite", "run.threads", "budgets.latency_ms.max: invalid value 0: must be > 0", "budgets.accuracy.metric", "budgets.accuracy.value"}},
		{"wrong schema", "schema: edgeprune/profile/v9\n", []string{"t.yaml:1: schema: invalid value edgeprune/profile/v9: unsupported schema"}},
		{"list for mapping", "run: [edgeprune]\n", []string{"t.yaml:9: run: want a mapping"}},
		{"goarm without arm", "device:\n  target: {goos: linux, goarch: arm64, goarm: 7}\n  cpu:\n    clusters: [{uarch: a, cores: 1, max_mhz: 1}]\n    fp32_gflops_peak: {per_core: 1}\n  memory: {ram_mb: 1, bandwidth_gbs: {theoretical: 1}}\n",
			[]string{"device.target.goarm: invalid value 7: only for goarch arm"}},
		{"yaml syntax", "run: {runtime: edgeprune, threads: 4\n", []string{"t.yaml", "YAML syntax"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "t.yaml")
			if err := os.WriteFile(f, []byte(replaceBlock(good, c.edit)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(f)
			if err == nil {
				t.Fatal("loaded a broken profile")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\nlacks %q", msg, w)
				}
			}
		})
	}
}

// replaceBlock replaces the top-level blocks of base that edit sets (by
// their keys at column 0) with edit.
func replaceBlock(base, edit string) string {
	keys := map[string]bool{}
	for _, l := range strings.Split(edit, "\n") {
		if k, _, ok := strings.Cut(l, ":"); ok && l != "" && l[0] != ' ' {
			keys[k] = true
		}
	}
	var out []string
	skipping, placed := false, false
	for _, l := range strings.SplitAfter(base, "\n") {
		if k, _, ok := strings.Cut(l, ":"); ok && l[0] != ' ' && keys[k] {
			if !placed {
				out = append(out, edit)
				placed = true
			}
			skipping = true
			continue
		}
		if skipping && strings.HasPrefix(l, " ") {
			continue
		}
		skipping = false
		out = append(out, l)
	}
	return strings.Join(out, "")
}

func TestExtendsCycle(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("schema: edgeprune/profile/v1\nextends: b.yaml\nname: a\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("schema: edgeprune/profile/v1\nextends: a.yaml\nname: b\n"), 0o644)
	_, err := Load(filepath.Join(dir, "a.yaml"))
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("want a cycle error, got %v", err)
	}
}

func TestExtendsOverridesBudgetLine(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "base.yaml"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("schema: edgeprune/profile/v1\nextends: base.yaml\nname: c\nbudgets:\n  latency_ms: {max: -1}\n"), 0o644)
	_, err := Load(filepath.Join(dir, "c.yaml"))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:5: budgets.latency_ms.max: invalid value -1") {
		t.Fatalf("want the child's line, got %v", err)
	}
}

// TestUnstructuredSearch: the search.unstructured block gets its defaults,
// and each broken entry gives its message with the line.
func TestUnstructuredSearch(t *testing.T) {
	dir := t.TempDir()
	load := func(block string) (*Profile, error) {
		f := filepath.Join(dir, "t.yaml")
		if err := os.WriteFile(f, []byte(good+block), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(f)
	}
	p, err := load("search:\n  unstructured: {patterns: [element, \"2:4\"]}\n")
	if err != nil {
		t.Fatal(err)
	}
	u := p.Search.Unstructured
	if u == nil || len(u.Sparsity) != 3 || len(u.Patterns) != 2 || len(u.Coding) != 3 || u.MinParams != DefaultMinParams || u.Sensitivity != "composed" {
		t.Fatalf("defaults not applied: %+v", u)
	}
	if p, err := load(""); err != nil || p.Search.Unstructured != nil {
		t.Fatalf("no block: want nil (off), got %+v, %v", p.Search.Unstructured, err)
	}
	_, err = load("search:\n  unstructured:\n    sparsity: [0.5, 1.2]\n    patterns: [element, \"3:2\", block=16x17]\n    coding: [fp16, codebook:9, int8]\n    min_params: -1\n    colour: red\n    sensitivity: guessed\n")
	if err == nil {
		t.Fatal("loaded a broken search block")
	}
	msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	for _, w := range []string{
		"t.yaml:18: search.unstructured.colour: unknown field",
		"t.yaml:14: search.unstructured.sparsity[1]: invalid value 1.2: must be in (0, 1)",
		"t.yaml:15: search.unstructured.patterns[1]: invalid value 3:2: N:M needs",
		"t.yaml:15: search.unstructured.patterns[2]: invalid value block=16x17",
		"t.yaml:16: search.unstructured.coding[1]: invalid value codebook:9",
		"t.yaml:16: search.unstructured.coding[2]: invalid value int8",
		"t.yaml:17: search.unstructured.min_params: invalid value -1",
		"t.yaml:19: search.unstructured.sensitivity: invalid value guessed: must be one of measured, composed",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("errors\n%s\nlack %q", msg, w)
		}
	}
}
