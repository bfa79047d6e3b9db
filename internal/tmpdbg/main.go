package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/edgeprune/edgeprune/onnxio"
)

func main() {
	m, err := onnxio.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	for _, p := range m.Params() {
		if !strings.Contains(p.ID, os.Args[2]) {
			continue
		}
		v, _, _ := p.Float32()
		if len(v) > 4 {
			v = v[:4]
		}
		fmt.Println(p.ID, p.Shape(), v)
		for _, u := range p.Uses {
			fmt.Println("   ", u.Node.GetOpType(), u.Node.GetName(), u.Input, u.Node.GetInput(), u.Node.GetOutput())
		}
	}
	ops := map[string]int{}
	for _, n := range m.Graph().GetNode() {
		ops[n.GetOpType()]++
	}
	fmt.Println(ops)
}
