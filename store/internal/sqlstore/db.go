// Package sqlstore is the one implementation of engine.Store and engine.Tx
// that store/sqlite and store/postgres share. Every query is written once,
// in the SQL both dialects accept ($n placeholders, ON CONFLICT, RETURNING,
// CAST); what differs lives in a Dialect value and in the small Driver each
// adapter provides over its own client (database/sql for SQLite, pgx for
// Postgres).
//
// A Store is safe for concurrent use. A Tx is not: it belongs to the
// goroutine running the InTx callback and is valid only during it.
package sqlstore

import (
	"context"
	"database/sql"
)

// Querier runs statements on a pool or inside a transaction. Both
// *pgxpool.Pool/pgx.Tx and *sql.DB/*sql.Tx are adapted to it by their store
// package; nothing here knows which one it talks to.
type Querier interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a statement that returns rows. The caller closes them.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow runs a statement expected to return at most one row. Scan
	// reports no row with an error for which errors.Is(err, sql.ErrNoRows).
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is the part of pgx.Rows and *sql.Rows the queries use.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result, as pgx.Row and *sql.Row.
type Row interface {
	Scan(dest ...any) error
}

// ErrNoRows is what Row.Scan reports when there is no row. pgx.ErrNoRows
// matches it too (errors.Is), so both drivers report the same thing.
var ErrNoRows = sql.ErrNoRows

// Driver is a database as the shared queries see it.
type Driver interface {
	// Reader runs reads outside a transaction.
	Reader() Querier
	// Writer runs single-statement writes outside a transaction.
	Writer() Querier
	// Tx runs fn in one transaction: it commits when fn returns nil and
	// rolls back otherwise, also when fn panics (the panic goes on).
	Tx(ctx context.Context, fn func(Querier) error) error
	// Ping reports whether the database is reachable.
	Ping(ctx context.Context) error
	// Close releases every connection.
	Close() error
}

// Dialect is what differs between the databases, beyond the Driver.
type Dialect struct {
	// Name is used in error messages ("sqlite", "postgres").
	Name string
	// LockDeal, when set, is run in a transaction before a deal is read for
	// update, with the deal's source and external id as $1 and $2. It must
	// block until no other transaction holds the same deal, even one that
	// does not exist yet (Postgres: a transaction-level advisory lock). Empty
	// when transactions are serialised anyway (SQLite has one writer).
	LockDeal string
	// ForUpdate is appended to the SELECT that reads a deal for update
	// (" FOR UPDATE" on Postgres, empty on SQLite, which lacks it).
	ForUpdate string
	// IsUniqueViolation reports whether err is a unique or primary key
	// violation.
	IsUniqueViolation func(err error) bool
	// IsForeignKeyViolation reports whether err is a foreign key violation.
	IsForeignKeyViolation func(err error) bool
	// Retryable reports whether a transaction that failed with err may
	// succeed when run again (serialization failure, deadlock). Nil means
	// never.
	Retryable func(err error) bool
	// MaxAttempts bounds the runs of one InTx callback when Retryable
	// errors occur; zero means 1 (no retry).
	MaxAttempts int
}
