package shapespec

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	name, dims, err := Parse("x=1, 3,48,192")
	if err != nil || name != "x" || !slices.Equal(dims, []int{1, 3, 48, 192}) {
		t.Fatalf("x=1, 3,48,192: %q %v %v", name, dims, err)
	}
	for spec, want := range map[string]string{
		"x":           "want NAME=D0,D1,...",
		"=1,2":        "want NAME=D0,D1,...",
		"x=":          "want NAME=D0,D1,...",
		"x=1,a":       `dimension "a" must be an integer in [1, 1048576]`,
		"x=0,3":       `dimension "0" must be`,
		"x=1,2097152": `dimension "2097152" must be`,
	} {
		if _, _, err := Parse(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", spec, err, want)
		}
	}
	if _, err := Option("x=1,b"); err == nil || !strings.HasPrefix(err.Error(), "shape x=1,b: dimension") {
		t.Errorf("Option: %v", err)
	}
}
