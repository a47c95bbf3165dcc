package migrations_test

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"

	"podium/internal/testsvc"
	"podium/migrations"
)

// TestDialectsInStep checks that every change was written for both dialects.
func TestDialectsInStep(t *testing.T) {
	names := func(d migrations.Dialect) []string {
		fsys, err := migrations.FS(d)
		if err != nil {
			t.Fatal(err)
		}
		files, err := fs.Glob(fsys, "*.sql")
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	pg, lite := names(migrations.Postgres), names(migrations.SQLite)
	if len(pg) == 0 || !slices.Equal(pg, lite) {
		t.Fatalf("postgres migrations %v, sqlite migrations %v: want the same files", pg, lite)
	}
	if _, err := migrations.FS("oracle"); err == nil {
		t.Fatal("FS of an unknown dialect succeeded")
	}
}

func openSQLite(t *testing.T) *sql.DB {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T) *sql.DB {
	db, err := sql.Open("pgx", testsvc.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUpIdempotent(t *testing.T) {
	for _, tc := range []struct {
		dialect migrations.Dialect
		open    func(*testing.T) *sql.DB
	}{{migrations.SQLite, openSQLite}, {migrations.Postgres, openPostgres}} {
		t.Run(string(tc.dialect), func(t *testing.T) {
			ctx := t.Context()
			db := tc.open(t)
			if v, err := migrations.Version(ctx, db, tc.dialect); err != nil || v != 0 {
				t.Fatalf("Version of an empty database = %d, %v; want 0", v, err)
			}
			for range 2 {
				if err := migrations.Up(ctx, db, tc.dialect, nil); err != nil {
					t.Fatal(err)
				}
			}
			if v, err := migrations.Version(ctx, db, tc.dialect); err != nil || v < 1 {
				t.Fatalf("Version after Up = %d, %v", v, err)
			}
		})
	}
}

// TestUpConcurrent starts several "nodes" migrating one fresh Postgres schema
// at once: the advisory lock makes one apply and the others find nothing to do.
func TestUpConcurrent(t *testing.T) {
	url := testsvc.PostgresURL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := sql.Open("pgx", url)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- migrations.Up(t.Context(), db, migrations.Postgres, nil)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestSameSchema checks that both dialects end with the same tables, columns
// and indexes.
func TestSameSchema(t *testing.T) {
	ctx := t.Context()
	lite, pg := openSQLite(t), openPostgres(t)
	for _, m := range []struct {
		db *sql.DB
		d  migrations.Dialect
	}{{lite, migrations.SQLite}, {pg, migrations.Postgres}} {
		if err := migrations.Up(ctx, m.db, m.d, nil); err != nil {
			t.Fatal(err)
		}
	}
	liteCols := query(t, ctx, lite, `SELECT m.name || '.' || p.name FROM sqlite_schema m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name != 'goose_db_version'`)
	pgCols := query(t, ctx, pg, `SELECT table_name || '.' || column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name != 'goose_db_version'`)
	if !slices.Equal(liteCols, pgCols) {
		t.Errorf("columns differ:\nsqlite   %v\npostgres %v", liteCols, pgCols)
	}
	liteIdx := query(t, ctx, lite, `SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL`)
	pgIdx := query(t, ctx, pg, `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()
		AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE '%key'`)
	if !slices.Equal(liteIdx, pgIdx) || len(pgIdx) == 0 {
		t.Errorf("indexes differ: sqlite %v, postgres %v", liteIdx, pgIdx)
	}
}

func query(t *testing.T, ctx context.Context, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.ToLower(s))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out) // byte order, whatever the database's collation
	return out
}

// stepwise runs fn on a fresh database of each dialect, with a goose
// provider to migrate it step by step (UpTo, DownTo).
func stepwise(t *testing.T, fn func(t *testing.T, dialect migrations.Dialect, db *sql.DB, p *goose.Provider)) {
	for _, tc := range []struct {
		dialect migrations.Dialect
		goose   goose.Dialect
		open    func(*testing.T) *sql.DB
	}{{migrations.SQLite, goose.DialectSQLite3, openSQLite}, {migrations.Postgres, goose.DialectPostgres, openPostgres}} {
		t.Run(string(tc.dialect), func(t *testing.T) {
			db := tc.open(t)
			fsys, err := migrations.FS(tc.dialect)
			if err != nil {
				t.Fatal(err)
			}
			p, err := goose.NewProvider(tc.goose, db, fsys, goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
			if err != nil {
				t.Fatal(err)
			}
			fn(t, tc.dialect, db, p)
		})
	}
}

// execAll runs statements in order and stops the test at the first that
// fails.
func execAll(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// refused checks that the database refuses each statement.
func refused(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.ExecContext(t.Context(), q); err == nil {
			t.Errorf("%s was accepted", q)
		}
	}
}

// TestOutboxByEventKey migrates an outbox written under 00001 (an applied
// row, two pending rows of one event key) to 00002, checks what is left and
// that event keys are unique, then migrates down and up again.
func TestOutboxByEventKey(t *testing.T) {
	stepwise(t, func(t *testing.T, dialect migrations.Dialect, db *sql.DB, p *goose.Provider) {
		ctx := t.Context()
		if _, err := p.UpTo(ctx, 1); err != nil {
			t.Fatal(err)
		}
		execAll(t, db,
			`INSERT INTO outbox (event_key, payload, created_at, applied_at) VALUES ('done', '', 1, 2)`,
			`INSERT INTO outbox (event_key, payload, created_at) VALUES ('twice', 'first', 3), ('twice', 'second', 4), ('once', '', 5)`)
		if err := migrations.Up(ctx, db, dialect, nil); err != nil {
			t.Fatal(err)
		}
		got := query(t, ctx, db, `SELECT event_key || ':' || created_at FROM outbox`)
		if want := []string{"once:5", "twice:3"}; !slices.Equal(got, want) {
			t.Fatalf("outbox after 00002 = %v, want %v", got, want)
		}
		refused(t, db, `INSERT INTO outbox (event_key, payload, created_at) VALUES ('once', '', 6)`)
		if _, err := p.DownTo(ctx, 1); err != nil {
			t.Fatal(err)
		}
		execAll(t, db, `INSERT INTO outbox (event_key, payload, created_at, applied_at) VALUES ('once', '', 6, 7)`)
		if err := migrations.Up(ctx, db, dialect, nil); err != nil {
			t.Fatal(err)
		}
		if got := query(t, ctx, db, `SELECT event_key || ':' || created_at FROM outbox`); !slices.Equal(got, []string{"once:5", "twice:3"}) {
			t.Fatalf("outbox after down and up = %v", got)
		}
	})
}

// TestIdentity migrates a database holding a team hierarchy, a user and an
// audit entry down to 00002 and up again, and checks on the way that the
// audit log takes a redaction and refuses any other change.
func TestIdentity(t *testing.T) {
	stepwise(t, func(t *testing.T, dialect migrations.Dialect, db *sql.DB, p *goose.Provider) {
		ctx := t.Context()
		if _, err := p.UpTo(ctx, 3); err != nil {
			t.Fatal(err)
		}
		execAll(t, db,
			`INSERT INTO teams (name) VALUES ('Company')`,
			`INSERT INTO teams (name, parent_id) VALUES ('East', 1)`,
			`INSERT INTO reps (name, team_id) VALUES ('Ann', 2)`,
			`INSERT INTO users (email, name, role, rep_id, created_at) VALUES ('ann@example.com', 'Ann', 'rep', 1, 1)`,
			`INSERT INTO audit_log (seq, at, actor, action, object, after, digest, prev_hash, hash)
			 VALUES (1, 1, 'cli', 'user.create', 'user:1', '{"name":"Ann"}', 'd', '', 'h')`,
			`UPDATE audit_log SET after = '{"redacted":true}', redacted = TRUE WHERE seq = 1`,
		)
		refused(t, db,
			`INSERT INTO teams (name, parent_id) VALUES ('Nowhere', 99)`,
			`INSERT INTO users (email, name, role, created_at) VALUES ('ann@example.com', 'Ann 2', 'admin', 1)`,
			`INSERT INTO users (email, name, role, rep_id, created_at) VALUES ('x@example.com', 'X', 'rep', 1, 1)`,
			`UPDATE audit_log SET hash = 'x' WHERE seq = 1`,
			`UPDATE audit_log SET after = '{}' WHERE seq = 1`,
			`DELETE FROM audit_log`,
		)
		if _, err := p.DownTo(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if got := query(t, ctx, db, `SELECT name FROM teams`); !slices.Equal(got, []string{"company", "east"}) {
			t.Fatalf("teams after down = %v", got)
		}
		if err := migrations.Up(ctx, db, dialect, nil); err != nil {
			t.Fatal(err)
		}
		if got := query(t, ctx, db, `SELECT name FROM teams WHERE parent_id IS NULL`); len(got) != 2 {
			t.Fatalf("teams with no parent after down and up = %v, want both", got)
		}
	})
}

// TestComp migrates a database holding a plan, an assignment, a pay line, a
// locked statement and a dispute down to 00003 and up again, and checks on
// the way what the database itself refuses: an assignment of both a rep and
// a team or neither, any change to a pay line, and any change to a locked
// statement but marking it paid.
func TestComp(t *testing.T) {
	stepwise(t, func(t *testing.T, dialect migrations.Dialect, db *sql.DB, p *goose.Provider) {
		ctx := t.Context()
		if _, err := p.UpTo(ctx, 4); err != nil {
			t.Fatal(err)
		}
		execAll(t, db,
			`INSERT INTO teams (name) VALUES ('East')`,
			`INSERT INTO reps (name, team_id) VALUES ('Ann', 1)`,
			`INSERT INTO comp_plans (id, version, effective_from, body, created_at, created_by)
			 VALUES ('ae', 1, '2026-01-01', '{"id":"ae"}', 1, 'cli')`,
			`INSERT INTO comp_assignments (plan_id, rep_id, from_day, created_at) VALUES ('ae', 1, '2026-01-01', 1)`,
			`INSERT INTO comp_assignments (plan_id, team_id, from_day, created_at) VALUES ('ae', 1, '2026-01-01', 1)`,
			`INSERT INTO quotas (rep_id, period, instance, amount, currency) VALUES (1, 'month', '2026-11', '10000.00', 'USD')`,
			`INSERT INTO pay_ledger (rep_id, period, posted_in, component, kind, amount, currency, actor, at)
			 VALUES (1, '2026-11', '2026-11', 'base', 'earned', '123.45', 'USD', 'system', 1)`,
			`INSERT INTO statements (rep_id, period, status, snapshot, hash) VALUES (1, '2026-11', 'locked', '{"total":"123.45"}', 'h')`,
			`INSERT INTO disputes (rep_id, period, line_id, status, opened_by, opened_at) VALUES (1, '2026-11', 1, 'open', 'user:1', 1)`,
			`INSERT INTO dispute_comments (dispute_id, by_actor, at, body) VALUES (1, 'user:1', 1, 'too low')`,
			`UPDATE statements SET status = 'paid', stamps = '{"paid":{}}' WHERE rep_id = 1`,
		)
		refused(t, db,
			`INSERT INTO comp_assignments (plan_id, rep_id, team_id, from_day, created_at) VALUES ('ae', 1, 1, '2027-01-01', 1)`,
			`INSERT INTO comp_assignments (plan_id, from_day, created_at) VALUES ('ae', '2027-01-01', 1)`,
			`INSERT INTO comp_plans (id, version, effective_from, body, created_at, created_by)
			 VALUES ('ae', 1, '2027-01-01', '{}', 1, 'cli')`,
			`INSERT INTO quotas (rep_id, period, instance, amount, currency) VALUES (99, 'month', '2026-11', '1', 'USD')`,
			`UPDATE pay_ledger SET amount = 1`,
			`DELETE FROM pay_ledger`,
			`UPDATE statements SET snapshot = '{"total":"0"}'`,
			`UPDATE statements SET hash = 'x'`,
			`UPDATE statements SET status = 'draft'`,
			`DELETE FROM statements`,
		)
		if _, err := p.DownTo(ctx, 3); err != nil {
			t.Fatal(err)
		}
		if got := query(t, ctx, db, `SELECT name FROM reps`); !slices.Equal(got, []string{"ann"}) {
			t.Fatalf("reps after down = %v", got)
		}
		if err := migrations.Up(ctx, db, dialect, nil); err != nil {
			t.Fatal(err)
		}
		if got := query(t, ctx, db, `SELECT COUNT(*) FROM pay_ledger`); !slices.Equal(got, []string{"0"}) {
			t.Fatalf("pay lines after down and up = %v, want none", got)
		}
	})
}
