package profile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeprune/edgeprune/internal/atomicfile"
	"gopkg.in/yaml.v3"
)

// WithCalibration returns the profile text src (as a person wrote it,
// comments kept) with its calibration block replaced by cal.
func WithCalibration(src []byte, cal *Calibration) ([]byte, error) {
	var out bytes.Buffer
	skipping := false
	for _, l := range strings.SplitAfter(string(src), "\n") {
		if strings.HasPrefix(l, "calibration:") {
			skipping = true
			continue
		}
		if skipping && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "") {
			continue
		}
		skipping = false
		out.WriteString(l)
	}
	if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteByte('\n')
	}
	b, err := yaml.Marshal(struct {
		C *Calibration `yaml:"calibration"`
	}{cal})
	if err != nil {
		return nil, err
	}
	out.WriteString("# Written by edgeprune calibrate: do not edit by hand.\n")
	out.Write(b)
	return out.Bytes(), nil
}

// WriteCalibrated writes the profile at src with cal to dst atomically and
// checks that the result loads.
func WriteCalibrated(src, dst string, cal *Calibration) error {
	text, err := readLimited(src)
	if err != nil {
		return err
	}
	text = rebaseExtends(text, filepath.Dir(src), filepath.Dir(dst))
	out, err := WithCalibration(text, cal)
	if err != nil {
		return err
	}
	f, err := atomicfile.Create(dst)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer f.Abort()
	if _, err := f.Write(out); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if _, err := Load(dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("profile: the calibrated profile does not load (a bug): %w", err)
	}
	return nil
}

// rebaseExtends rewrites a relative extends: path of a profile moved from
// dir from to dir to.
func rebaseExtends(text []byte, from, to string) []byte {
	lines := strings.SplitAfter(string(text), "\n")
	for i, l := range lines {
		v, ok := strings.CutPrefix(l, "extends:")
		if !ok {
			continue
		}
		base := strings.TrimSpace(v)
		if base == "" || filepath.IsAbs(base) || strings.ContainsAny(base, "#'\"") {
			break
		}
		abs, err1 := filepath.Abs(filepath.Join(from, base))
		toAbs, err2 := filepath.Abs(to)
		if err1 != nil || err2 != nil {
			break
		}
		if rel, err := filepath.Rel(toAbs, abs); err == nil {
			lines[i] = "extends: " + rel + "\n"
		}
		break
	}
	return []byte(strings.Join(lines, ""))
}
