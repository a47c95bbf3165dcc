package comp_test

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestDependencies keeps the compensation math pure like the rest of the
// domain: package comp (without its tests) imports only the standard
// library, shopspring/decimal and podium/game. Direct imports are enough to
// check: game's own TestDependencies guards what lies below it.
func TestDependencies(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{"podium/game", "github.com/shopspring/decimal"}
	for _, imp := range pkg.Imports {
		standard := !strings.Contains(strings.Split(imp, "/")[0], ".") && !strings.HasPrefix(imp, "podium")
		if !standard && !slices.Contains(allowed, imp) {
			t.Errorf("package comp imports %s; it may import only the standard library and %v", imp, allowed)
		}
	}
	if !slices.Contains(pkg.Imports, "podium/game") {
		t.Errorf("the import list %v looks wrong: comp builds on podium/game", pkg.Imports)
	}
}
