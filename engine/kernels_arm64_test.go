//go:build !purego

package engine

import "testing"

// TestNEONKernelsSelected checks that an arm64 build runs the NEON kernels
// (so the kernel tests under qemu-aarch64 test them, not the Go loops) and
// that Kernels reports them.
func TestNEONKernelsSelected(t *testing.T) {
	if activeKernel() != neonKernel || neonKernel.name != "neon-8x12" {
		t.Fatalf("active SGEMM kernel %q, want neon-8x12", activeKernel().name)
	}
	want := map[string]string{"sgemm": "neon-8x12", "elementwise": "neon", "taps": "neon", "sigmoid": "neon"}
	for _, k := range Kernels() {
		if want[k.Class] != k.Name {
			t.Errorf("Kernels: %s %s, want %s", k.Class, k.Name, want[k.Class])
		}
	}
	if got := KernelSummary(); got != "sgemm neon-8x12, elementwise neon, taps neon, sigmoid neon" {
		t.Errorf("KernelSummary() = %q", got)
	}
}
