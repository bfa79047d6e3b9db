package main

import (
	"fmt"
	"os"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/spf13/cobra"
)

type convertJSON struct {
	Input        string `json:"input"`
	Output       string `json:"output"`
	OutputBytes  int64  `json:"output_bytes"`
	DataFile     string `json:"data_file,omitempty"`
	DataBytes    int64  `json:"data_bytes,omitempty"`
	ExternalData bool   `json:"external_data"`
}

func newConvertCmd(c *cli) *cobra.Command {
	var external, asJSON bool
	var dataFile string
	cmd := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Read a model and write it back, losslessly",
		Long: `convert reads IN and writes OUT. Everything is kept: tensors read from
external data stay external (in OUT's own data file), unknown fields survive.
OUT is written atomically: a failed run leaves no partial file, and IN is
never touched.

--external-data stores every tensor of 1 KiB or more in a data file beside
OUT (OUT.data unless --data-file names another); models over protobuf's
2 GiB limit get external data automatically.`,
		Example: `  edgeprune convert model.onnx copy.onnx
  edgeprune convert model.onnx split.onnx --external-data`,
		Args: exactArgs(2, "IN and OUT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, out := args[0], args[1]
			if same, _ := sameFile(in, out); same {
				return usagef("OUT %q is the input file: choose another path", out)
			}
			m, err := onnxio.ReadFile(in)
			if err != nil {
				return err
			}
			var opts []onnxio.WriteOption
			if external {
				opts = append(opts, onnxio.WithExternalData(onnxio.ExternalAlways))
			}
			if dataFile != "" {
				opts = append(opts, onnxio.WithExternalFile(dataFile))
			}
			if err := m.WriteFile(out, opts...); err != nil {
				return err
			}
			rep := convertJSON{Input: in, Output: out}
			if st, err := os.Stat(out); err == nil {
				rep.OutputBytes = st.Size()
			}
			name := dataFile
			if name == "" {
				name = out + ".data"
			} else {
				name = joinDir(out, name)
			}
			if st, err := os.Stat(name); err == nil && (external || m.HasExternalData()) {
				rep.DataFile, rep.DataBytes, rep.ExternalData = name, st.Size(), true
			}
			c.log.Debug("converted", "in", in, "out", out, "bytes", rep.OutputBytes)
			if asJSON {
				return writeJSON(c.stdout, rep)
			}
			fmt.Fprintf(c.stdout, "wrote %s (%s)\n", out, humanBytes(rep.OutputBytes))
			if rep.ExternalData {
				fmt.Fprintf(c.stdout, "wrote %s (%s of external data)\n", rep.DataFile, humanBytes(rep.DataBytes))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&external, "external-data", false, "store tensors of 1 KiB or more in an external data file")
	cmd.Flags().StringVar(&dataFile, "data-file", "", "external data file name, relative to OUT's directory (default OUT.data)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
