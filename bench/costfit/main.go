// Command costfit refits saved calibration timings (edgeprune calibrate
// --save-timings) and shows where the cost model's errors are: per model
// the whole-run errors, per op class the node-level errors on the
// validation variants, and the nodes with the largest total error.
//
//	go run ./bench/costfit /tmp/cal/*.json
//	go run ./bench/costfit -against DIR A/*.json  # measurement against measurement: the same validation variants timed again (DIR/<same name>)
//	STATISTIC=min go run ./bench/costfit ...   # the whole runs' fastest instead
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/profile"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: costfit TIMINGS.json...")
		os.Exit(2)
	}
	files := os.Args[1:]
	if files[0] == "-against" && len(files) > 2 {
		against(files[1], files[2:])
		return
	}
	var ts []*build.Timings
	for _, f := range files {
		ts = append(ts, load(f))
	}
	t, err := build.MergeTimings(ts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if st := os.Getenv("STATISTIC"); st != "" {
		t.Statistic = st // the whole runs' statistic (the nodes' was fixed when measured)
	}
	p := &profile.Profile{}
	res, err := build.FitTimings(p, t, build.CalibrateOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	co := res.Calibration.ByThreads[fmt.Sprint(t.Threads)]
	fmt.Printf("run scale %.3f, %.2f µs per node, %.3f ns per output element, %.1f µs per run\n", co.RunScale, co.DispatchUS, co.DispatchNSPerOut, co.GraphOverheadUS)
	for _, c := range profile.OpClasses {
		if oc := co.Ops[string(c)]; oc != nil && oc.Terms != nil {
			fmt.Printf("  %-9s overhead %6.2f µs align %2d ns/elem %v\n", c, oc.OverheadUS, oc.Align, oc.Terms)
		}
	}
	fmt.Printf("%-24s %-22s %-22s %-22s %-22s\n", "model", "cost model", "FLOPs only", "two-param", "node sums")
	f := func(e profile.ErrorStats) string {
		return fmt.Sprintf("%5.1f%% %3.0f%%", e.MAPE*100, e.Within10Pct*100)
	}
	for _, mt := range t.Models {
		s := res.PerModel[mt.Model]
		fmt.Printf("%-24s %-22s %-22s %-22s %-22s\n", mt.Model, f(s.CostModel), f(s.FLOPsOnly), f(s.TwoParam), f(s.NodeSum))
	}
	s := res.Overall
	fmt.Printf("%-24s %-22s %-22s %-22s %-22s\n", "all", f(s.CostModel), f(s.FLOPsOnly), f(s.TwoParam), f(s.NodeSum))
	// Drift: predicted / measured node sums, in measurement order.
	for _, mt := range t.Models {
		fmt.Printf("%-24s pred/meas node sums in measurement order:", mt.Model)
		for _, pt := range mt.Plans {
			fmt.Printf(" %s%.2f", pt.Kind[:1], profile.PredictNodes(co, pt.Nodes)/sumMS(pt.Nodes))
		}
		fmt.Println()
	}
	// Node-level errors on the validation plans, per class and per node.
	type agg struct {
		n              int
		meas, pred, ae float64
	}
	byClass := map[profile.OpClass]*agg{}
	byNode := map[string]*agg{}
	for _, mt := range t.Models {
		for _, pt := range mt.Plans {
			if pt.Kind != build.PlanValidate || (os.Getenv("FOCUS") != "" && os.Getenv("FOCUS") != mt.Model) {
				continue
			}
			for _, n := range pt.Nodes {
				if n.MS <= 0 {
					continue
				}
				pr := profile.PredictNodes(co, []profile.NodeSample{n})
				for _, a := range []*agg{get(byClass, n.Class), getS(byNode, mt.Model+" "+n.Name+" "+n.Op+" "+string(n.Class))} {
					a.n++
					a.meas += n.MS
					a.pred += pr
					a.ae += math.Abs(pr - n.MS)
				}
			}
		}
	}
	fmt.Println("validation nodes by class: n, Σ measured ms, Σ predicted, Σ|error|")
	for c, a := range byClass {
		fmt.Printf("  %-9s %5d %9.2f %9.2f %8.2f\n", c, a.n, a.meas, a.pred, a.ae)
	}
	var keys []string
	for k := range byNode {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return byNode[keys[i]].ae > byNode[keys[j]].ae })
	fmt.Println("largest node errors (Σ over validation variants):")
	for _, k := range keys[:min(25, len(keys))] {
		a := byNode[k]
		fmt.Printf("  %-70s %3d meas %8.3f pred %8.3f |err| %7.3f\n", k, a.n, a.meas, a.pred, a.ae)
	}
}

func get[K comparable, V any](m map[K]*V, k K) *V {
	if m[k] == nil {
		m[k] = new(V)
	}
	return m[k]
}

func getS[V any](m map[string]*V, k string) *V { return get(m, k) }

func sumMS(ns []profile.NodeSample) float64 {
	var s float64
	for _, n := range ns {
		s += n.MS
	}
	return s
}

// against compares the whole-run times of the validation variants in each
// file with those of the file of the same name in dir (the same variants,
// the same seed, timed in another run): the noise floor of the ±10% test.
func against(dir string, files []string) {
	var all []float64
	for _, f := range files {
		a, b := load(f), load(filepath.Join(dir, filepath.Base(f)))
		q := 0.5
		if a.Statistic == "min" {
			q = 0
		}
		for mi, mt := range a.Models {
			var e []float64
			for pi, pt := range mt.Plans {
				pb := b.Models[mi].Plans[pi]
				if pt.Kind != build.PlanValidate || !slices.Equal(pt.Choice, pb.Choice) {
					continue
				}
				ta, tb := pt.Run.Quantile(q), pb.Run.Quantile(q)
				e = append(e, (tb-ta)/ta)
			}
			all = append(all, e...)
			fmt.Printf("%-24s %s\n", mt.Model, describe(e))
		}
	}
	fmt.Printf("%-24s %s\n", "all", describe(all))
}

func describe(e []float64) string {
	var mape, mean, in float64
	for _, x := range e {
		mape += math.Abs(x)
		mean += x
		if math.Abs(x) <= 0.1 {
			in++
		}
	}
	n := float64(len(e))
	return fmt.Sprintf("%d variants: MAPE %.1f%%, %.0f%% within ±10%%, mean %+.1f%%", len(e), 100*mape/n, 100*in/n, 100*mean/n)
}

func load(f string) *build.Timings {
	b, err := os.ReadFile(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	t := new(build.Timings)
	if err := json.Unmarshal(b, t); err != nil {
		fmt.Fprintln(os.Stderr, f, err)
		os.Exit(1)
	}
	return t
}
