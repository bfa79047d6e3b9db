package pack

import (
	"errors"
	"fmt"
)

// Sentinel errors. Corrupt (checksums, truncation) and malformed (a
// checksummed file whose content is inconsistent) are kept apart from valid
// files this version cannot read.
var (
	// ErrMagic: the input does not start with the pack magic.
	ErrMagic = errors.New("pack: invalid magic")
	// ErrCorrupt: a checksum does not match or the file is truncated.
	ErrCorrupt = errors.New("pack: corrupt")
	// ErrMalformed: the checksums match but the content is inconsistent.
	ErrMalformed = errors.New("pack: malformed")
	// ErrUnsupported: a well-formed file using a version, flag or encoding
	// this package does not know.
	ErrUnsupported = errors.New("pack: unsupported")
	// ErrLimit: a size declared in the file exceeds a read limit.
	ErrLimit = errors.New("pack: limit exceeded")
)

// SectionError says where in the file an error was found: the section
// ("header", "table", "plane2", "trailer", ...), its byte offset in the
// file, and for table entries the tensor. It wraps a sentinel error.
type SectionError struct {
	Section string
	Offset  int64
	Tensor  string
	Err     error
	Reason  string
}

func (e *SectionError) Error() string {
	s := fmt.Sprintf("%v: section %s at byte %d", e.Err, e.Section, e.Offset)
	if e.Tensor != "" {
		s += fmt.Sprintf(": tensor %q", e.Tensor)
	}
	return s + ": " + e.Reason
}

func (e *SectionError) Unwrap() error { return e.Err }
