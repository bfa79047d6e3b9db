package engine

import (
	"syscall"
	"unsafe"
)

func gettid() int { return syscall.Gettid() }

// cpuCount is how many CPUs the process may run on (sched_getaffinity).
func cpuCount() int {
	var set [16]uint64
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(set), uintptr(unsafe.Pointer(&set)))
	if e != 0 {
		return 0
	}
	n := 0
	for _, w := range set {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n
}

// setAffinity binds the calling OS thread to one CPU.
func setAffinity(cpu int) bool {
	var set [16]uint64
	set[cpu/64] = 1 << (cpu % 64)
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(set), uintptr(unsafe.Pointer(&set)))
	return e == 0
}
