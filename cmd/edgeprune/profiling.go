package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/edgeprune/edgeprune/build"
)

// cpuProfileEnv names a file to write a CPU profile of the whole command to
// (`go tool pprof FILE`): for finding where a long build or calibrate run
// spends its time, on the device too, without a rebuild.
const cpuProfileEnv = "EDGEPRUNE_CPUPROFILE"

// startCPUProfile starts the profile EDGEPRUNE_CPUPROFILE asks for and
// returns the function that ends it (a no-op when it is not set).
func startCPUProfile(stderr io.Writer) func() {
	path := os.Getenv(cpuProfileEnv)
	if path == "" || os.Getenv(build.RSSProbeEnv) != "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "warning: %s: %v\n", cpuProfileEnv, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(stderr, "warning: %s: %v\n", cpuProfileEnv, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
