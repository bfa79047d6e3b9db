package prune

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzReadPlan: ReadPlan never panics, and a plan it accepts writes and
// reads back to the same plan.
func FuzzReadPlan(f *testing.F) {
	m := decode(f, zooModel())
	for _, opts := range [][]Option{{WithSparsity(0.5)}, {WithPattern(Pattern{Kind: NM, N: 2, M: 4})}, {WithPattern(Pattern{Kind: Block, R: 2, C: 2}), WithSparsity(0.3)}} {
		pr, err := New(opts...)
		if err != nil {
			f.Fatal(err)
		}
		plan, err := pr.Plan(m)
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := plan.WriteJSON(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte(`{"schema":"edgeprune.prune/v1","pattern":"2:4","params":[{"id":"a","pattern":"2:4","shape":[-1]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPlan(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := p.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		q, err := ReadPlan(&buf)
		if err != nil {
			t.Fatalf("a plan ReadPlan accepted does not read back: %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the plan:\n%+v\n%+v", p, q)
		}
		// Applying it to the zoo model either fails or works; never panics.
		_ = Apply(decode(t, zooModel()), p)
	})
}
