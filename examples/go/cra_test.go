package cra_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cra.example/cra"
)

var atlasDir = filepath.Join("..", "atlases", "customer-support")

func newResolver(t *testing.T) *cra.Resolver {
	t.Helper()
	r, err := cra.New([]byte(`{"deterministic": {"seed": 1}}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if _, err := r.LoadAtlasDir(atlasDir); err != nil {
		t.Fatal(err)
	}
	return r
}

func resolveReq(session string) []byte {
	return cra.MustJSON(map[string]any{
		"requester": map[string]string{"agent_id": "support-bot", "session_id": session},
		"task":      map[string]string{"goal": "Where is order ORD-1234? The customer wants a refund."},
	})
}

func TestVersionAndABI(t *testing.T) {
	if cra.ABIVersion() != cra.HeaderABIVersion || cra.CheckABI() != nil {
		t.Fatalf("ABI %d, header %d: %v", cra.ABIVersion(), cra.HeaderABIVersion, cra.CheckABI())
	}
	if v := cra.Version(); !strings.Contains(v, ".") {
		t.Errorf("version %q", v)
	}
}

func TestNewDefaultsAndBadConfig(t *testing.T) {
	for _, cfg := range [][]byte{nil, []byte(""), []byte("{}")} {
		r, err := cra.New(cfg)
		if err != nil {
			t.Fatalf("New(%q): %v", cfg, err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	_, err := cra.New([]byte(`{"no_such_option": 1}`))
	var e *cra.Error
	if !errors.As(err, &e) || e.Code != cra.CodeInvalidConfig || e.Name != "INVALID_CONFIG" {
		t.Fatalf("bad config: %#v", err)
	}
	if !errors.Is(err, cra.CodeInvalidConfig) || errors.Is(err, cra.CodeInvalidRequest) {
		t.Error("errors.Is against codes")
	}
}

func TestWorkflow(t *testing.T) {
	r := newResolver(t)
	res, err := cra.Decode[cra.Resolution](r.Resolve(resolveReq("s1")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Decision.Type != "partial" || len(res.AllowedActions) == 0 || res.ResolutionID == "" {
		t.Fatalf("resolution %+v", res)
	}
	if v, err := r.Check("s1", "orders.lookup"); err != nil || v != cra.Allowed || v.String() != "allowed" {
		t.Errorf("check: %v %v", v, err)
	}
	if v, _ := r.Check("s1", "customers.delete_account"); v != cra.Denied {
		t.Errorf("denied action: %v", v)
	}
	if v, _ := r.Check("nobody", "orders.lookup"); v != cra.NoResolution {
		t.Errorf("unknown session: %v", v)
	}
	ans, err := cra.Decode[cra.ExecuteAnswer](r.Execute(cra.MustJSON(map[string]any{
		"requester": map[string]string{"agent_id": "support-bot", "session_id": "s1"},
		"execution": map[string]any{"resolution_id": res.ResolutionID, "action_id": "orders.lookup",
			"parameters": map[string]string{"order_id": "ORD-1234"}},
	})))
	if err != nil || ans.Status != "authorized" || ans.ExecutionID == "" || ans.ErrorCode != "" {
		t.Fatalf("execute: %+v %v", ans, err)
	}
	denied, err := cra.Decode[cra.ExecuteAnswer](r.Execute(cra.MustJSON(map[string]any{
		"requester": map[string]string{"agent_id": "support-bot", "session_id": "s1"},
		"execution": map[string]any{"resolution_id": res.ResolutionID, "action_id": "customers.delete_account",
			"parameters": map[string]string{"customer_id": "C-1"}},
	})))
	if err != nil || denied.Status != "denied" || denied.ErrorCode != cra.CodeActionNotAllowed.String() {
		t.Errorf("denied execute: %+v %v", denied, err)
	}
	if _, err := r.Report(cra.MustJSON(map[string]any{"execution_id": ans.ExecutionID, "result": "ok"})); err != nil {
		t.Fatal(err)
	}
	_, err = r.Report(cra.MustJSON(map[string]any{"execution_id": ans.ExecutionID, "result": "ok"}))
	if !errors.Is(err, cra.CodeExecutionAlreadyReported) {
		t.Errorf("second report: %v", err)
	}
	if _, err := r.EndSession([]byte(`{"session_id":"s1"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(resolveReq("s1")); !errors.Is(err, cra.CodeSessionEnded) {
		t.Errorf("resolve after end: %v", err)
	}
	if err := r.Flush(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	trace, err := r.DrainTrace()
	if err != nil || len(trace) == 0 {
		t.Fatalf("drain: %d bytes, %v", len(trace), err)
	}
	rep, err := cra.Decode[cra.VerifyReport](cra.VerifyTrace(trace))
	if err != nil || !rep.OK || rep.Sessions != 1 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// A tampered trace is a report, not an error.
	bad := []byte(strings.Replace(string(trace), "orders.lookup", "orders.lookuq", 1))
	if rep, err := cra.Decode[cra.VerifyReport](cra.VerifyTrace(bad)); err != nil || rep.OK || len(rep.Errors) == 0 {
		t.Errorf("tampered: %+v %v", rep, err)
	}
	if again, _ := r.DrainTrace(); len(again) != 0 {
		t.Errorf("events drained twice: %s", again)
	}
	stats, err := r.Stats()
	var s map[string]any
	if err != nil || json.Unmarshal(stats, &s) != nil || s["resolves"] == nil {
		t.Errorf("stats %s %v", stats, err)
	}
	atlas, err := r.UnloadAtlas("com.example.customer-support")
	if err != nil || !strings.Contains(string(atlas), `"unloaded":true`) {
		t.Fatalf("unload: %s %v", atlas, err)
	}
}

func TestErrorsCarryCodePointerAndDetails(t *testing.T) {
	r := newResolver(t)
	_, err := r.Resolve([]byte(`{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g","risk_tier":7}}`))
	var e *cra.Error
	if !errors.As(err, &e) || e.Code != cra.CodeInvalidRequest || !e.HasPointer || e.Pointer == "" {
		t.Fatalf("bad request: %#v", err)
	}
	if !strings.HasPrefix(e.Error(), "cra: INVALID_REQUEST: ") || !strings.Contains(e.Error(), e.Pointer) {
		t.Errorf("text %q", e.Error())
	}
	if e.Internal() {
		t.Error("an input error is not internal")
	}
	_, err = r.UnloadAtlas("no.such.atlas")
	if !errors.As(err, &e) || e.Code != cra.CodeAtlasNotFound || !errors.Is(err, &cra.Error{Code: cra.CodeAtlasNotFound}) {
		t.Errorf("unload unknown: %#v", err)
	}
	// An atlas with several problems lists them all in Details.
	_, err = r.LoadAtlas([]byte(`{"atlas_version":"1.0","atlas_id":"x","version":"1","name":"x","description":"",
		"actions":[{"action_id":"a","name":"a","description":""},{"action_id":"a","name":"a","description":""}],
		"policies":[{"policy_id":"p","type":"nonsense"}]}`))
	if !errors.As(err, &e) || e.Code != cra.CodeInvalidAtlas || len(e.Details) == 0 {
		t.Errorf("invalid atlas: %#v", err)
	}
	// Invalid UTF-8 is refused by the C ABI itself.
	_, err = r.Resolve([]byte{0xff, 0xfe})
	if !errors.Is(err, cra.CodeInvalidUTF8) || !err.(*cra.Error).Internal() {
		t.Errorf("invalid utf-8: %v", err)
	}
	if err := r.AdvanceClock(time.Second); err != nil {
		t.Errorf("advance a deterministic clock: %v", err)
	}
	if err := r.AdvanceClockMicros(-1); !errors.Is(err, cra.CodeInvalidRequest) {
		t.Errorf("negative advance: %v", err)
	}
	if _, err := cra.VerifyTraceFile("/no/such/trace.jsonl"); !errors.Is(err, cra.CodeIOError) {
		t.Errorf("verify missing file: %v", err)
	}
	if _, err := cra.Replay([]byte(""), []byte(`{}`)); !errors.Is(err, cra.CodeInvalidRequest) {
		t.Errorf("replay with an object: %v", err)
	}
	if cra.CodeAtlasNotFound.String() != "ATLAS_NOT_FOUND" || cra.Code(4242).Name() != "UNKNOWN" {
		t.Error("code names")
	}
	if cra.Verdict(9).String() != "unknown(9)" || cra.Verdict(9).Known() || !cra.PendingApproval.Known() {
		t.Error("verdict names")
	}
}

func TestClose(t *testing.T) {
	r, err := cra.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.Resolve(resolveReq("s")); !errors.Is(err, cra.CodeClosed) {
		t.Errorf("resolve after close: %v", err)
	}
	if _, err := r.Check("s", "a"); !errors.Is(err, cra.CodeClosed) {
		t.Errorf("check after close: %v", err)
	}
	if r.String() != "cra.Resolver(closed)" {
		t.Error(r.String())
	}
}

// TestConcurrentUse hammers one resolver from many goroutines (run it with -race): resolves,
// executes and checks on separate sessions, drains competing for events, and a Close that
// races with all of them. Every event is drained exactly once and the union verifies.
func TestConcurrentUse(t *testing.T) {
	r, err := cra.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadAtlasDir(atlasDir); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	var trace []byte
	errs := make(chan error, workers*2)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			session := fmt.Sprintf("s-%d", w)
			for i := 0; i < rounds; i++ {
				res, err := cra.Decode[cra.Resolution](r.Resolve(resolveReq(session)))
				if err != nil {
					errs <- err
					return
				}
				if v, err := r.Check(session, "orders.lookup"); err != nil || v != cra.Allowed {
					errs <- fmt.Errorf("check: %v %v", v, err)
					return
				}
				_, err = r.Execute(cra.MustJSON(map[string]any{
					"requester": map[string]string{"agent_id": "support-bot", "session_id": session},
					"execution": map[string]any{"resolution_id": res.ResolutionID, "action_id": "orders.lookup",
						"parameters": map[string]string{"order_id": "ORD-1234"}},
				}))
				if err != nil {
					errs <- err
					return
				}
				if i%5 == 0 {
					// Drain and append under one lock: two drains take disjoint events,
					// but their pieces must be appended in the order they were taken.
					mu.Lock()
					t, err := r.DrainTrace()
					trace = append(trace, t...)
					mu.Unlock()
					if err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rest, err := r.DrainTrace()
	if err != nil {
		t.Fatal(err)
	}
	trace = append(trace, rest...)
	// Each event is drained once and in order, so the pieces together must verify.
	rep, err := cra.Decode[cra.VerifyReport](cra.VerifyTrace(trace))
	if err != nil || !rep.OK || rep.Sessions != workers {
		t.Fatalf("verify: %+v %v", rep, err)
	}

	// Close racing with calls: calls either complete or fail with CodeClosed, never crash.
	var wg2 sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for i := 0; i < 200; i++ {
				if _, err := r.Check("s-0", "orders.lookup"); err != nil {
					if !errors.Is(err, cra.CodeClosed) {
						t.Error(err)
					}
					return
				}
			}
		}()
	}
	time.Sleep(time.Millisecond)
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	wg2.Wait()
}
