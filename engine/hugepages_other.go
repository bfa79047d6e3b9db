//go:build !linux

package engine

// hugePages does nothing where there is no madvise to ask with (see
// hugepages.go).
func hugePages([]float32) {}
