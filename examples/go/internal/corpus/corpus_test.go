package corpus

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// root is the repository's conformance/ directory (tests run in this package's directory).
var root = filepath.Join("..", "..", "..", "..", "conformance")

// TestCorpus runs the whole corpus, asserts the manifest's count, honours xfail/go.json and
// prints one line per case and the closing `N passed, N failed` line.
func TestCorpus(t *testing.T) {
	xfail, err := LoadXfail(root, "go")
	if err != nil {
		t.Fatal(err)
	}
	rep := Run(root, xfail)
	fmt.Print(rep.Render("go"))
	if rep.ExpectedTotal == 0 || len(rep.Cases) != rep.ExpectedTotal {
		t.Errorf("ran %d cases; the manifest says %d", len(rep.Cases), rep.ExpectedTotal)
	}
	if !rep.OK() {
		t.Errorf("the corpus failed through the Go binding (%d failed); see the lines above", rep.Failed())
	}
}

// TestWrongCorpusFails proves the runner can fail: the deliberately wrong corpus must report
// one pass, a wrong decision, a wrong error code and an unexpected pass.
func TestWrongCorpusFails(t *testing.T) {
	wrong := filepath.Join(root, "runner", "tests", "fixtures", "wrong")
	// The fixture ships one expected-failure list, written for the core runner; it is the
	// corpus's own list, so every binding's runner reads it.
	xfail, err := LoadXfail(wrong, "core")
	if err != nil || len(xfail) != 1 {
		t.Fatalf("the wrong corpus's xfail list: %v %v", xfail, err)
	}
	rep := Run(wrong, xfail)
	out := rep.Render("go")
	want := []struct {
		id   string
		kind Kind
		in   string
	}{
		{"selftest/right", Pass, ""},
		{"selftest/wrong-decision", Fail, "/decision/type"},
		{"selftest/wrong-error-code", Fail, "INVALID_REQUEST"},
		{"selftest/xpass", XPass, ""},
	}
	if len(rep.Cases) != len(want) {
		t.Fatalf("ran %d cases:\n%s", len(rep.Cases), out)
	}
	for i, w := range want {
		c := rep.Cases[i]
		if c.ID != w.id || c.Kind != w.kind || !strings.Contains(c.Detail, w.in) {
			t.Errorf("case %d: got %+v, want %s kind %d mentioning %q", i, c, w.id, w.kind, w.in)
		}
	}
	if rep.OK() {
		t.Error("the wrong corpus passed")
	}
	if !strings.HasSuffix(out, "1 passed, 3 failed\n") {
		t.Errorf("closing line:\n%s", out)
	}
}

// TestManifestDriftFails: a manifest promising more cases than exist fails the run, and the
// shortfall counts as failed.
func TestManifestDriftFails(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(root, "runner", "tests", "fixtures", "wrong", "cases", "deliberately-wrong.json"))
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.MkdirAll(filepath.Join(dir, "cases"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "cases", "a.json"), src, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"total": 5, "files": {"cases/a.json": 5}}`), 0o644))
	rep := Run(dir, nil)
	if rep.OK() || len(rep.Cases) != 4 {
		t.Fatalf("drift not caught: %+v", rep)
	}
	found := false
	for _, e := range rep.Errors {
		found = found || strings.Contains(e, "has 4 cases; manifest.json says 5")
	}
	if !found {
		t.Errorf("errors: %v", rep.Errors)
	}
	// An unknown id in the expected-failure list fails the run too.
	if rep := Run(dir, map[string]string{"no/such-case": "x"}); !strings.Contains(strings.Join(rep.Errors, "\n"), "unknown case no/such-case") {
		t.Errorf("unknown xfail id not reported: %v", rep.Errors)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
