// Command npzslice writes samples FROM..TO (along the first axis of every
// array) of a .npz to a new .npz, for bench scripts that hold out the
// samples a build calibrated on:
//
//	npzslice IN.npz FROM TO OUT.npz
//
// TO may be 0 (to the end). It reads and writes with package dataset
// (ReadNPZ, WriteNPZ), so the arrays keep their names and types.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/edgeprune/edgeprune/dataset"
	"gorgonia.org/tensor"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: npzslice IN.npz FROM TO OUT.npz   (TO 0: to the end)")
		os.Exit(2)
	}
	from, err1 := strconv.Atoi(os.Args[2])
	to, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || from < 0 || to < 0 || (to != 0 && to <= from) {
		fmt.Fprintf(os.Stderr, "npzslice: FROM %q and TO %q: want 0 ≤ FROM < TO (TO 0: to the end)\n", os.Args[2], os.Args[3])
		os.Exit(2)
	}
	if err := run(os.Args[1], from, to, os.Args[4]); err != nil {
		fmt.Fprintln(os.Stderr, "npzslice:", err)
		os.Exit(1)
	}
}

func run(in string, from, to int, out string) error {
	arrays, err := dataset.ReadNPZ(in)
	if err != nil {
		return err
	}
	for name, t := range arrays {
		n := t.Shape()[0]
		end := to
		if end == 0 || end > n {
			end = n
		}
		if t.IsScalar() || from >= end {
			return fmt.Errorf("%s: %s %v has no samples %d..%d", in, name, t.Shape(), from, end)
		}
		v, err := t.Slice(tensor.S(from, end))
		if err != nil {
			return fmt.Errorf("%s: %s: %w", in, name, err)
		}
		d, ok := tensor.Materialize(v).(*tensor.Dense)
		if !ok {
			return fmt.Errorf("%s: %s: a slice of %T", in, name, v)
		}
		// a slice of one sample drops the first axis: keep it
		if err := d.Reshape(append([]int{end - from}, t.Shape()[1:]...)...); err != nil {
			return fmt.Errorf("%s: %s: %w", in, name, err)
		}
		arrays[name] = d
	}
	return dataset.WriteNPZ(out, arrays)
}
