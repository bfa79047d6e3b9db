package build

import (
	"bytes"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/edgeprune/edgeprune/pack"
	"github.com/edgeprune/edgeprune/profile"
)

// TestUnstructuredSpace: on lenet300, every pattern's options are offered,
// applying one gives the layer that sparsity in that pattern and the coded
// values the package will decode, the other layers and the structured part
// untouched; a choice's package decodes to the chosen model's weights.
func TestUnstructuredSpace(t *testing.T) {
	path := testmodels.Shared(t, "mnist/lenet300.onnx")
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSpace(m, []float64{1, .5}, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &profile.UnstructuredSearch{Sparsity: []float64{0.75}, Patterns: []string{"element", "2:4", "block=4x1"}, Coding: []string{"exact", "codebook:3"}, MinParams: 1024}
	if err := s.AddUnstructured(m, u); err != nil {
		t.Fatal(err)
	}
	if len(s.ULayers) != 2 || s.ULayers[0].ID != "fc1.weight" || s.ULayers[1].ID != "fc2.weight" {
		t.Fatalf("layers %+v, want fc1.weight and fc2.weight (fc3 has 1,000 < 1,024 weights)", s.ULayers)
	}
	// dense, 0.75 element, 0.5 2:4, 0.75 block=4x1; each exact and codebook:3.
	if n := len(s.ULayers[0].Opts); n != 8 {
		t.Fatalf("%d options, want 8: %v", n, s.ULayers[0].Opts)
	}
	nG := len(s.Groups)
	for k, o := range s.ULayers[0].Opts {
		choice := s.Uniform(0)
		choice[nG] = k
		got, _, err := s.Model(choice)
		if err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		params := map[string]*onnxio.Param{}
		for _, p := range got.Params() {
			params[p.ID] = p
		}
		w, _, _ := params["fc1.weight"].Float32()
		zeros := 0
		distinct := map[float32]bool{}
		for _, x := range w {
			if x == 0 {
				zeros++
			} else {
				distinct[x] = true
			}
		}
		if sp := float64(zeros) / float64(len(w)); sp < o.Sparsity-0.01 || sp > o.Sparsity+0.01 {
			t.Errorf("%s: sparsity %.3f", o, sp)
		}
		if o.Pattern == "2:4" {
			for i := 0; i < len(w); i += 4 {
				nz := 0
				for _, x := range w[i : i+4] {
					if x != 0 {
						nz++
					}
				}
				if nz > 2 {
					t.Fatalf("2:4: %d nonzeros in group %d", nz, i/4)
				}
			}
		}
		if o.Coding == "codebook" && len(distinct) > 8 {
			t.Errorf("%s: %d distinct nonzeros, want ≤ 8", o, len(distinct))
		}
		if o.Coding == "exact" && o.Sparsity == 0 && len(distinct) < 1000 {
			t.Errorf("dense exact changed the weights")
		}
		w2, _, _ := params["fc2.weight"].Float32()
		for _, x := range w2 {
			if x == 0 {
				t.Fatalf("%s: fc2.weight was changed", o)
			}
		}
		// The package decodes to exactly these weights.
		_, uc := s.splitChoice(choice)
		b, err := s.packModel(got, uc)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := pack.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		dm, err := rd.ReadModel()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range dm.Params() {
			if p.ID == "fc1.weight" {
				d, _, _ := p.Float32()
				for i := range d {
					if d[i] != w[i] {
						t.Fatalf("%s: unpacked fc1.weight[%d] %g, built %g", o, i, d[i], w[i])
					}
				}
			}
		}
	}
}
