// Command cra-conformance-driver is the Go driver of the one corpus interpreter: it reads
// operations as JSON lines on stdin, performs each through the package's public API and answers
// on stdout (docs/bindings.md): cra-conformance --binding go -- cra-conformance-driver
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	cra "cra.example/cra"
)

// arg is a JSON argument (passed as its bytes: the Go API takes JSON) or a text one.
type arg struct {
	JSON json.RawMessage `json:"json"`
	Text *string         `json:"text"`
}

func (a arg) bytes() []byte {
	if a.Text != nil {
		return []byte(*a.Text)
	}
	return a.JSON
}

func (a arg) str() string { return string(a.bytes()) }

type request struct {
	Op   string `json:"op"`
	Args []arg  `json:"args"`
}

var r *cra.Resolver

func closeResolver() {
	if r != nil {
		r.Close()
		r = nil
	}
}

// call runs one operation; out is the answer text (nil: no output).
func call(op string, a []arg) (out []byte, err error) {
	at := func(i int) arg {
		if i < len(a) {
			return a[i]
		}
		return arg{JSON: json.RawMessage("null")}
	}
	switch op {
	case "create", "close":
		closeResolver()
		if op == "create" {
			r, err = cra.New(at(0).bytes())
		}
		return nil, err
	case "verify_trace":
		return cra.VerifyTrace(at(0).bytes())
	case "replay":
		return cra.Replay(at(0).bytes(), at(1).bytes())
	}
	if r == nil {
		return nil, &cra.Error{Code: cra.CodeInternal, Name: "INTERNAL", Message: "no resolver (create first)"}
	}
	// operations that take one JSON argument and answer JSON text
	jsonOps := map[string]func([]byte) (json.RawMessage, error){
		"load_atlas": r.LoadAtlas, "load_shadow": r.LoadShadow, "resolve": r.Resolve, "execute": r.Execute,
		"report": r.Report, "approve": r.Approve, "reject": r.Reject, "end_session": r.EndSession,
		"approvals": r.Approvals,
	}
	if f, ok := jsonOps[op]; ok {
		return f(at(0).bytes())
	}
	switch op {
	case "load_atlas_dir":
		return r.LoadAtlasDir(at(0).str())
	case "unload_atlas":
		return r.UnloadAtlas(at(0).str())
	case "unload_shadow":
		return r.UnloadShadow(at(0).str())
	case "explain":
		return r.Explain(at(0).bytes(), at(1).str())
	case "check":
		v, err := r.Check(at(0).str(), at(1).str())
		if err == nil && !v.Known() {
			err = fmt.Errorf("unknown verdict %s", v)
		}
		return []byte(strconv.Quote(v.String())), err
	case "advance_clock":
		micros, err := strconv.ParseInt(at(0).str(), 10, 64)
		if err == nil {
			err = r.AdvanceClockMicros(micros)
		}
		return nil, err
	case "flush":
		return nil, r.Flush(10 * time.Second)
	case "stats":
		return r.Stats()
	case "drain_trace":
		return r.DrainTrace()
	}
	return nil, fmt.Errorf("unknown op %q", op)
}

// answer is {"ok": text or null} or {"error": {code, pointer, message}}.
func answer(line []byte) map[string]any {
	var req request
	out, err := []byte(nil), json.Unmarshal(line, &req)
	if err == nil {
		out, err = call(req.Op, req.Args)
	}
	code, pointer, ce := "DRIVER", any(nil), (*cra.Error)(nil)
	if errors.As(err, &ce) {
		code = ce.Name
		if ce.HasPointer {
			pointer = ce.Pointer
		}
	}
	switch {
	case err != nil:
		return map[string]any{"error": map[string]any{"code": code, "pointer": pointer, "message": err.Error()}}
	case out == nil:
		return map[string]any{"ok": nil}
	}
	return map[string]any{"ok": string(out)}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 256<<20)
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for in.Scan() {
		if err := enc.Encode(answer(in.Bytes())); err != nil {
			os.Exit(1)
		}
		w.Flush()
	}
	closeResolver()
}
