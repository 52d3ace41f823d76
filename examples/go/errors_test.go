package cra

// The Go error map against the one error table, conformance/errors.json (generated from
// core/src/error.rs; docs/errors.md): no code missing, no extra code, every family agrees.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"
)

type tableEntry struct {
	Code   string `json:"code"`
	Status uint32 `json:"status"`
	Family string `json:"family"`
}

type errorTable struct {
	Families []struct {
		Family string `json:"family"`
	} `json:"families"`
	Codes       []tableEntry `json:"codes"`
	AbiStatuses []tableEntry `json:"abi_statuses"`
}

func loadTable(t *testing.T) errorTable {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "conformance", "errors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tbl errorTable
	if err := json.Unmarshal(b, &tbl); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// constNames are the CRA_STATUS_* names the Code constants of errors.go stand for.
func constNames(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("errors.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+Code\w+\s+Code = C\.CRA_STATUS_(\w+)$`).FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	return names
}

// drift lists every disagreement between a table and the binding's map and constants.
func drift(tbl errorTable, families map[Code]Family, consts []string, name func(Code) string) []string {
	var problems []string
	wanted := map[uint32]tableEntry{}
	for _, e := range append(append([]tableEntry{}, tbl.Codes...), tbl.AbiStatuses...) {
		wanted[e.Status] = e
		c := Code(e.Status)
		if f, ok := families[c]; !ok {
			problems = append(problems, e.Code+" is missing from codeFamilies")
		} else if string(f) != e.Family {
			problems = append(problems, fmt.Sprintf("%s: family %s, the table says %s", e.Code, f, e.Family))
		}
		if n := name(c); n != e.Code {
			problems = append(problems, fmt.Sprintf("%s: status %d is named %s by libcra", e.Code, e.Status, n))
		}
		if !slices.Contains(consts, e.Code) {
			problems = append(problems, e.Code+" has no Code constant")
		}
	}
	for c := range families {
		if _, ok := wanted[uint32(c)]; !ok {
			problems = append(problems, fmt.Sprintf("%s (%d) is in codeFamilies but not in the table", name(c), uint32(c)))
		}
	}
	for _, n := range consts {
		found := n == "OK"
		for _, e := range wanted {
			found = found || e.Code == n
		}
		if !found {
			problems = append(problems, n+" is a Code constant but not in the table")
		}
	}
	fams := map[string]bool{}
	for _, f := range tbl.Families {
		fams[f.Family] = true
	}
	for _, f := range families {
		if !fams[string(f)] {
			problems = append(problems, fmt.Sprintf("family %s is not in the table", f))
		}
	}
	sort.Strings(problems)
	return slices.Compact(problems)
}

func TestErrorMapMatchesTheTable(t *testing.T) {
	if p := drift(loadTable(t), codeFamilies, constNames(t), Code.Name); len(p) > 0 {
		t.Fatalf("conformance/errors.json and the Go map disagree:\n%v", p)
	}
}

func TestErrorDriftCheckCanFail(t *testing.T) {
	tbl := loadTable(t)
	renamed := loadTable(t)
	for i := range renamed.Codes {
		if renamed.Codes[i].Code == "ATLAS_CONFLICT" {
			renamed.Codes[i].Code = "ATLAS_CLASH"
		}
	}
	p := drift(renamed, codeFamilies, constNames(t), Code.Name)
	for _, want := range []string{"ATLAS_CLASH has no Code constant", "ATLAS_CLASH: status 113 is named ATLAS_CONFLICT by libcra", "ATLAS_CONFLICT is a Code constant but not in the table"} {
		if !slices.Contains(p, want) {
			t.Errorf("renamed code: %q not reported in %v", want, p)
		}
	}
	moved := loadTable(t)
	for i := range moved.Codes {
		if moved.Codes[i].Code == "INVALID_PARAMETERS" {
			moved.Codes[i].Family = "action"
		}
	}
	if p := drift(moved, codeFamilies, constNames(t), Code.Name); !slices.Equal(p, []string{"INVALID_PARAMETERS: family request, the table says action"}) {
		t.Errorf("moved code: %v", p)
	}
	fewer := map[Code]Family{}
	for c, f := range codeFamilies {
		if c != CodeTimeout {
			fewer[c] = f
		}
	}
	if p := drift(tbl, fewer, constNames(t), Code.Name); !slices.Equal(p, []string{"TIMEOUT is missing from codeFamilies"}) {
		t.Errorf("missing code: %v", p)
	}
}

func TestErrorFamily(t *testing.T) {
	if CodeInvalidParameters.Family() != FamilyRequest || CodeOK.Family() != "" || Code(4242).Family() != FamilyInternal {
		t.Fatal("Code.Family")
	}
	if (&Error{Code: CodeAtlasNotFound}).Family() != FamilyAtlas {
		t.Fatal("Error.Family")
	}
}
