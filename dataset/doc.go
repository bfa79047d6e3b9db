// Package dataset reads the data edgeprune trains, calibrates and evaluates
// on, as the ecosystem hands it over:
//
//   - NumPy .npz files with one array per model input, named after it, and
//     an integer `labels` array (numpy.savez; the format of
//     https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//     inside a zip);
//   - NumPy .npy files (inputs only);
//   - image folders as torchvision's ImageFolder (one sub-folder per class,
//     PNG or JPEG), turned into tensors by a [Preprocess]: resize (exact,
//     shorter side, or to a height with the aspect kept), center crop,
//     scale, mean/std, RGB/BGR/gray, NCHW/NHWC, padding on the right; named
//     [Presets] such as "ppocr-cls".
//
// [Open] returns a [Dataset] whose Batch reads the samples it is asked for:
// arrays are read in place, sample by sample (a dataset larger than memory
// is read batch by batch); compressed .npz entries are streamed while read
// forward and decompressed into memory (up to a limit) once read out of
// order; images are decoded per batch. [Split] holds out a validation fraction, [Subset]
// views a part, [Shuffle] is the seeded order of an epoch.
//
// It is also the one reader and writer of .npy/.npz for the command line
// ([ReadNPY], [WriteNPY], [ReadNPZ]). Every count, shape and size read from
// a file is checked against a limit before anything is allocated; bad files
// give errors wrapping [ErrMalformed] or [ErrUnsupported] that name the
// file and the array.
package dataset
