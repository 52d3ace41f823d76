package cra

/*
#include "cra.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
)

// Code is a status value of the C ABI: 1..99 are problems with how libcra was called, 100..199
// are the engine's error codes, 900 is a caught panic. Values are stable (never renumbered).
//
// Code implements error so that it can be a target of errors.Is:
//
//	if errors.Is(err, cra.CodeAtlasNotFound) { ... }
type Code uint32

// The status values of cra.h.
const (
	CodeOK                       Code = C.CRA_STATUS_OK
	CodeNullArgument             Code = C.CRA_STATUS_NULL_ARGUMENT
	CodeInvalidUTF8              Code = C.CRA_STATUS_INVALID_UTF8
	CodePoisoned                 Code = C.CRA_STATUS_POISONED
	CodeInvalidRequest           Code = C.CRA_STATUS_INVALID_REQUEST
	CodeInvalidConfig            Code = C.CRA_STATUS_INVALID_CONFIG
	CodeInvalidAtlas             Code = C.CRA_STATUS_INVALID_ATLAS
	CodeAtlasNotFound            Code = C.CRA_STATUS_ATLAS_NOT_FOUND
	CodeAtlasAlreadyLoaded       Code = C.CRA_STATUS_ATLAS_ALREADY_LOADED
	CodeResolutionNotFound       Code = C.CRA_STATUS_RESOLUTION_NOT_FOUND
	CodeResolutionExpired        Code = C.CRA_STATUS_RESOLUTION_EXPIRED
	CodeActionNotAllowed         Code = C.CRA_STATUS_ACTION_NOT_ALLOWED
	CodeInvalidParameters        Code = C.CRA_STATUS_INVALID_PARAMETERS
	CodeRateLimitExceeded        Code = C.CRA_STATUS_RATE_LIMIT_EXCEEDED
	CodeApprovalRequired         Code = C.CRA_STATUS_APPROVAL_REQUIRED
	CodeApprovalNotFound         Code = C.CRA_STATUS_APPROVAL_NOT_FOUND
	CodeApprovalExpired          Code = C.CRA_STATUS_APPROVAL_EXPIRED
	CodeApprovalAlreadyDecided   Code = C.CRA_STATUS_APPROVAL_ALREADY_DECIDED
	CodeExecutionNotFound        Code = C.CRA_STATUS_EXECUTION_NOT_FOUND
	CodeExecutionAlreadyReported Code = C.CRA_STATUS_EXECUTION_ALREADY_REPORTED
	CodeSessionNotFound          Code = C.CRA_STATUS_SESSION_NOT_FOUND
	CodeSessionEnded             Code = C.CRA_STATUS_SESSION_ENDED
	CodeTraceChainInvalid        Code = C.CRA_STATUS_TRACE_CHAIN_INVALID
	CodeIOError                  Code = C.CRA_STATUS_IO_ERROR
	CodeTimeout                  Code = C.CRA_STATUS_TIMEOUT
	CodeClosed                   Code = C.CRA_STATUS_CLOSED
	CodeInternal                 Code = C.CRA_STATUS_INTERNAL
	CodePanic                    Code = C.CRA_STATUS_PANIC
	CodeLimitExceeded            Code = C.CRA_STATUS_LIMIT_EXCEEDED
	CodeAtlasConflict            Code = C.CRA_STATUS_ATLAS_CONFLICT
	CodeApprovalForbidden        Code = C.CRA_STATUS_APPROVAL_FORBIDDEN
	CodeResolverForked           Code = C.CRA_STATUS_RESOLVER_FORKED
	CodeTraceFileLocked          Code = C.CRA_STATUS_TRACE_FILE_LOCKED
)

// Family groups codes by what they are about; every binding groups its errors the same way.
// The codes and their families are conformance/errors.json (generated from core/src/error.rs;
// docs/errors.md); errors_test.go checks codeFamilies and the constants above against it.
type Family string

// The families.
const (
	FamilyRequest    Family = "request"    // malformed or oversized input
	FamilyAtlas      Family = "atlas"      // loading, finding or replacing an atlas
	FamilyResolution Family = "resolution" // the resolution is unknown or expired
	FamilyAction     Family = "action"     // governance refused the call for now
	FamilyApproval   Family = "approval"   // finding or deciding an approval
	FamilyExecution  Family = "execution"  // finding or reporting an execution
	FamilySession    Family = "session"    // the session is unknown or ended
	FamilyTrace      Family = "trace"      // a trace failed verification
	FamilyRuntime    Family = "runtime"    // files, time, close, fork, locks
	FamilyInternal   Family = "internal"   // a bug in CRA
)

// codeFamilies is the family of every code but CodeOK.
var codeFamilies = map[Code]Family{
	CodeNullArgument:             FamilyRequest,
	CodeInvalidUTF8:              FamilyRequest,
	CodePoisoned:                 FamilyInternal,
	CodeInvalidRequest:           FamilyRequest,
	CodeInvalidConfig:            FamilyRequest,
	CodeLimitExceeded:            FamilyRequest,
	CodeInvalidAtlas:             FamilyAtlas,
	CodeAtlasNotFound:            FamilyAtlas,
	CodeAtlasAlreadyLoaded:       FamilyAtlas,
	CodeAtlasConflict:            FamilyAtlas,
	CodeResolutionNotFound:       FamilyResolution,
	CodeResolutionExpired:        FamilyResolution,
	CodeActionNotAllowed:         FamilyAction,
	CodeInvalidParameters:        FamilyRequest,
	CodeRateLimitExceeded:        FamilyAction,
	CodeApprovalRequired:         FamilyAction,
	CodeApprovalNotFound:         FamilyApproval,
	CodeApprovalExpired:          FamilyApproval,
	CodeApprovalAlreadyDecided:   FamilyApproval,
	CodeApprovalForbidden:        FamilyApproval,
	CodeExecutionNotFound:        FamilyExecution,
	CodeExecutionAlreadyReported: FamilyExecution,
	CodeSessionNotFound:          FamilySession,
	CodeSessionEnded:             FamilySession,
	CodeTraceChainInvalid:        FamilyTrace,
	CodeIOError:                  FamilyRuntime,
	CodeTimeout:                  FamilyRuntime,
	CodeClosed:                   FamilyRuntime,
	CodeResolverForked:           FamilyRuntime,
	CodeTraceFileLocked:          FamilyRuntime,
	CodeInternal:                 FamilyInternal,
	CodePanic:                    FamilyInternal,
}

// Family is the code's family; FamilyInternal for a value libcra does not define, "" for CodeOK.
func (c Code) Family() Family {
	if c == CodeOK {
		return ""
	}
	if f, ok := codeFamilies[c]; ok {
		return f
	}
	return FamilyInternal
}

// Name is the stable code name ("INVALID_REQUEST", ...), "UNKNOWN" for a value libcra does not
// define.
func (c Code) Name() string { return C.GoString(C.cra_status_name(C.uint32_t(c))) }

// String is Name.
func (c Code) String() string { return c.Name() }

// Error makes a Code usable as an errors.Is target; its text is the code name.
func (c Code) Error() string { return c.Name() }

// Detail is one problem of an INVALID_ATLAS error (every problem found is listed).
type Detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Pointer string `json:"pointer"`
}

// Error is a failed call: the status Code, its stable Name, the human Message (never compare
// it: it may change), and the JSON Pointer of the offending input value when the error is
// about one (HasPointer; "" means the whole document).
type Error struct {
	Code       Code
	Name       string
	Message    string
	Pointer    string
	HasPointer bool
	// Details lists every problem of an INVALID_ATLAS error (empty otherwise).
	Details []Detail
}

// Error renders "cra: CODE_NAME: message (at /pointer)".
func (e *Error) Error() string {
	s := "cra: " + e.Name
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.HasPointer {
		s += fmt.Sprintf(" (at %q)", e.Pointer)
	}
	return s
}

// Is reports whether target is this error's Code, or an *Error with the same Code.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Code:
		return t == e.Code
	case *Error:
		return t.Code == e.Code
	}
	return false
}

// Family is the family of the error's Code.
func (e *Error) Family() Family { return e.Code.Family() }

// Internal reports whether the error is about how libcra was called or a bug in it (status
// 1..99, INTERNAL, PANIC) rather than about the input.
func (e *Error) Internal() bool {
	return e.Code < 100 || e.Code == CodeInternal || e.Code == CodePanic
}

// newError builds an Error from a failed call's status and error, then frees the error. The
// strings are copied before cra_error_free, which invalidates them.
func newError(status C.CraStatus, cerr *C.CraError) *Error {
	if cerr == nil {
		c := Code(status)
		return &Error{Code: c, Name: c.Name()}
	}
	defer C.cra_error_free(cerr)
	e := &Error{Code: Code(C.cra_error_code(cerr))}
	e.Name, _ = goString(C.cra_error_code_name(cerr))
	e.Message, _ = goString(C.cra_error_message(cerr))
	e.Pointer, e.HasPointer = goString(C.cra_error_pointer(cerr))
	if e.Code == CodeInvalidAtlas {
		var buf C.CraBuffer
		defer freeBuffer(&buf)
		if C.cra_error_json(cerr, &buf) == C.CRA_STATUS_OK {
			var env struct {
				Details []Detail `json:"details"`
			}
			if json.Unmarshal(takeBuffer(&buf), &env) == nil {
				e.Details = env.Details
			}
		}
	}
	return e
}

// check turns a status into nil or an *Error (freeing the C error either way).
func check(status C.CraStatus, cerr *C.CraError) error {
	if status == C.CRA_STATUS_OK {
		if cerr != nil {
			C.cra_error_free(cerr)
		}
		return nil
	}
	return newError(status, cerr)
}

// closedError is what calls on a closed Resolver return.
func closedError() *Error {
	return &Error{Code: CodeClosed, Name: CodeClosed.Name(), Message: "the resolver is closed"}
}
