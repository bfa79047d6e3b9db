package profile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse feeds profile YAML to Parse, seeded with every shipped profile
// in configs/ (those that extend a base are refused by Parse, which is a
// path worth fuzzing too). Properties: Parse never panics; it either
// returns a profile or an error that is ErrInvalid (every problem at once)
// or a package error; an accepted profile validates clean, and written back
// as YAML it parses again to a profile that validates clean (what we accept
// we can write).
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "configs", "*.yaml"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("schema: edgeprune/profile/v1\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list ErrorList
			if errors.As(err, &list) && len(list) == 0 {
				t.Fatalf("empty ErrorList returned as an error")
			}
			if p != nil {
				t.Fatalf("both a profile and an error: %v", err)
			}
			return
		}
		if errs := p.Validate(); len(errs) > 0 {
			t.Fatalf("accepted profile does not validate: %v", errs)
		}
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatalf("accepted profile does not marshal: %v", err)
		}
		q, err := Parse("again.yaml", out)
		if err != nil {
			t.Fatalf("accepted profile, written back, is refused: %v\n%s", err, out)
		}
		if errs := q.Validate(); len(errs) > 0 {
			t.Fatalf("re-read profile does not validate: %v", errs)
		}
	})
}
