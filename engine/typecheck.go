package engine

// Element-type checks every builder relies on: kernels read float inputs
// from data.f and integer inputs from data.i, so an input of the wrong
// storage class must be refused at compile time, not found at run time as
// an empty slice.

// floatOnly lists ops whose every data input is floating point (ONNX type
// constraint T ∈ float types), by the input slots that constraint covers
// (nil: all slots).
var floatOnly = map[string][]int{
	"Conv": nil, "ConvTranspose": nil, "Gemm": nil,
	"BatchNormalization": nil, "InstanceNormalization": nil, "LayerNormalization": nil,
	"PRelu": nil, "Softmax": nil, "LogSoftmax": nil, "Sigmoid": nil, "HardSigmoid": nil,
	"HardSwish": nil, "Tanh": nil, "Gelu": nil, "Relu": nil, "LeakyRelu": nil, "Erf": nil,
	"Exp": nil, "Log": nil, "Sqrt": nil, "Reciprocal": nil, "Elu": nil, "Selu": nil,
	"Softplus": nil, "Softsign": nil, "ThresholdedRelu": nil, "Sin": nil, "Cos": nil,
	"Round": nil, "Floor": nil, "Ceil": nil,
	"MaxPool": {0}, "AveragePool": {0}, "GlobalAveragePool": {0}, "GlobalMaxPool": {0},
	"Resize": {0}, "Dropout": {0},
}

// sameClass lists ops whose data inputs share one type T: every present
// input in the slots must be stored like the first of them.
var sameClass = map[string][]int{
	"Add": nil, "Sub": nil, "Mul": nil, "Div": nil, "Max": nil, "Min": nil, "Sum": nil,
	"Mean": nil, "Equal": nil, "Less": nil, "Greater": nil, "LessOrEqual": nil,
	"GreaterOrEqual": nil, "Concat": nil, "MatMul": nil, "Mod": nil,
	"Clip": nil, "Where": {1, 2}, "Pad": {0, 2},
}

// checkInputTypes applies floatOnly and sameClass to a node's inputs.
func checkInputTypes(op string, in []*value) error {
	slotsOf := func(slots []int) []int {
		if slots != nil {
			return slots
		}
		all := make([]int, len(in))
		for i := range all {
			all[i] = i
		}
		return all
	}
	if slots, ok := floatOnly[op]; ok {
		for _, i := range slotsOf(slots) {
			if i < len(in) && in[i] != nil && in[i].isInt() {
				return invalid("%s input %d (%s) is %v: this op takes floating-point inputs", op, i, in[i].name, in[i].dt)
			}
		}
	}
	if slots, ok := sameClass[op]; ok {
		var first *value
		for _, i := range slotsOf(slots) {
			if i >= len(in) || in[i] == nil {
				continue
			}
			if first == nil {
				first = in[i]
				continue
			}
			if in[i].isInt() != first.isInt() {
				return invalid("%s input %d (%s) is %v but %s is %v: the inputs must share one type", op, i, in[i].name, in[i].dt, first.name, first.dt)
			}
		}
	}
	return nil
}
