//go:build !linux

package profile

func threadCPUNanos() int64 { return -1 }
