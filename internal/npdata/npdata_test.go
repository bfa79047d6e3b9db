package npdata

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestNPYRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cases := []*Array{
		{Name: "f", Shape: []int{2, 3}, F: []float32{1, -2, 3.5, 0, 1e-7, 6}},
		{Name: "i", Shape: []int{4}, I: []int64{1, -2, 1 << 40, 0}},
		{Name: "b", Shape: []int{1, 2, 1}, I: []int64{1, 0}, Bool: true},
		{Name: "s", Shape: []int{}, F: []float32{42}},
	}
	for _, a := range cases {
		path := filepath.Join(dir, a.Name+".npy")
		if err := WriteNPY(path, a); err != nil {
			t.Fatal(err)
		}
		got, err := ReadNPY(path)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("%s: read back %+v, wrote %+v", a.Name, got, a)
		}
		// numpy must read it too, when Debian's python3 with numpy is there.
		if _, err := exec.LookPath("/usr/bin/python3"); err == nil {
			out, err := exec.Command("/usr/bin/python3", "-c", "import numpy,sys; a=numpy.load(sys.argv[1]); print(a.dtype, a.shape)", path).CombinedOutput()
			if err != nil && !strings.Contains(string(out), "No module named") {
				t.Errorf("%s: numpy cannot read it: %v\n%s", a.Name, err, out)
			}
		}
	}
}
