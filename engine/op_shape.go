package engine

import (
	"math"

	"github.com/edgeprune/edgeprune/internal/shapes"

	"github.com/edgeprune/edgeprune/onnxio"
)

// buildShape returns the (static) shape as a compile-time int64 constant,
// sliced by start/end (opset 15).
func buildShape(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	s := b.in[0].shape
	var end *int64
	if b.has("end") {
		e := b.attrInt("end", 0)
		end = &e
	}
	start, stop := shapes.ShapeRange(len(s), b.attrInt("start", 0), end)
	d := &data{}
	for i := start; i < stop; i++ {
		d.i = append(d.i, int64(s[i]))
	}
	if d.i == nil {
		d.i = []int64{}
	}
	return &built{out: one(onnxio.Int64, []int{len(d.i)}), alias: -1, konst: []*data{d}}, nil
}

// buildConstant turns the value / value_float(s) / value_int(s) attribute
// into a compile-time constant.
func buildConstant(b *buildCtx) (*built, error) {
	var v *value
	switch {
	case b.has("value"):
		var err error
		if v, err = b.c.constValue(b.attrs["value"].GetT()); err != nil {
			return nil, err
		}
	case b.has("value_float"):
		v = &value{dt: onnxio.Float, konst: &data{f: []float32{b.attrFloat("value_float", 0)}}}
	case b.has("value_floats"):
		f := b.attrs["value_floats"].GetFloats()
		v = &value{dt: onnxio.Float, shape: []int{len(f)}, konst: &data{f: append([]float32{}, f...)}}
	case b.has("value_int"):
		v = &value{dt: onnxio.Int64, konst: &data{i: []int64{b.attrInt("value_int", 0)}}}
	case b.has("value_ints"):
		iv, _ := b.attrInts("value_ints")
		v = &value{dt: onnxio.Int64, shape: []int{len(iv)}, konst: &data{i: append([]int64{}, iv...)}}
	default:
		return nil, notImpl("Constant without a dense value (sparse_value or string)")
	}
	return &built{out: one(v.dt, v.shape), alias: -1, konst: []*data{v.konst}}, nil
}

// buildConstantOfShape fills a tensor of the given (compile-time) shape with
// the value attribute (default float 0).
func buildConstantOfShape(b *buildCtx) (*built, error) {
	shape64, ok, err := b.constInts(0)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("ConstantOfShape without shape")
	}
	shape := ints(shape64)
	if err := checkShape(shape); err != nil {
		return nil, err
	}
	dt := onnxio.Float
	var fv float32
	var iv int64
	if a, ok := b.attrs["value"]; ok {
		v, err := constValue(a.GetT())
		if err != nil {
			return nil, err
		}
		if numel(v.shape) != 1 {
			return nil, invalid("ConstantOfShape value must have one element")
		}
		dt = v.dt
		if v.isInt() {
			iv = v.konst.i[0]
		} else {
			fv = v.konst.f[0]
		}
	}
	d := newData(dt, shape)
	for i := range d.f {
		d.f[i] = fv
	}
	for i := range d.i {
		d.i[i] = iv
	}
	return &built{out: one(dt, shape), alias: -1, konst: []*data{d}}, nil
}

// castKernel converts between element types, as C casts do (float to int
// truncates toward zero; to bool is x != 0; float16 rounds to half
// precision).
type castKernel struct {
	from, to onnxio.DataType
}

func buildCast(b *buildCtx) (*built, error) {
	if err := b.need(1); err != nil {
		return nil, err
	}
	to := onnxio.DataType(b.attrInt("to", 0))
	if !storable(to) {
		return nil, notImpl("Cast to %v", to)
	}
	x := b.in[0]
	return &built{k: &castKernel{from: x.dt, to: to}, out: one(to, x.shape), alias: -1}, nil
}

func (k *castKernel) forward(_ *exec, in, out []*data) {
	src, dst := in[0], out[0]
	switch {
	case !isIntType(k.from) && !isIntType(k.to):
		for i, v := range src.f {
			switch k.to {
			case onnxio.Float16:
				v = onnxio.Float16ToFloat32(onnxio.Float32ToFloat16(v))
			case onnxio.BFloat16:
				v = onnxio.BFloat16ToFloat32(onnxio.Float32ToBFloat16(v))
			}
			dst.f[i] = v
		}
	case !isIntType(k.from):
		for i, v := range src.f {
			dst.i[i] = wrapInt(k.to, floatToInt(v, k.to))
		}
	case !isIntType(k.to):
		for i, v := range src.i {
			dst.f[i] = float32(v)
		}
	default:
		for i, v := range src.i {
			if k.to == onnxio.Bool {
				dst.i[i] = b2i(v != 0)
			} else {
				dst.i[i] = wrapInt(k.to, v)
			}
		}
	}
}

func floatToInt(v float32, to onnxio.DataType) int64 {
	if to == onnxio.Bool {
		return b2i(v != 0)
	}
	if v != v {
		return 0
	}
	f := math.Trunc(float64(v))
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	if f <= math.MinInt64 {
		return math.MinInt64
	}
	return int64(f)
}

// wrapInt reduces v to the range of the integer type to, as a C cast does.
func wrapInt(to onnxio.DataType, v int64) int64 {
	switch to {
	case onnxio.Int8:
		return int64(int8(v))
	case onnxio.Uint8:
		return int64(uint8(v))
	case onnxio.Int16:
		return int64(int16(v))
	case onnxio.Uint16:
		return int64(uint16(v))
	case onnxio.Int32:
		return int64(int32(v))
	case onnxio.Uint32:
		return int64(uint32(v))
	}
	return v
}
