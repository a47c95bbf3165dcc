package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the suite's own connections

	"podium/engine"
	"podium/game"
	"podium/internal/testsvc"
	"podium/store/postgres"
	"podium/store/storetest"
)

// open returns a Store on a fresh schema of the test database and its URL.
func open(t testing.TB) (*postgres.Store, string) {
	t.Helper()
	url := testsvc.PostgresURL(t)
	if err := postgres.Migrate(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, url
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.DB {
		s, url := open(t)
		return storetest.DB{
			Store:   s,
			SQL:     storetest.OpenSQL(t, "pgx", url),
			Dialect: "postgres",
			// A second pool on the same schema: another Podium node.
			Node: func(t *testing.T) storetest.Store {
				n, err := postgres.Open(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { n.Close() })
				return n
			},
		}
	})
}

func BenchmarkIngest(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) engine.Store {
		s, _ := open(b)
		return s
	})
}

// TestSchema checks that everything lands in the URL's search_path schema,
// goose's version table included, and that Migrate on it is a no-op.
func TestSchema(t *testing.T) {
	ctx := t.Context()
	s, url := open(t)
	if _, err := s.CreateTeam(ctx, game.Team{Name: "East"}, game.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name", schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := "activities audit_log comp_assignments comp_plans comp_state comp_work deals dispute_comments disputes " +
		"events fx_rates goose_db_version ledger outbox password_resets pay_ledger quotas reps sessions statements " +
		"teams tokens user_teams users"
	if got := strings.Join(tables, " "); got != want {
		t.Fatalf("tables in %s: %s, want %s", schema, got, want)
	}
	var version int64
	if err := conn.QueryRow(ctx, "SELECT max(version_id) FROM goose_db_version").Scan(&version); err != nil || version < 1 {
		t.Fatalf("goose version = %d, %v", version, err)
	}
}

// TestLedgerAppendOnly checks the database itself refuses to rewrite ledger
// rows, whatever code tries.
func TestLedgerAppendOnly(t *testing.T) {
	ctx := t.Context()
	s, url := open(t)
	rep, err := s.CreateRep(ctx, game.Rep{Name: "Ann", Active: true}, game.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx engine.Tx) error {
		return tx.AppendLedger(ctx, "e1", time.Date(2026, 11, 28, 15, 4, 5, 0, time.UTC), []game.LedgerEntry{{RepID: rep.ID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1}})
	}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{"UPDATE ledger SET delta = 2", "DELETE FROM ledger"} {
		if _, err := conn.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only error", q, err)
		}
	}
}
