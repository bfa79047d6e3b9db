package main

import (
	"fmt"

	"github.com/edgeprune/edgeprune/engine"
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
}

func newBenchCmd(c *cli) *cobra.Command {
	var shapes []string
	var threads, runs, warmup int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench MODEL [--shape NAME=1,3,224,224] [--threads N]",
		Short: "Measure latency, peak activation memory and FLOPs in the pure-Go engine",
		Long: `bench compiles MODEL for the given input shapes (dynamic dimensions
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
			given, err := parseShapes(shapes)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			m, err := readModel(ctx, args[0])
			if err != nil {
				return err
			}
			if err := checkShapeInputs(given, m); err != nil {
				return err
			}
			if err := requireShapes(m, given, nil); err != nil {
				return err
			}
			var opts []engine.Option
			for _, s := range given {
				opts = append(opts, engine.WithInputShape(s.Name, s.Dims...))
			}
			if threads > 0 {
				opts = append(opts, engine.WithThreads(threads))
			}
			p, err := interruptible(ctx, func() (*engine.Program, error) { return engine.Compile(m, opts...) })
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
				MedianMS: float64(t.Median.Microseconds()) / 1000, P90MS: float64(t.P90.Microseconds()) / 1000,
				PeakActivationBytes: rep.PeakActivationBytes, FLOPs: rep.FLOPs, MACs: rep.MACs}
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
			return nil
		},
	}
	addShapeFlag(cmd, &shapes, "input shape")
	addThreadsFlag(cmd, &threads)
	cmd.Flags().IntVar(&runs, "runs", 20, "timed runs")
	cmd.Flags().IntVar(&warmup, "warmup", 3, "untimed runs first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: median_ms, p90_ms, peak_activation_bytes, flops, ...")
	return cmd
}
