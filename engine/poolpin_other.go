//go:build !linux

package engine

func gettid() int          { return 0 }
func cpuCount() int        { return 0 }
func setAffinity(int) bool { return false }
