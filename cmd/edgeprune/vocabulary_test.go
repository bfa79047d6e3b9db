package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
)

// TestOutputFlagSpellings: every command that writes a file takes
// -o/--output; the old spellings (run --out, convert IN OUT) still work for
// one release, say they are deprecated on stderr, and are not in --help.
func TestOutputFlagSpellings(t *testing.T) {
	model := demoModel(t)
	dir := t.TempDir()
	epk := filepath.Join(dir, "m.epk")
	if code, _, errs := runCLI(t, "pack", model, "-o", epk, "--level", "1"); code != 0 {
		t.Fatal(errs)
	}
	cases := []struct {
		name string
		args func(o, out string) []string // o: "-o" or "--output"
		file string                       // what appears under out
	}{
		{"convert", func(o, out string) []string { return []string{"convert", model, o, filepath.Join(out, "c.onnx")} }, "c.onnx"},
		{"prune", func(o, out string) []string {
			return []string{"prune", model, o, filepath.Join(out, "p.onnx"), "--sparsity", "0.5"}
		}, "p.onnx"},
		{"pack", func(o, out string) []string {
			return []string{"pack", model, o, filepath.Join(out, "p.epk"), "--level", "1"}
		}, "p.epk"},
		{"unpack", func(o, out string) []string { return []string{"unpack", epk, o, filepath.Join(out, "u.onnx")} }, "u.onnx"},
		{"run", func(o, out string) []string { return []string{"run", model, "--random", o, filepath.Join(out, "npy")} }, "npy/y.npy"},
	}
	for _, c := range cases {
		for _, o := range []string{"-o", "--output"} {
			out := t.TempDir()
			code, _, errs := runCLI(t, c.args(o, out)...)
			if code != 0 {
				t.Errorf("%s %s: exit %d: %s", c.name, o, code, errs)
				continue
			}
			if _, err := os.Stat(filepath.Join(out, c.file)); err != nil {
				t.Errorf("%s %s: %v", c.name, o, err)
			}
			if strings.Contains(errs, "deprecated") {
				t.Errorf("%s %s: deprecation note for the current spelling: %q", c.name, o, errs)
			}
		}
	}
	// The old spellings: still work, with a note on stderr (never stdout).
	out := t.TempDir()
	for _, c := range []struct {
		args []string
		file string
		note string
	}{
		{[]string{"convert", model, filepath.Join(out, "old.onnx")}, "old.onnx", "use convert IN -o OUT"},
		{[]string{"run", model, "--random", "--out", filepath.Join(out, "oldnpy")}, "oldnpy/y.npy", "--out is deprecated: use --output"},
		{[]string{"prune", model, "-o", filepath.Join(out, "s.onnx"), "--structured", "--sparsity", "0.5", "--input-shape", "x=1,3,96,96", "--json"},
			"s.onnx", "--input-shape is deprecated: use --shape"},
	} {
		code, stdout, errs := runCLI(t, c.args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", c.args, code, errs)
			continue
		}
		if _, err := os.Stat(filepath.Join(out, c.file)); err != nil {
			t.Errorf("%v: %v", c.args, err)
		}
		if !strings.Contains(errs, c.note) || strings.Contains(stdout, "deprecated") {
			t.Errorf("%v: want the note %q on stderr only; stderr %q", c.args, c.note, errs)
		}
	}
	// convert: OUT twice is a usage error.
	if code, _, errs := runCLI(t, "convert", model, filepath.Join(out, "a.onnx"), "-o", filepath.Join(out, "b.onnx")); code != exitUsage || !strings.Contains(errs, "twice") {
		t.Errorf("convert IN OUT -o OUT2: exit %d: %s", code, errs)
	}
}

// TestHelpUsesCurrentSpellings: no command's --help shows an old spelling,
// and every command that writes an output documents -o/--output.
func TestHelpUsesCurrentSpellings(t *testing.T) {
	old := regexp.MustCompile(`--input-shape|--out\b|convert \S+\.onnx \S+\.onnx`)
	for _, name := range []string{"", "inspect", "convert", "prune", "pack", "unpack", "run", "eval", "bench", "version"} {
		args := []string{"--help"}
		if name != "" {
			args = []string{name, "--help"}
		}
		code, out, errs := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%s --help: exit %d: %s", name, code, errs)
		}
		if m := old.FindString(out); m != "" {
			t.Errorf("%s --help shows the old spelling %q", name, m)
		}
		switch name {
		case "convert", "prune", "pack", "unpack", "run":
			if !strings.Contains(out, "-o, --output") {
				t.Errorf("%s --help has no -o, --output", name)
			}
		}
	}
}

// TestBadShapeIsUsageEverywhere: a malformed --shape (or one naming no
// input) is exit 2, naming --shape, in every command that takes one — and
// before the model is read, for mistakes of syntax.
func TestBadShapeIsUsageEverywhere(t *testing.T) {
	model := demoModel(t)
	missing := filepath.Join(t.TempDir(), "missing.onnx")
	out := filepath.Join(t.TempDir(), "o.onnx")
	commands := map[string]func(model, shape string) []string{
		"run": func(m, s string) []string { return []string{"run", m, "--random", "-o", t.TempDir(), "--shape", s} },
		"bench": func(m, s string) []string {
			return []string{"bench", m, "--runs", "1", "--warmup", "0", "--shape", s}
		},
		"prune --structured": func(m, s string) []string {
			return []string{"prune", m, "-o", out, "--structured", "--sparsity", "0.5", "--shape", s}
		},
		"prune --input-shape": func(m, s string) []string {
			return []string{"prune", m, "-o", out, "--structured", "--sparsity", "0.5", "--input-shape", s}
		},
	}
	syntax := []string{"x", "x=", "=1,3,32,32", "x=1,3,a,32", "x=1,0,32,32", "x=1,-3,32,32", "x=1,3,32,2000000"}
	for name, args := range commands {
		for _, bad := range syntax {
			for _, m := range []string{model, missing} {
				code, _, errs := runCLI(t, args(m, bad)...)
				if code != exitUsage || !strings.Contains(errs, "--shape "+bad) {
					t.Errorf("%s --shape %q (model %s): exit %d, stderr %q; want 2 naming --shape %s", name, bad, filepath.Base(m), code, errs, bad)
				}
			}
		}
		// Twice the same input, or an input the model does not have.
		code, _, errs := runCLI(t, append(args(model, "x=1,3,32,32"), "--shape", "x=1,3,16,16")...)
		if code != exitUsage || !strings.Contains(errs, "twice") {
			t.Errorf("%s: --shape x twice: exit %d, stderr %q", name, code, errs)
		}
		code, _, errs = runCLI(t, args(model, "nosuch=1,3,32,32")...)
		if code != exitUsage || !strings.Contains(errs, `no input "nosuch"`) || !strings.Contains(errs, "its inputs: x") {
			t.Errorf("%s: --shape nosuch=...: exit %d, stderr %q", name, code, errs)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused prune wrote its output")
	}
}

// libraryName matches what a CLI error must not show: library option
// calls, package prefixes, Go identifiers of settings.
var libraryName = regexp.MustCompile(`With[A-Z]\w*\(|\b(pack|prune|engine|onnxio): |invalid setting|round_to|StructuredSparsity|RoundTo|MinChannels`)

// TestErrorsNameFlags: a value the library refuses is a usage error (2) that
// names the flag as typed and says what is wrong, never a library option.
func TestErrorsNameFlags(t *testing.T) {
	model := demoModel(t)
	dir := t.TempDir()
	out, epk := filepath.Join(dir, "o.onnx"), filepath.Join(dir, "o.epk")
	cases := []struct {
		args []string
		say  string
	}{
		{[]string{"pack", model, "-o", epk, "--level", "99"}, "--level 99: must be in [1, 22]"},
		{[]string{"pack", model, "-o", epk, "--level", "0"}, "--level 0: "},
		{[]string{"pack", model, "-o", epk, "--values", "codebook:9"}, "--values codebook:9: bits must be in [2, 8]"},
		{[]string{"pack", model, "-o", epk, "--values", "codebook:x"}, "--values codebook:x: "},
		{[]string{"pack", model, "-o", epk, "--values", "int4"}, "--values int4: want fp32, fp16 or codebook:BITS"},
		{[]string{"prune", model, "-o", out, "--sparsity", "1.5"}, "--sparsity 1.5: must be in [0, 1)"},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--scope", "all"}, "--scope all: want global, layer or row"},
		{[]string{"prune", model, "-o", out, "--pattern", "3:2"}, "--pattern 3:2: N:M needs"},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--pattern", "blocks"}, "--pattern blocks: "},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--importance", "l3"}, "--importance l3: "},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.3", "--pattern", "2:4"}, "--sparsity 0.3 --pattern 2:4: "},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--min-sparsity", "0.6", "--max-sparsity", "0.2"}, "--min-sparsity 0.6 --max-sparsity 0.2: "},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--scope", "layer", "--max-sparsity", "0.8"}, "--scope layer --max-sparsity 0.8: "},
		{[]string{"prune", model, "-o", out, "--structured", "--sparsity", "1.5"}, "--sparsity 1.5: must be in [0, 1)"},
		{[]string{"prune", model, "-o", out, "--structured", "--sparsity", "0.5", "--round-to", "-8"}, "--round-to -8: "},
		{[]string{"prune", model, "-o", out, "--structured", "--sparsity", "0.5", "--min-channels", "-1"}, "--min-channels -1: "},
		{[]string{"prune", model, "-o", out, "--structured", "--sparsity", "0.5", "--criterion", "taylor2"}, "--criterion taylor2: "},
		{[]string{"prune", model, "-o", out, "--structured", "--sparsity", "0.5", "--scope", "all"}, "--scope all: "},
		{[]string{"run", model, "--random", "--threads", "-1"}, "--threads -1: must be ≥ 0"},
		{[]string{"bench", model, "--threads", "-1"}, "--threads -1: must be ≥ 0"},
		{[]string{"eval", model, "--data", "x.npz", "--threads", "-1"}, "--threads -1: must be ≥ 0"},
		{[]string{"eval", model, "--data", "x.npz", "--batch", "0"}, "--batch 0: "},
		{[]string{"bench", model, "--runs", "0"}, "--runs 0: "},
		{[]string{"pack", model, "-o", epk, "--level", "x"}, `"--level"`},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--nosuch"}, "unknown flag: --nosuch"},
		{[]string{"convert", model, "-o", out, "--external-data", "--data-file", "../up.data"}, "--data-file ../up.data: "},
		// Refused once the model is read: the flags that asked for it.
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--include", "^nosuch"}, "--include ^nosuch: "},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--op-types", "Foo"}, "--op-types Foo: "},
		{[]string{"prune", model, "-o", out, "--pattern", "2:7"}, "--pattern 2:7: "},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.9", "--min-sparsity", "0.95"}, "--sparsity 0.9 --min-sparsity 0.95: "},
		{[]string{"prune", model, "-o", out, "--structured", "--sparsity", "0.5", "--exclude", "^nosuch"}, "--exclude ^nosuch: "},
	}
	for _, c := range cases {
		code, stdout, errs := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(errs, c.say) {
			t.Errorf("%v: exit %d, stderr %q; want 2 saying %q", c.args[2:], code, errs, c.say)
		}
		if m := libraryName.FindString(errs); m != "" {
			t.Errorf("%v: the error shows the library's %q: %s", c.args[2:], m, errs)
		}
		if stdout != "" {
			t.Errorf("%v: printed on stdout: %q", c.args[2:], stdout)
		}
	}
	for _, p := range []string{out, epk} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a refused command wrote %s", p)
		}
	}
}

// TestUsageErrorsByType: cobra's own mistakes (unknown command, flag,
// argument count) are usage errors by type, in every command.
func TestUsageErrorsByType(t *testing.T) {
	for _, args := range [][]string{
		{"nosuch"}, {"inspct", "m.onnx"}, {"--nosuch"}, {"completion", "nosuch"},
		{"inspect", "--nosuch", "m.onnx"}, {"inspect"}, {"convert"}, {"prune"}, {"pack"}, {"unpack"}, {"run"}, {"eval"}, {"bench"},
		{"bench", "a.onnx", "b.onnx"}, {"prune", "m.onnx", "-o"},
	} {
		code, _, errs := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(errs, "--help") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a pointer to --help", args, code, errs)
		}
	}
	if _, _, errs := runCLI(t, "inspct", "m.onnx"); !strings.Contains(errs, "did you mean inspect") {
		t.Errorf("no suggestion: %q", errs)
	}
}

// TestMissingShapeIsUsageEverywhere: a model input with dynamic dimensions
// (PP-OCRv4 det: x is [?,3,?,?]) and no --shape is the same usage error (2)
// in every command that needs shapes, naming --shape with an example.
func TestMissingShapeIsUsageEverywhere(t *testing.T) {
	det := testmodels.OCR(t, "det")
	out := filepath.Join(t.TempDir(), "o.onnx")
	for _, args := range [][]string{
		{"bench", det, "--runs", "1"},
		{"run", det, "--random", "-o", t.TempDir()},
		{"prune", det, "-o", out, "--structured", "--sparsity", "0.5"},
	} {
		code, _, errs := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(errs, "--shape x=1,3,D2,D3") {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming --shape x=1,3,D2,D3", args, code, errs)
		}
		if m := libraryName.FindString(errs); m != "" {
			t.Errorf("%v: the error shows the library's %q: %s", args, m, errs)
		}
	}
}
