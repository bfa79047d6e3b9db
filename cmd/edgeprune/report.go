package main

import (
	"os"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/internal/atomicfile"
	"github.com/spf13/cobra"
)

func newReportCmd(c *cli) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "report BUILD.json|PRUNE-REPORT.json -o REPORT.html",
		Short: "Render a build.json or a prune --report file as a self-contained HTML report",
		Args:  exactArgs(1, "BUILD.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("-o/--output is required: the HTML file to write")
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			r, err := build.ReadReport(f)
			if err != nil {
				return err
			}
			w, err := atomicfile.Create(out)
			if err != nil {
				return err
			}
			defer w.Abort()
			if err := build.WriteReport(w, r); err != nil {
				return err
			}
			return w.Commit()
		},
	}
	addOutputFlag(cmd, &out, "the HTML report to write")
	return cmd
}
