package sparse

import "fmt"

// View2D returns the matrix view of a weight tensor with the given dims:
// rows = dims[0] and cols = the product of the remaining dims. A scalar is
// 1 × 1 and a vector of length n is 1 × n. It fails on a negative
// dimension or a view that does not fit an int32 index.
func View2D(dims []int64) (rows, cols int, err error) {
	switch len(dims) {
	case 0:
		return 1, 1, nil
	case 1:
		if dims[0] < 0 || dims[0] > maxIndex {
			return 0, 0, fmt.Errorf("sparse: View2D: bad dims %v", dims)
		}
		return 1, int(dims[0]), nil
	}
	r := dims[0]
	c := int64(1)
	for _, d := range dims[1:] {
		if d < 0 || (d != 0 && c > maxIndex/d) {
			return 0, 0, fmt.Errorf("sparse: View2D: bad dims %v", dims)
		}
		c *= d
	}
	if r < 0 || r > maxIndex {
		return 0, 0, fmt.Errorf("sparse: View2D: bad dims %v", dims)
	}
	return int(r), int(c), nil
}

// maxIndex bounds rows, columns and nonzero counts: indices are int32.
const maxIndex = 1<<31 - 1
