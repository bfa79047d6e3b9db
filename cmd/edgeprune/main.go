// Command edgeprune compresses ONNX models for edge devices: inspect them,
// convert them, prune them and pack them. Run `edgeprune --help`.
package main

import (
	"os"
)

func main() {
	canSelfExec = true // the binary is edgeprune itself (not a test binary)
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
