package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"podium/game"
)

// redactedJSON is what an erasure leaves of the before and after of an
// entry it redacts. The migrations' triggers accept no other value.
const redactedJSON = `{"redacted":true}`

// run runs fn in one transaction, committing when fn returns nil and
// rolling back otherwise; fn's own error is returned unwrapped. When the
// dialect reports the failure retryable (Postgres serialization failure or
// deadlock), the whole transaction runs again, fn included, up to
// Dialect.MaxAttempts times: fn must not have effects outside the
// transaction, and must reset what it computes on each run.
func (s *Store) run(ctx context.Context, fn func(q Querier) error) error {
	attempts := max(1, s.d.MaxAttempts)
	for attempt := 1; ; attempt++ {
		err := s.db.Tx(ctx, fn)
		if err == nil || attempt >= attempts || s.d.Retryable == nil || !s.d.Retryable(err) {
			return err
		}
		// Back off a little, with jitter, so that the transactions that
		// collided do not collide again in lockstep.
		wait := time.Duration(attempt) * (time.Millisecond + rand.N(4*time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

// audited runs fn in a transaction (retried as run retries) that takes the
// audit lock (Dialect.LockAudit) before anything else. Every transaction
// that appends to the audit log goes through it.
//
// Taking the lock first, not just before appending, serialises the audited
// changes themselves, on Postgres across nodes: the checks that read before
// they write (a team's parent is not below it, an email or a rep is not
// taken, an erasure finds every entry naming the person) see every audited
// change committed before them and none can slip in until they commit. It
// is also the first lock each of them takes, so they cannot deadlock on one
// another. Audited changes are admin actions, rare enough to take turns.
func (s *Store) audited(ctx context.Context, fn func(q Querier) error) error {
	return s.run(ctx, func(q Querier) error {
		if s.d.LockAudit != "" {
			if _, err := q.Exec(ctx, s.d.LockAudit); err != nil {
				return fmt.Errorf("lock audit log: %w", err)
			}
		}
		return fn(q)
	})
}

// audit appends e to the log inside the audited transaction q: it reads
// the last entry, numbers e after it, stamps it with the store's clock and
// seals it onto the chain.
func (s *Store) audit(ctx context.Context, q Querier, e game.AuditEntry) (game.AuditEntry, error) {
	var (
		last     int64
		prevHash string
	)
	err := q.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&last, &prevHash)
	if err != nil && !errors.Is(err, ErrNoRows) {
		return game.AuditEntry{}, fmt.Errorf("read last audit entry: %w", err)
	}
	e.Seq = last + 1
	e.At = fromMicros(micros(s.now())) // the precision it is stored and hashed with
	e.Redacted = false
	e.Seal(prevHash)
	_, err = q.Exec(ctx,
		`INSERT INTO audit_log (seq, at, actor, action, object, before, after, reason, digest, prev_hash, hash)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.Seq, micros(e.At), string(e.Actor), e.Action, e.Object, nullJSON(e.Before), nullJSON(e.After),
		e.Reason, e.Digest, e.PrevHash, e.Hash)
	if err != nil {
		return game.AuditEntry{}, fmt.Errorf("append audit entry %d (%s %s): %w", e.Seq, e.Action, e.Object, err)
	}
	return e, nil
}

// record appends the entry of a change: action on object by by, with the
// JSON of before and after (nil for none). The values marshalled are the
// domain types, whose secrets are tagged `json:"-"`.
func (s *Store) record(ctx context.Context, q Querier, by game.Actor, action, object string, before, after any) error {
	e := game.AuditEntry{Actor: by, Action: action, Object: object}
	var err error
	if e.Before, err = jsonOf(before); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, object, err)
	}
	if e.After, err = jsonOf(after); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, object, err)
	}
	_, err = s.audit(ctx, q, e)
	return err
}

// jsonOf returns the JSON of v, nil for nil.
func jsonOf(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// nullJSON binds a JSON payload as TEXT, nil as NULL. As TEXT, not bytes:
// the column is TEXT in both dialects and keeps the bytes as they are.
func nullJSON(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// object names an audited object: "team:3", "user:7".
func object(kind string, id int64) string { return kind + ":" + strconv.FormatInt(id, 10) }

// Audit appends an entry for a change made elsewhere (a rebuild, a sign-in
// lockout) and returns it as stored: Seq, At and the hashes are assigned
// here. Actor, Action and Object are required (EMissingField); Before and
// After, when set, must be JSON (EInvalid). The action may not be
// game.ActionErase (EInvalid): an erasure entry vouches for the entries it
// lists as redacted, so only ErasePerson, which redacts them, writes one.
func (s *Store) Audit(ctx context.Context, e game.AuditEntry) (game.AuditEntry, error) {
	if e.Action == game.ActionErase {
		return game.AuditEntry{}, game.Errorf(game.EInvalid, "action", "%q entries are written by the erasure itself", game.ActionErase)
	}
	for _, f := range []struct{ name, value string }{
		{"actor", string(e.Actor)}, {"action", e.Action}, {"object", e.Object},
	} {
		if f.value == "" {
			return game.AuditEntry{}, game.Errorf(game.EMissingField, f.name, "an audit entry needs its %s", f.name)
		}
	}
	for _, p := range []struct {
		name string
		b    json.RawMessage
	}{{"before", e.Before}, {"after", e.After}} {
		if p.b != nil && !json.Valid(p.b) {
			return game.AuditEntry{}, game.Errorf(game.EInvalid, p.name, "an audit entry's %s must be JSON", p.name)
		}
	}
	var out game.AuditEntry
	err := s.audited(ctx, func(q Querier) error {
		var err error
		out, err = s.audit(ctx, q, e)
		return err
	})
	return out, err
}

const auditColumns = `seq, at, actor, action, object, before, after, reason, digest, prev_hash, hash, redacted`

// scanAudit reads an entry selected with auditColumns.
func scanAudit(row Row) (game.AuditEntry, error) {
	var (
		e             game.AuditEntry
		at            int64
		actor         string
		before, after []byte // what both drivers scan TEXT and NULL into
	)
	err := row.Scan(&e.Seq, &at, &actor, &e.Action, &e.Object, &before, &after, &e.Reason,
		&e.Digest, &e.PrevHash, &e.Hash, &e.Redacted)
	e.At, e.Actor, e.Before, e.After = fromMicros(at), game.Actor(actor), before, after
	return e, err
}

// queryAudit returns the entries a query selects with auditColumns.
func queryAudit(ctx context.Context, q Querier, query string, args ...any) ([]game.AuditEntry, error) {
	return queryAll(ctx, q, scanAudit, query, args...)
}

// AuditLog returns up to limit entries with Seq above afterSeq, oldest
// first; a limit of zero or less returns none. Redacted entries come with
// their blanked before and after, which game.AuditVerifier accepts.
func (s *Store) AuditLog(ctx context.Context, afterSeq int64, limit int) ([]game.AuditEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := queryAudit(ctx, s.db.Reader(),
		`SELECT `+auditColumns+` FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit log after %d: %w", afterSeq, err)
	}
	return out, nil
}
