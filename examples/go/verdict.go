package cra

/*
#include "cra.h"
*/
import "C"

// Verdict is the fast path's answer (Resolver.Check). Values are stable.
type Verdict uint32

// The verdicts of cra.h.
const (
	// Allowed: the session's latest resolution allows the action and no limit is exhausted.
	Allowed Verdict = C.CRA_VERDICT_ALLOWED
	// Denied by policy, default deny, rejection, or not in the resolution.
	Denied Verdict = C.CRA_VERDICT_DENIED
	// PendingApproval: waiting for a human approval.
	PendingApproval Verdict = C.CRA_VERDICT_PENDING_APPROVAL
	// RateLimited: a rate limit is exhausted right now.
	RateLimited Verdict = C.CRA_VERDICT_RATE_LIMITED
	// NoResolution: the session has no unexpired resolution (or does not exist, or ended).
	NoResolution Verdict = C.CRA_VERDICT_NO_RESOLUTION
)

var verdictNames = [...]string{"allowed", "denied", "pending_approval", "rate_limited", "no_resolution"}

// String is the verdict's snake_case name ("allowed", "pending_approval", ...), the same names
// the conformance corpus and the other bindings use; "unknown(N)" for a value this package does
// not know.
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "unknown(" + itoa(uint32(v)) + ")"
}

// Known reports whether v is one of the verdicts above.
func (v Verdict) Known() bool { return int(v) < len(verdictNames) }

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
