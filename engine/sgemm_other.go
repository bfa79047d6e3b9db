//go:build !(amd64 || arm64) || purego

package engine

// No SIMD micro-kernel on this platform (or with -tags purego): sgemm uses
// the portable Go kernel.
