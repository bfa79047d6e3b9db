package train

import "fmt"

// NonFiniteError stops training when the loss or a gradient is NaN or Inf:
// the weights are not updated by that step, and the CLI writes no output.
type NonFiniteError struct {
	Epoch, Step int // 1-based epoch, 0-based step within it
	GlobalStep  int
	What        string // "loss" or "gradient of <param>"
	Value       float64
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("train: %s is %v at epoch %d, step %d (step %d overall): lower the learning rate (--lr) or clip gradients (--clip-norm)", e.What, e.Value, e.Epoch, e.Step, e.GlobalStep)
}
