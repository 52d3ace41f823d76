// Package corpus runs the shared conformance corpus (conformance/) through the Go binding,
// interpreting it exactly as the Rust runner does (conformance/runner/src/run.rs): manifest
// check, fresh deterministic resolver per case, subset matching, tamper operations, drain
// summaries, expected-failure lists where an unexpected pass fails.
package corpus

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Kind is how one case ended.
type Kind int

// The outcomes of a case.
const (
	Pass  Kind = iota // passed
	Fail              // failed, not in the expected-failure list
	XFail             // failed, as the expected-failure list says
	XPass             // listed as an expected failure but passed: fails the run
)

// Result is one case's outcome: the first failure (Fail) or the listed reason (XFail, XPass).
type Result struct {
	ID     string
	Kind   Kind
	Detail string
}

// Report is a corpus run.
type Report struct {
	Cases         []Result
	ExpectedTotal int      // the manifest's total
	Errors        []string // manifest drift, unreadable files, unknown or duplicate ids
}

// OK: every case ran, none failed unexpectedly, no expected failure passed, no corpus error.
func (r *Report) OK() bool {
	if len(r.Errors) > 0 || len(r.Cases) != r.ExpectedTotal {
		return false
	}
	for _, c := range r.Cases {
		if c.Kind == Fail || c.Kind == XPass {
			return false
		}
	}
	return true
}

// Counts returns (passed, failed, expected failures, unexpected passes).
func (r *Report) Counts() (p, f, xf, xp int) {
	for _, c := range r.Cases {
		switch c.Kind {
		case Pass:
			p++
		case Fail:
			f++
		case XFail:
			xf++
		case XPass:
			xp++
		}
	}
	return
}

// Failed is the number the closing line reports as failed: failures, unexpected passes, corpus
// errors and cases the manifest promises that did not run.
func (r *Report) Failed() int {
	_, f, _, xp := r.Counts()
	short := r.ExpectedTotal - len(r.Cases)
	if short < 0 {
		short = 0
	}
	return f + xp + len(r.Errors) + short
}

// Render is the human report: one line per case, then `N passed, N failed`.
func (r *Report) Render(binding string) string {
	var s strings.Builder
	for _, e := range r.Errors {
		fmt.Fprintf(&s, "ERROR  %s\n", e)
	}
	for _, c := range r.Cases {
		switch c.Kind {
		case Pass:
			fmt.Fprintf(&s, "ok     %s\n", c.ID)
		case Fail:
			fmt.Fprintf(&s, "FAIL   %s: %s\n", c.ID, c.Detail)
		case XFail:
			fmt.Fprintf(&s, "xfail  %s: %s\n", c.ID, c.Detail)
		case XPass:
			fmt.Fprintf(&s, "XPASS  %s: listed as expected failure (%s) but passed\n", c.ID, c.Detail)
		}
	}
	p, _, xf, xp := r.Counts()
	fmt.Fprintf(&s, "conformance[%s]: ran %d of %d cases; %d expected failures, %d unexpected passes\n",
		binding, len(r.Cases), r.ExpectedTotal, xf, xp)
	fmt.Fprintf(&s, "%d passed, %d failed\n", p, r.Failed())
	return s.String()
}

// LoadXfail reads xfail/<binding>.json ({"case-id": "reason"}); an absent file means none.
func LoadXfail(root, binding string) (map[string]string, error) {
	p := filepath.Join(root, "xfail", binding+".json")
	b, err := os.ReadFile(p)
	if err != nil {
		return map[string]string{}, nil
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return m, nil
}

// caseFiles lists the .json files under dir, recursively, in sorted order.
func caseFiles(dir string, out *[]string) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			caseFiles(p, out)
		} else if filepath.Ext(p) == ".json" {
			*out = append(*out, p)
		}
	}
}

func readJSON(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(b)
}

// Run runs every case of the corpus at root through the Go binding.
func Run(root string, xfail map[string]string) *Report {
	rep := &Report{}
	manifest, err := readJSON(filepath.Join(root, "manifest.json"))
	if err != nil {
		rep.Errors = append(rep.Errors, "cannot read manifest.json: "+err.Error())
		return rep
	}
	total, _ := asU64(get(manifest, "total"))
	rep.ExpectedTotal = int(total)
	listed := map[string]uint64{}
	var sum uint64
	if files, ok := get(manifest, "files").(map[string]any); ok {
		for k, v := range files {
			n, _ := asU64(v)
			listed[k] = n
			sum += n
		}
	}
	if int(sum) != rep.ExpectedTotal {
		rep.Errors = append(rep.Errors, fmt.Sprintf("manifest total %d is not the sum of its per-file counts", rep.ExpectedTotal))
	}
	var files []string
	caseFiles(filepath.Join(root, "cases"), &files)
	relOf := func(p string) string {
		r, err := filepath.Rel(root, p)
		if err != nil {
			r = p
		}
		return filepath.ToSlash(r)
	}
	seen := map[string]bool{}
	for _, file := range files {
		rel := relOf(file)
		doc, err := readJSON(file)
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", rel, err))
			continue
		}
		cases, _ := get(doc, "cases").([]any)
		if n, ok := listed[rel]; !ok {
			rep.Errors = append(rep.Errors, rel+" is not in manifest.json")
		} else if int(n) != len(cases) {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s has %d cases; manifest.json says %d", rel, len(cases), n))
		}
		fixtures, _ := get(doc, "atlases").(map[string]any)
		for _, c := range cases {
			id, ok := str(get(c, "id"))
			if !ok {
				id = "<no id>"
			}
			if seen[id] {
				rep.Errors = append(rep.Errors, "duplicate case id "+id)
			}
			seen[id] = true
			failure := runCase(c, fixtures, root)
			reason, listedX := xfail[id]
			res := Result{ID: id}
			switch {
			case failure == "" && !listedX:
				res.Kind = Pass
			case failure == "":
				res.Kind, res.Detail = XPass, reason
			case !listedX:
				res.Kind, res.Detail = Fail, failure
			default:
				res.Kind, res.Detail = XFail, reason
			}
			rep.Cases = append(rep.Cases, res)
		}
	}
	for f := range listed {
		found := false
		for _, p := range files {
			if relOf(p) == f {
				found = true
				break
			}
		}
		if !found {
			rep.Errors = append(rep.Errors, "manifest.json lists "+f+", which does not exist")
		}
	}
	for id := range xfail {
		if !seen[id] {
			rep.Errors = append(rep.Errors, "expected-failure list names unknown case "+id)
		}
	}
	return rep
}
