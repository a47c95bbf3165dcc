// Package postgres is Podium's production relational store: engine.Store,
// engine.Directory and engine.CompStore on Postgres through a pgx v5 pool.
// The queries are the ones store/sqlite runs too (store/internal/sqlstore).
//
// Concurrency: a Store is safe for concurrent use and may be shared by many
// Podium nodes on one database. Transactions run at READ COMMITTED;
// Tx.Prefetch and Tx.Deal serialise the transactions that touch one deal
// with transaction-level advisory locks (which also cover a deal that does
// not exist yet), taken in the order of their keys, and SELECT … FOR
// UPDATE. Transactions that append to the audit log take one more advisory
// lock first, so that nodes append one at a time and the hash chain cannot
// fork. A pay computation (InCompTx) takes an advisory lock on the rep's
// period (CompTx.LockPay), and nodes claim pay work with FOR UPDATE SKIP
// LOCKED, so no two take the same. A transaction that fails with a
// serialization failure or a deadlock is run again, a few times, by InTx.
//
// Round trips: the statements of a batch (Prefetch's reads and locks, the
// buffered writes a transaction sends before COMMIT) go as one pgx batch,
// which pgx pipelines: one round trip whatever the number of statements.
//
// The connection URL may set search_path (…?search_path=myschema): the
// tables and goose's version table then live in that schema.
package postgres

import (
	"context"
	"errors"
	"fmt"

	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"podium/engine"
	"podium/migrations"
	"podium/store/internal/sqlstore"
)

// Store is engine.Store, engine.Directory and engine.CompStore on a Postgres
// database.
type Store struct {
	*sqlstore.Store
}

var (
	_ engine.Store     = (*Store)(nil)
	_ engine.Directory = (*Store)(nil)
	_ engine.CompStore = (*Store)(nil)
)

// Open connects a pool to the database at url (a postgres:// URL or a
// key=value DSN) and returns a Store. It does not migrate: run Migrate first
// (podium migrate, or at start-up; Migrate is safe with several nodes).
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	// NUMERIC columns scan into decimal.Decimal: registered once per
	// connection, before the pool hands it out.
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		pgxdecimal.Register(c.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	return &Store{Store: sqlstore.New(driver{pool}, dialect(), nil)}, nil
}

// Migrate applies pending migrations to the database at url, in the schema
// its search_path names, through pgx's database/sql adapter. Nodes that
// start together may all call it: an advisory lock makes them take turns,
// and the later ones find nothing to do.
func Migrate(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse postgres url: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := migrations.Up(ctx, db, migrations.Postgres, nil); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// SQLSTATE codes the Store reacts to.
const (
	uniqueViolation      = "23505"
	foreignKeyViolation  = "23503"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// dialect is Postgres's side of the shared queries.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:   "postgres",
		Arrays: true,
		// Advisory locks exist before the row does, so two transactions
		// creating the same deal queue up instead of both seeing "unknown".
		// A hash collision only makes two deals share a lock. The locks are
		// taken in key order (Postgres evaluates the output list after the
		// ORDER BY sort), so two transactions locking overlapping sets of
		// deals cannot deadlock on them.
		LockDeals: `SELECT pg_advisory_xact_lock(k)
		              FROM (SELECT DISTINCT hashtextextended(s || '/' || e, 0) AS k
		                      FROM unnest($1::text[], $2::text[]) AS u(s, e)) AS l
		             ORDER BY k`,
		// One lock per schema (tests and tenants that own a schema do not
		// wait for one another), held until the transaction ends.
		LockAudit:             `SELECT pg_advisory_xact_lock(hashtextextended('podium.audit_log.' || current_schema(), 0))`,
		Contains:              func(haystack, needle string) string { return "position(" + needle + " in " + haystack + ") > 0" },
		ForUpdate:             ` FOR UPDATE`,
		IsUniqueViolation:     func(err error) bool { return sqlState(err) == uniqueViolation },
		IsForeignKeyViolation: func(err error) bool { return sqlState(err) == foreignKeyViolation },
		Retryable: func(err error) bool {
			c := sqlState(err)
			return c == serializationFailure || c == deadlockDetected
		},
		MaxAttempts: 5,
		// One lock per schema, rep and period; a hash collision only makes
		// two periods take turns.
		LockPay:    `SELECT pg_advisory_xact_lock(hashtextextended('podium.pay.' || current_schema() || '.' || $1::bigint || '/' || $2::text, 0))`,
		SkipLocked: ` FOR UPDATE SKIP LOCKED`,
	}
}

// sqlState returns the SQLSTATE of a Postgres error, "" for others.
func sqlState(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// driver adapts a pgx pool to sqlstore.Driver.
type driver struct{ pool *pgxpool.Pool }

func (d driver) Reader() sqlstore.Querier { return querier{d.pool} }
func (d driver) Writer() sqlstore.Querier { return querier{d.pool} }

func (d driver) Tx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	var ran bool
	var fnErr error
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		ran = true
		fnErr = fn(querier{tx})
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case !ran:
		return fmt.Errorf("begin: %w", err)
	case fnErr == nil:
		return fmt.Errorf("commit: %w", err)
	}
	return err // fn's own error, as fn returned it
}

func (d driver) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

func (d driver) Close() error {
	d.pool.Close()
	return nil
}

// conn is what *pgxpool.Pool and pgx.Tx have in common.
type conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// querier adapts a conn to sqlstore.Querier. pgx.Rows and pgx.Row satisfy
// sqlstore.Rows and sqlstore.Row as they are, and pgx.ErrNoRows matches
// sql.ErrNoRows.
type querier struct{ c conn }

func (q querier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q querier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.c.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (q querier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return q.c.QueryRow(ctx, sql, args...)
}

// Batch sends stmts as one pgx batch, one round trip, and reads their
// results in order, stopping at the first error. In a transaction the
// statements after a failed one do not run: the transaction is aborted.
func (q querier) Batch(ctx context.Context, stmts []sqlstore.Stmt) (int, error) {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(stmts))}
	for _, st := range stmts {
		b.Queue(st.SQL, st.Args...)
	}
	br := q.c.SendBatch(ctx, b)
	for i, st := range stmts {
		if err := result(br, st); err != nil {
			_ = br.Close() // reports the same error
			return i, err
		}
	}
	return len(stmts), br.Close()
}

// result reads the result of the next statement of br.
func result(br pgx.BatchResults, st sqlstore.Stmt) error {
	if st.Scan == nil {
		_, err := br.Exec()
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	err = st.Scan(rows)
	rows.Close()
	if err != nil {
		return err
	}
	return rows.Err()
}
