// Package sqlstore is the one implementation of engine.Store, engine.Tx,
// engine.Directory, engine.CompStore and engine.CompTx that store/sqlite and
// store/postgres share. Every query is written once, in the SQL both
// dialects accept ($n placeholders, ON CONFLICT, RETURNING, CAST); what
// differs lives in a Dialect value and in the small Driver each adapter
// provides over its own client (database/sql for SQLite, pgx for Postgres).
//
// A Store is safe for concurrent use. A Tx is not: it belongs to the
// goroutine running the InTx callback and is valid only during it.
//
// Round trips: a Tx keeps what it has read (events, deals, reps) and buffers
// what it writes, then sends every write when the callback returns, one
// multi-row statement per table, as one batch. On Postgres a batch is one
// round trip (pgx pipelines it), so an ingest group of any size costs BEGIN,
// Prefetch, the flush and COMMIT. SQLite runs the same statements one by
// one on its local writer connection, where a statement costs no network.
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

// Stmt is one statement of a batch.
type Stmt struct {
	SQL  string
	Args []any
	// Scan, when set, reads the statement's rows; the batch closes them and
	// checks their error afterwards. When nil the statement runs for its
	// effect and any rows it returns are discarded.
	Scan func(Rows) error
}

// Batcher is implemented by a Querier that sends several statements in one
// round trip (pgx pipelines a batch). Batch runs stmts in order and stops
// at the first that fails, returning its index with its error; an error
// that is no single statement's (the connection broke) comes with the index
// len(stmts). A Querier without it has its batches run one statement at a
// time, as runBatch does.
type Batcher interface {
	Batch(ctx context.Context, stmts []Stmt) (failed int, err error)
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
	// Arrays is set when a Go slice binds as one array parameter
	// (Postgres): an IN list is then "= ANY($1)" and a multi-row INSERT one
	// INSERT … SELECT FROM unnest($1, …), whatever the number of values or
	// rows, so each is one statement text, prepared once. Otherwise they are
	// IN (…) and VALUES lists of bounded length, as many as needed.
	Arrays bool
	// Anonymous is set when the statements generated for lists of values
	// (IN lists, multi-row VALUES) bind with anonymous "?" parameters
	// rather than "$n" (SQLite only; Postgres has only $n). SQLite looks a
	// numbered parameter's name up in a list of all the statement's
	// parameter names when binding it, which makes binding a wide INSERT
	// quadratic (most of a 64-event flush was spent there); an anonymous
	// parameter is not looked up. The hand-written queries keep $n.
	Anonymous bool
	// LockDeals, when set, is run in a transaction before deals are read
	// for update, with an array of their sources as $1 and of their
	// external ids as $2. It must block until no other transaction holds
	// any of those deals, even deals that do not exist yet (Postgres:
	// transaction-level advisory locks), and take the locks in an order
	// that does not depend on the order of the arrays, so that two
	// transactions locking the same deals cannot deadlock. Empty when
	// transactions are serialised anyway (SQLite has one writer).
	LockDeals string
	// LockAudit, when set, is run first in every transaction that appends
	// to the audit log. It must block until no other transaction, on any
	// connection of any node, holds it, and hold it until the transaction
	// ends (Postgres: a transaction-level advisory lock). Those transactions
	// then run one at a time, so the entry each reads as the last one is
	// still the last when it appends: the chain cannot fork. Empty when
	// transactions are serialised anyway (SQLite has one writer).
	LockAudit string
	// LockPay, when set, is run by CompTx.LockPay with a rep id as $1 and
	// a plan period instance as $2. It must block until no other
	// transaction holds the same rep's period and hold it until the
	// transaction ends (Postgres: a transaction-level advisory lock), so
	// that two nodes computing one rep's pay take turns and never post the
	// same difference twice. Empty when transactions are serialised anyway
	// (SQLite has one writer).
	LockPay string
	// SkipLocked is appended to the SELECT that claims pay work, so that
	// concurrent claimers lock the rows they take and pass over the rows
	// another holds (" FOR UPDATE SKIP LOCKED" on Postgres; empty on
	// SQLite, whose one writer claims alone).
	SkipLocked string
	// Contains returns a condition that is true when the text or bytes of
	// haystack (a column) contain needle (a parameter), compared byte for
	// byte, without LIKE's wildcards and case folding.
	Contains func(haystack, needle string) string
	// ForUpdate is appended to the SELECT that reads deals for update
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
