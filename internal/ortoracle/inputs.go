package ortoracle

import (
	"fmt"
	"math"

	"github.com/edgeprune/edgeprune/onnxio"
)

// InputsFor makes deterministic pseudo-random inputs for every graph input
// of the model at modelPath: float inputs uniform in [0, 1), integer inputs
// 0. Fixed dims are taken from the model; a symbolic or unknown dim on axis 0
// is 1 (the batch); any other must be given in shapes (by input name),
// which also overrides the model's own shape.
func InputsFor(modelPath string, seed uint64, shapes map[string][]int64) ([]Tensor, error) {
	info, err := onnxio.ReadInfo(modelPath)
	if err != nil {
		return nil, err
	}
	rng := seed*0x9E3779B97F4A7C15 + 1
	next := func() float32 {
		rng += 0x9E3779B97F4A7C15
		z := rng
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		return float32(z>>40) / float32(1<<24)
	}
	var out []Tensor
	for _, in := range info.Inputs {
		shape, ok := shapes[in.Name]
		if !ok {
			if shape, err = in.DefaultShape(); err != nil {
				return nil, fmt.Errorf("ortoracle: %s: %v: give its shape", modelPath, err)
			}
		}
		n := int64(1)
		for _, d := range shape {
			if d < 0 || (d > 0 && n > math.MaxInt32/d) {
				return nil, fmt.Errorf("ortoracle: input %q: shape %v too large", in.Name, shape)
			}
			n *= d
		}
		switch in.ElemType {
		case onnxio.Float:
			data := make([]float32, n)
			for i := range data {
				data[i] = next()
			}
			out = append(out, FromFloat32(in.Name, shape, data))
		case onnxio.Int64:
			out = append(out, FromInt64(in.Name, shape, make([]int64, n)))
		default:
			return nil, fmt.Errorf("ortoracle: input %q has type %v: not supported by InputsFor", in.Name, in.ElemType)
		}
	}
	return out, nil
}

// OCRShapes are input shapes that the PP-OCR models accept, by model short
// name (testmodels: "ppocr_det", "ppocr_cls").
var OCRShapes = map[string]map[string][]int64{
	"ppocr_det": {"x": {1, 3, 64, 64}},
	"ppocr_cls": {"x": {1, 3, 48, 192}},
}
