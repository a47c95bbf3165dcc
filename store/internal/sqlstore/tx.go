package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"podium/engine"
	"podium/game"
)

// tx implements engine.Tx on one transaction.
type tx struct {
	s *Store
	q Querier
}

var _ engine.Tx = (*tx)(nil)

// Event returns a stored event by idempotency key, nil when absent.
func (t *tx) Event(ctx context.Context, key string) (*engine.StoredEvent, error) {
	e := engine.StoredEvent{Key: key}
	var at int64
	err := t.q.QueryRow(ctx,
		`SELECT kind, hash, status, response, at FROM events WHERE key = $1`, key).
		Scan(&e.Kind, &e.Hash, &e.Status, &e.Response, &at)
	if errors.Is(err, ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load event %q: %w", key, err)
	}
	e.At = fromMicros(at)
	return &e, nil
}

// PutEvent stores an event. A key already stored is an EConflict error on
// "idempotency_key"; on Postgres the transaction is then aborted, so the
// caller returns the error and InTx rolls back.
func (t *tx) PutEvent(ctx context.Context, e engine.StoredEvent) error {
	_, err := t.q.Exec(ctx,
		`INSERT INTO events (key, kind, hash, status, response, at) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.Key, e.Kind, e.Hash, e.Status, e.Response, micros(e.At))
	if err != nil {
		if t.s.d.IsUniqueViolation(err) {
			return game.Errorf(game.EConflict, "idempotency_key", "event %q is already stored", e.Key)
		}
		return fmt.Errorf("insert event %q: %w", e.Key, err)
	}
	return nil
}

// Reps returns the named reps that exist, active or not, by id.
func (t *tx) Reps(ctx context.Context, ids []int64) (map[int64]game.Rep, error) {
	out := make(map[int64]game.Rep, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	uniq := slices.Compact(slices.Sorted(slices.Values(ids)))
	for len(uniq) > 0 {
		chunk := uniq[:min(len(uniq), maxInList)]
		uniq = uniq[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := t.q.Query(ctx,
			`SELECT `+repColumns+` FROM reps WHERE id IN (`+placeholders(1, len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("load reps: %w", err)
		}
		for rows.Next() {
			r, err := scanRep(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("load reps: %w", err)
			}
			out[r.ID] = r
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("load reps: %w", err)
		}
	}
	return out, nil
}

// Deal returns a deal's state, nil when unknown, and holds it until the
// transaction ends: another transaction's Tx.Deal of the same deal waits,
// also while the deal does not exist yet, so two first versions of one deal
// cannot both be credited.
func (t *tx) Deal(ctx context.Context, source, externalID string) (*engine.DealState, error) {
	if t.s.d.LockDeal != "" {
		if _, err := t.q.Exec(ctx, t.s.d.LockDeal, source, externalID); err != nil {
			return nil, fmt.Errorf("lock deal %s/%s: %w", source, externalID, err)
		}
	}
	d, err := scanDeal(t.q.QueryRow(ctx,
		`SELECT `+dealColumns+` FROM deals WHERE source = $1 AND external_id = $2`+t.s.d.ForUpdate,
		source, externalID))
	if err != nil {
		return nil, fmt.Errorf("load deal %s/%s: %w", source, externalID, err)
	}
	return d, nil
}

// PutDeal inserts or replaces a deal's state.
func (t *tx) PutDeal(ctx context.Context, d engine.DealState) error {
	splits, err := json.Marshal(d.Splits)
	if err != nil {
		return fmt.Errorf("deal %s/%s splits: %w", d.Source, d.ExternalID, err)
	}
	credits, err := json.Marshal(d.Credits)
	if err != nil {
		return fmt.Errorf("deal %s/%s credits: %w", d.Source, d.ExternalID, err)
	}
	_, err = t.q.Exec(ctx,
		`INSERT INTO deals (`+dealColumns+`, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		 ON CONFLICT (source, external_id) DO UPDATE SET
		   version = excluded.version, name = excluded.name, splits = excluded.splits,
		   amount = excluded.amount, currency = excluded.currency, stage = excluded.stage,
		   close_time = excluded.close_time, product = excluded.product,
		   credits = excluded.credits, event_key = excluded.event_key,
		   updated_at = excluded.updated_at`,
		d.Source, d.ExternalID, d.Version, d.Name, string(splits), decimalText(d.Amount),
		d.Currency, string(d.Stage), micros(d.CloseTime), d.Product, string(credits), d.EventKey,
		micros(t.s.now()))
	if err != nil {
		return fmt.Errorf("store deal %s/%s: %w", d.Source, d.ExternalID, err)
	}
	return nil
}

// PutActivity stores an activity. A (source, external id) already stored is
// an EConflict error; a rep that does not exist is EUnknownRep.
func (t *tx) PutActivity(ctx context.Context, a game.Activity) error {
	_, err := t.q.Exec(ctx,
		`INSERT INTO activities (source, external_id, rep_id, kind, count, occurred_at)
		 VALUES ($1, $2, $3, $4, $5, $6)`,
		a.Source, a.ExternalID, a.RepID, string(a.Kind), a.Count, micros(a.OccurredAt))
	switch {
	case err == nil:
		return nil
	case t.s.d.IsUniqueViolation(err):
		return game.Errorf(game.EConflict, "external_id", "activity %s/%s is already stored", a.Source, a.ExternalID)
	case t.s.d.IsForeignKeyViolation(err):
		return game.Errorf(game.EUnknownRep, "rep_id", "rep %d does not exist", a.RepID)
	}
	return fmt.Errorf("insert activity %s/%s: %w", a.Source, a.ExternalID, err)
}

// ledgerColumns are the columns AppendLedger binds per row.
const (
	ledgerColumns  = `event_key, at, rep_id, team_id, metric, day, delta, amount, reason, deal, corrects`
	ledgerNumCols  = 11
	ledgerMaxBatch = 100 // rows per INSERT: 1,100 parameters
)

// AppendLedger appends entries with one multi-row INSERT per hundred rows.
// A rep that does not exist is EUnknownRep.
func (t *tx) AppendLedger(ctx context.Context, eventKey string, at time.Time, entries []game.LedgerEntry) error {
	us := micros(at)
	for len(entries) > 0 {
		chunk := entries[:min(len(entries), ledgerMaxBatch)]
		entries = entries[len(chunk):]
		args := make([]any, 0, len(chunk)*ledgerNumCols)
		for _, e := range chunk {
			var amount any
			if e.Amount != nil {
				amount = decimalText(*e.Amount)
			}
			args = append(args, eventKey, us, e.RepID, e.TeamID, string(e.Metric), e.Day, e.Delta,
				amount, e.Reason, nullText(e.DealID), nullText(e.Corrects))
		}
		if _, err := t.q.Exec(ctx, insertLedgerSQL(len(chunk)), args...); err != nil {
			if t.s.d.IsForeignKeyViolation(err) {
				return game.Errorf(game.EUnknownRep, "rep_id", "a ledger row names a rep that does not exist")
			}
			return fmt.Errorf("insert ledger: %w", err)
		}
	}
	return nil
}

// insertLedgerSQL returns the INSERT of n ledger rows. Each row count is one
// distinct statement text, which pgx prepares and caches once per connection.
func insertLedgerSQL(n int) string {
	var b strings.Builder
	b.Grow(64 + n*64)
	b.WriteString(`INSERT INTO ledger (` + ledgerColumns + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		b.WriteString(placeholders(1+i*ledgerNumCols, ledgerNumCols))
		b.WriteByte(')')
	}
	return b.String()
}

// AddOutbox appends an outbox row and returns its id.
func (t *tx) AddOutbox(ctx context.Context, eventKey string, payload []byte, at time.Time) (int64, error) {
	if payload == nil {
		payload = []byte{} // payload is NOT NULL; a nil slice would bind NULL
	}
	var id int64
	err := t.q.QueryRow(ctx,
		`INSERT INTO outbox (event_key, payload, created_at) VALUES ($1, $2, $3) RETURNING id`,
		eventKey, payload, micros(at)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert outbox: %w", err)
	}
	return id, nil
}

// unmarshal decodes a JSON column; SQL NULL or "null" leaves v as it is.
func unmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}
