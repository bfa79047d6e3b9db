// Package robust holds cross-package robustness tests: edgeprune's stages
// on models that are well-formed protobuf but inconsistent ONNX.
package robust

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand"
	"runtime/debug"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"github.com/edgeprune/edgeprune/pack"
	"github.com/edgeprune/edgeprune/prune"
	"google.golang.org/protobuf/proto"
)

func mutate(r *rand.Rand, mp *onnx.ModelProto) string {
	g := mp.Graph
	switch r.Intn(9) {
	case 0:
		if len(g.Initializer) > 0 {
			t := g.Initializer[r.Intn(len(g.Initializer))]
			if len(t.Dims) > 0 {
				i := r.Intn(len(t.Dims))
				old := t.Dims[i]
				t.Dims[i] = int64(r.Intn(5))
				// keep payload consistent
				n := int64(1)
				for _, d := range t.Dims {
					n *= d
				}
				if t.GetDataType() == 1 {
					t.RawData = make([]byte, 4*n)
					t.FloatData = nil
				}
				return fmt.Sprintf("dims %s[%d] %d→%d", t.GetName(), i, old, t.Dims[i])
			}
		}
	case 1:
		n := g.Node[r.Intn(len(g.Node))]
		for _, a := range n.Attribute {
			if len(a.Ints) > 0 {
				k := r.Intn(len(a.Ints))
				a.Ints[k] = int64(r.Intn(7) - 2)
				return fmt.Sprintf("attr %s.%s", n.GetName(), a.GetName())
			}
			if a.GetType() == onnx.AttributeProto_INT {
				a.I = proto.Int64(int64(r.Intn(7) - 2))
				return fmt.Sprintf("attr %s.%s=%d", n.GetName(), a.GetName(), a.GetI())
			}
		}
	case 2:
		n := g.Node[r.Intn(len(g.Node))]
		if len(n.Input) > 0 {
			other := g.Node[r.Intn(len(g.Node))]
			if len(other.Output) > 0 {
				n.Input[r.Intn(len(n.Input))] = other.Output[0]
				return "rewire " + n.GetName()
			}
		}
	case 3:
		n := g.Node[r.Intn(len(g.Node))]
		if len(n.Input) > 1 {
			n.Input = n.Input[:len(n.Input)-1]
			return "drop input " + n.GetName()
		}
	case 4:
		if len(g.Input) > 0 {
			if tt := g.Input[0].GetType().GetTensorType(); tt != nil && tt.Shape != nil && len(tt.Shape.Dim) > 0 {
				d := tt.Shape.Dim[r.Intn(len(tt.Shape.Dim))]
				d.Value = &onnx.TensorShapeProto_Dimension_DimValue{DimValue: int64(r.Intn(4))}
				return "input dim"
			}
		}
	case 5:
		n := g.Node[r.Intn(len(g.Node))]
		ops := []string{"Conv", "Gemm", "Add", "Concat", "Reshape", "MatMul", "Relu", "Flatten", "Transpose", "Slice"}
		old := n.GetOpType()
		n.OpType = proto.String(ops[r.Intn(len(ops))])
		return "op " + old + "→" + n.GetOpType()
	case 6:
		if len(g.Initializer) > 0 {
			t := g.Initializer[r.Intn(len(g.Initializer))]
			n := int64(1)
			for _, d := range t.Dims {
				n *= d
			}
			dts := []int32{1, 6, 7, 9, 10, 11, 2}
			t.DataType = proto.Int32(dts[r.Intn(len(dts))])
			sizes := map[int32]int64{1: 4, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 2: 1}
			t.RawData = make([]byte, sizes[t.GetDataType()]*n)
			t.FloatData, t.Int32Data, t.Int64Data, t.DoubleData = nil, nil, nil, nil
			return fmt.Sprintf("dtype %s→%d", t.GetName(), t.GetDataType())
		}
	case 7:
		if len(g.Initializer) > 0 {
			k := r.Intn(len(g.Initializer))
			name := g.Initializer[k].GetName()
			g.Initializer = append(g.Initializer[:k], g.Initializer[k+1:]...)
			return "drop initializer " + name
		}
	case 8:
		n := g.Node[r.Intn(len(g.Node))]
		n.Attribute = append(n.Attribute, &onnx.AttributeProto{Name: proto.String("axis"), Type: onnx.AttributeProto_INT.Enum(), I: proto.Int64(int64(r.Intn(9) - 4))})
		return "axis attr " + n.GetName()
	}
	return "none"
}

// robustIters is how many mutated models TestNoPanics tries (-robust.n).
var (
	robustIters = flag.Int("robust.n", 3000, "mutated models to try")
	robustSeed  = flag.Int64("robust.seed", 1, "seed of the mutations")
)

// TestNoPanics feeds the whole pipeline (decode, engine compile + run,
// magnitude pruning, packing and unpacking, structured pruning) models made inconsistent on
// purpose — wrong dims, attributes, wiring, op types — and checks that
// every stage answers with an error, never a panic: the model came from
// input (../shared/STYLE.md, "Errors and untrusted input").
func TestNoPanics(t *testing.T) {
	r := rand.New(rand.NewSource(*robustSeed))
	canned := append(onnxbuild.CannedModels(), onnxbuild.StructuredModels()...)
	canned = append(canned, onnxbuild.Canned{Name: "demonet", Build: onnxbuild.DemoNet})
	var ran, pruned int // how many mutated models got past validation
	for i := 0; i < *robustIters; i++ {
		c := canned[r.Intn(len(canned))]
		mp := c.Build()
		var what []string
		for k := 0; k < 1+r.Intn(2); k++ {
			what = append(what, mutate(r, mp))
		}
		data, _ := proto.Marshal(mp)
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("%s %v: panic: %v\n%s", c.Name, what, v, debug.Stack())
				}
			}()
			m, err := onnxio.Decode(data)
			if err != nil {
				return
			}
			if p, err := engine.Compile(m); err == nil {
				feed := engine.RandomInputs(p)
				if _, err := p.Run(context.Background(), feed); err == nil {
					ran++
				}
			}
			if pr, err := prune.New(prune.WithSparsity(0.5)); err == nil {
				m2, _ := onnxio.Decode(data)
				pr.Prune(m2)
			}
			var buf bytes.Buffer
			if w, err := pack.NewWriter(&buf, pack.WithLevel(1)); err == nil {
				m4, _ := onnxio.Decode(data)
				if _, err := w.WriteModel(m4); err == nil {
					if r, err := pack.NewReader(bytes.NewReader(buf.Bytes())); err == nil {
						r.ReadModel()
					}
				}
			}
			m3, _ := onnxio.Decode(data)
			if sp, err := prune.NewStructured(prune.WithSparsity(0.5)); err == nil {
				if _, err := sp.Prune(m3); err == nil {
					pruned++
				}
			}
		}()
	}
	// mutations that are all rejected up front would test nothing
	if ran < *robustIters/10 || pruned < *robustIters/20 {
		t.Fatalf("only %d of %d mutated models ran and %d were structurally pruned: the mutations test too little", ran, *robustIters, pruned)
	}
	t.Logf("%d mutated models: %d ran in the engine, %d structurally pruned, none panicked", *robustIters, ran, pruned)
}
