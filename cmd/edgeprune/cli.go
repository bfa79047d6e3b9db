package main

// The CLI's shared machinery: every command (and finetune, grad, ... to
// come) uses it, so the same thing is spelt, checked and reported alike.
//
// Exit status (run returns it; only main calls os.Exit): 0 ok; 1 error (the
// input, the model, the machine); 2 usage error, i.e. a usageError in the
// chain (usagef, flagError, flagsError; cobra's own flag, argument and
// unknown-command errors are made usageErrors where they arise, never
// matched by text); 128+N when interrupted by signal N (130 SIGINT, 143
// SIGTERM).
//
// Errors name flags, never library options: flagError("--level 99", err)
// prints "--level 99: must be in [1, 22]" (the library's reason alone);
// flagsError(cmd, err, names...) names the set flags of a refused
// combination.
//
// Flags, one spelling each: -o/--output (addOutputFlag); --shape
// NAME=D0,D1,... (addShapeFlag, then parseShapes before reading the model,
// checkShapeInputs and requireShapes after: a bad or missing shape is 2
// everywhere); --threads N, 0 all cores (addThreadsFlag, checkThreads);
// --json; --data/--labels/--batch/--seed as eval spells them. Old spellings
// stay one release as hidden, deprecated aliases (aliasFlag; convert's
// positional OUT).
//
// Interruption: cmd.Context() is cancelled on SIGINT/SIGTERM after main has
// called atomicfile.AbortAll. Pass it to library calls that take one, wrap
// long ones that do not in interruptible (readModel and writeModel do), and
// write outputs only through internal/atomicfile: then an interrupted
// command leaves no temporary file and no output. run returns at most
// interruptGrace after the signal even if a command ignores its context.
// A new command adds its cases to vocabulary_test.go and signal_test.go.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/atomicfile"
	"github.com/edgeprune/edgeprune/internal/shapespec"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses. An interrupted command exits with 128+signal (interrupted).
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

// flagError reports a flag value the library refused as a usage error:
// "LABEL: reason", where label names the flag(s) as typed ("--level 99")
// and reason is what the library says is wrong with the value. err stays
// in the chain (errors.Is sees the library's sentinel).
func flagError(label string, err error) error {
	return usageError{&flagErr{label, valueReason(err), err}}
}

// flagsError reports err, the library's refusal of what several flags ask
// for together (a combination, a selection that matches nothing), as a
// usage error naming those of the flags that were set.
func flagsError(cmd *cobra.Command, err error, names ...string) error {
	return usageError{&flagErr{changedFlags(cmd, names...), libraryReason(err), err}}
}

type flagErr struct {
	label, reason string
	err           error
}

func (e *flagErr) Error() string {
	if e.label == "" {
		return e.reason
	}
	return e.label + ": " + e.reason
}

func (e *flagErr) Unwrap() error { return e.err }

// changedFlags lists the given flags that were set, as typed
// ("--pattern 2:4 --sparsity 0.3"), or "" when none was.
func changedFlags(cmd *cobra.Command, names ...string) string {
	var parts []string
	for _, name := range names {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			v := f.Value.String()
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				v = strings.Join(sv.GetSlice(), ",")
			}
			parts = append(parts, "--"+name+" "+v)
		}
	}
	return strings.Join(parts, " ")
}

// valueReason is what err says about a single value: the Reason() of an
// error that offers one (a library may return such a typed error), else
// the last ": "-separated part of its message, which for this project's
// option errors ("pack: WithLevel(99): must be in [1, 22]", "prune: invalid
// setting: sparsity 1.5: must be in [0, 1)") is the reason alone.
func valueReason(err error) string {
	var r interface{ Reason() string }
	if errors.As(err, &r) {
		return r.Reason()
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// libraryReason is err's message without its leading decoration: the
// messages of the sentinel errors it wraps ("prune: invalid setting: "),
// else a package prefix ("pack: "). For errors about several flags at once.
func libraryReason(err error) string {
	msg := err.Error()
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		if p := e.Error() + ": "; strings.HasPrefix(msg, p) {
			return msg[len(p):]
		}
	}
	if pkg, rest, ok := strings.Cut(msg, ": "); ok && !strings.ContainsAny(pkg, " \"") {
		return rest
	}
	return msg
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

// addOutputFlag defines -o/--output, the spelling of every command's main
// output.
func addOutputFlag(cmd *cobra.Command, p *string, usage string) {
	cmd.Flags().StringVarP(p, "output", "o", "", usage)
}

// aliasFlag defines old as a hidden, deprecated spelling of the flag to
// (defined before): its values go to to (cmd.Flags().Changed(to) sees
// them), and using it prints a note naming the new spelling on stderr (not
// on stdout, which may carry JSON). Aliases are kept for one release.
func aliasFlag(cmd *cobra.Command, old, to string) {
	fs := cmd.Flags()
	fs.Var(&aliasValue{cmd: cmd, old: old, to: to}, old, "deprecated spelling of --"+to)
	if err := fs.MarkHidden(old); err != nil {
		panic(err) // programmer error: old was just defined
	}
}

// aliasValue forwards to another flag of the same command.
type aliasValue struct {
	cmd     *cobra.Command
	old, to string
	noted   bool
}

func (a *aliasValue) String() string {
	if f := a.cmd.Flags().Lookup(a.to); f != nil {
		return f.Value.String()
	}
	return ""
}

func (a *aliasValue) Set(s string) error {
	if !a.noted {
		a.noted = true
		fmt.Fprintf(a.cmd.ErrOrStderr(), "edgeprune: --%s is deprecated: use --%s\n", a.old, a.to)
	}
	return a.cmd.Flags().Set(a.to, s)
}

func (a *aliasValue) Type() string {
	if f := a.cmd.Flags().Lookup(a.to); f != nil {
		return f.Value.Type()
	}
	return "string"
}

// inputShape is one --shape value.
type inputShape struct {
	Spec string // as typed
	Name string
	Dims []int
}

// addShapeFlag defines --shape NAME=D0,D1,... (repeatable), the spelling of
// an input's shape in every command; usage says what the shape is for.
func addShapeFlag(cmd *cobra.Command, p *[]string, usage string) {
	cmd.Flags().StringArrayVar(p, "shape", nil, usage+" as NAME=D0,D1,... (repeatable)")
}

// parseShapes parses --shape values: NAME=D0,D1,... with dimensions in
// [1, 2^20] (shapespec.Parse), each name once. Every mistake is a usage error; call it before
// reading the model, so a bad --shape is exit 2 whatever the model.
func parseShapes(specs []string) ([]inputShape, error) {
	var out []inputShape
	seen := map[string]bool{}
	for _, s := range specs {
		name, dims, err := shapespec.Parse(s)
		if err != nil {
			return nil, usagef("--shape %s: %v", s, err)
		}
		if seen[name] {
			return nil, usagef("--shape %s: input %q given twice", s, name)
		}
		seen[name] = true
		out = append(out, inputShape{s, name, dims})
	}
	return out, nil
}

// shapeOptions are the engine's options for the given shapes.
func shapeOptions(shapes []inputShape) []engine.Option {
	var opts []engine.Option
	for _, s := range shapes {
		opts = append(opts, engine.WithInputShape(s.Name, s.Dims...))
	}
	return opts
}

// checkShapeInputs refuses (usage error) a --shape whose name is not an
// input of m. Whether a shape fits its input (rank, fixed dimensions) is for
// the library to say (exit 1, naming the value).
func checkShapeInputs(shapes []inputShape, m *onnxio.Model) error {
	var inputs []string
	for _, v := range m.Info().Inputs {
		inputs = append(inputs, v.Name)
	}
	for _, s := range shapes {
		if !contains(inputs, s.Name) {
			return usagef("--shape %s: the model has no input %q (its inputs: %s)", s.Spec, s.Name, strings.Join(inputs, ", "))
		}
	}
	return nil
}

// requireShapes refuses (usage error) a model input, other than those in
// skip, that has neither a --shape nor a default shape (fixed dimensions but
// a dynamic batch: onnxio.ValueInfo.DefaultShape): the command line lacks
// its --shape, the same mistake in every command that needs shapes.
func requireShapes(m *onnxio.Model, shapes []inputShape, skip func(name string) bool) error {
	given := map[string]bool{}
	for _, s := range shapes {
		given[s.Name] = true
	}
	for _, v := range m.Info().Inputs {
		if given[v.Name] || (skip != nil && skip(v.Name)) {
			continue
		}
		if _, err := v.DefaultShape(); err != nil {
			example := make([]string, len(v.Shape))
			for i, d := range v.Shape {
				switch {
				case d.Value > 0:
					example[i] = strconv.FormatInt(d.Value, 10)
				case i == 0:
					example[i] = "1"
				default:
					example[i] = fmt.Sprintf("D%d", i)
				}
			}
			if v.Shape == nil {
				example = []string{"D0", "D1", "..."}
			}
			return usagef("%v: give its shape with --shape %s=%s", err, v.Name, strings.Join(example, ","))
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// addThreadsFlag defines --threads N (0: all cores).
func addThreadsFlag(cmd *cobra.Command, p *int) {
	cmd.Flags().IntVar(p, "threads", 0, "threads (0: all cores)")
}

// checkThreads is the one rule for --threads.
func checkThreads(n int) error {
	if n < 0 {
		return usagef("--threads %d: must be ≥ 0 (0: all cores)", n)
	}
	return nil
}

// interrupted is the cause of a context cancelled by a signal.
type interrupted struct{ sig os.Signal }

func (e interrupted) Error() string { return "interrupted by " + signalName(e.sig) }

// exitCode is 128+N, the shell's status for signal N.
func (e interrupted) exitCode() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitError
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// signalContext is cancelled with an interrupted cause by the first SIGINT
// or SIGTERM, after atomicfile.AbortAll has removed every temporary file
// (so nothing committed later). A second signal kills the process at once.
// stop releases the signals.
func signalContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch) // the next one has its default effect
			atomicfile.AbortAll()
			cancel(interrupted{s})
		case <-done:
		}
	}()
	return ctx, func() { signal.Stop(ch); close(done) }
}

// interruptible runs fn, a long library call that takes no context, and
// returns its result; if ctx is done first it returns ctx's cause at once
// and abandons fn (the process is about to exit, and atomicfile.AbortAll
// keeps fn from leaving files). Library calls that take a context get ctx
// instead.
func interruptible[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	var zero T
	if ctx.Err() != nil {
		return zero, context.Cause(ctx)
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, context.Cause(ctx)
	}
}

// interruptibleErr is interruptible for a call that returns only an error.
func interruptibleErr(ctx context.Context, fn func() error) error {
	_, err := interruptible(ctx, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// readModel reads an ONNX model, interruptibly.
func readModel(ctx context.Context, path string) (*onnxio.Model, error) {
	return interruptible(ctx, func() (*onnxio.Model, error) { return onnxio.ReadFile(path) })
}

// readTeacher reads --teacher with readModel, or returns nil without one.
func readTeacher(ctx context.Context, path string) (*onnxio.Model, error) {
	if path == "" {
		return nil, nil
	}
	return readModel(ctx, path)
}

// writeModel writes m atomically to path, interruptibly.
func writeModel(ctx context.Context, m *onnxio.Model, path string, opts ...onnxio.WriteOption) error {
	return interruptibleErr(ctx, func() error { return m.WriteFile(path, opts...) })
}
