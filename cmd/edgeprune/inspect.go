package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/spf13/cobra"
)

// inspectJSON is the stable schema of `inspect --json` (docs/cli-json.md).
type inspectJSON struct {
	Schema          string           `json:"schema"`
	File            string           `json:"file"`
	FileBytes       int64            `json:"file_bytes"`
	IRVersion       int64            `json:"ir_version"`
	Producer        string           `json:"producer"`
	ProducerVersion string           `json:"producer_version"`
	Domain          string           `json:"domain"`
	ModelVersion    int64            `json:"model_version"`
	Opsets          []opsetJSON      `json:"opsets"`
	Inputs          []valueJSON      `json:"inputs"`
	Outputs         []valueJSON      `json:"outputs"`
	Nodes           int              `json:"nodes"`
	Ops             map[string]int   `json:"ops"`
	Params          int64            `json:"params"`
	NonzeroParams   int64            `json:"nonzero_params"`
	Sparsity        float64          `json:"sparsity"`
	Bytes           int64            `json:"bytes"`
	ExternalData    bool             `json:"external_data"`
	Parameters      []parameterJSON  `json:"parameters"`
	ByWhere         map[string]int64 `json:"params_by_location"`
}

type opsetJSON struct {
	Domain  string `json:"domain"`
	Version int64  `json:"version"`
}

type valueJSON struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	// Shape entries are numbers (fixed), strings (symbolic) or null (unknown);
	// a null shape means unknown rank.
	Shape []any `json:"shape"`
}

type parameterJSON struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Graph      string  `json:"graph"`
	Where      string  `json:"where"`
	External   bool    `json:"external"`
	DType      string  `json:"dtype"`
	Shape      []int64 `json:"shape"`
	Elements   int64   `json:"elements"`
	Nonzeros   int64   `json:"nonzeros"`
	Sparsity   float64 `json:"sparsity"`
	Bytes      int64   `json:"bytes"`
	Float      bool    `json:"float"`
	Consumer   string  `json:"consumer_node"`
	ConsumerOp string  `json:"consumer_op"`
	Input      int     `json:"consumer_input"`
	Uses       int     `json:"uses"`
}

func newInspectCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Show what a model holds: opsets, inputs/outputs, ops, parameters and sparsity",
		Long: `inspect reads an ONNX model and prints its header (IR version, opsets,
producer), its inputs and outputs with shapes, a histogram of its ops, and a
table of every numeric tensor it stores — graph initializers, Constant nodes'
values, and tensors inside subgraphs — with the node that consumes each,
its shape, element count, nonzeros, sparsity, bytes and where it lives.

Totals count the elements of every floating-point tensor stored in the model.
With --json the same data is printed in the schema of docs/cli-json.md.`,
		Example: `  edgeprune inspect resnet18.onnx
  edgeprune inspect model.onnx --json | jq '.params, .nonzero_params'`,
		Args: exactArgs(1, "one MODEL argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isPackFile(args[0]) {
				return interruptibleErr(cmd.Context(), func() error { return inspectPack(c, args[0], asJSON) })
			}
			rep, err := interruptible(cmd.Context(), func() (*inspectJSON, error) { return inspectModel(args[0]) })
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.stdout, rep)
			}
			return printInspect(c.stdout, rep)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (schema: docs/cli-json.md)")
	return cmd
}

func inspectModel(path string) (*inspectJSON, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	m, err := onnxio.ReadFile(path)
	if err != nil {
		return nil, err
	}
	info := m.Info()
	rep := &inspectJSON{
		Schema: "edgeprune.inspect/v1", File: path, FileBytes: st.Size(),
		IRVersion: info.IRVersion, Producer: info.ProducerName, ProducerVersion: info.ProducerVersion,
		Domain: info.Domain, ModelVersion: info.ModelVersion, Nodes: info.Nodes, Ops: info.Ops,
		ExternalData: m.HasExternalData(), ByWhere: map[string]int64{},
		Opsets: []opsetJSON{}, Inputs: []valueJSON{}, Outputs: []valueJSON{}, Parameters: []parameterJSON{},
	}
	for _, o := range info.Opsets {
		rep.Opsets = append(rep.Opsets, opsetJSON{o.Domain, o.Version})
	}
	for _, v := range info.Inputs {
		rep.Inputs = append(rep.Inputs, valueOf(v))
	}
	for _, v := range info.Outputs {
		rep.Outputs = append(rep.Outputs, valueOf(v))
	}
	for _, p := range m.Params() {
		n := p.NumElements()
		nz := p.Nonzeros()
		pj := parameterJSON{
			ID: p.ID, Name: p.Name, Graph: strings.TrimSuffix(p.GraphPath, "/"), Where: p.Where.String(),
			External: p.External != nil, DType: p.DataType().String(), Shape: append([]int64{}, p.Shape()...),
			Elements: n, Nonzeros: nz, Bytes: p.Bytes(), Float: p.DataType().IsFloating(), Uses: len(p.Uses),
			Input: -1,
		}
		if n > 0 && nz >= 0 {
			pj.Sparsity = 1 - float64(nz)/float64(n)
		}
		if u := p.FirstUse(); u.Node != nil {
			pj.Consumer, pj.ConsumerOp, pj.Input = u.Node.GetName(), u.Node.GetOpType(), u.Input
		}
		rep.Parameters = append(rep.Parameters, pj)
		rep.Bytes += pj.Bytes
		if pj.Float {
			rep.Params += n
			if nz > 0 {
				rep.NonzeroParams += nz
			}
			where := pj.Where
			if pj.Graph != "" {
				where = "subgraph " + where
			}
			rep.ByWhere[where] += n
		}
	}
	if rep.Params > 0 {
		rep.Sparsity = 1 - float64(rep.NonzeroParams)/float64(rep.Params)
	}
	return rep, nil
}

func valueOf(v onnxio.ValueInfo) valueJSON {
	out := valueJSON{Name: v.Name, DType: v.ElemType.String()}
	if v.Shape != nil {
		out.Shape = make([]any, len(v.Shape))
		for i, d := range v.Shape {
			switch {
			case d.Param != "":
				out.Shape[i] = d.Param
			case d.Value > 0:
				out.Shape[i] = d.Value
			}
		}
	}
	return out
}

func shapeString(v valueJSON) string {
	if v.Shape == nil {
		return "?"
	}
	parts := make([]string, len(v.Shape))
	for i, d := range v.Shape {
		if d == nil {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func dims(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func printInspect(w io.Writer, r *inspectJSON) error {
	var opsets []string
	for _, o := range r.Opsets {
		d := o.Domain
		if d == "" {
			d = "ai.onnx"
		}
		opsets = append(opsets, fmt.Sprintf("%s v%d", d, o.Version))
	}
	fmt.Fprintf(w, "model     %s (%s)\n", r.File, humanBytes(r.FileBytes))
	fmt.Fprintf(w, "ir        %d   opsets: %s\n", r.IRVersion, strings.Join(opsets, ", "))
	fmt.Fprintf(w, "producer  %s %s\n", r.Producer, r.ProducerVersion)
	for _, v := range r.Inputs {
		fmt.Fprintf(w, "input     %s %s %s\n", v.Name, v.DType, shapeString(v))
	}
	for _, v := range r.Outputs {
		fmt.Fprintf(w, "output    %s %s %s\n", v.Name, v.DType, shapeString(v))
	}
	fmt.Fprintf(w, "\nops (%d nodes):\n", r.Nodes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, op := range sortedKeys(r.Ops) {
		fmt.Fprintf(tw, "  %s\t%d\n", op, r.Ops[op])
	}
	tw.Flush()
	fmt.Fprintf(w, "\nparameters (%d tensors):\n", len(r.Parameters))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "id\tconsumer\tdtype\tshape\telements\tnonzeros\tsparsity\tbytes\twhere\t")
	for _, p := range r.Parameters {
		where := p.Where
		if p.Graph != "" {
			where += " in " + p.Graph
		}
		if p.External {
			where += " (external)"
		}
		cons := p.ConsumerOp
		if cons != "" {
			cons = fmt.Sprintf("%s:%d", cons, p.Input)
		} else {
			cons = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%.1f%%\t%d\t%s\t\n", p.ID, cons, p.DType, dims(p.Shape), p.Elements, p.Nonzeros, 100*p.Sparsity, p.Bytes, where)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntotal: %d floating-point parameters, %d nonzero (sparsity %.2f%%), %s of tensor data\n",
		r.Params, r.NonzeroParams, 100*r.Sparsity, humanBytes(r.Bytes))
	return nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
