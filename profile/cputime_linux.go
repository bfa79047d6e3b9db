package profile

import "golang.org/x/sys/unix"

// threadCPUNanos is the CPU time the calling OS thread has used, in
// nanoseconds, or -1 when the OS does not tell (CLOCK_THREAD_CPUTIME_ID).
func threadCPUNanos() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return -1
	}
	return ts.Nano()
}
