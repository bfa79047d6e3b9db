package build

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ReadORT reads profile_rounds.js timings, selects the fitting or the
// held-out variants by their names, and takes the latency without the
// profiler (CPU time) as the target.
func TestReadORTTimings(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "p.json")
	if err := os.WriteFile(prof, []byte(`[
{"cat":"Session","name":"model_run","ts":0,"dur":900},
{"cat":"Node","name":"a_kernel_time","ts":10,"dur":700,"args":{"op_name":"Relu","input_type_shape":[{"float":[1,4]}],"output_type_shape":[{"float":[1,4]}]}},
{"cat":"Session","name":"model_run","ts":1000,"dur":500},
{"cat":"Node","name":"a_kernel_time","ts":1010,"dur":400,"args":{"op_name":"Relu","input_type_shape":[{"float":[1,4]}],"output_type_shape":[{"float":[1,4]}]}}
]`), 0o644); err != nil {
		t.Fatal(err)
	}
	list := []ORTTiming{
		{Model: "/x/m-width-00.onnx", Profile: prof, Warmup: 1, WallMS: []float64{0.5, 0.3}, CPUMS: []float64{0.4, 0.25}},
		{Model: "/x/m-fit-04.onnx", Profile: prof, Warmup: 1, WallMS: []float64{0.5}, CPUMS: []float64{0.4}},
		{Model: "/x/m-validate-08.onnx", Profile: prof, Warmup: 1, WallMS: []float64{0.5}, CPUMS: []float64{0.35}},
	}
	b, _ := json.Marshal(list)
	timings := filepath.Join(dir, "all.ort.json")
	if err := os.WriteFile(timings, b, 0o644); err != nil {
		t.Fatal(err)
	}
	o := ORTReadOptions{Quantile: 0, NoGraph: true}
	fit, err := ReadORT([]string{timings + ":fit"}, o)
	if err != nil {
		t.Fatal(err)
	}
	held, err := ReadORT([]string{timings + ":validate"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(fit) != 2 || len(held) != 1 || ORTModelName(held[0]) != "m" {
		t.Fatalf("%d fitting, %d held-out runs", len(fit), len(held))
	}
	r := fit[0]
	if r.Runs != 1 || r.RunMS != 0.5 || r.Nodes[0].MS != 0.4 || r.LatencyMS != 0.25 || r.LatencyWallMS != 0.3 || r.Target() != 0.25 {
		t.Errorf("run: %d runs, profiled %v, node %v, latency %v (wall %v)", r.Runs, r.RunMS, r.Nodes[0].MS, r.LatencyMS, r.LatencyWallMS)
	}
	if _, err := ReadORT([]string{prof + ":fit"}, o); err == nil || !strings.Contains(err.Error(), "selects nothing") {
		t.Errorf("a plain profile with :fit: %v", err)
	}
}
