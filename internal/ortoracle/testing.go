package ortoracle

import (
	"errors"
	"testing"
)

// ForTest returns the oracle for a test. It skips the test when node is not
// installed, and fails it when node is there but onnxruntime-node is not:
// scripts/setup.sh installs it, and CI always has it.
func ForTest(t testing.TB) *Oracle {
	t.Helper()
	o, err := Find()
	if errors.Is(err, ErrNoNode) {
		t.Skipf("ONNX Runtime reference unavailable, skipping: %v (install node, then run scripts/setup.sh)", err)
	}
	if err != nil {
		t.Fatalf("ONNX Runtime reference: %v", err)
	}
	return o
}
