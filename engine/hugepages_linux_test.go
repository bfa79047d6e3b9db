package engine

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// anonHugeKB is the AnonHugePages of the mappings of this process that
// overlap [lo, hi).
func anonHugeKB(t *testing.T, lo, hi uintptr) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps to check with: %v", err)
	}
	defer f.Close()
	kb, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if fs := strings.Fields(l); len(fs) > 0 && !strings.HasSuffix(fs[0], ":") {
			a, b, ok := strings.Cut(fs[0], "-")
			x, err1 := strconv.ParseUint(a, 16, 64)
			y, err2 := strconv.ParseUint(b, 16, 64)
			in = ok && err1 == nil && err2 == nil && uintptr(x) < hi && uintptr(y) > lo
			continue
		}
		if v, ok := strings.CutPrefix(l, "AnonHugePages:"); ok && in {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			kb += n
		}
	}
	return kb
}

// TestHugePages: a buffer written before the advice (as packed weights
// are) keeps its contents and, where the kernel offers transparent huge
// pages, lands on them.
func TestHugePages(t *testing.T) {
	buf := make([]float32, 3*hugePageSize/4) // 6 MiB: at least two whole huge pages
	for i := range buf {
		buf[i] = float32(i)
	}
	hugePages(buf)
	for i, v := range buf {
		if v != float32(i) {
			t.Fatalf("buf[%d] = %v after hugePages, want %v", i, v, float32(i))
		}
	}
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !strings.Contains(string(mode), "[madvise]") && !strings.Contains(string(mode), "[always]") {
		t.Skipf("transparent huge pages not offered here (%q, %v): only the contents are checked", mode, err)
	}
	lo := uintptr(unsafe.Pointer(&buf[0]))
	if kb := anonHugeKB(t, lo, lo+uintptr(len(buf))*4); kb < 2*hugePageSize/1024 {
		// MADV_COLLAPSE needs Linux 6.1 and a free huge page.
		t.Errorf("%d KiB on huge pages around a 6 MiB buffer after hugePages, want ≥ 4096 (THP %q)", kb, strings.TrimSpace(string(mode)))
	}
}
