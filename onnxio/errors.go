package onnxio

import (
	"errors"
	"fmt"
)

// Sentinel errors. Malformed input is kept apart from input that is valid
// ONNX but uses something this package does not support.
var (
	// ErrMalformed: the bytes are not a well-formed ONNX model.
	ErrMalformed = errors.New("onnxio: malformed model")
	// ErrUnsupported: valid ONNX that onnxio cannot handle (for example a
	// data type with no float32 conversion).
	ErrUnsupported = errors.New("onnxio: unsupported")
	// ErrLimit: a size read from the input exceeds a configured limit.
	ErrLimit = errors.New("onnxio: limit exceeded")
	// ErrExternalData: an external-data reference is unsafe or out of range.
	ErrExternalData = errors.New("onnxio: bad external data")
	// ErrNotFloat: a float view was asked of a non-floating-point tensor.
	ErrNotFloat = errors.New("onnxio: tensor is not floating point")
)

// TensorError says which tensor is wrong and why. It wraps one of the
// sentinel errors above.
type TensorError struct {
	Tensor string // parameter ID or tensor name
	Err    error  // sentinel (ErrMalformed, ErrLimit, ...)
	Reason string
}

func (e *TensorError) Error() string {
	return fmt.Sprintf("%v: tensor %q: %s", e.Err, e.Tensor, e.Reason)
}

func (e *TensorError) Unwrap() error { return e.Err }

func tensorErr(name string, sentinel error, format string, args ...any) error {
	return &TensorError{Tensor: name, Err: sentinel, Reason: fmt.Sprintf(format, args...)}
}

// FileError names the file a read or write error came from.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }
