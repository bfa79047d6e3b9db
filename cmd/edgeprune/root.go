package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
)

// Exit codes: only main calls os.Exit.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks a mistake in how the command was called (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

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
		newFinetuneCmd(c),
		newGradCmd(c),
	)
	return root
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %s (got %d argument(s))\nRun '%s --help' for usage.", cmd.CommandPath(), names, len(args), cmd.CommandPath())
		}
		return nil
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	c.log = slog.New(slog.NewTextHandler(stderr, nil))
	root := newRoot(c)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "edgeprune: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err, cmd) {
		return exitUsage
	}
	return exitError
}

// isCobraUsage recognises cobra's own usage errors (unknown command).
func isCobraUsage(err error, cmd *cobra.Command) bool {
	msg := err.Error()
	return len(msg) > 16 && (msg[:16] == "unknown command " || msg[:min(len(msg), 14)] == "unknown flag: ")
}
