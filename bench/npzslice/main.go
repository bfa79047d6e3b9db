// Command npzslice writes samples FROM..TO (along the first axis of every
// array) of a .npz to a new .npz, for bench scripts that hold out the
// samples a build calibrated on:
//
//	npzslice IN.npz FROM TO OUT.npz
//
// TO may be 0 (to the end). Arrays are copied as they are stored (.npy
// versions 1–3, C order); only their shape's first dimension changes.
package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
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

var shapeRe = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)

func run(in string, from, to int, out string) error {
	zr, err := zip.OpenReader(in)
	if err != nil {
		return err
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", in, f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", in, f.Name, err)
		}
		nb, err := slice(b, from, to)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", in, f.Name, err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			return err
		}
		if _, err := w.Write(nb); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// slice cuts one .npy file's samples.
func slice(b []byte, from, to int) ([]byte, error) {
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("not a .npy array")
	}
	var hlen, off int
	switch b[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return nil, fmt.Errorf(".npy version %d", b[6])
	}
	header := string(b[off : off+hlen])
	if strings.Contains(header, "'fortran_order': True") {
		return nil, fmt.Errorf("Fortran order is not sliced")
	}
	m := shapeRe.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf("no shape in header %q", header)
	}
	var dims []int
	for _, s := range strings.Split(m[1], ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		d, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("shape %q: %w", m[1], err)
		}
		dims = append(dims, d)
	}
	if len(dims) == 0 {
		return nil, fmt.Errorf("a scalar has no samples")
	}
	data := b[off+hlen:]
	n := dims[0]
	if n == 0 || len(data)%n != 0 {
		return nil, fmt.Errorf("%d bytes do not split into %d samples", len(data), n)
	}
	if to == 0 || to > n {
		to = n
	}
	if from >= to {
		return nil, fmt.Errorf("samples %d..%d of %d", from, to, n)
	}
	row := len(data) / n
	dims[0] = to - from
	ds := make([]string, len(dims))
	for i, d := range dims {
		ds[i] = strconv.Itoa(d)
	}
	shape := strings.Join(ds, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	nh := strings.TrimRight(shapeRe.ReplaceAllLiteralString(header, "'shape': ("+shape+")"), " \n")
	// pad so that magic + version + length + header + "\n" is a multiple of 64
	total := 12 + len(nh) + 1
	nh += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var o bytes.Buffer
	o.WriteString("\x93NUMPY\x02\x00")
	binary.Write(&o, binary.LittleEndian, uint32(len(nh)))
	o.WriteString(nh)
	o.Write(data[from*row : to*row])
	return o.Bytes(), nil
}
