package engine

import (
	"sort"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/internal/npdata"
)

// readNPZArrays reads a .npz (dataset.ReadNPZ) as npdata arrays, in name
// order: the torch fixtures' reader since npdata's own ReadNPZ moved to
// package dataset.
func readNPZArrays(path string) ([]*npdata.Array, error) {
	m, err := dataset.ReadNPZ(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []*npdata.Array
	for _, k := range names {
		t := m[k]
		a := &npdata.Array{Name: k, Shape: t.Shape().Clone()}
		switch d := t.Data().(type) {
		case []float32:
			a.F = d
		case float32:
			a.F, a.Shape = []float32{d}, nil
		case []int64:
			a.I = d
		case int64:
			a.I, a.Shape = []int64{d}, nil
		}
		out = append(out, a)
	}
	return out, nil
}
