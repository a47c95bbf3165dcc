package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/engine"
	"podium/game"
	"podium/store/sqlite"
	"podium/store/storetest"
)

func open(t testing.TB) *sqlite.Store {
	t.Helper()
	return openPath(t, filepath.Join(t.TempDir(), "podium.db"))
}

// openPath opens a Store on the database at path, closed at cleanup.
func openPath(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.DB {
		path := filepath.Join(t.TempDir(), "podium.db")
		return storetest.DB{
			Store: openPath(t, path),
			// Connections of their own, as another program on the file
			// would have: foreign keys off (SQLite's default), waiting on
			// locks.
			SQL:     storetest.OpenSQL(t, "sqlite", path+"?_pragma=busy_timeout(10000)"),
			Dialect: "sqlite",
			Node:    func(t *testing.T) storetest.Store { return openPath(t, path) },
		}
	})
}

func BenchmarkIngest(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) engine.Store { return open(b) })
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podium.db")
	if err := sqlite.Migrate(ctx, path); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	team, err := s.CreateTeam(ctx, game.Team{Name: "East", Active: true}, game.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Migrating again is a no-op; the data is still there.
	s, err = sqlite.Open(ctx, path, sqlite.Options{SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := sqlite.Migrate(ctx, path); err != nil {
		t.Fatal(err)
	}
	teams, err := s.ListTeams(ctx)
	if err != nil || len(teams) != 1 || teams[0] != team {
		t.Fatalf("ListTeams after reopen = %v, %v; want %v", teams, err, team)
	}
}

func TestOpenRefusesMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory", "x.db?cache=shared"} {
		if s, err := sqlite.Open(context.Background(), path, sqlite.Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded; want an error", path)
		}
	}
}

func TestSkipMigrate(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "podium.db"), sqlite.Options{SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ListTeams(ctx); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("ListTeams without migrations = %v, want no such table", err)
	}
}

// TestLedgerAppendOnly checks the database itself refuses to rewrite ledger
// rows, whatever code tries.
func TestLedgerAppendOnly(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podium.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.CreateRep(ctx, game.Rep{Name: "Ann", Active: true}, game.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx engine.Tx) error {
		return tx.AppendLedger(ctx, "e1", time.Now(), []game.LedgerEntry{{RepID: rep.ID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1}})
	}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"UPDATE ledger SET delta = 2", "DELETE FROM ledger"} {
		if _, err := db.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only error", q, err)
		}
	}
}
