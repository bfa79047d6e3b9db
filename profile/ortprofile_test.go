package profile

import (
	"strings"
	"testing"
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
