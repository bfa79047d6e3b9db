package profile

import (
	"math"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
)

const ortJSON = `[
{"cat":"Session","name":"model_run","dur":1000},
{"cat":"Node","name":"conv_kernel_time","dur":600,"args":{"op_name":"FusedConv","input_type_shape":[{"float":[1,3,8,8]},{"float":[16,3,3,3]},{"float":[16]}],"output_type_shape":[{"float":[1,16,8,8]}]}},
{"cat":"Node","name":"relu_kernel_time","dur":100,"args":{"op_name":"Relu","input_type_shape":[{"float":[1,16,8,8]}],"output_type_shape":[{"float":[1,16,8,8]}]}},
{"cat":"Session","name":"model_run","dur":1200},
{"cat":"Node","name":"conv_kernel_time","dur":800,"args":{"op_name":"FusedConv","input_type_shape":[{"float":[1,3,8,8]},{"float":[16,3,3,3]},{"float":[16]}],"output_type_shape":[{"float":[1,16,8,8]}]}},
{"cat":"Node","name":"relu_kernel_time","dur":100,"args":{"op_name":"Relu","input_type_shape":[{"float":[1,16,8,8]}],"output_type_shape":[{"float":[1,16,8,8]}]}}
]`

func TestReadORTProfile(t *testing.T) {
	r, err := ReadORTProfile("p.json", strings.NewReader(ortJSON))
	if err != nil {
		t.Fatal(err)
	}
	if r.Runs != 2 || r.RunMS != 1.0 || len(r.Nodes) != 2 {
		t.Fatalf("runs %d, run %v ms, %d nodes", r.Runs, r.RunMS, len(r.Nodes))
	}
	conv := r.Nodes[0]
	if conv.MS != 0.6 || conv.Cost.Op != "Conv" || conv.Cost.FLOPs != 2*16*8*8*27 {
		t.Errorf("conv: %+v", conv)
	}
	s := r.Samples()
	if s[0].Class != ConvKxK || s[1].Class != Eltwise {
		t.Errorf("classes %v %v", s[0].Class, s[1].Class)
	}
	if _, err := ReadORTProfile("x.json", strings.NewReader(`{"not":"a list"}`)); err == nil {
		t.Error("accepted a non-profile")
	}
	if _, err := ReadORTProfile("x.json", strings.NewReader(`[]`)); err == nil || !strings.Contains(err.Error(), "enable_profiling") {
		t.Errorf("empty profile: %v", err)
	}
}

func TestOverride(t *testing.T) {
	p, err := Load("../configs/raspberry-pi-5.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Override("latency_ms=40"); err != nil || p.Budgets.LatencyMS.Max != 40 {
		t.Fatalf("override: %v %+v", err, p.Budgets.LatencyMS)
	}
	for _, bad := range []string{"latency_ms=-3", "latency=4", "file_mb=x", "ram_mb"} {
		if err := p.Override(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	q, _ := Load("../configs/raspberry-pi-5.yaml")
	err = q.Override("latency_ms=-3")
	if err == nil || !strings.Contains(err.Error(), "--budget latency_ms=-3: budgets.latency_ms.max: invalid value -3: must be > 0") {
		t.Errorf("override error: %v", err)
	}
}

func TestWithCalibrationKeepsComments(t *testing.T) {
	src := []byte("# a comment\nschema: edgeprune/profile/v1\nname: x # inline\ncalibration:\n  old: 1\n")
	out, err := WithCalibration(src, &Calibration{Runtime: RuntimeInfo{Name: "edgeprune"}, ByThreads: map[string]*Coeffs{"1": {PeakGFLOPS: 1, BandwidthGBs: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.Contains(s, "# a comment") || !strings.Contains(s, "name: x # inline") || strings.Contains(s, "old: 1") || !strings.Contains(s, "peak_gflops: 1") {
		t.Errorf("rewritten profile:\n%s", s)
	}
}

// A fused NCHWc convolution is named after the tensor it writes: the
// graph (or torch's tensor names) tells which activation was fused.
func TestORTFusedOp(t *testing.T) {
	g := map[string]string{"/b/relu/Relu_output_0": "Relu", "y": "Clip", "/c/Conv_output_0": "Conv"}
	for _, c := range []struct{ name, want string }{
		{"/b/relu/Relu_output_0_nchwc_kernel_time", "Relu"},
		{"y_nchwc_kernel_time", "Clip"},
		{"/c/Conv_output_0_nchwc_kernel_time", "Conv"},
		{"/d/act/HardSigmoid_output_0_kernel_time", "HardSigmoid"}, // not in the graph: torch's name
		{"ReorderOutput_kernel_time", ""},
	} {
		if got := ortFusedOp(c.name, g); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	conv := func(name string, inputs int) ortEvent {
		var e ortEvent
		e.Name, e.Args.OpName = name, "Conv"
		for i := 0; i < inputs; i++ {
			e.Args.In = append(e.Args.In, map[string][]int64{"float": {1, 8, 4, 4}})
		}
		e.Args.In[1]["float"] = []int64{8, 8, 1, 1}
		e.Args.Out = []map[string][]int64{{"float": {1, 8, 4, 4}}}
		return e
	}
	if op := ortCost(conv("y_nchwc_kernel_time", 3), g).Op; op != "Conv+Clip" {
		t.Errorf("clipped conv: %q", op)
	}
	if op := ortCost(conv("/b/relu/Relu_output_0_nchwc_kernel_time", 4), g).Op; op != "Conv+Relu+Sum" {
		t.Errorf("conv with a residual add: %q", op)
	}
	if op := ortCost(conv("y_nchwc_kernel_time", 3), nil).Op; op != "Conv" {
		t.Errorf("without the graph: %q, want ORT's plain Conv", op)
	}
	if c := ortCost(conv("y_nchwc_kernel_time", 3), g); Classify(c) != Conv1x1 || c.FLOPs != 2*8*4*4*8 {
		t.Errorf("conv cost: %+v (%s)", c, Classify(c))
	}
}

// Warm-up runs are dropped and the statistic is the one asked for; gaps
// between kernels count only when asked.
func TestReadORTProfileWith(t *testing.T) {
	const js = `[
{"cat":"Session","name":"model_run","ts":0,"dur":5000},
{"cat":"Node","name":"a_kernel_time","ts":10,"dur":4000,"args":{"op_name":"Relu","input_type_shape":[{"float":[1,4]}],"output_type_shape":[{"float":[1,4]}]}},
{"cat":"Session","name":"model_run","ts":10000,"dur":1000},
{"cat":"Node","name":"a_kernel_time","ts":10010,"dur":300,"args":{"op_name":"Relu","input_type_shape":[{"float":[1,4]}],"output_type_shape":[{"float":[1,4]}]}},
{"cat":"Node","name":"b_kernel_time","ts":10400,"dur":200,"args":{"op_name":"Relu","input_type_shape":[{"float":[1,4]}],"output_type_shape":[{"float":[1,4]}]}},
{"cat":"Session","name":"model_run","ts":20000,"dur":800},
{"cat":"Node","name":"a_kernel_time","ts":20010,"dur":200,"args":{"op_name":"Relu","input_type_shape":[{"float":[1,4]}],"output_type_shape":[{"float":[1,4]}]}},
{"cat":"Node","name":"b_kernel_time","ts":20300,"dur":100,"args":{"op_name":"Relu","input_type_shape":[{"float":[1,4]}],"output_type_shape":[{"float":[1,4]}]}}
]`
	r, err := ReadORTProfileWith("p.json", strings.NewReader(js), ORTReadOptions{SkipRuns: 1, Quantile: 0})
	if err != nil {
		t.Fatal(err)
	}
	if r.Runs != 2 || r.RunMS != 0.8 || len(r.Nodes) != 2 || r.Nodes[0].MS != 0.2 || r.Nodes[1].MS != 0.1 {
		t.Fatalf("min without the warm-up: %d runs, %v ms, nodes %+v", r.Runs, r.RunMS, r.Nodes)
	}
	r, _ = ReadORTProfileWith("p.json", strings.NewReader(js), ORTReadOptions{SkipRuns: 1, Quantile: 0, Gaps: true})
	if r.Nodes[1].MS != 0.19 { // 100 µs kernel + 90 µs since a ended
		t.Errorf("b with its gap: %v ms", r.Nodes[1].MS)
	}
}

// fitRunORT finds a per-node cost that the profiler added (the targets
// are below the profiled nodes' sums by a cost per node).
func TestFitRunORTProfilerCost(t *testing.T) {
	var sums, meas []float64
	var nodes []int
	var outs []int64
	for i := 0; i < 12; i++ {
		s, n := 1+float64(i)*0.7, 20+i*13%50
		sums, nodes, outs = append(sums, s), append(nodes, n), append(outs, 0)
		meas = append(meas, 1.05*s-float64(n)*0.004+0.05)
	}
	c := &Coeffs{}
	c.fitRunORT(sums, nodes, outs, meas)
	if math.Abs(c.RunScale-1.05) > 1e-6 || math.Abs(c.ProfilerUS-4) > 1e-3 || c.DispatchUS != 0 || math.Abs(c.GraphOverheadUS-50) > 1e-3 {
		t.Errorf("fitted %+v", c)
	}
	for i := range meas {
		if p := c.PredictRun(sums[i], nodes[i], outs[i]); math.Abs(p-meas[i]) > 1e-9 {
			t.Errorf("run %d: predicted %v, measured %v", i, p, meas[i])
		}
	}
}

func TestORTOpNamesOnly(t *testing.T) {
	r := &ORTRun{Nodes: []ORTNode{{Cost: engine.NodeCost{Op: "Conv+Relu+Sum"}}, {Cost: engine.NodeCost{Op: "Transpose+ReorderOutput"}}}}
	b := r.OpNamesOnly()
	if b.Nodes[0].Cost.Op != "Conv" || b.Nodes[1].Cost.Op != "Transpose+ReorderOutput" || r.Nodes[0].Cost.Op != "Conv+Relu+Sum" {
		t.Errorf("op names only: %q %q (original %q)", b.Nodes[0].Cost.Op, b.Nodes[1].Cost.Op, r.Nodes[0].Cost.Op)
	}
}
