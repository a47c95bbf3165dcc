// Package migrations holds Podium's SQL schema, one directory per dialect,
// embedded in the binary and applied by goose (github.com/pressly/goose/v3)
// through its Provider API, so no goose globals are touched.
//
// The two directories describe the same schema in each dialect's types and are
// kept in step: a change adds one new file to each, and a file that has landed
// is never edited. Times are unix microseconds (UTC) in both dialects; money is
// NUMERIC in Postgres and a decimal string in SQLite.
//
// Up is safe to call from several processes at once: on Postgres it holds a
// session-level advisory lock while it migrates, on SQLite the database's own
// write lock serialises the migrations.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Dialect names a SQL dialect Podium has migrations for.
type Dialect string

// The dialects Podium supports; each has a directory of the same name.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// FS returns the migration files of dialect, named NNNNN_description.sql.
func FS(dialect Dialect) (fs.FS, error) {
	switch dialect {
	case Postgres, SQLite:
		return fs.Sub(files, string(dialect))
	default:
		return nil, fmt.Errorf("unknown dialect %q", dialect)
	}
}

// Up applies every pending migration of dialect to db and logs each one
// applied to logger (nil logs nothing). The goose version table lands in the
// first schema of the connection's search_path on Postgres.
//
// On Postgres, Up takes a session advisory lock whose id is derived from the
// current database and schema, so nodes that start together against the same
// schema migrate one after the other, while tests that each own a schema do
// not wait for one another.
func Up(ctx context.Context, db *sql.DB, dialect Dialect, logger *slog.Logger) error {
	p, err := provider(ctx, db, dialect, logger)
	if err != nil {
		return err
	}
	// Not p.Close: it would close db, which belongs to the caller.
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", dialect, err)
	}
	return nil
}

// Version returns the schema version db is at, 0 for an empty database.
func Version(ctx context.Context, db *sql.DB, dialect Dialect) (int64, error) {
	p, err := provider(ctx, db, dialect, nil)
	if err != nil {
		return 0, err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

func provider(ctx context.Context, db *sql.DB, dialect Dialect, logger *slog.Logger) (*goose.Provider, error) {
	fsys, err := FS(dialect)
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	} else {
		opts = append(opts, goose.WithLogger(goose.NopLogger()))
	}
	gooseDialect := goose.DialectSQLite3
	if dialect == Postgres {
		gooseDialect = goose.DialectPostgres
		id, err := lockID(ctx, db)
		if err != nil {
			return nil, err
		}
		// Poll every second for up to five minutes: a node that starts while
		// another migrates waits for it rather than failing.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gooseDialect, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migration provider: %w", err)
	}
	return p, nil
}

// lockID derives the advisory lock id from the database and the schema the
// migrations go to. Advisory locks are per database, so goose's fixed default
// id would make every schema of a database wait for every other.
func lockID(ctx context.Context, db *sql.DB) (int64, error) {
	var name string
	err := db.QueryRowContext(ctx, "SELECT current_database() || '.' || COALESCE(current_schema(), '')").Scan(&name)
	if err != nil {
		return 0, fmt.Errorf("migration lock id: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("podium-migrations:" + name))
	return int64(h.Sum64()), nil
}
