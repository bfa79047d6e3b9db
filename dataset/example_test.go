package dataset_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgeprune/edgeprune/dataset"
	"gorgonia.org/tensor"
)

// Open reads a dataset batch by batch; Split holds out a validation part
// and Shuffle is an epoch's order.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "dataset-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "x.npy")
	x := tensor.New(tensor.WithShape(10, 2), tensor.WithBacking([]float32{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9}))
	if err := dataset.WriteNPY(path, x); err != nil {
		fmt.Println(err)
		return
	}
	d, err := dataset.Open(path, dataset.WithInputName("x"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	b, _ := d.Batch(context.Background(), []int{7, 2})
	fmt.Println(d.Len(), d.Inputs(), d.HasLabels(), b.Inputs["x"].Shape(), b.Inputs["x"].Data())
	train, val, _ := dataset.Split(d, 0.2, 1)
	fmt.Println(train.Len(), val.Len())
	// Output:
	// 10 [x] false (2, 2) [7 7 2 2]
	// 8 2
}
