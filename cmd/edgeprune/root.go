package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/edgeprune/edgeprune/build"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// cli carries what every subcommand shares.
type cli struct {
	stdout, stderr io.Writer
	verbose        bool
	log            *slog.Logger
}

func newRoot(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:   "edgeprune",
		Short: "Compress ONNX models for edge devices",
		Long: `edgeprune takes an ONNX model as it is and hands back a smaller, faster,
still-correct ONNX model, fitted to a device's budgets.

It reads any real ONNX file — weights as initializers or Constant nodes,
If/Loop subgraphs, external data — and writes back everything it did not
change unchanged.`,
		Example: `  edgeprune inspect model.onnx                    # what is in it: ops, parameters, sparsity
  edgeprune prune model.onnx -o sparse.onnx --sparsity 0.9          # zero 90% of the weights
  edgeprune pack sparse.onnx -o model.epk                            # ship it small; unpack is bit-exact
  edgeprune prune model.onnx -o slim.onnx --structured --sparsity 0.5  # remove channels: really faster
  edgeprune eval slim.onnx --data test.npz --reference model.onnx   # what it cost
  edgeprune bench slim.onnx --threads 1                              # latency, memory, FLOPs
  edgeprune inspect model.onnx --json                                # any report as JSON (docs/cli-json.md)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelInfo
			if c.verbose {
				level = slog.LevelDebug
			}
			c.log = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
			c.loadTunables()
		},
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.PersistentFlags().BoolVarP(&c.verbose, "verbose", "v", false, "debug logging on stderr")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())}
	})
	// One line per subcommand, each defined in its own file.
	root.AddCommand(
		newVersionCmd(c),
		newInspectCmd(c),
		newConvertCmd(c),
		newPruneCmd(c),
		newPackCmd(c),
		newUnpackCmd(c),
		newRunCmd(c),
		newEvalCmd(c),
		newBenchCmd(c),
		newProfileCmd(c),
		newCalibrateCmd(c),
		newTuneCmd(c),
		newBuildCmd(c),
		newReportCmd(c),
		newFinetuneCmd(c),
		newGradCmd(c),
	)
	root.InitDefaultCompletionCmd()
	for _, group := range []*cobra.Command{root, findCmd(root, "completion")} {
		requireSubcommand(group)
	}
	return root
}

func findCmd(root *cobra.Command, name string) *cobra.Command {
	cmd, _, err := root.Find([]string{name})
	if err != nil || cmd == root {
		panic("edgeprune: no command " + name) // programmer error
	}
	return cmd
}

// requireSubcommand makes an unknown subcommand of group a usage error
// (cobra returns an untyped error for the root and prints help with exit 0
// for other groups); group alone prints its help.
func requireSubcommand(group *cobra.Command) {
	group.SuggestionsMinimumDistance = 2
	group.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			hint := ""
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				hint = fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
			}
			return usagef("unknown command %q for %q%s\nRun '%s --help' for usage.", args[0], cmd.CommandPath(), hint, cmd.CommandPath())
		}
		return nil
	}
	group.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
}

// interruptGrace is how long run waits, after its context is cancelled, for
// the command to return before it returns itself.
const interruptGrace = time.Second

// run runs the command line args with ctx (cancelled on a signal: see
// cli.go) and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	c.log = slog.New(slog.NewTextHandler(stderr, nil))
	root := newRoot(c)
	root.SetArgs(args)
	// The command runs beside a watch on ctx: commands return on their own
	// when ctx is cancelled (they pass it on, or use interruptible), but one
	// that does not still ends the process within interruptGrace.
	done := make(chan error, 1)
	go func() {
		_, err := root.ExecuteContextC(ctx)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done:
		case <-time.After(interruptGrace):
			err = context.Cause(ctx)
		}
	}
	if err == nil {
		return exitOK
	}
	var sig interrupted
	if errors.As(context.Cause(ctx), &sig) {
		fmt.Fprintf(stderr, "edgeprune: %v\n", sig)
		return sig.exitCode()
	}
	fmt.Fprintf(stderr, "edgeprune: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	if errors.Is(err, build.ErrInfeasible) {
		return exitInfeasible
	}
	return exitError
}
