package comp_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencies keeps the compensation math pure like the rest of the
// domain: package comp (without its tests) imports only the standard
// library, shopspring/decimal and podium/game.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list comp's imports: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "podium/game/comp").Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps podium/game/comp: %v\n%s", err, msg)
	}
	allowed := []string{"podium/game/comp", "podium/game", "github.com/shopspring/decimal"}
	for _, p := range strings.Fields(string(out)) {
		if !slices.Contains(allowed, p) {
			t.Errorf("package comp depends on %s; it may import only the standard library, decimal and podium/game", p)
		}
	}
}
