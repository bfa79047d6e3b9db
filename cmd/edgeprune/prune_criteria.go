package main

import (
	"fmt"
	"strings"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/prune"
	"github.com/spf13/cobra"
)

// calibFlags are prune's flags for the criteria that score on data
// (--criterion taylor|snip|obd|wanda).
type calibFlags struct {
	data           string
	samples, batch int
	threads        int
	df             dataFlags
}

const criteriaHelp = `Criteria that score on calibration data (--data CALIB, --samples N; labels
needed except for wanda), unstructured and --structured:
  taylor   |w · dL/dw|, gradients of the mean cross-entropy summed over
           the calibration batches (--batch, default 128)
  snip     taylor normalised to sum to 1 (connection sensitivity)
  obd      ½ · F · w², F the empirical Fisher diagonal (one backward per sample)
  wanda    |w| · ‖x_j‖₂ of the input feature w multiplies; no gradient. It
           compares within each output row: --scope row is its default.
--structured sums a channel's element scores over its coupled slices.`

func addCalibFlags(cmd *cobra.Command, f *calibFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "", "calibration data for --criterion taylor|snip|obd|wanda: .npz, .npy or image folder")
	fl.IntVar(&f.samples, "samples", 0, "--data: use the first N samples (0: all)")
	fl.IntVar(&f.batch, "batch", prune.DefaultCalibrationBatch, "--data: samples per forward/backward pass")
	addThreadsFlag(cmd, &f.threads)
	addDataFlags(cmd, &f.df)
}

var calibFlagNames = append([]string{"data", "samples", "batch", "threads", "labels"}, imageFlags...)

// checkCalibFlags refuses calibration flags without a data criterion, and
// a data criterion without --data.
func checkCalibFlags(cmd *cobra.Command, f *calibFlags, criterion string) error {
	if !prune.IsDataCriterion(criterion) {
		for _, n := range calibFlagNames {
			if cmd.Flags().Changed(n) {
				return usagef("--%s is for the criteria that score on data (--criterion %s)", n, strings.Join(prune.Criteria, "|"))
			}
		}
		return nil
	}
	if f.data == "" {
		return usagef("--criterion %s scores on calibration data: add --data CALIB.npz (or an image folder)", criterion)
	}
	if f.samples < 0 {
		return usagef("--samples %d: must be ≥ 0", f.samples)
	}
	if f.batch < 1 {
		return usagef("--batch %d: must be ≥ 1", f.batch)
	}
	if err := checkThreads(f.threads); err != nil {
		return err
	}
	return nil
}

// scores computes the data criterion for m on --data.
func (f *calibFlags) scores(cmd *cobra.Command, m *onnxio.Model, criterion string, sel prune.Selection) (*prune.ElementScores, error) {
	d, err := f.df.open(cmd, f.data, m)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	cal := &prune.Calibration{Data: d, Samples: f.samples, Batch: f.batch, Threads: f.threads}
	s, err := prune.ScoreCriterion(cmd.Context(), criterion, m, cal, sel)
	if err != nil {
		return nil, fmt.Errorf("--criterion %s --data %s: %w", criterion, f.data, err)
	}
	return s, nil
}
