package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
)

// planKey names a plan in the thread-choice cache (engine.ThreadChoicePath):
// a hash of the model file's bytes, the --shape bindings, --sparse and the
// plan's threads. engine.ApplyThreadChoice checks the nodes as well.
func planKey(path string, shapes []inputShape, sparseMode string, threads int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	specs := make([]string, len(shapes))
	for i, s := range shapes {
		specs[i] = fmt.Sprint(s.Name, s.Dims)
	}
	slices.Sort(specs)
	fmt.Fprintf(h, "\x00%s\x00%s\x00%d", strings.Join(specs, ";"), sparseMode, threads)
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// planThreads is the thread count of a plan compiled with --threads n.
func planThreads(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// compileTuned compiles m (read from the model file at model) with opts
// for a plan of threads goroutines, with what `edgeprune tune --model`
// measured for this plan (planKey) if it did, or with the record in the
// file record when not "": each Conv on its measured path, each node on
// its measured threads (engine.WithTuneRecord). It says which choice the
// plan runs with: "measured" or "cost model". EDGEPRUNE_TUNE=off (the
// file is then not hashed) or no cache entry leave the rules and the cost
// model; a record that does not fit the plan (measured on another plan or
// machine) is said on the log and not used.
func (c *cli) compileTuned(ctx context.Context, m *onnxio.Model, opts []engine.Option, model string, shapes []inputShape, sparseMode string, threads int, record string) (*engine.Program, string, error) {
	compile := func(opts []engine.Option) (*engine.Program, error) {
		return interruptible(ctx, func() (*engine.Program, error) { return engine.Compile(m, opts...) })
	}
	path := record
	if path == "" && os.Getenv(tuneEnv) != "off" {
		key, err := planKey(model, shapes, sparseMode, threads)
		if err != nil {
			return nil, "", err
		}
		if path, err = engine.ThreadChoicePath(key); err != nil {
			path = ""
		}
	}
	if path != "" {
		tc, err := engine.LoadThreadChoice(path)
		var p *engine.Program
		if err == nil {
			p, err = compile(append(slices.Clip(opts), engine.WithTuneRecord(tc)))
		}
		switch {
		case err == nil:
			c.log.Debug("Conv paths and per-node threads as measured", "file", path)
			return p, "measured", nil
		case record != "":
			return nil, "", fmt.Errorf("--tuned %s: %w", record, err)
		case errors.Is(err, fs.ErrNotExist):
		case ctx.Err() != nil:
			return nil, "", err
		default: // another plan or machine, an unreadable file; a model that does not compile fails below
			c.log.Warn("measured Conv paths and per-node threads not used (run edgeprune tune --model again)", "file", path, "err", err)
		}
	}
	p, err := compile(opts)
	return p, "cost model", err
}
