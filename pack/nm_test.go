package pack

import (
	"bytes"
	"errors"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/prune"
)

// TestPackNMPruned: packing a model pruned with --pattern 2:4 stores every
// tensor prune made 2:4 as 2:4 along the input-channel axis prune used
// (for Conv, along I at fixed output channel and kernel position, not over
// consecutive elements), and unpacks to the same model by both paths.
func TestPackNMPruned(t *testing.T) {
	for _, mm := range testmodels.All(t) {
		if mm.Name != "resnet18" && mm.Name != "ppocr_det" {
			continue
		}
		t.Run(mm.Name, func(t *testing.T) {
			m := readModel(t, mm.Path)
			pr, err := prune.New(prune.WithPattern(prune.Pattern{Kind: prune.NM, N: 2, M: 4}))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := pr.Prune(m)
			if err != nil {
				t.Fatal(err)
			}
			b, st := packModel(t, m, WithLevel(3))
			infos := map[string]TensorInfo{}
			for _, ti := range st.Tensors {
				infos[ti.ID] = ti
			}
			n24, strided := 0, 0
			for _, p := range plan.Params {
				if p.Pattern != "2:4" {
					continue
				}
				ti, ok := infos[p.ID]
				if !ok {
					t.Fatalf("%s: pruned 2:4 but not in the pack", p.ID)
				}
				if ti.Encoding != EncNM || ti.N != 2 || ti.M != 4 || ti.Axis != p.InAxis {
					t.Errorf("%s %v (%s, in-channel axis %d): packed as %s axis %d", p.ID, p.Shape, p.Op, p.InAxis, ti.EncodingName(), ti.Axis)
				}
				n24++
				if stride := dimsCount(p.Shape[p.InAxis+1:]); stride > 1 {
					strided++
				}
			}
			if n24 == 0 || strided == 0 {
				t.Fatalf("%d tensors pruned 2:4, %d of them with groups strided (not over consecutive elements)", n24, strided)
			}
			got, err := unpack(b)
			if err != nil {
				t.Fatal(err)
			}
			mustEqualModels(t, mm.Name, got, m)
			mustStreamEqual(t, mm.Name, b, m)
			t.Logf("%s: %d tensors 2:4 (%d strided), %d -> %d bytes", mm.Name, n24, strided, st.ModelBytes, st.PackedBytes)
		})
	}
}

// nmConvModel is a Conv with weight [4, 8, 2, 2] pruned 2:4 along its input
// channels (stride 4 in the flattened weight) and 300 weights, enough for
// the lossy value codes.
func nmConvModel(t testing.TB) *onnxio.Model {
	t.Helper()
	b := onnxbuild.New(13)
	b.Input("x", onnxbuild.Float, 1, 8, 5, 5)
	w := make([]float32, 4*8*2*2)
	for i := range w {
		w[i] = float32(i%7) - 3 + float32(i)/128
	}
	b.Init("W", []int64{4, 8, 2, 2}, w)
	b.Node("Conv", []string{"x", "W"}, []string{"y"})
	b.Output("y", onnxbuild.Float, 1, 4, 4, 4)
	m, err := onnxio.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	pr, err := prune.New(prune.WithPattern(prune.Pattern{Kind: prune.NM, N: 2, M: 4}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Prune(m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPackNMConv: the small Conv's weight is stored 2:4 along axis 1, and
// unpacks to the same model by both paths; a pack whose N:M row names an
// axis the dims do not allow is malformed.
func TestPackNMConv(t *testing.T) {
	m := nmConvModel(t)
	b, st := packModel(t, m)
	if ti := st.Tensors[0]; ti.Encoding != EncNM || ti.N != 2 || ti.M != 4 || ti.Axis != 1 || ti.Stored != 64 {
		t.Fatalf("W packed as %s axis %d, %d stored; want 2:4 axis 1, 64 stored", ti.EncodingName(), ti.Axis, ti.Stored)
	}
	got, err := unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	mustEqualModels(t, "conv 2:4", got, m)
	mustStreamEqual(t, "conv 2:4", b, m)
	// The row: ... encoding 3, n 2, m−1 3, axis 1. Axis 2 (2 elements) cannot
	// hold groups of 4.
	table := sectionContent(t, b, KindTable)
	i := bytes.Index(table, []byte{byte(EncNM), 2, 3, 1})
	if i < 0 {
		t.Fatalf("table %x has no 2:4 axis-1 row", table)
	}
	bad := bytes.Clone(table)
	bad[i+3] = 2
	c := withSection(t, b, KindTable, bad)
	if _, err := unpack(c); !errors.Is(err, ErrMalformed) {
		t.Fatalf("axis 2: ReadModel: %v, want ErrMalformed", err)
	}
	if _, err := unpackStream(c); !errors.Is(err, ErrMalformed) {
		t.Fatalf("axis 2: WriteONNX: %v, want ErrMalformed", err)
	}
}
