package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/build"
	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/profile"
)

// TestCalibrationPrintsKernels checks that calibrate's summary names the
// engine kernels the measurements ran on (a Pi prints sgemm neon-8x12).
func TestCalibrationPrintsKernels(t *testing.T) {
	var out bytes.Buffer
	c := &cli{stdout: &out, stderr: &out}
	printCalibration(c, &build.CalibrationResult{Calibration: &profile.Calibration{Validation: &profile.Validation{}}, Statistic: "median"}, "pi.yaml")
	if want := "kernels: " + engine.KernelSummary() + "\n"; !strings.Contains(out.String(), want) {
		t.Errorf("calibrate summary lacks %q:\n%s", want, out.String())
	}
}
