package profile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrInvalid is wrapped by every error that reports a malformed or invalid
// profile (an ErrorList).
var ErrInvalid = errors.New("profile: invalid")

// maxFileBytes bounds a profile file (they are a few kB).
const maxFileBytes = 1 << 20

// maxExtends bounds a chain of extends.
const maxExtends = 8

// FieldError is one problem in a profile, at a field path and line.
type FieldError struct {
	Pos   string // "file:line", or "file" when the line is unknown
	Field string // field path, e.g. budgets.latency_ms.max
	Value any    // the offending value, nil when not relevant
	Msg   string // what is wrong and what is allowed
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Pos != "" {
		b.WriteString(e.Pos + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	if e.Value != nil {
		fmt.Fprintf(&b, "invalid value %v: ", e.Value)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a profile, in file order.
type ErrorList []*FieldError

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (l ErrorList) Unwrap() error { return ErrInvalid }

// Load reads, defaults and validates the profile at path (and the profiles
// it extends). Every problem is returned at once as an ErrorList.
func Load(path string) (*Profile, error) {
	p := &Profile{lines: map[string]string{}}
	var errs ErrorList
	if err := loadInto(p, path, nil, &errs); err != nil {
		return nil, err
	}
	return p.finish(path, errs)
}

// Parse reads a profile from data as if it were the file name (for
// profiles that do not extend another).
func Parse(name string, data []byte) (*Profile, error) {
	p := &Profile{lines: map[string]string{}}
	var errs ErrorList
	if err := decodeInto(p, name, data, &errs); err != nil {
		return nil, err
	}
	if p.Extends != "" {
		errs = append(errs, &FieldError{Pos: p.pos("extends"), Field: "extends", Msg: "not allowed here (use Load with a file)"})
	}
	return p.finish(name, errs)
}

// finish defaults and validates p, adding the problems to the decoding
// errs: every problem is reported at once, but a field that could not be
// decoded is not also reported as missing.
func (p *Profile) finish(file string, errs ErrorList) (*Profile, error) {
	p.File = file
	syntax := false
	for _, e := range errs {
		syntax = syntax || strings.HasPrefix(e.Msg, "YAML syntax") || strings.HasPrefix(e.Msg, "empty file")
	}
	if !syntax {
		p.setDefaults()
		for _, e := range p.Validate() {
			if !coveredBy(e.Field, errs) {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return p, nil
}

func coveredBy(field string, errs ErrorList) bool {
	for _, e := range errs {
		if e.Field != "" && (field == e.Field || strings.HasPrefix(field, e.Field+".") || strings.HasPrefix(e.Field, field+".")) {
			return true
		}
	}
	return false
}

func loadInto(p *Profile, path string, chain []string, errs *ErrorList) error {
	abs, _ := filepath.Abs(path)
	for _, c := range chain {
		if c == abs {
			*errs = append(*errs, &FieldError{Pos: path, Field: "extends", Msg: "cycle: " + strings.Join(append(chain, abs), " → ")})
			return nil
		}
	}
	if len(chain) >= maxExtends {
		*errs = append(*errs, &FieldError{Pos: path, Field: "extends", Msg: fmt.Sprintf("more than %d levels of extends", maxExtends)})
		return nil
	}
	data, err := readLimited(path)
	if err != nil {
		return err
	}
	// Read extends first: the base is decoded, then this file over it.
	var head struct {
		Extends string `yaml:"extends"`
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		*errs = append(*errs, syntaxError(path, err))
		return nil
	}
	_ = root.Decode(&head)
	if head.Extends != "" {
		base := head.Extends
		if !filepath.IsAbs(base) {
			base = filepath.Join(filepath.Dir(path), base)
		}
		if _, err := os.Stat(base); err != nil {
			*errs = append(*errs, &FieldError{Pos: path, Field: "extends", Value: head.Extends, Msg: "no such profile (a path relative to this file)"})
		} else if err := loadInto(p, base, append(chain, abs), errs); err != nil {
			return err
		}
		// A base's calibration describes the same device: it is kept.
		p.Name = ""
	}
	return decodeInto(p, path, data, errs)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("%w: %s: %d bytes, more than %d (is this a profile?)", ErrInvalid, path, st.Size(), maxFileBytes)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("profile: %s: %w", path, err)
	}
	return data, nil
}

func syntaxError(file string, err error) *FieldError {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	pos := file
	var line int
	if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
		pos = fmt.Sprintf("%s:%d", file, line)
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return &FieldError{Pos: pos, Msg: "YAML syntax: " + msg}
}

// decodeInto decodes data over p strictly: unknown fields and values of the
// wrong type are FieldErrors with their line; each set field's line is
// remembered for validation messages.
func decodeInto(p *Profile, file string, data []byte, errs *ErrorList) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		*errs = append(*errs, syntaxError(file, err))
		return nil
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		*errs = append(*errs, &FieldError{Pos: file, Msg: "empty file: a profile starts with schema: " + SchemaV1})
		return nil
	}
	d := &decoder{file: file, lines: p.lines, errs: errs}
	d.value(root.Content[0], reflect.ValueOf(p).Elem(), "")
	return nil
}

type decoder struct {
	file  string
	lines map[string]string
	errs  *ErrorList
}

func (d *decoder) pos(n *yaml.Node) string { return fmt.Sprintf("%s:%d", d.file, n.Line) }

func (d *decoder) fail(n *yaml.Node, path string, value any, format string, args ...any) {
	*d.errs = append(*d.errs, &FieldError{Pos: d.pos(n), Field: path, Value: value, Msg: fmt.Sprintf(format, args...)})
}

var timeType = reflect.TypeOf(time.Time{})

// overlayer is a struct with exclusive alternative fields: decoded over a
// base profile's value (extends), setting one of them clears the others
// first. overlay gets the keys the file sets and returns the fields it
// cleared.
type overlayer interface {
	overlay(keys []string) (cleared []string)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// value decodes n into v (settable) at field path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		d.lines[path] = d.pos(n)
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		if n.Tag == "!!null" {
			v.Set(reflect.Zero(t))
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(n, v.Elem(), path)
	case t == timeType:
		var tm time.Time
		if err := n.Decode(&tm); err != nil {
			d.fail(n, path, n.Value, "want a time (RFC 3339, e.g. 2025-01-01T00:00:00Z)")
			return
		}
		v.Set(reflect.ValueOf(tm))
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, nil, "want a mapping (fields %s), got %s", strings.Join(fieldNames(t), ", "), kindName(n))
			return
		}
		if o, ok := v.Addr().Interface().(overlayer); ok {
			var keys []string
			for i := 0; i+1 < len(n.Content); i += 2 {
				keys = append(keys, n.Content[i].Value)
			}
			for _, k := range o.overlay(keys) {
				delete(d.lines, join(path, k))
			}
		}
		fields := map[string]int{}
		for i := 0; i < t.NumField(); i++ {
			if name := yamlName(t.Field(i)); name != "" {
				fields[name] = i
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			idx, ok := fields[k.Value]
			if !ok {
				msg := "unknown field"
				if s := suggest(k.Value, fieldNames(t)); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				d.fail(k, join(path, k.Value), nil, "%s; allowed: %s", msg, strings.Join(fieldNames(t), ", "))
				continue
			}
			d.value(val, v.Field(idx), join(path, k.Value))
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, nil, "want a mapping, got %s", kindName(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ev := reflect.New(t.Elem()).Elem()
			if old := v.MapIndex(reflect.ValueOf(k.Value)); old.IsValid() {
				ev.Set(old)
			}
			d.value(val, ev, join(path, k.Value))
			v.SetMapIndex(reflect.ValueOf(k.Value), ev)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, nil, "want a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.value(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	default:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, nil, "want %s, got %s", typeName(t), kindName(n))
			return
		}
		ptr := reflect.New(t)
		if err := n.Decode(ptr.Interface()); err != nil || (t.Kind() == reflect.String && n.Tag != "!!str") {
			d.fail(n, path, n.Value, "want %s", typeName(t))
			return
		}
		v.Set(ptr.Elem())
	}
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

func fieldNames(t reflect.Type) []string {
	var s []string
	for i := 0; i < t.NumField(); i++ {
		if n := yamlName(t.Field(i)); n != "" {
			s = append(s, n)
		}
	}
	return s
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	}
	return t.String()
}

// suggest returns the allowed name closest to s (edit distance ≤ 2).
func suggest(s string, names []string) string {
	best, bd := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bd {
			best, bd = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev = cur
	}
	return prev[len(b)]
}

func sortErrors(l ErrorList) {
	sort.SliceStable(l, func(i, j int) bool {
		fi, li := splitPos(l[i].Pos)
		fj, lj := splitPos(l[j].Pos)
		if fi != fj {
			return false
		}
		return li < lj
	})
}

func splitPos(pos string) (string, int) {
	i := strings.LastIndex(pos, ":")
	if i < 0 {
		return pos, 0
	}
	var n int
	fmt.Sscanf(pos[i+1:], "%d", &n)
	return pos[:i], n
}

// pos is where field path was set ("file:line"), or the file.
func (p *Profile) pos(path string) string {
	for q := path; q != ""; {
		if s, ok := p.lines[q]; ok {
			return s
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	return p.File
}
