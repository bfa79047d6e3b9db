package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/profile"
	"github.com/spf13/cobra"
)

// benchJSON is the schema of `bench --json`.
type benchJSON struct {
	Model               string           `json:"model"`
	Threads             int              `json:"threads"`
	Runs                int              `json:"runs"`
	Inputs              map[string][]int `json:"inputs"`
	MedianMS            float64          `json:"median_ms"`
	P90MS               float64          `json:"p90_ms"`
	PeakActivationBytes int64            `json:"peak_activation_bytes"`
	FLOPs               int64            `json:"flops"`
	MACs                int64            `json:"macs"`
	// WeightBytes is what the compiled plan holds for weights and other
	// constants, SparseWeightBytes the part held as sparse matrices.
	WeightBytes       int64 `json:"weight_bytes"`
	SparseWeightBytes int64 `json:"sparse_weight_bytes"`
	// PeakRSSBytes is the process's peak resident memory (Linux VmHWM;
	// 0 elsewhere), loading and compiling included.
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
	// Nodes: every node with a weight the engine could run sparse, with
	// the kernel chosen (and, with --nodes, its median time).
	Nodes []benchNode `json:"nodes,omitempty"`
	// Kernels are the inner kernels that ran (engine.Kernels): on a Pi,
	// sgemm neon-8x12; on an AVX-512 machine, avx512-8x32.
	Kernels []engine.KernelInfo `json:"kernels"`
	// Tunables are the machine numbers the plan was scheduled with
	// (edgeprune tune; measured at start-up when not cached).
	Tunables engine.Tunables `json:"tunables"`
	// ThreadChoice says where the Conv paths and per-node threads came
	// from: "measured" (edgeprune tune --model cached them for this plan,
	// or --tuned gave them) or "cost model" (the rules and the cost model).
	ThreadChoice string `json:"thread_choice"`
	// Adapt is what the plan's choice between its per-node threads and
	// one goroutine did over the runs (engine.AdaptStats); absent when
	// off (one thread, EDGEPRUNE_ADAPT=off).
	Adapt *engine.AdaptStats `json:"adapt,omitempty"`
}

// benchNode is one row of `bench --json`'s nodes.
type benchNode struct {
	Name     string  `json:"name"`
	Op       string  `json:"op"`
	Kernel   string  `json:"kernel"`
	Path     string  `json:"path,omitempty"` // a dense Conv's path (engine.ConvPaths)
	Density  float64 `json:"density,omitempty"`
	MACs     int64   `json:"macs"`
	Threads  int     `json:"threads"` // goroutines the scheduler gave it
	MedianUS float64 `json:"median_us,omitempty"`
}

func newBenchCmd(c *cli) *cobra.Command {
	var shapes []string
	var sparseMode string
	var threads, runs, warmup int
	var asJSON, nodes bool
	var tuned string
	cmd := &cobra.Command{
		Use:   "bench MODEL [--shape NAME=1,3,224,224] [--threads N]",
		Short: "Measure latency, peak activation memory and FLOPs in the pure-Go engine",
		Long: `bench compiles MODEL (an ONNX file or an .epk pack, run without unpacking)
for the given input shapes (dynamic dimensions
must be bound with --shape; a dynamic batch dimension defaults to 1),
runs it on random inputs and reports the median and 90th-percentile latency,
the peak activation memory of the compiled plan and its FLOPs.`,
		Example: `  edgeprune bench resnet18.onnx --threads 1
  edgeprune bench det.onnx --shape x=1,3,320,320 --json`,
		Args: exactArgs(1, "one MODEL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkThreads(threads); err != nil {
				return err
			}
			if runs < 1 {
				return usagef("--runs %d: must be ≥ 1", runs)
			}
			if warmup < 0 {
				return usagef("--warmup %d: must be ≥ 0", warmup)
			}
			ctx := cmd.Context()
			m, given, opts, err := readShaped(ctx, args[0], sparseMode, shapes)
			if err != nil {
				return err
			}
			if threads > 0 {
				opts = append(opts, engine.WithThreads(threads))
			}
			p, choice, err := c.compileTuned(ctx, m, opts, args[0], given, sparseMode, planThreads(threads), tuned)
			if err != nil {
				return err
			}
			feed := engine.RandomInputs(p)
			t, err := engine.Measure(ctx, p, feed, warmup, runs)
			if err != nil {
				return err
			}
			rep := p.Report()
			out := benchJSON{Model: args[0], Threads: threads, Runs: runs, Inputs: map[string][]int{},
				MedianMS: float64(t.Median.Nanoseconds()) / 1e6, P90MS: float64(t.P90.Nanoseconds()) / 1e6,
				PeakActivationBytes: rep.PeakActivationBytes, FLOPs: rep.FLOPs, MACs: rep.MACs,
				WeightBytes: rep.WeightBytes, SparseWeightBytes: rep.SparseWeightBytes, PeakRSSBytes: int64(profile.ReadPeakRSSMB() * profile.MB),
				Kernels: engine.Kernels(), Tunables: engine.ActiveTunables(), ThreadChoice: choice}
			if st := p.AdaptStats(); st.On {
				out.Adapt = &st
			}
			var times []time.Duration
			if nodes {
				if times, _, err = p.NodeTimes(ctx, feed, warmup, runs, 0.5); err != nil {
					return err
				}
			}
			nsparse := 0
			for i, n := range rep.Nodes {
				if n.MACs == 0 || (n.Op != "Gemm" && n.Op != "MatMul" && !strings.HasPrefix(n.Op, "Conv")) {
					continue
				}
				bn := benchNode{Name: n.Name, Op: n.Op, Kernel: "dense", Path: n.Path, Density: n.Density, MACs: n.MACs, Threads: n.Threads}
				if n.Kernel != "" {
					bn.Kernel = n.Kernel
					nsparse++
				}
				if times != nil {
					bn.MedianUS = float64(times[i].Nanoseconds()) / 1e3
				}
				out.Nodes = append(out.Nodes, bn)
			}
			for _, in := range p.Inputs() {
				out.Inputs[in.Name] = in.Shape
			}
			if asJSON {
				return writeJSON(c.stdout, out)
			}
			fmt.Fprintf(c.stdout, "model            %s\n", args[0])
			for _, in := range p.Inputs() {
				fmt.Fprintf(c.stdout, "input            %s %v\n", in.Name, in.Shape)
			}
			fmt.Fprintf(c.stdout, "latency          median %.2f ms, p90 %.2f ms (%d runs)\n", out.MedianMS, out.P90MS, runs)
			fmt.Fprintf(c.stdout, "peak activations %s\n", humanBytes(rep.PeakActivationBytes))
			fmt.Fprintf(c.stdout, "compute          %.3f GFLOPs (%.3f GMACs)\n", float64(rep.FLOPs)/1e9, float64(rep.MACs)/1e9)
			fmt.Fprintf(c.stdout, "weights          %s resident, %s of it sparse; %d of %d Conv/Gemm/MatMul nodes on sparse kernels\n",
				humanBytes(rep.WeightBytes), humanBytes(rep.SparseWeightBytes), nsparse, len(out.Nodes))
			if out.PeakRSSBytes > 0 {
				fmt.Fprintf(c.stdout, "peak RSS         %s (process, load and compile included)\n", humanBytes(out.PeakRSSBytes))
			}
			fmt.Fprintf(c.stdout, "kernels          %s\n", engine.KernelSummary())
			fmt.Fprintf(c.stdout, "paths, threads   %s\n", choice)
			if a := out.Adapt; a != nil {
				arm := "per-node threads"
				if a.Serial {
					arm = "one goroutine"
				}
				fmt.Fprintf(c.stdout, "adaptive threads %d switches, %d of %d runs on the other arm, now %s\n", a.Switches, a.Explored, warmup+runs, arm)
			}
			if nodes {
				fmt.Fprintf(c.stdout, "\n%-40s %-10s %-18s %8s %7s %10s\n", "node", "op", "kernel", "density", "threads", "median µs")
				for _, n := range out.Nodes {
					d, kern := "-", n.Kernel
					if n.Kernel != "dense" {
						d = fmt.Sprintf("%.3f", n.Density)
					} else if n.Path != "" {
						kern += "/" + n.Path
					}
					fmt.Fprintf(c.stdout, "%-40.40s %-10.10s %-18s %8s %7d %10.1f\n", n.Name, n.Op, kern, d, n.Threads, n.MedianUS)
				}
			}
			return nil
		},
	}
	addShapeFlag(cmd, &shapes, "input shape")
	addThreadsFlag(cmd, &threads)
	addSparseFlag(cmd, &sparseMode)
	cmd.Flags().StringVar(&tuned, "tuned", "", "compile with this tune record (edgeprune tune --model -o FILE) instead of the cached one")
	cmd.Flags().IntVar(&runs, "runs", 20, "timed runs")
	cmd.Flags().BoolVar(&nodes, "nodes", false, "also time every Conv/Gemm/MatMul node and list its kernel (dense or sparse)")
	cmd.Flags().IntVar(&warmup, "warmup", 3, "untimed runs first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: median_ms, p90_ms, peak_activation_bytes, flops, ...")
	return cmd
}
