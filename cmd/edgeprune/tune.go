package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/spf13/cobra"
)

// tuneEnv turns the tunables cache off: EDGEPRUNE_TUNE=off runs with the
// engine's built-in defaults, neither reading the cache nor measuring at
// start-up (for runs that must not depend on the machine's state).
const tuneEnv = "EDGEPRUNE_TUNE"

func newTuneCmd(c *cli) *cobra.Command {
	var asJSON, convPaths bool
	var out, model, sparseMode string
	var shapes []string
	var threads, rounds, runs int
	cmd := &cobra.Command{
		Use:   "tune [--model MODEL [--shape NAME=1,3,224,224] [--threads N]]",
		Short: "Measure this machine's engine tunables and cache them",
		Long: `tune measures the numbers the engine's scheduler and kernels depend on —
the cost of a parallel region, one core's multiply-add and memory rates,
the SGEMM column block — on this machine (a few seconds; run it on an idle
machine), and writes them to the user cache directory, where every later
edgeprune command reads them. Results do not depend on them, only speed.
EDGEPRUNE_TUNE=off makes commands ignore the cache and use the defaults.

With --model, tune measures instead that model's plan (for the given
shapes and threads). First each Conv's path: the plan is compiled once per
path (im2col, implicit, linear, swapped, swtaps; dwflat, dwrows for
depthwise) with every Conv that can take it on it, every node is timed in
alternated rounds, and per Conv the fastest path is kept where it beats
the rules' choice by 5% (the whole model is checked: the rules' paths stay
if the choice was not faster). Then which nodes run faster on all threads
than on one: every node is timed both ways, the faster kept per node, and
the whole model checked against the plan on one thread, the cost model's
and every node on all threads (the choice is never kept if one thread was
faster).
The record is cached, and bench then compiles that plan with it. Threads
do not change results; a Conv's path changes only the rounding of its
sums (the paths agree within 1e-5 of the output's scale).
--conv-paths=false keeps the rules' paths (measuring them holds up to seven
compiled copies of the model at once: use it on a device short of memory).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if model != "" {
				return c.tunePlan(cmd, model, shapes, sparseMode, threads, rounds, runs, convPaths, out, asJSON)
			}
			for _, f := range []string{"shape", "threads", "sparse", "rounds", "runs", "conv-paths"} {
				if cmd.Flags().Changed(f) {
					return usagef("--%s: only with --model (tune without it measures the machine, not a plan)", f)
				}
			}
			if out == "" {
				p, err := engine.TunablesPath()
				if err != nil {
					return err
				}
				out = p
			}
			t := engine.MeasureTunables()
			if err := engine.SaveTunables(out, t); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.stdout, t)
			}
			d := engine.DefaultTunables()
			fmt.Fprintf(c.stdout, "%s (%s)\n", t.CPU, t.GOARCH)
			fmt.Fprintf(c.stdout, "  fork/join of a parallel region  %8.0f ns   (default %.0f)\n", t.ForkJoinNs, d.ForkJoinNs)
			fmt.Fprintf(c.stdout, "  one core, per multiply-add      %8.4f ns   (default %.4f)\n", t.NsPerMAC, d.NsPerMAC)
			fmt.Fprintf(c.stdout, "  one core, per element-wise float %7.3f ns   (default %.3f)\n", t.NsPerElem, d.NsPerElem)
			fmt.Fprintf(c.stdout, "  SGEMM column block              %8d     (default %d)\n", t.GemmNC, d.GemmNC)
			_, err := fmt.Fprintf(c.stdout, "written to %s\n", out)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default: the user cache directory's edgeprune/tunables-GOARCH.json, or with --model edgeprune/threads/KEY.json)")
	cmd.Flags().StringVar(&model, "model", "", "measure the Conv paths and per-node threads of this model's plan (ONNX or .epk) instead")
	addShapeFlag(cmd, &shapes, "with --model: input shape")
	addThreadsFlag(cmd, &threads)
	addSparseFlag(cmd, &sparseMode)
	cmd.Flags().IntVar(&rounds, "rounds", 5, "with --model: alternated rounds per comparison")
	cmd.Flags().IntVar(&runs, "runs", 10, "with --model: timed runs per round")
	cmd.Flags().BoolVar(&convPaths, "conv-paths", true, "with --model: measure each Conv's path (false: the rules' paths)")
	return cmd
}

// tunePlan is tune --model: the plan's Conv paths
// (engine.CalibrateConvPaths, unless convPaths is false) and per-node
// threads (engine.CalibrateThreads) measured, and cached under planKey.
func (c *cli) tunePlan(cmd *cobra.Command, path string, shapes []string, sparseMode string, threads, rounds, runs int, convPaths bool, out string, asJSON bool) error {
	if err := checkThreads(threads); err != nil {
		return err
	}
	if rounds < 1 || runs < 1 {
		return usagef("--rounds %d, --runs %d: must be ≥ 1", rounds, runs)
	}
	ctx := cmd.Context()
	m, given, opts, err := readShaped(ctx, path, sparseMode, shapes)
	if err != nil {
		return err
	}
	n := planThreads(threads)
	opts = append(opts, engine.WithThreads(n))
	if out == "" {
		key, err := planKey(path, given, sparseMode, n)
		if err != nil {
			return err
		}
		if out, err = engine.ThreadChoicePath(key); err != nil {
			return err
		}
	}
	var p *engine.Program
	var paths engine.ConvPathReport
	if convPaths {
		p, paths, err = engine.CalibrateConvPaths(ctx, m, opts, nil, rounds, runs)
	} else {
		p, err = interruptible(ctx, func() (*engine.Program, error) { return engine.Compile(m, opts...) })
	}
	if err != nil {
		return err
	}
	tc, err := p.CalibrateThreads(ctx, engine.RandomInputs(p), rounds, runs)
	if err != nil {
		return err
	}
	if convPaths {
		tc.ConvPaths = &paths
	}
	if err := engine.SaveThreadChoice(out, tc); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.stdout, tc)
	}
	var many int
	for _, nt := range tc.Nodes {
		if nt.Threads > 1 {
			many++
		}
	}
	if convPaths {
		changed := 0
		for _, nd := range paths.Nodes {
			if nd.Chosen != nd.Rule {
				changed++
			}
		}
		kept := "kept"
		switch {
		case changed == 0:
			kept = "the rules' paths"
		case !paths.Kept:
			kept = "not kept: the rules' paths stay"
		}
		fmt.Fprintf(c.stdout, "%s: %d of %d Convs measured faster on another path than the rules'\n", path, changed, len(paths.Nodes))
		fmt.Fprintf(c.stdout, "  whole model (median ms): rules' paths %.2f, measured paths %.2f (%s)\n", paths.RuleMS, paths.ChosenMS, kept)
		for _, nd := range paths.Nodes {
			if nd.Chosen != nd.Rule {
				fmt.Fprintf(c.stdout, "  %-40s %s %.0f µs → %s %.0f µs\n", nd.Name, nd.Rule, nd.US[nd.Rule], nd.Chosen, nd.US[nd.Chosen])
			}
		}
	}
	if n > 1 {
		fmt.Fprintf(c.stdout, "%s at %d threads: %d of %d nodes on %d threads, the rest on 1\n", path, n, many, len(tc.Nodes), n)
		fmt.Fprintf(c.stdout, "  whole model (median ms): 1 thread %.2f, cost model %.2f, measured choice %.2f\n", tc.OneMS, tc.ModelMS, tc.ChosenMS)
		for _, k := range tc.Candidates[min(2, len(tc.Candidates)):] {
			if k.PenaltyUS < 0 {
				fmt.Fprintf(c.stdout, "  every node on %d threads: %.2f ms\n", n, k.MS)
				continue
			}
			fmt.Fprintf(c.stdout, "  switch penalty %4.0f µs: %3d nodes on %d threads, %.2f ms\n", k.PenaltyUS, k.OnN, n, k.MS)
		}
	}
	_, err = fmt.Fprintf(c.stdout, "written to %s\n", out)
	return err
}

// loadTunables gives the engine this machine's cached tunables, if tune
// wrote them (see tuneEnv). A missing cache is normal; one that cannot be
// used is said on the log and the engine measures at start-up instead.
func (c *cli) loadTunables() {
	if os.Getenv(tuneEnv) == "off" {
		engine.SetTunables(engine.DefaultTunables())
		return
	}
	p, err := engine.TunablesPath()
	if err != nil {
		return
	}
	t, err := engine.LoadTunables(p)
	if err == nil {
		err = engine.SetTunables(t)
	}
	switch {
	case err == nil:
		c.log.Debug("engine tunables", "file", p, "fork_join_ns", t.ForkJoinNs, "gemm_nc", t.GemmNC)
	case errors.Is(err, fs.ErrNotExist):
	default:
		c.log.Warn("engine tunables not used", "err", err)
	}
}
