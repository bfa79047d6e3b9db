package main

import (
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

// useThreadChoice gives p, compiled from the model file at model, the
// per-node threads that `edgeprune tune --model` measured for this plan
// (planKey), if it did, and says which choice the plan runs with:
// "measured" or "cost model". EDGEPRUNE_TUNE=off (the file is then not
// hashed), a plan of one thread, or no cache entry leave the cost model's
// choice.
func (c *cli) useThreadChoice(p *engine.Program, model string, shapes []inputShape, sparseMode string, threads int) (string, error) {
	if threads <= 1 || os.Getenv(tuneEnv) == "off" {
		return "cost model", nil
	}
	key, err := planKey(model, shapes, sparseMode, threads)
	if err != nil {
		return "", err
	}
	path, err := engine.ThreadChoicePath(key)
	if err != nil {
		return "cost model", nil
	}
	tc, err := engine.LoadThreadChoice(path)
	if err == nil {
		err = p.ApplyThreadChoice(tc)
	}
	switch {
	case err == nil:
		c.log.Debug("per-node threads as measured", "file", path)
		return "measured", nil
	case errors.Is(err, fs.ErrNotExist):
	default:
		c.log.Warn("measured per-node threads not used (run edgeprune tune --model again)", "file", path, "err", err)
	}
	return "cost model", nil
}
