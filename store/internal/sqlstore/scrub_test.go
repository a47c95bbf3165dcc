package sqlstore

import (
	"encoding/json"
	"testing"
)

func TestScrubber(t *testing.T) {
	sc := newScrubber(map[string]string{
		"Ann":             "Erased person 7",
		"Ann Lee":         "Erased person 7",
		"A&B <x>":         "Erased person 7",
		"ann@example.com": "erased@erased.invalid",
		"r":               "Erased person 7", // too short to look for: it would hit the key "r"
		"":                "ignored",
		"Erased person 7": "Erased person 7", // already a pseudonym
	})
	for _, tc := range []struct {
		name, in, want string
	}{
		{"longest first, in every string, numbers and literals kept",
			`{"r":1,"v":1.50,"name":"Ann Lee","note":"Ann wrote to ann@example.com","list":["Ann",true,null,-2e3]}`,
			`{"r":1,"v":1.50,"name":"Erased person 7","note":"Erased person 7 wrote to erased@erased.invalid","list":["Erased person 7",true,null,-2e3]}`},
		{"escaped as Go's encoder does",
			`{"n":"A\u0026B \u003cx\u003e"}`,
			`{"n":"Erased person 7"}`},
		{"a key that is a name",
			` { "Ann Lee" : [ 1 , {} ] } `,
			`{"Erased person 7":[1,{}]}`},
		{"not JSON: byte by byte",
			`Ann Lee, "A\u0026B \u003cx\u003e", ann@example.com`,
			`Erased person 7, "Erased person 7", erased@erased.invalid`},
		{"nothing to do", `{"k":"Bob"}`, `{"k":"Bob"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(sc.json([]byte(tc.in)))
			if got != tc.want {
				t.Fatalf("json(%s)\n = %s\nwant %s", tc.in, got, tc.want)
			}
			if json.Valid([]byte(tc.in)) && !json.Valid([]byte(got)) {
				t.Fatalf("json(%s) = %s is no longer JSON", tc.in, got)
			}
		})
	}
	if got := sc.text("Ann Lee (Ann) <ann@example.com> r"); got != "Erased person 7 (Erased person 7) <erased@erased.invalid> r" {
		t.Fatalf("text = %q", got)
	}
	if !sc.contains([]byte(`"A\u0026B \u003cx\u003e"`)) || !sc.contains([]byte(`A&B <x>`)) || sc.contains([]byte(`Bob`)) {
		t.Fatal("contains misses an escaped form or finds what is not there")
	}
	if !newScrubber(map[string]string{"": "x", "ab": "x", "abc": "abc"}).empty() {
		t.Fatal("a scrubber of nothing is not empty")
	}
}
