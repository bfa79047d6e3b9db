package onnxio

// SetProtoLimit lowers the inline size limit for a test and returns a
// function restoring it.
func SetProtoLimit(n int) (restore func()) {
	old := protoLimit
	protoLimit = n
	return func() { protoLimit = old }
}
