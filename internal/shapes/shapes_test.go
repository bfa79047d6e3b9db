package shapes

import (
	"errors"
	"slices"
	"testing"
)

func TestShapes(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	for _, c := range []struct {
		name string
		f    func() ([]int, error)
		want []int // nil: an error
	}{
		{"broadcast", func() ([]int, error) { return Broadcast([]int{2, 1, 4}, []int{3, 1}, []int{}) }, []int{2, 3, 4}},
		{"broadcast mismatch", func() ([]int, error) { return Broadcast([]int{2, 3}, []int{4}) }, nil},
		{"reshape 0 and -1", func() ([]int, error) { return Reshape([]int{2, 3, 4}, []int64{0, -1}, false) }, []int{2, 12}},
		{"reshape allowzero", func() ([]int, error) { return Reshape([]int{0, 3}, []int64{3, 0}, true) }, []int{3, 0}},
		{"reshape count", func() ([]int, error) { return Reshape([]int{2, 3}, []int64{4}, false) }, nil},
		{"reshape two -1", func() ([]int, error) { return Reshape([]int{2, 3}, []int64{-1, -1}, false) }, nil},
		{"flatten", func() ([]int, error) { return Flatten([]int{2, 3, 4}, -1) }, []int{6, 4}},
		{"flatten rank", func() ([]int, error) { return Flatten([]int{2, 3}, 2) }, []int{6, 1}},
		{"flatten range", func() ([]int, error) { return Flatten([]int{2, 3}, 3) }, nil},
		{"squeeze all", func() ([]int, error) { return Squeeze([]int{1, 3, 1}, nil) }, []int{3}},
		{"squeeze axis", func() ([]int, error) { return Squeeze([]int{1, 3, 1}, []int64{-1}) }, []int{1, 3}},
		{"squeeze not 1", func() ([]int, error) { return Squeeze([]int{1, 3}, []int64{1}) }, nil},
		{"unsqueeze", func() ([]int, error) { return Unsqueeze([]int{3}, []int64{0, -1}) }, []int{1, 3, 1}},
		{"unsqueeze repeat", func() ([]int, error) { return Unsqueeze([]int{3}, []int64{0, 0}) }, nil},
		{"shape range", func() ([]int, error) { lo, hi := ShapeRange(4, -3, i64(-1)); return []int{lo, hi}, nil }, []int{1, 3}},
		{"shape no end", func() ([]int, error) { lo, hi := ShapeRange(4, 2, nil); return []int{lo, hi}, nil }, []int{2, 4}},
		{"slice", func() ([]int, error) { s, n, err := SliceRange(1, 100, 2, 6); return []int{s, n}, err }, []int{1, 3}},
		{"slice back", func() ([]int, error) { s, n, err := SliceRange(-1, -100, -1, 4); return []int{s, n}, err }, []int{3, 4}},
		{"slice empty", func() ([]int, error) { s, n, err := SliceRange(3, 1, 1, 4); return []int{s, n}, err }, []int{0, 0}},
		{"slice step 0", func() ([]int, error) { s, n, err := SliceRange(0, 1, 0, 4); return []int{s, n}, err }, nil},
	} {
		got, err := c.f()
		switch {
		case c.want == nil && (err == nil || !errors.Is(err, ErrShape)):
			t.Errorf("%s: got %v, %v; want an ErrShape", c.name, got, err)
		case c.want != nil && (err != nil || !slices.Equal(got, c.want)):
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func TestBroadcastIndex(t *testing.T) {
	out := []int{2, 3}
	var got []int
	for i := range 6 {
		got = append(got, BroadcastIndex(out, []int{3}, i), BroadcastIndex(out, []int{2, 1}, i))
	}
	if want := []int{0, 0, 1, 0, 2, 0, 0, 1, 1, 1, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
