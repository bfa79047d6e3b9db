package build

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fixtureResult() *Result {
	top1a, top1b, ag, loss1, loss2 := 0.99, 0.985, 0.992, 0.1, 0.2
	return &Result{
		Schema: ResultSchema, Model: "lenet5.onnx", Profile: "configs/host-amd64.yaml", Device: "host-amd64",
		CostSource: "datasheet", Damage: "KL", Warnings: []string{"a <warning> & more"}, Finetune: "skipped",
		Groups: []GroupResult{
			{Roots: []string{"conv1"}, Units: 16, Choice: 2, Options: []Option{{Keep: 1, Kept: 16}, {Keep: .75, Kept: 12, Damage: .01, DeltaMS: -.1}, {Keep: .5, Kept: 8, Damage: .05, DeltaMS: -.2}}},
			{Roots: []string{"conv2"}, Units: 32, Choice: 1, Options: []Option{{Keep: 1, Kept: 32}, {Keep: .75, Kept: 24, Damage: .02, DeltaMS: -.3}, {Keep: .5, Kept: 16, Damage: .2, DeltaMS: -.5}}},
		},
		Layers:  []LayerRow{{Node: "conv1", Op: "Conv", OutBefore: 16, OutAfter: 8, InBefore: 1, InAfter: 1, Params: 200, FLOPs: 1e6, MS: .1}},
		Before:  Metrics{LatencyMS: 1, ByClassMS: map[string]float64{"conv_kxk": .8, "gemm": .2}, FileBytes: 2 << 20, Top1: &top1a},
		After:   Metrics{LatencyMS: .5, ByClassMS: map[string]float64{"conv_kxk": .35, "gemm": .15}, FileBytes: 1 << 20, Top1: &top1b, Agreement: &ag},
		Budgets: []BudgetRow{{Name: "latency_ms", Budget: .6, Value: .5, Unit: "ms", OK: true}, {Name: "file_mb", Budget: .5, Value: 1, Unit: "MB", Gap: .5}},
		Phases:  map[string]float64{"sensitivity": 1.5}, Built: time.Unix(0, 0).UTC(),
		Selection: &Selection{Rule: "probed", Why: "uniform keep 0.5: calibration loss 0.1000", Candidates: []Candidate{
			{Name: "solver's choice", Choice: []int{2, 1}, Kept: []int{8, 24}, PredictedMS: .5, MeasuredMS: .52, Top1: &top1b, Loss: &loss2},
			{Name: "uniform keep 0.5", Choice: []int{2, 2}, Kept: []int{8, 16}, PredictedMS: .45, Top1: &top1a, Loss: &loss1, Chosen: true},
			{Name: "knapsack (task-loss damage)", Choice: []int{1, 2}, Kept: []int{12, 16}, PredictedMS: .55, MeasuredMS: .7, Excluded: "measured 0.7 ms > 0.54 ms"}}},
	}
}

func TestReportSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReport(&b, fixtureResult()); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, bad := range []string{"<script", "http://", "https://", "<link", "@import", "<warning>"} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains %q (must be self-contained and escaped)", bad)
		}
	}
	for _, want := range []string{`id="budgets"`, `id="layers"`, `id="class-chart"`, `id="sensitivity"`, `id="candidates"`, "uniform keep 0.5", "[12 16]", "0.1000", "measured 0.7 ms &gt; 0.54 ms", "&lt;warning&gt;", "over by 0.5"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// build.json round trip renders the same.
	var js bytes.Buffer
	if err := writeJSONForTest(&js, fixtureResult()); err != nil {
		t.Fatal(err)
	}
	r, err := ReadResult(&js)
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	if err := WriteReport(&b2, r); err != nil {
		t.Fatal(err)
	}
	if b2.String() != html {
		t.Error("the report of the re-read build.json differs")
	}
}

// TestReportInChromium loads the report in headless Chromium: no console
// errors, the charts and tables are in the rendered DOM, and a screenshot
// is not blank.
func TestReportInChromium(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (Debian package chromium; scripts/setup.sh installs it): the report is not checked in a browser")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := WriteReport(&b, fixtureResult()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(page, b.Bytes(), 0o644)
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0"}
	cmd := exec.Command(chrome, append(args, "--dump-dom", "file://"+page)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{`<svg id="class-chart"`, `<svg id="sensitivity"`, `<svg id="budget-bars"`, `<table id="layers"`, `<table id="candidates"`, `<polyline`, "conv1"} {
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "CONSOLE") || strings.Contains(l, "Uncaught") {
			t.Errorf("console message: %s", l)
		}
	}
	shot := filepath.Join(dir, "shot.png")
	cmd = exec.Command(chrome, append(args, "--screenshot="+shot, "--window-size=1000,1200", "file://"+page)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	colors := map[uint32]int{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 4 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[(r>>12)<<8|(g>>12)<<4|bl>>12]++
		}
	}
	if len(colors) < 5 {
		t.Errorf("screenshot looks blank: %d distinct colours", len(colors))
	}
	if os.Getenv("EDGEPRUNE_KEEP_SCREENSHOT") != "" {
		data, _ := os.ReadFile(shot)
		os.WriteFile(os.Getenv("EDGEPRUNE_KEEP_SCREENSHOT"), data, 0o644)
	}
}

// writeJSONForTest writes r as build.json does.
func writeJSONForTest(w io.Writer, r *Result) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}
