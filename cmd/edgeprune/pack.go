package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/edgeprune/edgeprune/internal/atomicfile"
	"github.com/edgeprune/edgeprune/pack"
	"github.com/spf13/cobra"
)

type packJSON struct {
	Input       string           `json:"input"`
	Output      string           `json:"output"`
	ONNXBytes   int64            `json:"onnx_bytes"`
	PackedBytes int64            `json:"packed_bytes"`
	Ratio       float64          `json:"ratio"`
	Level       int              `json:"level"`
	Values      string           `json:"values"`
	Lossless    bool             `json:"lossless"`
	Sections    []packSectionRow `json:"sections"`
	Tensors     []packTensorRow  `json:"tensors"`
	Check       *packCheckJSON   `json:"check,omitempty"`
}

type packSectionRow struct {
	Kind   string `json:"kind"`
	Stored int64  `json:"stored_bytes"`
	Raw    int64  `json:"raw_bytes"`
}

type packTensorRow struct {
	ID       string  `json:"id"`
	DType    string  `json:"dtype"`
	Shape    []int64 `json:"shape"`
	Field    string  `json:"field"`
	Elements int     `json:"elements"`
	Stored   int     `json:"stored"`
	Encoding string  `json:"encoding"`
	NMAxis   *int    `json:"nm_axis,omitempty"` // with an N:M encoding: the axis its groups run along
	Values   string  `json:"values"`
}

// packOptions turns --level and --values into writer options; pack itself
// validates them, each on its own so that its error names the flag.
func packOptions(level int, values string) ([]pack.WriterOption, string, error) {
	check := func(label string, opt pack.WriterOption) error {
		if _, err := pack.NewWriter(io.Discard, opt); err != nil {
			return flagError(label, err)
		}
		return nil
	}
	opts := []pack.WriterOption{pack.WithLevel(level)}
	if err := check(fmt.Sprintf("--level %d", level), opts[0]); err != nil {
		return nil, "", err
	}
	switch {
	case values == "fp32" || values == "":
		return opts, "fp32", nil
	case values == "fp16":
		return append(opts, pack.WithFP16()), "fp16", nil
	case strings.HasPrefix(values, "codebook:"):
		bits, err := strconv.Atoi(strings.TrimPrefix(values, "codebook:"))
		if err != nil {
			return nil, "", usagef("--values %s: want codebook:BITS with an integer BITS", values)
		}
		opt := pack.WithCodebook(bits)
		if err := check("--values "+values, opt); err != nil {
			return nil, "", err
		}
		return append(opts, opt), values, nil
	}
	return nil, "", usagef("--values %s: want fp32, fp16 or codebook:BITS", values)
}

func newPackCmd(c *cli) *cobra.Command {
	var out, values, check, labels string
	var level, batch int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "pack MODEL -o M.epk",
		Short: "Pack a (pruned) model into a small .epk container",
		Long: `pack stores MODEL in edgeprune's container (docs/pack-format.md): the model
without its weights, zstd-compressed, and every weight tensor dense, as CSR
positions, as a bitmap or as 2:4 positions along the axis the 2:4 groups run
(the input channels of a --pattern 2:4 model) — whichever is smallest — with
values split into byte planes. unpack gives back the same ONNX model, bit
for bit.

--values fp16 or codebook:BITS (2..8, a k-means codebook per tensor) make it
lossy: float32 tensors of 256 or more elements are stored approximately, and
unpack writes float32 weights holding the decoded values. --check DATA then
measures what that costs: it unpacks the package and runs it beside the
original on DATA (as eval --reference does) with the pure-Go engine.`,
		Example: `  edgeprune pack pruned.onnx -o pruned.epk
  edgeprune pack pruned.onnx -o small.epk --values codebook:5 --json
  edgeprune pack lenet5.onnx -o l5.epk --values codebook:4 --check mnist_test.npz`,
		Args: exactArgs(1, "one MODEL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("pack needs -o OUTPUT.epk")
			}
			if same, _ := sameFile(args[0], out); same {
				return usagef("-o %q is the input file: choose another path", out)
			}
			opts, vname, err := packOptions(level, values)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			m, err := readModel(ctx, args[0])
			if err != nil {
				return err
			}
			f, err := atomicfile.Create(out)
			if err != nil {
				return err
			}
			defer f.Abort()
			w, err := pack.NewWriter(f, opts...)
			if err != nil {
				return usageError{errors.New(libraryReason(err))}
			}
			st, err := interruptible(ctx, func() (*pack.Stats, error) { return w.WriteModel(m) })
			if err != nil {
				return err
			}
			if err := f.Commit(); err != nil {
				return err
			}
			rep := packReport(args[0], out, vname, st)
			if check != "" {
				if rep.Check, err = packCheck(cmd, m, out, check, labels, batch); err != nil {
					return err
				}
			}
			if asJSON {
				return writeJSON(c.stdout, rep)
			}
			return printPack(c.stdout, rep)
		},
	}
	addOutputFlag(cmd, &out, "output file (.epk)")
	cmd.Flags().IntVar(&level, "level", pack.DefaultLevel, "zstd level, 1..22")
	cmd.Flags().StringVar(&values, "values", "fp32", "value code: fp32 (lossless), fp16, codebook:BITS (lossy)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&check, "check", "", "measure the fidelity of the packed model to MODEL on this data (.npz, .npy or test_data_set dir)")
	cmd.Flags().StringVar(&labels, "labels", "labels", "--check: name of the labels array in a .npz")
	cmd.Flags().IntVar(&batch, "batch", 100, "--check: samples per batch")
	return cmd
}

func packReport(in, out, values string, st *pack.Stats) *packJSON {
	rep := &packJSON{Input: in, Output: out, ONNXBytes: st.ModelBytes, PackedBytes: st.PackedBytes,
		Ratio: st.Ratio(), Level: st.Header.Level, Values: values, Lossless: st.Header.Lossless()}
	if fi, err := os.Stat(in); err == nil {
		rep.ONNXBytes = fi.Size()
		rep.Ratio = float64(fi.Size()) / float64(max(st.PackedBytes, 1))
	}
	rep.Sections = sectionRows(st.Header.Sections)
	rep.Tensors = tensorRows(st.Tensors)
	return rep
}

func sectionRows(ss []pack.SectionInfo) []packSectionRow {
	rows := []packSectionRow{}
	for _, s := range ss {
		rows = append(rows, packSectionRow{Kind: s.Kind.String(), Stored: s.Stored, Raw: s.Raw})
	}
	return rows
}

func tensorRows(ts []pack.TensorInfo) []packTensorRow {
	rows := []packTensorRow{}
	for _, t := range ts {
		v := t.Values.String()
		if t.Values == pack.Codebook {
			v = fmt.Sprintf("codebook:%d (%d centroids)", t.CodeBits, t.Codebook)
		}
		row := packTensorRow{ID: t.ID, DType: t.DType.String(), Shape: append([]int64{}, t.Dims...),
			Field: t.Field.String(), Elements: t.Count, Stored: t.Stored, Encoding: t.EncodingName(), Values: v}
		if t.Encoding == pack.EncNM {
			row.NMAxis = &t.Axis
		}
		rows = append(rows, row)
	}
	return rows
}

func printTensorRows(w io.Writer, rows []packTensorRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tensor\tdtype\tshape\telements\tstored\tencoding\tvalues\t")
	for _, r := range rows {
		enc := r.Encoding
		if r.NMAxis != nil {
			enc = fmt.Sprintf("%s axis %d", enc, *r.NMAxis)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t\n", r.ID, r.DType, dims(r.Shape), r.Elements, r.Stored, enc, r.Values)
	}
	tw.Flush()
}

func printPack(w io.Writer, r *packJSON) error {
	printTensorRows(w, r.Tensors)
	counts := map[string]int{}
	for _, t := range r.Tensors {
		if t.NMAxis != nil {
			counts["n:m"]++
		} else {
			counts[t.Encoding]++
		}
	}
	fmt.Fprintf(w, "\nencodings: %d dense, %d csr, %d bitmap, %d n:m\n", counts["dense"], counts["csr"], counts["bitmap"], counts["n:m"])
	mode := "lossless"
	if !r.Lossless {
		mode = "LOSSY (" + r.Values + "): unpack gives float32 weights holding the decoded values"
	}
	fmt.Fprintf(w, "values:    %s\n", mode)
	fmt.Fprintf(w, "onnx:      %s (%d B)\n", humanBytes(r.ONNXBytes), r.ONNXBytes)
	fmt.Fprintf(w, "packed:    %s (%d B), %.2fx smaller, zstd level %d -> %s\n", humanBytes(r.PackedBytes), r.PackedBytes, r.Ratio, r.Level, r.Output)
	if r.Check != nil {
		printPackCheck(w, r.Check)
	}
	return nil
}
