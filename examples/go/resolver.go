package cra

/*
#include "cra.h"

// The signature every JSON-in, JSON-out resolver function shares.
typedef CraStatus (*cra_json_fn)(const CraResolver *, const uint8_t *, size_t, CraBuffer *, CraError **);

static CraStatus cra_go_call_json(cra_json_fn f, const CraResolver *r, const uint8_t *p, size_t n,
                                  CraBuffer *out, CraError **err) {
	return f(r, p, n, out, err);
}
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Resolver is a CRA resolver: loaded atlases, sessions, resolutions, approvals, rate limits and
// the trace collector.
//
// Threading: every method may be called from many goroutines at once (libcra synchronizes the
// handle internally). Close waits for the calls in flight to return, and calls made after Close
// return an *Error with CodeClosed, so Close never races with them.
type Resolver struct {
	mu     sync.RWMutex // read-held by every call, write-held by Close
	handle *C.CraResolver
}

// New creates a resolver from configuration JSON (nil, "" or "{}" mean defaults; see
// docs/protocol.md). It first checks that the loaded libcra speaks this package's ABI version.
// Errors: CodeInvalidConfig, CodeIOError (trace file).
func New(configJSON []byte) (*Resolver, error) {
	if err := CheckABI(); err != nil {
		return nil, err
	}
	p, n := input(configJSON)
	var h *C.CraResolver
	var cerr *C.CraError
	if err := check(C.cra_resolver_new(p, n, &h, &cerr), cerr); err != nil {
		return nil, err
	}
	r := &Resolver{handle: h}
	// A backstop for resolvers that are never closed; Close is still the way to release one.
	runtime.SetFinalizer(r, func(r *Resolver) { r.free() })
	return r, nil
}

// Close flushes and closes the trace collector, then frees the resolver. It waits for calls in
// flight; later calls fail with CodeClosed. Closing twice is a no-op. The error is the
// collector's (CodeIOError, CodeTimeout); the resolver is freed in every case, and closing a
// resolver poisoned by a panic just frees it.
func (r *Resolver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handle == nil {
		return nil
	}
	var cerr *C.CraError
	err := check(C.cra_resolver_close(r.handle, &cerr), cerr)
	if errors.Is(err, CodePoisoned) {
		err = nil // a poisoned resolver is still freed; there is nothing to report
	}
	C.cra_resolver_free(r.handle)
	r.handle = nil
	runtime.SetFinalizer(r, nil)
	return err
}

func (r *Resolver) free() {
	if r.handle != nil {
		C.cra_resolver_free(r.handle)
		r.handle = nil
	}
}

// with runs f on the live handle under the read lock, or fails with CodeClosed.
func (r *Resolver) with(f func(h *C.CraResolver) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.handle == nil {
		return closedError()
	}
	return f(r.handle)
}

// callJSON calls one JSON-in, JSON-out function and copies the answer out, freeing the native
// buffer here, in the function that received it.
func (r *Resolver) callJSON(f C.cra_json_fn, in []byte) (json.RawMessage, error) {
	var answer []byte
	err := r.with(func(h *C.CraResolver) error {
		var out C.CraBuffer
		defer freeBuffer(&out)
		var cerr *C.CraError
		p, n := input(in)
		if err := check(C.cra_go_call_json(f, h, p, n, &out, &cerr), cerr); err != nil {
			return err
		}
		answer = takeBuffer(&out)
		return nil
	})
	return answer, err
}

// callOut calls one function that only writes a buffer.
func (r *Resolver) callOut(f func(h *C.CraResolver, out *C.CraBuffer, cerr **C.CraError) C.CraStatus) ([]byte, error) {
	var answer []byte
	err := r.with(func(h *C.CraResolver) error {
		var out C.CraBuffer
		defer freeBuffer(&out)
		var cerr *C.CraError
		if err := check(f(h, &out, &cerr), cerr); err != nil {
			return err
		}
		answer = takeBuffer(&out)
		return nil
	})
	return answer, err
}

// LoadAtlas loads (or replaces) an atlas from its JSON text and answers AtlasInfo JSON.
// Errors: CodeInvalidAtlas (Error.Details lists every problem), CodeInvalidRequest.
func (r *Resolver) LoadAtlas(atlasJSON []byte) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_load_atlas), atlasJSON)
}

// LoadAtlasDir loads an atlas from a directory holding atlas.json and answers AtlasInfo JSON.
// Errors: CodeIOError, CodeInvalidAtlas.
func (r *Resolver) LoadAtlasDir(dir string) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_load_atlas_dir), []byte(dir))
}

// UnloadAtlas unloads an atlas by id; answers {"atlas_id", "unloaded": true}.
// Errors: CodeAtlasNotFound.
func (r *Resolver) UnloadAtlas(atlasID string) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_unload_atlas), []byte(atlasID))
}

// Resolve answers a CARP resolve request with the resolution JSON.
// Errors: CodeInvalidRequest (with Pointer), CodeAtlasNotFound, CodeSessionEnded.
func (r *Resolver) Resolve(request []byte) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_resolve), request)
}

// Execute authorizes one tool call; the answer's status is "authorized" (with execution_id),
// "denied" (with reason_code) or "pending_approval" (with approval_id). A denial is an answer,
// not an error. Errors: CodeResolutionNotFound, CodeResolutionExpired, CodeInvalidParameters,
// CodeInvalidRequest, CodeSessionEnded.
func (r *Resolver) Execute(request []byte) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_execute), request)
}

// Report records a tool's outcome ({"execution_id", "result"} or {"execution_id", "error"}).
// Errors: CodeExecutionNotFound, CodeExecutionAlreadyReported, CodeInvalidRequest.
func (r *Resolver) Report(report []byte) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_report), report)
}

// Approve approves a pending approval ({"approval_id", "approver", "reason"?}): the one call
// it was asked for (same session, action and parameters) is authorized once. The approver is
// required and may not be the agent that asked. Errors: CodeApprovalNotFound,
// CodeApprovalExpired, CodeApprovalAlreadyDecided, CodeApprovalForbidden.
func (r *Resolver) Approve(decision []byte) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_approve), decision)
}

// Approvals lists approvals ({"session_id"?, "status"?: [...]}, or empty for every pending
// one) as a JSON array, oldest first, each with agent, action, parameters, policy and expiry.
func (r *Resolver) Approvals(filter []byte) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_list_approvals), filter)
}

// Reject rejects a pending approval (same input, answer and errors as Approve).
func (r *Resolver) Reject(decision []byte) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_reject), decision)
}

// EndSession ends a session ({"session_id", "reason"?}); later requests naming it fail with
// CodeSessionEnded. Errors: CodeSessionNotFound, CodeSessionEnded, CodeInvalidRequest.
func (r *Resolver) EndSession(body []byte) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_end_session), body)
}

// Check is the fast path (no JSON, no allocation in libcra): may the session run the action
// now, according to its latest unexpired resolution? It consumes and records nothing.
func (r *Resolver) Check(sessionID, actionID string) (Verdict, error) {
	var v C.CraVerdict
	err := r.with(func(h *C.CraResolver) error {
		var cerr *C.CraError
		sp, sn := inputString(sessionID)
		ap, an := inputString(actionID)
		return check(C.cra_resolver_check(h, sp, sn, ap, an, &v, &cerr), cerr)
	})
	return Verdict(v), err
}

// LoadShadow loads a candidate atlas (JSON) as the shadow of the live atlas with the same
// atlas_id: resolves and executes are also judged by it, the live decision is enforced, and
// differences are recorded (policy.shadow_diff) and counted. Errors: CodeInvalidAtlas,
// CodeAtlasNotFound.
func (r *Resolver) LoadShadow(atlas []byte) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_load_shadow), atlas)
}

// UnloadShadow unloads the shadow of an atlas. Errors: CodeAtlasNotFound.
func (r *Resolver) UnloadShadow(atlasID string) (json.RawMessage, error) {
	return r.callJSON(C.cra_json_fn(C.cra_resolver_unload_shadow), []byte(atlasID))
}

// Explain says why actionID gets its verdict for a resolve request (JSON): every policy of
// the action's atlas in ladder order, each condition with what it saw, which policy decided.
// It records and consumes nothing. Errors: CodeInvalidRequest, CodeAtlasNotFound.
func (r *Resolver) Explain(request []byte, actionID string) (json.RawMessage, error) {
	var answer []byte
	err := r.with(func(h *C.CraResolver) error {
		var out C.CraBuffer
		defer freeBuffer(&out)
		var cerr *C.CraError
		qp, qn := input(request)
		ap, an := inputString(actionID)
		if err := check(C.cra_resolver_explain(h, qp, qn, ap, an, &out, &cerr), cerr); err != nil {
			return err
		}
		answer = takeBuffer(&out)
		return nil
	})
	return answer, err
}

// Flush waits until every trace event recorded before the call is in the sink.
// Errors: CodeTimeout after timeout, CodeIOError.
func (r *Resolver) Flush(timeout time.Duration) error {
	return r.with(func(h *C.CraResolver) error {
		var cerr *C.CraError
		ms := timeout.Milliseconds()
		if ms < 0 {
			ms = 0
		}
		return check(C.cra_resolver_flush(h, C.uint64_t(ms), &cerr), cerr)
	})
}

// DrainTrace takes the JSONL of the memory sink's events not drained yet (flushing first);
// empty for a file sink. Each event is drained once, even across goroutines.
func (r *Resolver) DrainTrace() ([]byte, error) {
	return r.callOut(func(h *C.CraResolver, out *C.CraBuffer, cerr **C.CraError) C.CraStatus {
		return C.cra_resolver_drain_trace(h, out, cerr)
	})
}

// Stats answers counters and sizes as JSON ({"trace", "atlases", "sessions", "resolves", ...}).
func (r *Resolver) Stats() (json.RawMessage, error) {
	return r.callOut(func(h *C.CraResolver, out *C.CraBuffer, cerr **C.CraError) C.CraStatus {
		return C.cra_resolver_stats(h, out, cerr)
	})
}

// AdvanceClock moves a deterministic resolver's clock forward by d (whole microseconds).
// Errors: CodeInvalidRequest when the resolver is not deterministic or d is negative.
func (r *Resolver) AdvanceClock(d time.Duration) error {
	return r.AdvanceClockMicros(d.Microseconds())
}

// AdvanceClockMicros is AdvanceClock in microseconds (for spans too long for a Duration).
func (r *Resolver) AdvanceClockMicros(micros int64) error {
	return r.with(func(h *C.CraResolver) error {
		var cerr *C.CraError
		return check(C.cra_resolver_advance_clock(h, C.int64_t(micros), &cerr), cerr)
	})
}

// String names the resolver for logs.
func (r *Resolver) String() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.handle == nil {
		return "cra.Resolver(closed)"
	}
	return fmt.Sprintf("cra.Resolver(%p)", r.handle)
}
