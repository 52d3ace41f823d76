package corpus

// JSON values as the Rust runner (serde_json) sees them: numbers keep their literal
// (json.Number), so matching can follow serde_json's rules exactly.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// parse decodes JSON text into any, numbers as json.Number. Trailing data is an error.
func parse(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing characters after the JSON value")
	}
	return v, nil
}

// text serializes a value compactly with sorted keys and no HTML escaping, as serde_json's
// to_vec does for a Value (whose maps are sorted).
func text(v any) []byte {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return []byte("null")
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// show renders a value for failure messages.
func show(v any) string { return string(text(v)) }

// numKind classifies a number literal as serde_json stores it: an unsigned integer (PosInt), a
// negative integer (NegInt), or a float (anything with a fraction or exponent, integers out of
// range, and -0).
type numKind int

const (
	posInt numKind = iota
	negInt
	float
)

type number struct {
	kind numKind
	u    uint64
	i    int64
	f    float64
}

func classify(n json.Number) number {
	s := string(n)
	f, _ := strconv.ParseFloat(s, 64)
	if !strings.ContainsAny(s, ".eE") {
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return number{kind: posInt, u: u, f: f}
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil && i < 0 {
			return number{kind: negInt, i: i, f: f}
		}
	}
	return number{kind: float, f: f}
}

// asU64 is serde_json's Value::as_u64: only non-negative integer literals.
func asU64(v any) (uint64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	c := classify(n)
	return c.u, c.kind == posInt
}

// asF64 is serde_json's Value::as_f64 (any number).
func asF64(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	return classify(n).f, true
}

// get is serde_json's `v[key]`: the member, or nil (null) when v is not an object or lacks it.
func get(v any, key string) any {
	if m, ok := v.(map[string]any); ok {
		return m[key]
	}
	return nil
}

// has reports whether v is an object with the member key (even when its value is null).
func has(v any, key string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}

// str is Value::as_str.
func str(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// equal is serde_json's Value equality (expect_exact): numbers are equal only when both are the
// same kind of number with the same value (1 and 1.0 differ).
func equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		p, q := classify(x), classify(y)
		if p.kind != q.kind {
			return false
		}
		switch p.kind {
		case posInt:
			return p.u == q.u
		case negInt:
			return p.i == q.i
		}
		return p.f == q.f
	case nil:
		return b == nil
	default: // string, bool
		return a == b
	}
}

// mismatch is the corpus's subset rule (runner/src/matching.rs): objects match when every
// expected member is present and matches (extra members are ignored), arrays when they have the
// same length and match element by element, numbers when equal as f64, other scalars when
// equal. It returns the JSON pointer, expected and actual value of the first mismatch.
func mismatch(expected, actual any, path string) (string, any, any, bool) {
	switch e := expected.(type) {
	case map[string]any:
		if a, ok := actual.(map[string]any); ok {
			for _, k := range sortedKeys(e) {
				p := path + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
				av, ok := a[k]
				if !ok {
					return p, e[k], "<absent>", true
				}
				if mp, me, ma, bad := mismatch(e[k], av, p); bad {
					return mp, me, ma, true
				}
			}
			return "", nil, nil, false
		}
	case []any:
		if a, ok := actual.([]any); ok {
			if len(e) != len(a) {
				return path + " (length)", len(e), len(a), true
			}
			for i := range e {
				if mp, me, ma, bad := mismatch(e[i], a[i], fmt.Sprintf("%s/%d", path, i)); bad {
					return mp, me, ma, true
				}
			}
			return "", nil, nil, false
		}
	case json.Number:
		if a, ok := actual.(json.Number); ok {
			if classify(e).f == classify(a).f {
				return "", nil, nil, false
			}
		}
	}
	if equal(expected, actual) {
		return "", nil, nil, false
	}
	return path, expected, actual, true
}

// sortedKeys iterates an object in serde_json's (sorted) order, so the first mismatch reported
// is the same one the Rust runner reports.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonNum makes a number literal value.
func jsonNum(s string) any { return json.Number(s) }
