package game_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencies enforces DESIGN.md's rule that the domain is pure: package
// game (without its tests) imports only the standard library and
// shopspring/decimal, never a driver, Fiber or Redis.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list game's imports: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "podium/game").Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps podium/game: %v\n%s", err, msg)
	}
	allowed := []string{"podium/game", "github.com/shopspring/decimal"}
	var got []string
	for _, p := range strings.Fields(string(out)) {
		got = append(got, p)
		if !slices.Contains(allowed, p) {
			t.Errorf("package game depends on %s; it may import only the standard library and %s", p, allowed[1])
		}
	}
	// The listing itself worked: the package and its one allowed outside
	// dependency are there.
	for _, p := range allowed {
		if !slices.Contains(got, p) {
			t.Errorf("go list -deps did not list %s; got %q", p, got)
		}
	}
}
