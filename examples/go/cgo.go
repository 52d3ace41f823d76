package cra

// The cgo flags are relative to this directory (${SRCDIR}), so `go test ./...` and `go build`
// in a checkout need no environment: the header comes from ffi/include and libcra from the
// workspace's release build (`make build-ffi`), found at run time through the rpath.
//
// To link another copy of libcra, set CGO_LDFLAGS (for example
// `-L/opt/cra/lib -Wl,-rpath,/opt/cra/lib`); flags given there come after these, so the
// library must not also exist in target/release, or use LD_LIBRARY_PATH at run time.

/*
#cgo CFLAGS: -I${SRCDIR}/../../ffi/include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -lcra -Wl,-rpath,${SRCDIR}/../../target/release
#include <stdlib.h>
#include "cra.h"
*/
import "C"

import "unsafe"

// HeaderABIVersion is the C ABI version of the header this package was compiled against
// (CRA_ABI_VERSION). The loaded library must report the same value (see ABIVersion).
const HeaderABIVersion = uint32(C.CRA_ABI_VERSION)

// input returns the (ptr, len) pair for a borrowed input. The bytes stay in Go memory: libcra
// reads them during the call only and keeps no pointer, which the cgo pointer rules allow.
func input(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

// inputString is input for a string, without copying it.
func inputString(s string) (*C.uint8_t, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// takeBuffer copies an owned buffer into Go memory. The caller frees buf (with a deferred
// freeBuffer in the function that received it).
func takeBuffer(buf *C.CraBuffer) []byte {
	if buf.ptr == nil {
		return []byte{}
	}
	out := make([]byte, int(buf.len))
	copy(out, unsafe.Slice((*byte)(unsafe.Pointer(buf.ptr)), int(buf.len)))
	return out
}

// freeBuffer releases a buffer libcra filled (the empty buffer of a failed call is accepted).
func freeBuffer(buf *C.CraBuffer) { C.cra_buffer_free(buf) }

// goString copies a borrowed C string ("" and false for NULL).
func goString(p *C.char) (string, bool) {
	if p == nil {
		return "", false
	}
	return C.GoString(p), true
}
