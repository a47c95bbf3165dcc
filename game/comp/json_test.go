package comp_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"podium/game"
	"podium/game/comp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestPlanJSONRoundTrip decodes a plan with every component kind and every
// field strictly, validates it, and encodes it back to the same bytes.
func TestPlanJSONRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/plan_full.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := comp.ParsePlan(data)
	if err != nil {
		t.Fatalf("ParsePlan: %v", err)
	}
	kinds := map[comp.Kind]bool{}
	for _, c := range p.Components {
		kinds[c.Kind] = true
	}
	if len(kinds) != 5 {
		t.Errorf("the full plan has kinds %v, want all five", kinds)
	}
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plan_full.json", append(out, '\n'))
	again, err := comp.ParsePlan(out)
	if err != nil {
		t.Fatalf("re-parse: %v", err)
	}
	out2, _ := json.Marshal(again)
	out1, _ := json.Marshal(p)
	if !bytes.Equal(out1, out2) {
		t.Errorf("round trip changed the plan:\n%s\n%s", out1, out2)
	}
	// Money and percentages travel as strings.
	if !strings.Contains(string(out), `"cap": "40000.00"`) || !strings.Contains(string(out), `"rate": "4.5"`) {
		t.Errorf("decimals are not JSON strings:\n%s", out)
	}
}

// TestDocExample parses the example plan of the package documentation, so
// the documentation cannot drift from what the code accepts.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	const start = "// An example with every kind (it is parsed by the package's tests):\n//\n"
	i := bytes.Index(src, []byte(start))
	if i < 0 {
		t.Fatal("doc.go has no example plan")
	}
	var js strings.Builder
	for _, line := range strings.Split(string(src[i+len(start):]), "\n") {
		if !strings.HasPrefix(line, "//\t") {
			break
		}
		js.WriteString(strings.TrimPrefix(line, "//\t") + "\n")
	}
	p, err := comp.ParsePlan([]byte(js.String()))
	if err != nil {
		t.Fatalf("the example in doc.go does not parse: %v\n%s", err, js.String())
	}
	if len(p.Components) != 6 {
		t.Errorf("example has %d components, want 6", len(p.Components))
	}
}

func TestParsePlanStrict(t *testing.T) {
	data, err := os.ReadFile("testdata/plan_full.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		json  string
		field string
	}{
		{"unknown field", strings.Replace(string(data), `"cap": "40000.00"`, `"cpa": "40000.00"`, 1), ""},
		{"trailing data", string(data) + "{}", ""},
		{"wrong type", strings.Replace(string(data), `"version": 2`, `"version": "2"`, 1), "version"},
		{"not JSON", "{", ""},
		{"bad decimal", strings.Replace(string(data), `"rate": "4.5"`, `"rate": "4,5"`, 1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := comp.ParsePlan([]byte(tc.json))
			wantError(t, err, game.EInvalid, tc.field)
		})
	}
}
