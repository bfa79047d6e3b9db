package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/edgeprune/edgeprune/pack"
	"github.com/spf13/cobra"
)

func newUnpackCmd(c *cli) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "unpack M.epk -o MODEL.onnx",
		Short: "Unpack an .epk container into the ONNX model it holds",
		Long: `unpack checks every checksum of M.epk and writes the ONNX model it holds:
bit-identical to the model that was packed, unless it was packed with a lossy
--values code. The output is written atomically; a corrupt or truncated pack
is reported with the section it was found in, and writes nothing.`,
		Example: `  edgeprune unpack model.epk -o model.onnx`,
		Args:    exactArgs(1, "one M.epk argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("unpack needs -o OUTPUT.onnx")
			}
			if same, _ := sameFile(args[0], out); same {
				return usagef("-o %q is the input file: choose another path", out)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			r, err := pack.NewReader(bufio.NewReaderSize(f, 1<<20))
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			m, err := r.ReadModel()
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := m.WriteFile(out); err != nil {
				return err
			}
			if !r.Header().Lossless() {
				fmt.Fprintf(c.stdout, "note: packed with lossy values (%v): weights hold the decoded values\n", r.Header().Values)
			}
			fmt.Fprintf(c.stdout, "wrote %s (%s)\n", out, humanBytes(r.Header().ModelBytes))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output ONNX file")
	return cmd
}

// isPackFile reports whether path starts with the pack magic.
func isPackFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(pack.Magic))
	n, _ := f.Read(b)
	return n == len(b) && string(b) == pack.Magic
}

type inspectPackJSON struct {
	Schema    string           `json:"schema"`
	File      string           `json:"file"`
	FileBytes int64            `json:"file_bytes"`
	Version   int              `json:"version"`
	ONNXBytes int64            `json:"onnx_bytes"`
	Values    string           `json:"values"`
	Lossless  bool             `json:"lossless"`
	Level     int              `json:"level"`
	Sections  []packSectionRow `json:"sections"`
	Tensors   []packTensorRow  `json:"tensors"`
}

// inspectPack prints the header and tensor table of a pack.
func inspectPack(c *cli, path string, asJSON bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pack.NewReader(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ts, err := r.Tensors()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	h := r.Header()
	values := h.Values.String()
	if h.Values == pack.Codebook {
		values = fmt.Sprintf("codebook:%d", h.CodebookBits)
	}
	rep := &inspectPackJSON{Schema: "edgeprune.inspect-pack/v1", File: path, FileBytes: h.FileBytes, Version: h.Version,
		ONNXBytes: h.ModelBytes, Values: values, Lossless: h.Lossless(), Level: h.Level,
		Sections: sectionRows(h.Sections), Tensors: tensorRows(ts)}
	if asJSON {
		return writeJSON(c.stdout, rep)
	}
	w := c.stdout
	fmt.Fprintf(w, "pack      %s (%s), format v%d, zstd level %d\n", path, humanBytes(rep.FileBytes), rep.Version, rep.Level)
	fmt.Fprintf(w, "model     %s of ONNX, %.2fx\n", humanBytes(rep.ONNXBytes), float64(rep.ONNXBytes)/float64(max(rep.FileBytes, 1)))
	fmt.Fprintf(w, "values    %s (lossless: %v)\n\nsections:\n", values, rep.Lossless)
	for _, s := range rep.Sections {
		fmt.Fprintf(w, "  %-9s %10d B stored  %10d B raw\n", s.Kind, s.Stored, s.Raw)
	}
	fmt.Fprintf(w, "\ntensors (%d):\n", len(rep.Tensors))
	printTensorRows(w, rep.Tensors)
	return nil
}
