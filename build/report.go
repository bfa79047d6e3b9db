package build

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"

	"github.com/edgeprune/edgeprune/profile"
)

// ReadResult decodes a build.json.
func ReadResult(r io.Reader) (*Result, error) {
	var res Result
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("build: reading build.json: %w", err)
	}
	if res.Schema != ResultSchema {
		return nil, fmt.Errorf("build: build.json schema %q, want %q", res.Schema, ResultSchema)
	}
	return &res, nil
}

// bar is one bar of a horizontal bar chart (SVG units).
type bar struct {
	Label  string
	Y      int
	W1, W2 float64 // before, after widths
	V1, V2 string
	Over   bool
}

type curve struct {
	Label  string
	Points string // SVG polyline points
	Color  string
	Y      int // of the legend
}

type reportData struct {
	R          *Result
	ClassBars  []bar
	ClassH     int
	BudgetBars []bar
	BudgetH    int
	Curves     []curve
	CurveYMax  string
	Axis       []tick
}

type tick struct {
	X     float64
	Label string
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// WriteReport renders the result as one self-contained HTML page: inline
// CSS and SVG, no script, no external resource.
func WriteReport(w io.Writer, r *Result) error {
	d := reportData{R: r}
	// Latency by op class, before and after.
	var classes []string
	maxMS := 0.0
	for c, v := range r.Before.ByClassMS {
		classes = append(classes, c)
		maxMS = math.Max(maxMS, v)
	}
	sort.Strings(classes)
	for i, c := range classes {
		b, a := r.Before.ByClassMS[c], r.After.ByClassMS[c]
		d.ClassBars = append(d.ClassBars, bar{Label: c, Y: 10 + i*34, W1: 420 * b / math.Max(maxMS, 1e-9), W2: 420 * a / math.Max(maxMS, 1e-9),
			V1: fmt.Sprintf("%.2f ms", b), V2: fmt.Sprintf("%.2f ms", a)})
	}
	d.ClassH = 20 + len(classes)*34
	// Budget bars: value as a fraction of the budget (the budget at 300 px).
	for i, b := range r.Budgets {
		if b.Budget <= 0 {
			continue
		}
		frac := b.Value / b.Budget
		d.BudgetBars = append(d.BudgetBars, bar{Label: b.Name, Y: 10 + i*26, W2: 300 * math.Min(frac, 1.6), V2: b.Shown() + " / " + b.Limit(),
			Over: !b.OK})
	}
	d.BudgetH = 20 + len(r.Budgets)*26
	// Sensitivity curves: damage against keep ratio, per group (at most 10).
	ymax := 0.0
	var structured []GroupResult // the curves are against the keep ratio
	for _, g := range r.Groups {
		if g.Kind != "" {
			continue
		}
		structured = append(structured, g)
		for _, o := range g.Options {
			ymax = math.Max(ymax, o.Damage)
		}
	}
	if ymax == 0 {
		ymax = 1
	}
	for i, g := range structured {
		if i >= len(palette) {
			break
		}
		var pts string
		for _, o := range g.Options {
			x := 40 + 400*(1-o.Keep)/0.8
			y := 210 - 190*o.Damage/ymax
			pts += fmt.Sprintf("%.1f,%.1f ", x, y)
		}
		label := fmt.Sprint(g.Roots)
		d.Curves = append(d.Curves, curve{Label: label, Points: pts, Color: palette[i], Y: 30 + 16*i})
	}
	d.CurveYMax = fmt.Sprintf("%.3g", ymax)
	for _, k := range []float64{1, .8, .6, .4, .2} {
		d.Axis = append(d.Axis, tick{X: 40 + 400*(1-k)/0.8, Label: fmt.Sprintf("%.1f", k)})
	}
	return reportTmpl.Execute(w, d)
}

func mb(n int64) string { return fmt.Sprintf("%.2f", float64(n)/profile.MB) }

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"mb": mb,
	"f2": func(x float64) string { return fmt.Sprintf("%.2f", x) },
	"pct": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf("%.2f%%", *p*100)
	},
	"mflops": func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/1e6) },
	"keep": func(g GroupResult) string {
		if u := g.Options[g.Choice].Unstructured; u != nil {
			return u.String()
		}
		return fmt.Sprintf("%.3g", g.Options[g.Choice].Keep)
	},
	"dash": func(s string) string {
		if s == "" {
			return "–"
		}
		return s
	},
	"kept":   func(g GroupResult) int { return g.Options[g.Choice].Kept },
	"add":    func(a, b int) int { return a + b },
	"pct100": func(x float64) float64 { return 100 * x },
	"deref":  func(p *float64) float64 { return *p },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeprune build: {{.R.Model}} for {{.R.Device}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:1000px;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#f5f5f5}.ok{color:#2a7d2a;font-weight:600}.over{color:#c62828;font-weight:600}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.4em .8em;margin:.4em 0}
svg text{font:12px system-ui,sans-serif}.muted{color:#666}
</style></head><body>
<h1>{{.R.Model}} → {{.R.Device}}</h1>
{{if .R.Source}}<p class="muted">{{.R.Source}}</p>{{end}}
<p class="muted">Profile {{.R.Profile}} · built {{.R.Built.Format "2006-01-02 15:04 UTC"}} · cost model: {{.R.CostSource}} · damage: {{.R.Damage}} · fine-tuning: {{.R.Finetune}}</p>
{{range .R.Warnings}}<div class="warn">{{.}}</div>{{end}}
<h2>Budgets</h2>
{{if not .R.Budgets}}<p id="no-budgets">No budgets: this report is of a pruning run, not a profile-driven build.</p>{{end}}
<table id="budgets"><tr><th>budget</th><th>limit</th><th>value</th><th>status</th><th>note</th></tr>
{{range .R.Budgets}}<tr><td>{{.Name}}</td><td>{{.Limit}}</td><td>{{.Shown}}</td><td>{{if .OK}}<span class="ok">ok</span>{{else}}<span class="over">over by {{.GapShown}}</span>{{end}}</td><td>{{.Note}}</td></tr>
{{end}}</table>
<svg id="budget-bars" width="700" height="{{.BudgetH}}" role="img" aria-label="budget bars">
{{range .BudgetBars}}<text x="0" y="{{add .Y 13}}">{{.Label}}</text><rect x="130" y="{{.Y}}" width="{{printf "%.1f" .W2}}" height="18" fill="{{if .Over}}#d62728{{else}}#2ca02c{{end}}"/><line x1="430" x2="430" y1="{{.Y}}" y2="{{add .Y 18}}" stroke="#000" stroke-dasharray="3 2"/><text x="620" y="{{add .Y 13}}" text-anchor="end">{{.V2}}</text>
{{end}}</svg>
<h2>Before and after</h2>
<table id="summary"><tr><th></th><th>latency (ms, predicted)</th><th>measured</th><th>RAM (MB)</th><th>weights (MB)</th><th>activations (MB)</th><th>file (MB)</th><th>MFLOPs</th><th>params</th><th>top-1</th><th>agreement</th></tr>
<tr><td>original</td><td>{{f2 .R.Before.LatencyMS}}</td><td>{{if .R.Before.MeasuredMS}}{{f2 .R.Before.MeasuredMS}} {{.R.Before.MeasuredStatistic}}{{else}}–{{end}}</td><td>{{mb .R.Before.RAMBytes}}</td><td>{{mb .R.Before.WeightBytes}}</td><td>{{mb .R.Before.PeakActivationBytes}}</td><td>{{mb .R.Before.FileBytes}}</td><td>{{mflops .R.Before.FLOPs}}</td><td>{{.R.Before.Params}}</td><td>{{pct .R.Before.Top1}}</td><td>{{pct .R.Before.Agreement}}</td></tr>
<tr><td>built</td><td>{{f2 .R.After.LatencyMS}}</td><td>{{if .R.After.MeasuredMS}}{{f2 .R.After.MeasuredMS}} {{.R.After.MeasuredStatistic}}{{else}}–{{end}}</td><td>{{mb .R.After.RAMBytes}}</td><td>{{mb .R.After.WeightBytes}}</td><td>{{mb .R.After.PeakActivationBytes}}</td><td>{{mb .R.After.FileBytes}}</td><td>{{mflops .R.After.FLOPs}}</td><td>{{.R.After.Params}}</td><td>{{pct .R.After.Top1}}</td><td>{{pct .R.After.Agreement}}</td></tr></table>
<h2>Latency by op class (predicted)</h2>
<svg id="class-chart" width="700" height="{{.ClassH}}" role="img" aria-label="latency by op class">
{{range .ClassBars}}<text x="0" y="{{add .Y 12}}">{{.Label}}</text><rect x="90" y="{{.Y}}" width="{{printf "%.1f" .W1}}" height="14" fill="#9ecae1"/><rect x="90" y="{{add .Y 15}}" width="{{printf "%.1f" .W2}}" height="14" fill="#1f77b4"/><text x="690" y="{{add .Y 12}}" text-anchor="end">{{.V1}} → {{.V2}}</text>
{{end}}</svg>
<p class="muted">Light: original; dark: built.</p>
<h2>Sensitivity (damage against keep ratio, per group)</h2>
<svg id="sensitivity" width="700" height="240" role="img" aria-label="sensitivity curves">
<line x1="40" y1="210" x2="440" y2="210" stroke="#444"/><line x1="40" y1="20" x2="40" y2="210" stroke="#444"/>
{{range .Axis}}<text x="{{printf "%.1f" .X}}" y="226" text-anchor="middle">{{.Label}}</text>{{end}}
<text x="44" y="16">damage (max {{.CurveYMax}})</text><text x="440" y="240" text-anchor="end">keep ratio</text>
{{range $i, $c := .Curves}}<polyline fill="none" stroke="{{$c.Color}}" stroke-width="1.5" points="{{$c.Points}}"/><text x="455" y="{{$c.Y}}" fill="{{$c.Color}}">{{$c.Label}}</text>
{{end}}</svg>
{{with .R.Selection}}<h2>Candidates (the accuracy budget searched)</h2>
<p>{{.Rule}}. Kept: {{.Why}}.</p>
<table id="candidates"><tr><th>candidate</th><th>channels kept per group</th><th>predicted ms</th><th>measured ms</th><th>calibration top-1</th><th>loss</th><th></th></tr>
{{range .Candidates}}<tr><td>{{.Name}}</td><td>{{.Kept}}</td><td>{{printf "%.4g" .PredictedMS}}</td><td>{{if .MeasuredMS}}{{printf "%.4g" .MeasuredMS}}{{else}}–{{end}}</td><td>{{pct .Top1}}</td><td>{{if .Loss}}{{printf "%.4f" (deref .Loss)}}{{else}}–{{end}}</td><td>{{if .Chosen}}<span class="ok">kept</span>{{else}}{{.Excluded}}{{end}}</td></tr>
{{end}}</table>{{end}}
<h2>Choices per group</h2>
<p class="muted">Structured groups: channels kept and keep ratio; unstructured layers (search.unstructured): weights, and the sparsity, pattern and coding chosen.</p>
<table id="groups"><tr><th>group (roots)</th><th>channels / weights</th><th>kept</th><th>keep / option</th><th>damage</th><th>Δ ms</th></tr>
{{range .R.Groups}}<tr><td>{{.Roots}}</td><td>{{.Units}}</td><td>{{kept .}}</td><td>{{keep .}}</td><td>{{printf "%.4g" (index .Options .Choice).Damage}}</td><td>{{printf "%.3f" (index .Options .Choice).DeltaMS}}</td></tr>
{{end}}</table>
<h2>Layers</h2>
<table id="layers"><tr><th>node</th><th>op</th><th>out channels</th><th>in channels</th><th>params</th><th>sparsity</th><th>pattern</th><th>coding</th><th>MFLOPs</th><th>predicted ms</th></tr>
{{range .R.Layers}}<tr><td>{{.Node}}</td><td>{{.Op}}</td><td>{{.OutBefore}} → {{.OutAfter}}</td><td>{{.InBefore}} → {{.InAfter}}</td><td>{{.Params}}</td><td>{{printf "%.1f%%" (pct100 .Sparsity)}}</td><td>{{dash .Pattern}}</td><td>{{dash .Coding}}</td><td>{{mflops .FLOPs}}</td><td>{{printf "%.3f" .MS}}</td></tr>
{{end}}</table>
<p class="muted">Phases (s): {{range $k, $v := .R.Phases}}{{$k}} {{$v}} · {{end}}solve rounds {{.R.Rounds}}</p>
</body></html>
`))
