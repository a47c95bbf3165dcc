package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"

	"podium/engine"
)

// TestStmtCache checks that a transaction's statements are prepared after it
// and reused by the next ones, and that the cache stays bounded.
func TestStmtCache(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "podium.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.Store
	lookup := func(key string) {
		t.Helper()
		if err := c.InTx(ctx, func(tx engine.Tx) error {
			_, err := tx.Event(ctx, key)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	d := s.drv
	lookup("a")
	d.stmts.mu.Lock()
	n, pending := len(d.stmts.stmts), len(d.stmts.pending)
	d.stmts.mu.Unlock()
	if n != 1 || pending != 0 {
		t.Fatalf("after one transaction: %d prepared, %d pending; want 1, 0", n, pending)
	}
	lookup("b") // runs the prepared statement
	for i := range 2 * maxCachedStmts {
		d.stmts.get(fmt.Sprintf("SELECT %d", i))
	}
	d.stmts.mu.Lock()
	total := len(d.stmts.stmts) + len(d.stmts.pending)
	d.stmts.mu.Unlock()
	if total > maxCachedStmts {
		t.Fatalf("%d statements cached or pending, want at most %d", total, maxCachedStmts)
	}
}
