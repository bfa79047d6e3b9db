// Command edgeprune compresses ONNX models for edge devices: inspect them,
// convert them, prune them and pack them. Run `edgeprune --help`.
package main

import (
	"os"
)

func main() {
	canSelfExec = true // the binary is edgeprune itself (not a test binary)
	ctx, stop := signalContext()
	endProfile := startCPUProfile(os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	endProfile()
	stop()
	os.Exit(code)
}
