package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/spf13/cobra"
)

// dataFlags are the flags that say how a --data file or image folder
// becomes model inputs (package dataset): shared by every command that
// reads a dataset.
type dataFlags struct {
	labels                  string
	preset                  string
	resize, crop            string
	height, maxWidth, pad   int
	padValue                float32
	scale                   string
	mean, std               []float32
	channels, layout, input string
}

const dataFlagsHelp = `Data (--data): a .npz with one array per model input, named after it, and
an integer "labels" array; a .npy (inputs only); or an image folder, one
sub-folder per class (sorted names are labels 0..K-1, PNG/JPEG), turned into
tensors by: --resize H,W (or S: the shorter side) | --height H [--max-width W]
(keep the aspect), --crop H,W (center crop), channels, --scale (default 1/255),
--mean/--std per channel, --pad-width W (pad on the right after normalising),
--layout; or a --preset: ` + "ppocr-cls (height 48, width ≤ 192, (x−0.5)/0.5, pad to 192), imagenet, mnist."

// addDataFlags registers the flags on cmd.
func addDataFlags(cmd *cobra.Command, f *dataFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.labels, "labels", "labels", "name of the labels array in a .npz")
	fl.StringVar(&f.preset, "preset", "", "image folder: named preprocessing: "+strings.Join(dataset.PresetNames(), " | "))
	fl.StringVar(&f.resize, "resize", "", "image folder: resize to H,W, or the shorter side to S keeping the aspect")
	fl.IntVar(&f.height, "height", 0, "image folder: resize to this height keeping the aspect (PaddleOCR)")
	fl.IntVar(&f.maxWidth, "max-width", 0, "image folder: with --height, cap the width")
	fl.StringVar(&f.crop, "crop", "", "image folder: center crop H,W (or S for SxS)")
	fl.StringVar(&f.scale, "scale", "", "image folder: multiply 0..255 pixels by this (default 1/255)")
	fl.Float32SliceVar(&f.mean, "mean", nil, "image folder: mean per channel (one value or one per channel), after --scale")
	fl.Float32SliceVar(&f.std, "std", nil, "image folder: std per channel (one value or one per channel)")
	fl.StringVar(&f.channels, "channels", "", "image folder: rgb | bgr | gray (default rgb)")
	fl.StringVar(&f.layout, "layout", "", "image folder: nchw | nhwc (default nchw)")
	fl.IntVar(&f.pad, "pad-width", 0, "image folder: pad on the right to this width, after normalising")
	fl.Float32Var(&f.padValue, "pad-value", 0, "image folder: value of --pad-width's padding")
}

var imageFlags = []string{"preset", "resize", "height", "max-width", "crop", "scale", "mean", "std", "channels", "layout", "pad-width", "pad-value"}

// preprocess builds the Preprocess the flags describe: the preset, then
// each flag given over it.
func (f *dataFlags) preprocess(cmd *cobra.Command) (dataset.Preprocess, bool, error) {
	changed := cmd.Flags().Changed
	any := false
	for _, n := range imageFlags {
		any = any || changed(n)
	}
	var p dataset.Preprocess
	if !any {
		return p, false, nil
	}
	if f.preset != "" {
		var err error
		if p, err = dataset.Preset(f.preset); err != nil {
			return p, true, usageError{fmt.Errorf("--preset: %w", err)}
		}
	}
	ints := func(flag, s string) ([]int, error) {
		var out []int
		for _, part := range strings.Split(s, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				return nil, usagef("--%s %q: want integers such as 224 or 48,192", flag, s)
			}
			out = append(out, v)
		}
		return out, nil
	}
	var err error
	if changed("resize") {
		if p.Resize, err = ints("resize", f.resize); err != nil {
			return p, true, err
		}
		p.Height, p.MaxWidth = 0, 0
	}
	if changed("height") {
		p.Height, p.Resize = f.height, nil
	}
	if changed("max-width") {
		p.MaxWidth = f.maxWidth
	}
	if changed("crop") {
		if p.CenterCrop, err = ints("crop", f.crop); err != nil {
			return p, true, err
		}
	}
	if changed("scale") {
		v, err := parseFraction(f.scale)
		if err != nil {
			return p, true, usagef("--scale %q: want a number such as 0.00392 or 1/255", f.scale)
		}
		p.Scale = float32(v)
	}
	if changed("mean") {
		p.Mean = f.mean
	}
	if changed("std") {
		p.Std = f.std
	}
	if changed("channels") {
		p.Channels = dataset.Channels(f.channels)
	}
	if changed("layout") {
		p.Layout = dataset.Layout(f.layout)
	}
	if changed("pad-width") {
		p.PadWidth = f.pad
	}
	if changed("pad-value") {
		p.PadValue = f.padValue
	}
	if err := p.Validate(); err != nil {
		return p, true, usageError{err}
	}
	return p, true, nil
}

// parseFraction reads "0.5" or "1/255".
func parseFraction(s string) (float64, error) {
	if a, b, ok := strings.Cut(s, "/"); ok {
		x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
		y, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
		if err1 != nil || err2 != nil || y == 0 {
			return 0, fmt.Errorf("bad fraction")
		}
		return x / y, nil
	}
	return strconv.ParseFloat(s, 64)
}

var testDataSetRe = regexp.MustCompile(`^(test_data_set_\d+|input_\d+\.pb)$`)

// isTestDataDir says whether dir is an ONNX test_data_set_N directory or
// holds some.
func isTestDataDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if testDataSetRe.MatchString(e.Name()) {
			return true
		}
	}
	return false
}

// open opens path as a dataset for model m: a single-input model's input
// is fed by the single array or the image folder, and the dataset's inputs
// must be the model's.
func (f *dataFlags) open(cmd *cobra.Command, path string, m *onnxio.Model) (dataset.Dataset, error) {
	var names []string
	for _, v := range m.Info().Inputs {
		names = append(names, v.Name)
	}
	opts := []dataset.Option{dataset.WithLabels(f.labels)}
	if len(names) == 1 {
		opts = append(opts, dataset.WithInputName(names[0]))
	}
	pre, given, err := f.preprocess(cmd)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if given {
		if !st.IsDir() {
			return nil, usagef("--data %s: preprocessing flags apply to image folders; a %s holds tensors already", path, filepath.Ext(path))
		}
		opts = append(opts, dataset.WithPreprocess(pre))
	}
	if !st.IsDir() && strings.ToLower(filepath.Ext(path)) == ".npy" && len(names) != 1 {
		return nil, usagef("--data %s: a .npy holds one array; the model takes %d inputs: use a .npz", path, len(names))
	}
	d, err := dataset.Open(path, opts...)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		found := false
		for _, have := range d.Inputs() {
			found = found || have == n
		}
		if !found {
			d.Close()
			return nil, fmt.Errorf("%s: no array for the model input %q (it has %s): name the arrays after the model's inputs",
				path, n, strings.Join(d.Inputs(), ", "))
		}
	}
	if cmd.Flags().Changed("labels") && !d.HasLabels() {
		d.Close()
		return nil, usagef("%s has no labels array %q", path, f.labels)
	}
	return d, nil
}
