package profile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/edgeprune/edgeprune/sparse"
)

// CheckPattern validates a search.unstructured.patterns entry with prune's
// grammar (element, N:M, block=RxC; prune.ParsePattern), which profile
// cannot import.
func CheckPattern(s string) error {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case t == "element":
		return nil
	case strings.HasPrefix(t, "block="):
		r, c, ok := strings.Cut(t[len("block="):], "x")
		rv, err1 := strconv.Atoi(r)
		cv, err2 := strconv.Atoi(c)
		if !ok || err1 != nil || err2 != nil || rv < 1 || cv < 1 || rv*cv > sparse.MaxM {
			return fmt.Errorf("block=RxC needs integers R, C ≥ 1 with R·C ≤ %d", sparse.MaxM)
		}
		return nil
	case strings.Contains(t, ":"):
		n, m, _ := strings.Cut(t, ":")
		nv, err1 := strconv.Atoi(n)
		mv, err2 := strconv.Atoi(m)
		if err1 != nil || err2 != nil || !sparse.ValidNM(nv, mv) {
			return fmt.Errorf("N:M needs integers 1 ≤ N < M ≤ %d", sparse.MaxM)
		}
		return nil
	}
	return fmt.Errorf("must be element, N:M (2:4) or block=RxC (block=4x1)")
}

// ParseCoding reads a search.unstructured.coding entry: "exact", "fp16" or
// "codebook:B" (B bits in [2, 8]). It returns the name and the codebook
// bits (0 unless codebook).
func ParseCoding(s string) (name string, bits int, err error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case t == "exact" || t == "fp16":
		return t, 0, nil
	case strings.HasPrefix(t, "codebook:"):
		b, err := strconv.Atoi(t[len("codebook:"):])
		if err != nil || b < 2 || b > 8 {
			return "", 0, fmt.Errorf("codebook:B needs B bits in [2, 8]")
		}
		return "codebook", b, nil
	}
	return "", 0, fmt.Errorf("must be exact, fp16 or codebook:B (B bits in [2, 8])")
}
