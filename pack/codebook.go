package pack

import (
	"math"
	"slices"
	"sort"

	"github.com/edgeprune/edgeprune/onnxio"
)

// kmeans returns at most k sorted float32 centroids for values (Deep
// Compression's weight sharing: Lloyd's algorithm in one dimension from a
// linear initialisation between min and max). When values has at most k
// distinct values they are the centroids, and coding is lossless.
//
// It is deterministic across architectures: it sorts, adds in a fixed
// order, divides, and its only multiplication is converted explicitly so it
// cannot be fused.
func kmeans(values []float32, k int) []float32 {
	if len(values) == 0 {
		return nil
	}
	sorted := make([]float64, len(values))
	for i, v := range values {
		sorted[i] = float64(v)
	}
	slices.Sort(sorted)
	distinct := slices.Compact(slices.Clone(sorted))
	if len(distinct) <= k {
		out := make([]float32, len(distinct))
		for i, v := range distinct {
			out[i] = float32(v)
		}
		return out
	}
	prefix := make([]float64, len(sorted)+1)
	for i, v := range sorted {
		prefix[i+1] = prefix[i] + v
	}
	lo, hi := sorted[0], sorted[len(sorted)-1]
	step := (hi - lo) / float64(k-1)
	c := make([]float64, k)
	for j := range c {
		c[j] = lo + float64(float64(j)*step)
	}
	bounds := make([]int, k+1)
	for iter := 0; iter < 50; iter++ {
		// Cluster j holds sorted[bounds[j]:bounds[j+1]]: the values nearer
		// to c[j] than to its neighbours.
		changed := false
		bounds[0], bounds[k] = 0, len(sorted)
		for j := 1; j < k; j++ {
			mid := (c[j-1] + c[j]) / 2
			b := sort.SearchFloat64s(sorted, mid)
			if b != bounds[j] {
				changed = true
			}
			bounds[j] = b
		}
		if !changed && iter > 0 {
			break
		}
		for j := range c {
			if n := bounds[j+1] - bounds[j]; n > 0 {
				c[j] = (prefix[bounds[j+1]] - prefix[bounds[j]]) / float64(n)
			}
		}
	}
	out := make([]float32, 0, k)
	for _, v := range c {
		f := float32(v)
		if len(out) == 0 || f > out[len(out)-1] {
			out = append(out, f)
		}
	}
	return out
}

// nearest returns the index of the centroid nearest to v (the lower one on
// a tie). centroids is sorted and non-empty.
func nearest(centroids []float32, v float32) int {
	i := sort.Search(len(centroids), func(i int) bool { return centroids[i] >= v })
	switch {
	case i == 0:
		return 0
	case i == len(centroids):
		return i - 1
	}
	if math.Abs(float64(v)-float64(centroids[i-1])) <= math.Abs(float64(centroids[i])-float64(v)) {
		return i - 1
	}
	return i
}

// Lossy returns values as a pack written with the value code (and codebook
// bits) unpacks them: FP16 rounds each value to IEEE half precision,
// Codebook replaces each nonzero by the nearest of its k-means centroids
// (zeros stay zeros), Exact copies. It lets a caller measure the accuracy
// of a coding before packing (edgeprune build); it ignores the minimum
// tensor size below which the writer stores values exactly.
func Lossy(values []float32, code ValueCode, bits int) []float32 {
	out := make([]float32, len(values))
	switch code {
	case FP16:
		for i, v := range values {
			out[i] = onnxio.Float16ToFloat32(onnxio.Float32ToFloat16(v))
		}
	case Codebook:
		var nz []float32
		for _, v := range values {
			if math.Float32bits(v) != 0 { // as sparse.NonzeroMask: -0 is stored
				nz = append(nz, v)
			}
		}
		cents := kmeans(nz, 1<<bits)
		for i, v := range values {
			if math.Float32bits(v) != 0 { // as sparse.NonzeroMask: -0 is stored
				out[i] = cents[nearest(cents, v)]
			}
		}
	default:
		copy(out, values)
	}
	return out
}
