package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"

	"github.com/edgeprune/edgeprune/internal/atomicfile"

	"github.com/edgeprune/edgeprune/pack"
	"github.com/spf13/cobra"
)

func newUnpackCmd(c *cli) *cobra.Command {
	var out string
	var noSync bool
	cmd := &cobra.Command{
		Use:   "unpack M.epk -o MODEL.onnx",
		Short: "Unpack an .epk container into the ONNX model it holds",
		Long: `unpack checks every checksum of M.epk and writes the ONNX model it holds:
bit-identical to the model that was packed, unless it was packed with a lossy
--values code. The model is streamed to the output as it is decoded, never
held whole in memory. The output is written atomically (to a temporary file,
synced, then renamed); a corrupt or truncated pack is reported with the
section it was found in, and writes nothing.`,
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
			dst, err := atomicfile.Create(out)
			if err != nil {
				return err
			}
			defer dst.Abort()
			n, err := interruptible(cmd.Context(), func() (int64, error) { return r.WriteONNX(dst) })
			if err != nil {
				if errors.Is(err, pack.ErrCorrupt) || errors.Is(err, pack.ErrMalformed) || errors.Is(err, pack.ErrLimit) || errors.Is(err, pack.ErrUnsupported) {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				return fmt.Errorf("%s: %w", out, err)
			}
			commit := dst.Commit
			if noSync {
				commit = dst.CommitNoSync
			}
			if err := commit(); err != nil {
				return fmt.Errorf("%s: %w", out, err)
			}
			if !r.Header().Lossless() {
				fmt.Fprintf(c.stdout, "note: packed with lossy values (%v): weights hold the decoded values\n", r.Header().Values)
			}
			fmt.Fprintf(c.stdout, "wrote %s (%s)\n", out, humanBytes(n))
			return nil
		},
	}
	addOutputFlag(cmd, &out, "output ONNX file")
	cmd.Flags().BoolVar(&noSync, "no-sync", false, "rename the output into place without fsync (still atomic for readers, not crash-safe)")
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
