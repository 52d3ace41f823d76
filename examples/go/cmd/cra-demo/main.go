// Command cra-demo is CRA from Go, the twin of examples/c/demo.c: it loads the customer-support
// atlas, resolves what a support agent may do, checks and authorizes one tool call, reports its
// result, ends the session, then drains the trace and verifies its hash chain.
//
//	make build-ffi
//	cd examples/go && go run ./cmd/cra-demo ../atlases/customer-support
package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"cra.example/cra"
)

func main() {
	dir := "examples/atlases/customer-support"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := run(dir); err != nil {
		fmt.Fprintln(os.Stderr, "cra-demo:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	r, err := cra.New(nil)
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Printf("libcra %s (ABI %d)\n", cra.Version(), cra.ABIVersion())

	info, err := cra.Decode[cra.AtlasInfo](r.LoadAtlasDir(dir))
	if err != nil {
		return fmt.Errorf("load %s: %w", dir, err)
	}
	fmt.Printf("loaded   %s %s (%d actions, %d policies)\n", info.AtlasID, info.Version, info.Actions, info.Policies)

	const session = "demo-go-1"
	requester := map[string]string{"agent_id": "support-bot", "session_id": session}
	res, err := cra.Decode[cra.Resolution](r.Resolve(cra.MustJSON(map[string]any{
		"requester": requester,
		"task":      map[string]any{"goal": "Where is order ORD-1234? The customer wants a refund."},
	})))
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	fmt.Printf("resolved %s: %s, %d allowed, %d denied, %d pending, %d context blocks\n", res.ResolutionID,
		res.Decision.Type, len(res.AllowedActions), len(res.DeniedActions), len(res.PendingActions), len(res.ContextBlocks))

	verdict, err := r.Check(session, "orders.lookup")
	if err != nil {
		return err
	}
	fmt.Printf("check    orders.lookup -> %s\n", verdict)

	answer, err := cra.Decode[cra.ExecuteAnswer](r.Execute(cra.MustJSON(map[string]any{
		"requester": requester,
		"execution": map[string]any{"resolution_id": res.ResolutionID, "action_id": "orders.lookup",
			"parameters": map[string]any{"order_id": "ORD-1234"}},
	})))
	if err != nil {
		return fmt.Errorf("execute: %w", err)
	}
	if answer.Status != "authorized" {
		return fmt.Errorf("the call was not authorized: %+v", answer)
	}
	fmt.Printf("execute  %s %s\n", answer.Status, answer.ExecutionID)

	// ... the host runs the tool here, then reports what it returned ...
	rep, err := r.Report(cra.MustJSON(map[string]any{
		"execution_id": answer.ExecutionID, "result": map[string]any{"status": "delivered"}, "duration_ms": 3.5,
	}))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Printf("report   %s\n", rep)

	if _, err := r.EndSession(cra.MustJSON(map[string]any{"session_id": session, "reason": "done"})); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if err := r.Flush(5 * time.Second); err != nil {
		return err
	}
	trace, err := r.DrainTrace()
	if err != nil {
		return err
	}
	report, err := cra.Decode[cra.VerifyReport](cra.VerifyTrace(trace))
	if err != nil {
		return err
	}
	fmt.Printf("trace    %d events, verify: ok=%v, %d sessions\n", bytes.Count(trace, []byte("\n")), report.OK, report.Sessions)
	if !report.OK {
		return fmt.Errorf("TRACE DID NOT VERIFY: %+v", report.Errors)
	}
	fmt.Println("demo: trace verified")
	return nil
}
