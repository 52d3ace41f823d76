package cra

import "encoding/json"

// The typed answers below cover the fields most hosts read; every method also returns the whole
// answer as json.RawMessage, so nothing is lost. Decode turns one into the other:
//
//	info, err := cra.Decode[cra.AtlasInfo](r.LoadAtlasDir("examples/atlases/customer-support"))

// Decode unmarshals a method's JSON answer into T, passing its error through. It is meant to
// wrap a call directly: cra.Decode[cra.Resolution](r.Resolve(req)).
func Decode[T any](raw json.RawMessage, err error) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, err
	}
	return v, nil
}

// MustJSON marshals v for a request (panics only on values encoding/json cannot encode, such
// as channels: a programming error).
func MustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("cra: cannot encode request: " + err.Error())
	}
	return b
}

// AtlasInfo answers LoadAtlas and LoadAtlasDir.
type AtlasInfo struct {
	AtlasID      string `json:"atlas_id"`
	Version      string `json:"version"`
	Actions      int    `json:"actions"`
	Policies     int    `json:"policies"`
	ContextPacks int    `json:"context_packs"`
	Capabilities int    `json:"capabilities"`
	Replaced     bool   `json:"replaced"`
}

// Decision is a resolution's overall decision ("allow", "deny", "partial", ...).
type Decision struct {
	Type       string `json:"type"`
	Reason     string `json:"reason"`
	ApprovalID string `json:"approval_id,omitempty"`
	ExpiresAt  string `json:"expires_at,omitempty"`
}

// ActionRef is an action in a resolution's allowed, denied or pending list.
type ActionRef struct {
	ActionID   string `json:"action_id"`
	AtlasID    string `json:"atlas_id"`
	PolicyID   string `json:"policy_id,omitempty"`
	ReasonCode string `json:"reason_code,omitempty"`
	Reason     string `json:"reason,omitempty"`
	ApprovalID string `json:"approval_id,omitempty"`
}

// ContextBlock is one block of context selected for the agent.
type ContextBlock struct {
	BlockID       string `json:"block_id"`
	Source        string `json:"source"`
	PackID        string `json:"pack_id"`
	ContentType   string `json:"content_type"`
	Content       string `json:"content"`
	Priority      int    `json:"priority"`
	TokenEstimate int    `json:"token_estimate"`
}

// Resolution answers Resolve (docs/protocol.md §3).
type Resolution struct {
	ResolutionID   string         `json:"resolution_id"`
	RequestID      string         `json:"request_id"`
	Timestamp      string         `json:"timestamp"`
	Decision       Decision       `json:"decision"`
	ContextBlocks  []ContextBlock `json:"context_blocks"`
	AllowedActions []ActionRef    `json:"allowed_actions"`
	DeniedActions  []ActionRef    `json:"denied_actions"`
	PendingActions []ActionRef    `json:"pending_actions"`
	TTLSeconds     int64          `json:"ttl_seconds"`
	TraceID        string         `json:"trace_id"`
}

// ExecuteAnswer answers Execute: Status is "authorized" (ExecutionID set), "denied"
// (ReasonCode set) or "pending_approval" (ApprovalID set).
type ExecuteAnswer struct {
	Status      string `json:"status"`
	ExecutionID string `json:"execution_id,omitempty"`
	ReasonCode  string `json:"reason_code,omitempty"`
	// ErrorCode is the error code a refusal corresponds to (ACTION_NOT_ALLOWED,
	// RATE_LIMIT_EXCEEDED, APPROVAL_REQUIRED), empty when authorized; the core derives it.
	ErrorCode  string `json:"error_code,omitempty"`
	ApprovalID string `json:"approval_id,omitempty"`
}

// VerifyReport answers VerifyTrace and VerifyTraceFile.
type VerifyReport struct {
	OK       bool          `json:"ok"`
	Events   int           `json:"events"`
	Sessions int           `json:"sessions"`
	Errors   []VerifyError `json:"errors"`
}

// VerifyError is one problem a trace verification found (docs/trace.md lists the codes).
type VerifyError struct {
	SessionID string `json:"session_id,omitempty"`
	Line      int    `json:"line"`
	Sequence  int64  `json:"sequence,omitempty"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}
