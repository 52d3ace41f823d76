package cra

/*
#include "cra.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"sync"
)

// Version is the loaded libcra's version (e.g. "0.1.0").
func Version() string { return C.GoString(C.cra_version()) }

// ABIVersion is the loaded libcra's C ABI version; it must equal HeaderABIVersion.
func ABIVersion() uint32 { return uint32(C.cra_abi_version()) }

var abiOnce = sync.OnceValue(func() error {
	if got := ABIVersion(); got != HeaderABIVersion {
		return fmt.Errorf("cra: the loaded libcra %s has C ABI version %d, but this package was built for ABI %d: "+
			"rebuild libcra (make build-ffi) or use the cra package that matches it", Version(), got, HeaderABIVersion)
	}
	return nil
})

// CheckABI fails with a clear message when the loaded libcra's ABI version is not the one this
// package was compiled for. New, VerifyTrace, VerifyTraceFile and Replay call it first.
func CheckABI() error { return abiOnce() }

// stateless runs one of the handle-less functions, freeing its buffer here.
func stateless(f func(out *C.CraBuffer, cerr **C.CraError) C.CraStatus) (json.RawMessage, error) {
	if err := CheckABI(); err != nil {
		return nil, err
	}
	var out C.CraBuffer
	defer freeBuffer(&out)
	var cerr *C.CraError
	if err := check(f(&out, &cerr), cerr); err != nil {
		return nil, err
	}
	return takeBuffer(&out), nil
}

// VerifyTrace verifies JSONL trace bytes and answers the report JSON ({"ok", "events",
// "sessions", "errors"}). A broken chain is a report with "ok": false, not an error.
func VerifyTrace(trace []byte) (json.RawMessage, error) {
	return stateless(func(out *C.CraBuffer, cerr **C.CraError) C.CraStatus {
		p, n := input(trace)
		return C.cra_trace_verify(p, n, out, cerr)
	})
}

// VerifyTraceFile verifies a JSONL trace file (streamed). Errors: CodeIOError.
func VerifyTraceFile(path string) (json.RawMessage, error) {
	return stateless(func(out *C.CraBuffer, cerr **C.CraError) C.CraStatus {
		p, n := inputString(path)
		return C.cra_trace_verify_file(p, n, out, cerr)
	})
}

// Replay re-runs the resolve requests of a JSONL trace against other atlases (a JSON array of
// atlas documents) and answers the replay report JSON. Errors: CodeInvalidRequest,
// CodeInvalidAtlas (Pointer /N/... names the atlas), CodeTraceChainInvalid.
func Replay(trace, atlasesJSON []byte) (json.RawMessage, error) {
	return stateless(func(out *C.CraBuffer, cerr **C.CraError) C.CraStatus {
		tp, tn := input(trace)
		ap, an := input(atlasesJSON)
		return C.cra_trace_replay(tp, tn, ap, an, out, cerr)
	})
}
