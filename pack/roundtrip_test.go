package pack

import (
	"fmt"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

func TestRoundTripCanned(t *testing.T) {
	encodings := [][]Encoding{nil, {EncDense}, {EncCSR}, {EncBitmap}, {EncNM}}
	for _, c := range onnxbuild.CannedModels() {
		for _, sparsity := range []float64{0, 0.5, 0.9} {
			for _, encs := range encodings {
				name := fmt.Sprintf("%s/%g/%v", c.Name, sparsity, encs)
				m, err := onnxio.Decode(onnxbuild.Marshal(c.Build()))
				if err != nil {
					t.Fatal(err)
				}
				globalPrune(t, m, sparsity)
				var opts []WriterOption
				if encs != nil {
					opts = append(opts, WithEncodings(encs...))
				}
				b, st := packModel(t, m, opts...)
				got, err := unpack(b)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				mustEqualModels(t, name, got, m)
				mustStreamEqual(t, name, b, m)
				if encs != nil && len(encs) == 1 {
					for _, ti := range st.Tensors {
						if ti.Encoding != encs[0] && ti.Encoding != EncDense {
							t.Fatalf("%s: tensor %s used %v", name, ti.ID, ti.Encoding)
						}
					}
				}
			}
		}
	}
}

// TestRoundTripRealModels packs every reference model at four sparsities
// (global magnitude) and checks the unpacked model is the input, and that
// WriteONNX streams its exact bytes.
func TestRoundTripRealModels(t *testing.T) {
	models := testmodels.All(t)
	for _, mm := range models {
		for _, sparsity := range []float64{0, 0.5, 0.9, 0.95} {
			name := fmt.Sprintf("%s@%g", mm.Name, sparsity)
			m := pruned(t, mm.Path, sparsity)
			b, st := packModel(t, m, WithLevel(3))
			got, err := unpack(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			mustEqualModels(t, name, got, m)
			mustStreamEqual(t, name, b, m)
			t.Logf("%s: %d -> %d bytes (%.1fx)", name, st.ModelBytes, st.PackedBytes, st.Ratio())
		}
	}
}
