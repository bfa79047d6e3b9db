package train

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrLabels marks labels the loss cannot use: missing, of the wrong count or
// out of the model's class range.
var ErrLabels = errors.New("train: bad labels")

// Value is a float tensor the loss reads: a model output or a kept
// intermediate value, row-major, samples along axis 0.
type Value struct {
	Data  []float32
	Shape []int
}

func (v Value) rows() (n, c int, err error) {
	if len(v.Shape) < 2 || v.Shape[0] < 1 {
		return 0, 0, fmt.Errorf("shape %v: need [samples, classes…]", v.Shape)
	}
	n, c = v.Shape[0], len(v.Data)/v.Shape[0]
	if c < 1 || n*c != len(v.Data) {
		return 0, 0, fmt.Errorf("shape %v does not match %d values", v.Shape, len(v.Data))
	}
	return n, c, nil
}

// LossInput is what a loss sees for one shard of a batch.
type LossInput struct {
	Student map[string]Value // the trained model's outputs and kept values
	Teacher map[string]Value // the teacher's, nil without a teacher
	Labels  []int64          // the shard's labels, nil without labels
	N       int              // samples in the whole batch: losses are means over it
}

// Loss is a training objective. Eval returns the shard's share of the
// batch-mean loss (its per-sample losses summed, divided by N) and adds
// dLoss/dValue into seeds, keyed by the student's value name.
type Loss interface {
	Eval(in LossInput, seeds map[string][]float32) (float64, error)
	String() string
	// Needs lists the student values, teacher values and whether labels are
	// read.
	Needs() (student, teacher []string, labels bool)
}

func seed(seeds map[string][]float32, name string, n int) []float32 {
	s, ok := seeds[name]
	if !ok {
		s = make([]float32, n)
		seeds[name] = s
	}
	return s
}

func get(vals map[string]Value, name, who string) (Value, error) {
	v, ok := vals[name]
	if !ok {
		return Value{}, fmt.Errorf("train: the %s has no value %q", who, name)
	}
	return v, nil
}

// logSoftmax writes log softmax(z/T) of one row into dst (float64).
func logSoftmax(dst []float64, z []float32, invT float64, logProbs bool) {
	// Probabilities: log p is a logit vector up to a constant.
	mx := math.Inf(-1)
	for i, x := range z {
		v := float64(x)
		if logProbs {
			v = math.Log(max(v, 1e-30))
		}
		v *= invT
		dst[i] = v
		mx = max(mx, v)
	}
	var s float64
	for _, v := range dst {
		s += math.Exp(v - mx)
	}
	lse := mx + math.Log(s)
	for i := range dst {
		dst[i] -= lse
	}
}

// CrossEntropy is the mean cross-entropy of Output against the labels.
// With Probs (the output is already a Softmax, as PP-OCR's classifier) it
// is the negative log-likelihood of the probabilities, not a second softmax.
type CrossEntropy struct {
	Output string
	Probs  bool
	Weight float64 // 0: 1
}

func (l CrossEntropy) String() string {
	if l.Probs {
		return fmt.Sprintf("nll(log %s, labels)", l.Output)
	}
	return fmt.Sprintf("cross_entropy(%s, labels)", l.Output)
}

// Needs reads Output and the labels.
func (l CrossEntropy) Needs() ([]string, []string, bool) { return []string{l.Output}, nil, true }

// Eval: loss −log softmax(z)_y; dz = (softmax(z) − onehot(y))/N. With Probs:
// loss −log p_y; dp_y = −1/(p_y·N).
func (l CrossEntropy) Eval(in LossInput, seeds map[string][]float32) (float64, error) {
	v, err := get(in.Student, l.Output, "model")
	if err != nil {
		return 0, err
	}
	n, c, err := v.rows()
	if err != nil {
		return 0, fmt.Errorf("train: output %q: %v", l.Output, err)
	}
	if err := CheckLabels(in.Labels, n, c); err != nil {
		return 0, fmt.Errorf("output %q: %w", l.Output, err)
	}
	w := weight(l.Weight)
	g := seed(seeds, l.Output, len(v.Data))
	inv := w / float64(in.N)
	var total float64
	ls := make([]float64, c)
	for i := range n {
		row, grow := v.Data[i*c:(i+1)*c], g[i*c:(i+1)*c]
		y := int(in.Labels[i])
		if l.Probs {
			p := max(float64(row[y]), 1e-30)
			total -= math.Log(p)
			grow[y] += float32(-inv / p)
			continue
		}
		logSoftmax(ls, row, 1, false)
		total -= ls[y]
		for j := range c {
			d := math.Exp(ls[j])
			if j == y {
				d--
			}
			grow[j] += float32(d * inv)
		}
	}
	return w * total / float64(in.N), nil
}

// CheckLabels says whether labels fit n samples of c classes.
func CheckLabels(labels []int64, n, c int) error {
	if labels == nil {
		return fmt.Errorf("%w: the dataset has no labels (distil from a teacher instead)", ErrLabels)
	}
	if len(labels) != n {
		return fmt.Errorf("%w: %d labels for %d samples", ErrLabels, len(labels), n)
	}
	for i, y := range labels {
		if y < 0 || y >= int64(c) {
			return fmt.Errorf("%w: label %d of sample %d is outside 0..%d (the model has %d classes)", ErrLabels, y, i, c-1, c)
		}
	}
	return nil
}

func weight(w float64) float64 {
	if w == 0 {
		return 1
	}
	return w
}

// Distill is Hinton's knowledge distillation without labels: T²·KL(softmax(t/T)
// ‖ softmax(s/T)) per sample, s the student's Output and t the teacher's
// TeacherOutput (the same name by default). Probs / TeacherProbs say an
// output is already a Softmax (its log is then the logit).
type Distill struct {
	Output, TeacherOutput string
	T                     float64 // 0: 1
	Probs, TeacherProbs   bool
	Weight                float64 // 0: 1
}

func (l Distill) teacherName() string {
	if l.TeacherOutput == "" {
		return l.Output
	}
	return l.TeacherOutput
}

func (l Distill) temp() float64 {
	if l.T == 0 {
		return 1
	}
	return l.T
}

func (l Distill) String() string {
	return fmt.Sprintf("T²·KL(teacher %s ‖ student %s, T=%g)", l.teacherName(), l.Output, l.temp())
}

// Needs reads Output and the teacher's TeacherOutput.
func (l Distill) Needs() ([]string, []string, bool) {
	return []string{l.Output}, []string{l.teacherName()}, false
}

// Eval: loss T²·Σ_j q_j(log q_j − log p_j) with p = softmax(s/T), q =
// softmax(t/T); ds = T·(p − q)/N (with Probs, dσ = ds/σ).
func (l Distill) Eval(in LossInput, seeds map[string][]float32) (float64, error) {
	v, err := get(in.Student, l.Output, "model")
	if err != nil {
		return 0, err
	}
	tv, err := get(in.Teacher, l.teacherName(), "teacher")
	if err != nil {
		return 0, err
	}
	n, c, err := v.rows()
	if err != nil {
		return 0, fmt.Errorf("train: output %q: %v", l.Output, err)
	}
	if tn, tc, err := tv.rows(); err != nil || tn != n || tc != c {
		return 0, fmt.Errorf("train: teacher output %q has shape %v, the student's %q %v", l.teacherName(), tv.Shape, l.Output, v.Shape)
	}
	T := l.temp()
	w := weight(l.Weight)
	g := seed(seeds, l.Output, len(v.Data))
	ls, lt := make([]float64, c), make([]float64, c)
	var total float64
	for i := range n {
		row := v.Data[i*c : (i+1)*c]
		logSoftmax(ls, row, 1/T, l.Probs)
		logSoftmax(lt, tv.Data[i*c:(i+1)*c], 1/T, l.TeacherProbs)
		for j := range c {
			q := math.Exp(lt[j])
			total += q * (lt[j] - ls[j])
			d := T * (math.Exp(ls[j]) - q) * w / float64(in.N)
			if l.Probs {
				d /= max(float64(row[j]), 1e-30)
			}
			g[i*c+j] += float32(d)
		}
	}
	return w * T * T * total / float64(in.N), nil
}

// FeatureMSE is the mean squared error between the student's value Name and
// the teacher's value of the same name (feature distillation, FitNets): per
// sample the mean over its elements, then the mean over the batch, as
// torch's mse_loss with reduction "mean". The shapes must agree, so it suits
// values whose channel count survived pruning.
type FeatureMSE struct {
	Name   string
	Weight float64 // 0: 1
}

func (l FeatureMSE) String() string { return fmt.Sprintf("mse(%s)", l.Name) }

// Needs reads Name from both models.
func (l FeatureMSE) Needs() ([]string, []string, bool) {
	return []string{l.Name}, []string{l.Name}, false
}

// Eval: loss Σ(s−t)²/(k·N), k elements per sample; ds = 2(s−t)/(k·N).
func (l FeatureMSE) Eval(in LossInput, seeds map[string][]float32) (float64, error) {
	v, err := get(in.Student, l.Name, "model")
	if err != nil {
		return 0, err
	}
	tv, err := get(in.Teacher, l.Name, "teacher")
	if err != nil {
		return 0, err
	}
	if !equalInts(v.Shape, tv.Shape) || len(v.Data) != len(tv.Data) || len(v.Shape) == 0 || v.Shape[0] < 1 {
		return 0, fmt.Errorf("train: feature %q has shape %v in the model and %v in the teacher: feature distillation needs equal shapes", l.Name, v.Shape, tv.Shape)
	}
	k := float64(len(v.Data) / v.Shape[0])
	w := weight(l.Weight)
	scale := w / (k * float64(in.N))
	g := seed(seeds, l.Name, len(v.Data))
	var total float64
	for i, s := range v.Data {
		d := float64(s) - float64(tv.Data[i])
		total += d * d
		g[i] += float32(2 * d * scale)
	}
	return total * scale, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Sum is a weighted sum of losses (each term carries its weight).
type Sum []Loss

func (s Sum) String() string {
	parts := make([]string, len(s))
	for i, l := range s {
		parts[i] = l.String()
	}
	return strings.Join(parts, " + ")
}

// Needs is the union of the terms' needs.
func (s Sum) Needs() (student, teacher []string, labels bool) {
	for _, l := range s {
		a, b, c := l.Needs()
		student, teacher, labels = append(student, a...), append(teacher, b...), labels || c
	}
	return student, teacher, labels
}

// Eval adds the terms.
func (s Sum) Eval(in LossInput, seeds map[string][]float32) (float64, error) {
	var total float64
	for _, l := range s {
		v, err := l.Eval(in, seeds)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}
