// Command packfloor prints the size floor docs/benchmarks.md compares the
// packer against: for every floating-point parameter, the order-0 entropy of
// its zero/nonzero mask (n·H(nnz/n) bits; 0 for dense tensors), plus the
// zstd (best level) size of all nonzero values, raw little-endian, in one
// frame. The model skeleton is not counted.
//
//	go run ./bench/packfloor MODEL.onnx
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"github.com/edgeprune/edgeprune/onnxio"
	"github.com/klauspost/compress/zstd"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: packfloor MODEL.onnx")
		os.Exit(2)
	}
	m, err := onnxio.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "packfloor:", err)
		os.Exit(1)
	}
	var maskBits float64
	var values []byte
	for _, p := range m.Params() {
		if p.DataType() != onnxio.Float {
			continue
		}
		d, _, err := p.Float32()
		if err != nil {
			fmt.Fprintln(os.Stderr, "packfloor:", err)
			os.Exit(1)
		}
		nnz := 0
		for _, v := range d {
			if b := math.Float32bits(v); b != 0 {
				nnz++
				values = binary.LittleEndian.AppendUint32(values, b)
			}
		}
		if q := float64(nnz) / float64(len(d)); nnz > 0 && nnz < len(d) {
			maskBits += float64(len(d)) * (-q*math.Log2(q) - (1-q)*math.Log2(1-q))
		}
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "packfloor:", err)
		os.Exit(1)
	}
	z := len(enc.EncodeAll(values, nil))
	mask := int(math.Ceil(maskBits / 8))
	fmt.Printf("%d %d %d\n", mask+z, mask, z)
}
