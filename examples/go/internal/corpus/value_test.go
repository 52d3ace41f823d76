package corpus

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) any {
	t.Helper()
	v, err := parse([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestSubsetMatching(t *testing.T) {
	cases := []struct {
		want, got string
		ok        bool
		at        string
	}{
		{`{"a":1}`, `{"a":1,"b":2}`, true, ""},
		{`{"a":1}`, `{"a":2}`, false, "/a"},
		{`[1,2]`, `[1,2,3]`, false, " (length)"},
		{`{"x":[{"id":"a"}]}`, `{"x":[{"id":"a","n":1}]}`, true, ""},
		{`{"m":1}`, `{}`, false, "/m"},
		{`1.0`, `1`, true, ""},
		{`{"a/b":{"c~":1}}`, `{"a/b":{"c~":2}}`, false, "/a~1b/c~0"},
		{`null`, `null`, true, ""},
		{`"1"`, `1`, false, ""},
	}
	for _, c := range cases {
		p, _, _, bad := mismatch(mustParse(t, c.want), mustParse(t, c.got), "")
		if bad == c.ok || p != c.at {
			t.Errorf("mismatch(%s, %s) = %q %v", c.want, c.got, p, bad)
		}
	}
}

func TestExactEqualityFollowsSerde(t *testing.T) {
	for _, c := range []struct {
		a, b string
		eq   bool
	}{
		{`1`, `1`, true}, {`1`, `1.0`, false}, {`1.0`, `1.00`, true}, {`-1`, `-1`, true},
		{`{"a":[1,"x"]}`, `{"a":[1,"x"]}`, true}, {`{"a":1}`, `{"a":1,"b":null}`, false},
		{`18446744073709551615`, `18446744073709551615`, true},
	} {
		if got := equal(mustParse(t, c.a), mustParse(t, c.b)); got != c.eq {
			t.Errorf("equal(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

func TestTamper(t *testing.T) {
	in := []byte("a\nb\nc\n")
	for _, c := range []struct {
		ops, want string
	}{
		{`null`, "a\nb\nc\n"},
		{`[{"swap":[0,2]}]`, "c\nb\na\n"},
		{`[{"delete":1}]`, "a\nc\n"},
		{`[{"duplicate":0}]`, "a\na\nb\nc\n"},
		{`[{"replace":{"line":1,"find":"b","with":"B"}}]`, "a\nB\nc\n"},
		{`[{"truncate_last_line":0}]`, "a\nb\nc"},
		{`[{"truncate_last_line":1},{"delete":0}]`, "a\nb\n"},
		{`[{"delete":0},{"delete":0},{"delete":0}]`, ""},
	} {
		got, err := tamper(in, mustParse(t, c.ops))
		if err != nil || string(got) != c.want {
			t.Errorf("tamper %s = %q, %v; want %q", c.ops, got, err, c.want)
		}
	}
	for _, ops := range []string{`[{"delete":3}]`, `[{"swap":[0,9]}]`, `[{"replace":{"line":0,"find":"z","with":""}}]`, `[{"explode":1}]`, `[{"delete":-1}]`} {
		if _, err := tamper(in, mustParse(t, ops)); err == nil {
			t.Errorf("tamper %s should fail", ops)
		}
	}
	if got := strings.Join(rustLines("x\r\ny\r"), "|"); got != "x|y\r" {
		t.Errorf("rustLines: %q", got)
	}
}

func TestTraceSummary(t *testing.T) {
	got := traceSummary([]byte("{\"event_type\":\"a\",\"session_id\":\"s\",\"event_hash\":\"h1\"}\nnot json\n5\n{\"event_type\":\"b\",\"session_id\":\"s\",\"event_hash\":\"h2\"}\n"))
	want := mustParse(t, `{"count":3,"event_types":["a",null,"b"],"heads":{"s":"h2"}}`)
	if !equal(got, want) {
		t.Errorf("summary %s", show(got))
	}
}

func TestTextSortsKeysWithoutHTMLEscapes(t *testing.T) {
	if got := string(text(mustParse(t, `{"b":1.50,"a":"<&>"}`))); got != `{"a":"<&>","b":1.50}` {
		t.Errorf("text: %s", got)
	}
}
