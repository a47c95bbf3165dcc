// Package sqlite is Podium's embedded relational store: engine.Store,
// engine.Directory and engine.CompStore on a SQLite file through
// modernc.org/sqlite (pure Go, no cgo). The queries are the ones
// store/postgres runs too (store/internal/sqlstore).
//
// Concurrency: SQLite allows one writer at a time. A Store therefore keeps
// two pools on the file: a writer with exactly one connection, which every
// transaction and every write waits for in turn (so callers never see
// SQLITE_BUSY from one another), and a pool of read-only connections that
// read committed data concurrently with the writer (WAL mode). A Store is
// safe for concurrent use, with one rule: an InTx callback must not call the
// Store's own writing methods (CreateTeam, MarkApplied, …), which would wait
// for the connection the callback's transaction holds until ctx ends.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"podium/engine"
	"podium/migrations"
	"podium/store/internal/sqlstore"
)

// Store is engine.Store, engine.Directory and engine.CompStore on a SQLite
// database file.
type Store struct {
	*sqlstore.Store
	drv *driver
}

var (
	_ engine.Store     = (*Store)(nil)
	_ engine.Directory = (*Store)(nil)
	_ engine.CompStore = (*Store)(nil)
)

// Options configure Open. The zero value is the default.
type Options struct {
	// SkipMigrate makes Open use the schema as it is instead of applying
	// pending migrations first.
	SkipMigrate bool
}

// busyTimeoutMS is how long a connection waits for a lock held by another
// process (a second podium on the same file, a backup) before failing.
// Within one Store, writes never contend: they share one connection.
const busyTimeoutMS = 10000

// dsn returns the modernc.org/sqlite data source name of path. Every
// connection turns foreign keys on (SQLite's default is off) and waits on
// locks; the writer begins transactions IMMEDIATE, taking the write lock up
// front rather than failing to upgrade a read lock later; readers are
// query_only.
//
// synchronous=FULL makes every commit durable (fsynced) before it returns,
// as DESIGN.md asks of anything acknowledged: an event lost after its 2xx
// would never be sent again. NORMAL would be about four times faster per
// lone commit but can lose the last commits on power loss; group commit
// (many events per transaction) is how ingest amortises the fsync instead.
func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if write {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return path + "?" + q.Encode()
}

func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("sqlite: empty database path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		// A Store opens several connections; each would see its own
		// in-memory database. Tests use a file in t.TempDir().
		return fmt.Errorf("sqlite: %q: give a file path (in-memory and URI names are not supported)", path)
	case strings.ContainsRune(path, '?'):
		return fmt.Errorf("sqlite: %q: a '?' in the path would be read as parameters", path)
	}
	return nil
}

// Open opens (creating if needed) the SQLite database at path, applies
// pending migrations unless opts.SkipMigrate, and returns a Store.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One writer connection, kept for the life of the Store.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first: it creates the file and switches it to WAL
	// before any reader opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if !opts.SkipMigrate {
		if err := migrations.Up(ctx, w, migrations.SQLite, nil); err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
	}
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	d := &driver{w: w, r: r, stmts: newStmtCache(w)}
	return &Store{Store: sqlstore.New(d, dialect(), nil), drv: d}, nil
}

// Migrate applies pending migrations to the SQLite database at path,
// creating it if needed.
func Migrate(ctx context.Context, path string) error {
	if err := checkPath(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := migrations.Up(ctx, db, migrations.SQLite, nil); err != nil {
		return fmt.Errorf("migrate sqlite %s: %w", path, err)
	}
	return nil
}

// dialect is SQLite's side of the shared queries. It needs no deal lock, no
// audit lock, no pay lock and no FOR UPDATE (SKIP LOCKED) because the Store
// has one writer: a transaction that reads a deal, the last audit entry or
// the pay work to claim holds the only write connection until it ends, and
// a second Store on the same file (a second process) waits for it too,
// since the writer begins transactions IMMEDIATE. Nothing to retry either:
// transactions never run concurrently, so they cannot deadlock.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:      "sqlite",
		Anonymous: true,
		// instr compares blobs byte for byte and text character for
		// character, exactly (no wildcards, no case folding).
		Contains: func(haystack, needle string) string { return "instr(" + haystack + ", " + needle + ") > 0" },
		IsUniqueViolation: func(err error) bool {
			c := code(err)
			return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		},
		IsForeignKeyViolation: func(err error) bool {
			return code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
		},
	}
}

// code returns the extended result code of a SQLite error, 0 for others.
func code(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// driver adapts the two database/sql pools to sqlstore.Driver.
type driver struct {
	w, r  *sql.DB
	stmts *stmtCache // statements prepared on the writer
}

func (d *driver) Reader() sqlstore.Querier { return querier{d.r} }
func (d *driver) Writer() sqlstore.Querier { return querier{d.w} }

func (d *driver) Tx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Roll back on error and on panic; after a commit Rollback is a no-op.
	// Either way the one writer connection goes back to the pool.
	defer func() {
		_ = tx.Rollback()
		// The writer is free again: prepare what this transaction ran
		// unprepared, for the next ones.
		d.stmts.flush(ctx)
	}()
	if err := fn(txQuerier{tx: tx, stmts: d.stmts}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (d *driver) Ping(ctx context.Context) error {
	if err := d.w.PingContext(ctx); err != nil {
		return err
	}
	return d.r.PingContext(ctx)
}

func (d *driver) Close() error {
	return errors.Join(d.stmts.close(), d.r.Close(), d.w.Close())
}

// conn is what *sql.DB and *sql.Tx have in common.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// querier adapts a conn to sqlstore.Querier.
type querier struct{ c conn }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.c.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return q.c.QueryRowContext(ctx, query, args...)
}

// txQuerier runs a transaction's statements, prepared ones when the cache
// has them.
type txQuerier struct {
	tx    *sql.Tx
	stmts *stmtCache
}

func (q txQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	st := q.stmts.get(query)
	if st == nil {
		return querier{q.tx}.Exec(ctx, query, args...)
	}
	res, err := q.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q txQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	st := q.stmts.get(query)
	if st == nil {
		return querier{q.tx}.Query(ctx, query, args...)
	}
	rows, err := q.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q txQuerier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	st := q.stmts.get(query)
	if st == nil {
		return q.tx.QueryRowContext(ctx, query, args...)
	}
	return q.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}

// sqlRows gives *sql.Rows the Close of sqlstore.Rows. Every query through
// it is a read whose errors Next and Err have already reported.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
