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
	var asJSON bool
	var out string
	cmd := &cobra.Command{
		Use:   "tune",
		Short: "Measure this machine's engine tunables and cache them",
		Long: `tune measures the numbers the engine's scheduler and kernels depend on —
the cost of a parallel region, one core's multiply-add and memory rates,
the SGEMM column block — on this machine (a few seconds; run it on an idle
machine), and writes them to the user cache directory, where every later
edgeprune command reads them. Results do not depend on them, only speed.
EDGEPRUNE_TUNE=off makes commands ignore the cache and use the defaults.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
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
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default: the user cache directory's edgeprune/tunables-GOARCH.json)")
	return cmd
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
