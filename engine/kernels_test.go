package engine

import (
	"strings"
	"testing"
)

// TestKernelsNameActive checks that Kernels names the SGEMM kernel sgemm
// runs and that every class has a name.
func TestKernelsNameActive(t *testing.T) {
	ks := Kernels()
	if len(ks) == 0 || ks[0].Class != "sgemm" || ks[0].Name != activeKernel().name {
		t.Fatalf("Kernels() = %v, active SGEMM kernel %q", ks, activeKernel().name)
	}
	for _, k := range ks {
		if k.Name == "" {
			t.Errorf("kernel class %s has no name", k.Class)
		}
	}
	if s := KernelSummary(); !strings.HasPrefix(s, "sgemm "+activeKernel().name+", ") {
		t.Errorf("KernelSummary() = %q", s)
	}
}
