package engine

import (
	"syscall"
	"unsafe"
)

// madvCollapse is MADV_COLLAPSE (Linux 6.1): back the range with huge
// pages now, copying what is already there.
const madvCollapse = 25

// hugePages asks Linux to back the 2 MiB pages wholly inside f with
// transparent huge pages: MADV_HUGEPAGE for the pages not yet touched,
// MADV_COLLAPSE for those already written (the weights, packed at
// compile time). Both are advice: where the kernel is older, THP is off or
// no huge page is free, the calls fail and the buffer stays on 4 KiB
// pages, as it would have been.
func hugePages(f []float32) {
	if len(f) == 0 {
		return
	}
	lo := uintptr(unsafe.Pointer(&f[0]))
	hi := lo + uintptr(len(f))*4
	lo = (lo + hugePageSize - 1) &^ (hugePageSize - 1)
	hi &^= hugePageSize - 1
	if hi <= lo {
		return
	}
	syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, syscall.MADV_HUGEPAGE)
	// MADV_COLLAPSE one huge page at a time: over a longer range it fails
	// as a whole when one page cannot be collapsed.
	for a := lo; a < hi; a += hugePageSize {
		syscall.Syscall(syscall.SYS_MADVISE, a, hugePageSize, madvCollapse)
	}
}
