package pack

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
)

// Pack and unpack throughput in ONNX bytes per second, on global-magnitude
// pruned models (go test ./pack -run X -bench . -benchtime 3x): unpack is
// ReadModel (the model in memory), stream is WriteONNX (the model's bytes
// to a writer that discards them).
func BenchmarkPackUnpack(b *testing.B) {
	for _, tc := range []struct{ name, rel string }{{"lenet300", "mnist/lenet300.onnx"}, {"resnet18", "tv/resnet18.onnx"}} {
		for _, s := range []float64{0.5, 0.9} {
			m := pruned(b, testmodels.Shared(b, tc.rel), s)
			file, st := packModel(b, m)
			b.Run(fmt.Sprintf("pack/%s@%g", tc.name, s), func(b *testing.B) {
				b.SetBytes(st.ModelBytes)
				b.ReportAllocs()
				for b.Loop() {
					w, _ := NewWriter(&bytes.Buffer{})
					if _, err := w.WriteModel(m); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(file)), "packed-B")
			})
			b.Run(fmt.Sprintf("unpack/%s@%g", tc.name, s), func(b *testing.B) {
				b.SetBytes(st.ModelBytes)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := unpack(file); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("stream/%s@%g", tc.name, s), func(b *testing.B) {
				b.SetBytes(st.ModelBytes)
				b.ReportAllocs()
				for b.Loop() {
					r, err := NewReader(bytes.NewReader(file))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := r.WriteONNX(discard{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
