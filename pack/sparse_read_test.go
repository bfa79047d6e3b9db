package pack

import (
	"bytes"
	"slices"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/prune"
)

// TestReadSparse: a pack read with ReadSparse holds every sparse-encoded
// float32 weight as a CSR that decodes to exactly the tensor ReadModel
// gives (bit for bit), for csr/bitmap (global magnitude 0.9) and strided
// N:M (2:4 on Conv) encodings, and every other tensor as ReadModel does.
func TestReadSparse(t *testing.T) {
	for _, mm := range testmodels.All(t) {
		if mm.Name != "lenet5" && mm.Name != "squeezenet1_1" {
			continue
		}
		for _, pat := range []string{"0.9", "0.5", "2:4"} {
			t.Run(mm.Name+"/"+pat, func(t *testing.T) {
				m := readModel(t, mm.Path)
				opt := prune.WithSparsity(0.9)
				if pat == "0.5" {
					opt = prune.WithSparsity(0.5)
				}
				if pat == "2:4" {
					opt = prune.WithPattern(prune.Pattern{Kind: prune.NM, N: 2, M: 4})
				}
				pr, err := prune.New(opt, prune.WithScope(prune.Global))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pr.Prune(m); err != nil {
					t.Fatal(err)
				}
				b, _ := packModel(t, m, WithLevel(3))
				want, err := unpack(b)
				if err != nil {
					t.Fatal(err)
				}
				rd, err := NewReader(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				infos, err := rd.Tensors()
				if err != nil {
					t.Fatal(err)
				}
				nm := 0
				for _, ti := range infos {
					if ti.Encoding == EncNM {
						nm++
					}
				}
				if pat == "2:4" && nm == 0 {
					t.Fatal("no tensor packed N:M")
				}
				sm, err := rd.ReadSparse(nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(sm.Sparse) == 0 {
					t.Fatal("no tensor held sparse")
				}
				wp, gp := want.Params(), sm.Model.Params()
				if len(wp) != len(gp) {
					t.Fatalf("%d parameters, ReadModel gives %d", len(gp), len(wp))
				}
				for i, p := range gp {
					w, _, err := wp[i].Float32()
					if err != nil {
						t.Fatal(err)
					}
					if a, ok := sm.Sparse[p.Tensor]; ok {
						if !slices.Equal(p.Shape(), wp[i].Shape()) {
							t.Fatalf("%s: dims %v, want %v", p.ID, p.Shape(), wp[i].Shape())
						}
						if err := a.Validate(); err != nil {
							t.Fatal(err)
						}
						d := make([]float32, a.Rows*a.Cols)
						a.Decode(d)
						if !slices.Equal(d, w) {
							t.Fatalf("%s: CSR decodes to other values than ReadModel's", p.ID)
						}
						continue
					}
					g, _, err := p.Float32()
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(g, w) {
						t.Fatalf("%s: dense tensor differs from ReadModel's", p.ID)
					}
				}
				t.Logf("%d of %d parameters held sparse", len(sm.Sparse), len(gp))
			})
		}
	}
}
