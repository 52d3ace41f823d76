package corpus

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"cra.example/cra"
)

// stepError is a failed call as the corpus compares it: code and pointer, never the message.
type stepError struct {
	code       string
	pointer    string
	hasPointer bool
	message    string
}

func asStepError(err error) stepError {
	var e *cra.Error
	if errors.As(err, &e) {
		return stepError{code: e.Name, pointer: e.Pointer, hasPointer: e.HasPointer, message: e.Message}
	}
	return stepError{code: "INTERNAL", message: err.Error()}
}

func (e stepError) pointerText() string {
	if !e.hasPointer {
		return "None"
	}
	return strconv.Quote(e.pointer)
}

// atlasArg is the atlas a load_atlas step names: atlas_text, a fixture name, or an object.
func atlasArg(step any, fixtures map[string]any) ([]byte, error) {
	if t, ok := str(get(step, "atlas_text")); ok {
		return []byte(t), nil
	}
	a, err := resolveAtlas(get(step, "atlas"), fixtures)
	if err != nil {
		return nil, err
	}
	return text(a), nil
}

func resolveAtlas(v any, fixtures map[string]any) (any, error) {
	switch a := v.(type) {
	case string:
		f, ok := fixtures[a]
		if !ok {
			return nil, fmt.Errorf("no atlas fixture %q", a)
		}
		return f, nil
	case map[string]any:
		return a, nil
	}
	return nil, fmt.Errorf("atlas must be a fixture name or an object, not %s", show(v))
}

// body is the step's `<key>_text` (raw bytes) or its `<key>` value serialized.
func body(step any, key string) []byte {
	if t, ok := str(get(step, key+"_text")); ok {
		return []byte(t)
	}
	return text(get(step, key))
}

// runCase runs one case on a fresh resolver; it returns "" when the case passes, or its first
// failure, naming the step.
func runCase(c any, fixtures map[string]any, root string) string {
	config := map[string]any{"deterministic": map[string]any{"seed": jsonNumber(1)}}
	if m, ok := get(c, "config").(map[string]any); ok {
		for k, v := range m {
			config[k] = v
		}
	}
	r, err := cra.New(text(config))
	if err != nil {
		e := asStepError(err)
		return fmt.Sprintf("create: %s %s", e.code, e.message)
	}
	defer r.Close()
	var drained []byte
	steps, _ := get(c, "steps").([]any)
	for i, step := range steps {
		op, _ := str(get(step, "op"))
		at := func(m string) string { return fmt.Sprintf("step %d (%s): %s", i, op, m) }
		out, err, bad := call(r, op, step, fixtures, root, drained)
		if bad != "" {
			return at(bad)
		}
		if has(step, "expect_error") {
			want := get(step, "expect_error")
			if err == nil {
				return at(fmt.Sprintf("expected error %s but the call succeeded: %s", show(get(want, "code")), out))
			}
			e := asStepError(err)
			if code, ok := str(get(want, "code")); !ok || code != e.code {
				return at(fmt.Sprintf("expected error %s but got %s (%s)", show(get(want, "code")), e.code, e.message))
			}
			if has(want, "pointer") {
				p, isStr := str(get(want, "pointer"))
				if isStr != e.hasPointer || p != e.pointer {
					return at(fmt.Sprintf("expected pointer %s but got %s (%s)", show(get(want, "pointer")), e.pointerText(), e.message))
				}
			}
			continue
		}
		if err != nil {
			e := asStepError(err)
			return at(fmt.Sprintf("unexpected error %s at %s: %s", e.code, e.pointerText(), e.message))
		}
		var actual any
		if op == "drain_trace" {
			drained = append(drained, out...)
			actual = traceSummary(out)
		} else if actual, err = parse(out); err != nil {
			return at("answer is not JSON: " + err.Error())
		}
		if has(step, "expect") {
			if p, e, a, bad := mismatch(get(step, "expect"), actual, ""); bad {
				return at(fmt.Sprintf("at %s: expected %s, got %s", p, show(e), show(a)))
			}
		}
		if has(step, "expect_exact") {
			if want := get(step, "expect_exact"); !equal(want, actual) {
				return at(fmt.Sprintf("expected exactly %s, got %s", show(want), show(actual)))
			}
		}
	}
	return ""
}

// call runs one operation. bad is a problem with the case itself (unknown op, missing fixture,
// impossible tamper), which fails the case whatever it expects.
func call(r *cra.Resolver, op string, step any, fixtures map[string]any, root string, drained []byte) (out []byte, err error, bad string) {
	sget := func(k string) string { s, _ := str(get(step, k)); return s }
	switch op {
	case "load_atlas":
		a, e := atlasArg(step, fixtures)
		if e != nil {
			return nil, nil, e.Error()
		}
		out, err = r.LoadAtlas(a)
	case "load_atlas_dir":
		p := sget("path")
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		out, err = r.LoadAtlasDir(p)
	case "unload_atlas":
		out, err = r.UnloadAtlas(sget("atlas_id"))
	case "resolve":
		out, err = r.Resolve(body(step, "request"))
	case "execute":
		out, err = r.Execute(body(step, "request"))
	case "report":
		out, err = r.Report(body(step, "report"))
	case "approve":
		out, err = r.Approve(body(step, "decision"))
	case "reject":
		out, err = r.Reject(body(step, "decision"))
	case "end_session":
		out, err = r.EndSession(body(step, "body"))
	case "load_shadow":
		a, e := atlasArg(step, fixtures)
		if e != nil {
			return nil, nil, e.Error()
		}
		out, err = r.LoadShadow(a)
	case "unload_shadow":
		out, err = r.UnloadShadow(sget("atlas_id"))
	case "approvals":
		filter := []byte("{}")
		if get(step, "filter") != nil || get(step, "filter_text") != nil {
			filter = body(step, "filter")
		}
		out, err = r.Approvals(filter)
	case "explain":
		out, err = r.Explain(body(step, "request"), sget("action_id"))
	case "check":
		var v cra.Verdict
		if v, err = r.Check(sget("session_id"), sget("action_id")); err == nil {
			if !v.Known() {
				return nil, &cra.Error{Code: cra.CodeInternal, Name: "INTERNAL", Message: "unknown verdict " + v.String()}, ""
			}
			out = []byte(strconv.Quote(v.String()))
		}
	case "advance_clock":
		secs, _ := asF64(get(step, "seconds"))
		if err = r.AdvanceClockMicros(int64(math.Round(secs * 1e6))); err == nil {
			out = []byte("null")
		}
	case "flush":
		if err = r.Flush(10 * time.Second); err == nil {
			out = []byte("null")
		}
	case "stats":
		out, err = r.Stats()
	case "drain_trace":
		out, err = r.DrainTrace()
	case "verify_trace", "replay":
		base := drained
		if t, ok := str(get(step, "trace_text")); ok {
			base = []byte(t)
		}
		trace, e := tamper(base, get(step, "tamper"))
		if e != nil {
			return nil, nil, e.Error()
		}
		if op == "verify_trace" {
			out, err = cra.VerifyTrace(trace)
			break
		}
		list, _ := get(step, "atlases").([]any)
		atlases := make([]any, 0, len(list))
		for _, a := range list {
			v, e := resolveAtlas(a, fixtures)
			if e != nil {
				return nil, nil, e.Error()
			}
			atlases = append(atlases, v)
		}
		out, err = cra.Replay(trace, text(atlases))
	default:
		return nil, nil, fmt.Sprintf("unknown op %q", op)
	}
	return out, err, ""
}

// rustLines splits like Rust's str::lines: on "\n", dropping one "\r" before it, with an
// optional final line ending.
func rustLines(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, strings.TrimSuffix(s[:i], "\r"))
		s = s[i+1:]
	}
	return lines
}

// tamper applies the corpus's tamper operations to JSONL (line-based, 0-based indices).
func tamper(trace []byte, ops any) ([]byte, error) {
	lines := rustLines(strings.ToValidUTF8(string(trace), "\uFFFD"))
	list, _ := ops.([]any)
	for _, op := range list {
		idx := func(k string) (int, error) {
			n, ok := asU64(get(op, k))
			if !ok {
				return 0, fmt.Errorf("tamper op %s needs %s", show(op), k)
			}
			return int(n), nil
		}
		switch {
		case has(op, "swap"):
			a, _ := asU64(index(get(op, "swap"), 0))
			b, _ := asU64(index(get(op, "swap"), 1))
			if a >= uint64(len(lines)) || b >= uint64(len(lines)) {
				return nil, fmt.Errorf("swap %d %d out of range", a, b)
			}
			lines[a], lines[b] = lines[b], lines[a]
		case has(op, "delete"):
			i, err := idx("delete")
			if err != nil {
				return nil, err
			}
			if i >= len(lines) {
				return nil, fmt.Errorf("delete %d out of range", i)
			}
			lines = append(lines[:i], lines[i+1:]...)
		case has(op, "duplicate"):
			i, err := idx("duplicate")
			if err != nil {
				return nil, err
			}
			if i >= len(lines) {
				return nil, fmt.Errorf("duplicate %d out of range", i)
			}
			lines = append(lines[:i+1], append([]string{lines[i]}, lines[i+1:]...)...)
		case has(op, "replace"):
			rp := get(op, "replace")
			i, _ := asU64(get(rp, "line"))
			find, _ := str(get(rp, "find"))
			with, _ := str(get(rp, "with"))
			if i >= uint64(len(lines)) {
				return nil, fmt.Errorf("replace line %d out of range", i)
			}
			if !strings.Contains(lines[i], find) {
				return nil, fmt.Errorf("replace: line %d does not contain %q", i, find)
			}
			lines[i] = strings.Replace(lines[i], find, with, 1)
		case has(op, "truncate_last_line"):
			n, err := idx("truncate_last_line")
			if err != nil {
				return nil, err
			}
			out := strings.Join(lines, "\n") + "\n"
			return []byte(out[:max(0, len(out)-(n+1))]), nil
		default:
			return nil, fmt.Errorf("unknown tamper op %s", show(op))
		}
	}
	if len(lines) == 0 {
		return []byte{}, nil
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

func index(v any, i int) any {
	if a, ok := v.([]any); ok && i < len(a) {
		return a[i]
	}
	return nil
}

// traceSummary is how drain_trace answers compare: {"count", "event_types", "heads"}.
func traceSummary(jsonl []byte) any {
	types := []any{}
	heads := map[string]any{}
	for _, line := range bytes.Split(jsonl, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		ev, err := parse(line)
		if err != nil {
			continue
		}
		types = append(types, get(ev, "event_type"))
		s, ok1 := str(get(ev, "session_id"))
		h, ok2 := str(get(ev, "event_hash"))
		if ok1 && ok2 {
			heads[s] = h
		}
	}
	return map[string]any{"count": jsonNumber(len(types)), "event_types": types, "heads": heads}
}

func jsonNumber(n int) any { return jsonNum(strconv.Itoa(n)) }
