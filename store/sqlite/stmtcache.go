package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds the statements kept prepared on the writer. The
// ingest statements are the variants of multi-row INSERTs and IN lists,
// whose lengths sqlstore rounds to powers of two (at most seven INSERTs per
// table, ten IN lists per query), about seventy; the directory's audited
// transactions add some fifty more (an erasure's searches vary with the
// number of strings it looks for). The cache keeps the first statements it
// sees and never evicts, so the bound leaves room for all of them.
const maxCachedStmts = 256

// stmtCache keeps the transactions' statements prepared on the writer
// connection. SQLite takes about as long to parse a small statement as to run
// it, so an ingest transaction prepared afresh spends half its time parsing.
//
// A *sql.Stmt can only be prepared through the DB, which needs the writer's
// one connection, and a transaction holds it: so a statement a transaction
// runs for the first time runs unprepared and is queued, and flush prepares
// the queue once the transaction has let the connection go. Inside later
// transactions, Tx.StmtContext reuses the statement already prepared on the
// connection (and prepares it again by itself if the connection was ever
// replaced).
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: make(map[string]*sql.Stmt), pending: make(map[string]bool)}
}

// get returns the prepared statement of query, or nil after queueing it to
// be prepared, room permitting.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st
	}
	if len(c.stmts)+len(c.pending) < maxCachedStmts {
		c.pending[query] = true
	}
	return nil
}

// flush prepares the queued statements. It must not be called while the
// caller holds the writer connection. A statement that fails to prepare is
// dropped; it runs unprepared, as before.
func (c *stmtCache) flush(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	clear(c.pending)
	c.mu.Unlock()

	ctx = context.WithoutCancel(ctx) // a cancelled request still leaves a warm cache
	for _, q := range queries {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, dup := c.stmts[q]; dup {
			c.mu.Unlock()
			_ = st.Close()
			continue
		}
		c.stmts[q] = st
		c.mu.Unlock()
	}
}

// close closes every prepared statement.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.stmts {
		errs = append(errs, st.Close())
		delete(c.stmts, q)
	}
	return errors.Join(errs...)
}
