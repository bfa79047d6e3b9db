package build

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// RSSProbeEnv marks a child process started by ProbePeakRSS (so that it
// starts no child, nor profile, of its own).
const RSSProbeEnv = "EDGEPRUNE_RSS_PROBE"

// ProbePeakRSS runs the model at path in runs child processes of the
// edgeprune binary bin (`calibrate --rss-probe`: read, compile, one run)
// and returns the point the children printed with their median peak
// resident set (VmHWM, which a child does not inherit), and every run's
// figure. The children run with GOGC=100, no GOMEMLIMIT and no GODEBUG,
// whatever this process has, so that the collector's pacing is the one the
// memory model is fitted to. args are added to the child's command line
// (--rss-shape NAME=D0,D1,... for a model with dynamic input dims).
func ProbePeakRSS(ctx context.Context, bin, path string, threads, runs int, args ...string) (RSSPoint, []float64, error) {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GOGC=") && !strings.HasPrefix(e, "GOMEMLIMIT=") && !strings.HasPrefix(e, "GODEBUG=") {
			env = append(env, e)
		}
	}
	env = append(env, RSSProbeEnv+"=1", "GOGC=100", "GOMEMLIMIT=off")
	var pt RSSPoint
	var mbs []float64
	for range max(runs, 1) {
		cmd := exec.CommandContext(ctx, bin, append([]string{"calibrate", "--rss-probe", path, "--threads", fmt.Sprint(threads)}, args...)...)
		cmd.Env = env
		b, err := cmd.Output()
		if err != nil {
			return RSSPoint{}, nil, fmt.Errorf("calibrate: memory of %s (a child process running it): %w", path, err)
		}
		if err := json.Unmarshal(b, &pt); err != nil || pt.PeakRSSMB == 0 {
			return RSSPoint{}, nil, fmt.Errorf("calibrate: memory of %s: the child printed %q", path, b)
		}
		mbs = append(mbs, pt.PeakRSSMB)
	}
	sorted := slices.Sorted(slices.Values(mbs))
	pt.PeakRSSMB = sorted[len(sorted)/2]
	return pt, mbs, nil
}
