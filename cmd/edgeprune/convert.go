package main

import (
	"errors"
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
	var dataFile, out string
	cmd := &cobra.Command{
		Use:   "convert IN -o OUT",
		Short: "Read a model and write it back, losslessly",
		Long: `convert reads IN and writes it to -o OUT. Everything is kept: tensors read from
external data stay external (in OUT's own data file), unknown fields survive.
OUT is written atomically: a failed run leaves no partial file, and IN is
never touched.

--external-data stores every tensor of 1 KiB or more in a data file beside
OUT (OUT.data unless --data-file names another); models over protobuf's
2 GiB limit get external data automatically.`,
		Example: `  edgeprune convert model.onnx -o copy.onnx
  edgeprune convert model.onnx -o split.onnx --external-data`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 { // convert IN OUT: the old spelling, for one release
				return nil
			}
			return exactArgs(1, "one IN argument (and -o OUT)")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			in := args[0]
			if len(args) == 2 {
				if out != "" {
					return usagef("OUT given twice (%s and -o %s): use -o alone", args[1], out)
				}
				out = args[1]
				fmt.Fprintf(c.stderr, "edgeprune: convert IN OUT is deprecated: use convert IN -o OUT\n")
			}
			if out == "" {
				return usagef("convert needs -o OUT.onnx")
			}
			if same, _ := sameFile(in, out); same {
				return usagef("-o %s is the input file: choose another path", out)
			}
			ctx := cmd.Context()
			m, err := readModel(ctx, in)
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
			if err := writeModel(ctx, m, out, opts...); err != nil {
				if _, statErr := os.Stat(out); dataFile != "" && errors.Is(err, onnxio.ErrExternalData) && statErr != nil {
					return flagError("--data-file "+dataFile, err)
				}
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
	addOutputFlag(cmd, &out, "output model (written atomically)")
	cmd.Flags().BoolVar(&external, "external-data", false, "store tensors of 1 KiB or more in an external data file")
	cmd.Flags().StringVar(&dataFile, "data-file", "", "external data file name, relative to the output's directory (default OUT.data)")
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
