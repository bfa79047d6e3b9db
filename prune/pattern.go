package prune

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/edgeprune/edgeprune/sparse"
)

// PatternKind is the granularity of a Pattern.
type PatternKind int

const (
	// Element prunes single weights.
	Element PatternKind = iota
	// NM keeps at most N nonzeros in every M weights along the
	// input-channel (reduction) axis: sparse.NMAlong(shape, InAxis, N, M).
	NM
	// Block prunes RxC blocks: R along the output-channel axis, C along the
	// input-channel axis, at each kernel position.
	Block
)

// MaxGroup bounds M for N:M (sparse.MaxM) and R·C for blocks.
const MaxGroup = sparse.MaxM

// Pattern is which elements are pruned together. The zero value is Element.
//
// Axes: a weight's output-channel and input-channel (reduction) axes are
// those of the op that consumes it (see [Target]): Conv [O,I,kh,kw] has
// O=0, I=1; ConvTranspose [I,O,kh,kw] I=0, O=1; Gemm B is [N,K] with
// transB=1, else [K,N]; MatMul B is [..,K,N]. An N:M group runs along the
// input-channel axis at fixed output channel and kernel position, the layout
// of sparse tensor cores and NHWC CPU kernels. That layout is defined once,
// by sparse.NMLayout: pack stores such a weight as N:M along the same axis
// and the engine's sparse kernels read it from there.
type Pattern struct {
	Kind PatternKind
	N, M int // NM: at most N nonzeros in each M
	R, C int // Block: R output channels × C input channels
}

// ParsePattern reads "element", "N:M" (e.g. "2:4") or "block=RxC" (e.g.
// "block=1x4").
func ParsePattern(s string) (Pattern, error) {
	bad := func(why string) (Pattern, error) {
		return Pattern{}, fmt.Errorf("%w: pattern %q: %s (want element, N:M such as 2:4, or block=RxC such as block=1x4)", ErrInvalid, s, why)
	}
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case t == "element" || t == "":
		return Pattern{}, nil
	case strings.HasPrefix(t, "block="):
		r, c, ok := strings.Cut(t[len("block="):], "x")
		if !ok {
			return bad("block size must be RxC")
		}
		rv, err1 := strconv.Atoi(r)
		cv, err2 := strconv.Atoi(c)
		if err1 != nil || err2 != nil {
			return bad("R and C must be integers")
		}
		p := Pattern{Kind: Block, R: rv, C: cv}
		if err := p.validate(); err != nil {
			return Pattern{}, fmt.Errorf("pattern %q: %w", s, err)
		}
		return p, nil
	case strings.Contains(t, ":"):
		n, m, _ := strings.Cut(t, ":")
		nv, err1 := strconv.Atoi(n)
		mv, err2 := strconv.Atoi(m)
		if err1 != nil || err2 != nil {
			return bad("N and M must be integers")
		}
		p := Pattern{Kind: NM, N: nv, M: mv}
		if err := p.validate(); err != nil {
			return Pattern{}, fmt.Errorf("pattern %q: %w", s, err)
		}
		return p, nil
	}
	return bad("unknown pattern")
}

func (p Pattern) validate() error {
	switch p.Kind {
	case Element:
		return nil
	case NM:
		if !sparse.ValidNM(p.N, p.M) {
			return fmt.Errorf("%w: N:M needs 1 ≤ N < M ≤ %d, got %d:%d", ErrInvalid, sparse.MaxM, p.N, p.M)
		}
		return nil
	case Block:
		if p.R < 1 || p.C < 1 || p.R*p.C > MaxGroup {
			return fmt.Errorf("%w: block RxC needs R, C ≥ 1 and R·C ≤ %d, got %dx%d", ErrInvalid, MaxGroup, p.R, p.C)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown pattern kind %d", ErrInvalid, p.Kind)
}

// String is the pattern as ParsePattern reads it.
func (p Pattern) String() string {
	switch p.Kind {
	case NM:
		return fmt.Sprintf("%d:%d", p.N, p.M)
	case Block:
		return fmt.Sprintf("block=%dx%d", p.R, p.C)
	}
	return "element"
}

// UnitSize is the number of elements pruned together: 1 for Element and
// N:M, R·C for Block.
func (p Pattern) UnitSize() int {
	if p.Kind == Block {
		return p.R * p.C
	}
	return 1
}

// Sparsity is the sparsity an N:M pattern fixes, 1 − N/M; 0 for others.
func (p Pattern) Sparsity() float64 {
	if p.Kind == NM {
		return 1 - float64(p.N)/float64(p.M)
	}
	return 0
}

// fits says whether t can take the pattern, and if not why.
func (p Pattern) fits(t *Target) (bool, string) {
	switch p.Kind {
	case NM:
		if t.InAxis < 0 {
			return false, "no input-channel axis known for " + t.Op
		}
		if d := t.Shape[t.InAxis]; d%int64(p.M) != 0 {
			return false, fmt.Sprintf("input-channel axis %d has %d, not a multiple of %d", t.InAxis, d, p.M)
		}
		if _, err := sparse.NMAlong(t.Shape, t.InAxis, p.N, p.M); err != nil {
			return false, err.Error()
		}
	case Block:
		if t.InAxis < 0 || t.OutAxis < 0 {
			return false, "no channel axes known for " + t.Op
		}
		if d := t.Shape[t.OutAxis]; d%int64(p.R) != 0 {
			return false, fmt.Sprintf("output-channel axis %d has %d, not a multiple of %d", t.OutAxis, d, p.R)
		}
		if d := t.Shape[t.InAxis]; d%int64(p.C) != 0 {
			return false, fmt.Sprintf("input-channel axis %d has %d, not a multiple of %d", t.InAxis, d, p.C)
		}
		if why := rnnBlockFits(t, p.R); why != "" {
			return false, why
		}
	}
	return true, ""
}
