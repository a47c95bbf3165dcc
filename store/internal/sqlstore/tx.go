package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"podium/engine"
	"podium/game"
)

// tx implements engine.Tx on one transaction.
//
// It remembers what it has read, and what it has written, so that Event and
// Deal answer from memory what the transaction already knows: Prefetch
// loads a whole group's events and deals in one batch, and a deal loaded
// stays locked until the transaction ends, so its remembered state stays
// true. Writes are buffered and sent by flush, one multi-row statement per
// table in one batch, when the InTx callback has returned nil.
type tx struct {
	s *Store
	q Querier

	// events holds every event key the transaction knows about: a stored or
	// buffered event, or nil when the key is known to be free.
	events map[string]*engine.StoredEvent
	// deals holds the deals loaded, and locked, by this transaction: their
	// stored state, nil when the deal did not exist. A buffered write
	// (dealWrites) takes precedence.
	deals map[engine.DealRef]*engine.DealState
	// reps holds the reps read so far. Reps are not locked: a rep read once
	// is answered from memory for the rest of the transaction.
	reps map[int64]game.Rep

	// The buffered writes, row after row, in the order of their calls.
	eventRows, activityRows, ledgerRows, outboxRows []any
	eventKeys                                       []string // in the order written
	activityKeys                                    keySet[[2]string]
	outboxKeys                                      keySet[string]
	dealWrites                                      map[engine.DealRef]dealWrite
	// compWork holds the AddCompWork rows by rep and period: the last mark
	// of each, since one upsert statement cannot touch a row twice.
	compWork map[repPeriod][]any
}

// repPeriod names a rep's plan period instance.
type repPeriod struct {
	rep    int64
	period string
}

func compareRepPeriods(a, b repPeriod) int {
	return cmp.Or(cmp.Compare(a.rep, b.rep), cmp.Compare(a.period, b.period))
}

// keySet is a set of the unique keys a transaction has written, and the
// first of them, to name in an error when it is the only one.
type keySet[K comparable] struct {
	m     map[K]bool
	first K
}

// add adds k and reports whether it was new.
func (s *keySet[K]) add(k K) bool {
	if s.m[k] {
		return false
	}
	if s.m == nil {
		s.m, s.first = make(map[K]bool), k
	}
	s.m[k] = true
	return true
}

// dealWrite is a buffered PutDeal: the state, for reads, and its row.
type dealWrite struct {
	state engine.DealState
	row   []any
}

var _ engine.Tx = (*tx)(nil)

func newTx(s *Store, q Querier) *tx {
	return &tx{
		s:          s,
		q:          q,
		events:     make(map[string]*engine.StoredEvent),
		deals:      make(map[engine.DealRef]*engine.DealState),
		reps:       make(map[int64]game.Rep),
		dealWrites: make(map[engine.DealRef]dealWrite),
		compWork:   make(map[repPeriod][]any),
	}
}

// The bulk inserts of flush.
var (
	insertEvents = newBulk("events", "",
		column{"key", "text", ""}, column{"kind", "text", ""}, column{"hash", "text", ""},
		column{"status", "integer", ""}, column{"response", "bytea", ""}, column{"at", "bigint", ""})
	upsertDeals = newBulk("deals",
		`ON CONFLICT (source, external_id) DO UPDATE SET
		   version = excluded.version, name = excluded.name, splits = excluded.splits,
		   amount = excluded.amount, currency = excluded.currency, stage = excluded.stage,
		   close_time = excluded.close_time, product = excluded.product,
		   credits = excluded.credits, event_key = excluded.event_key,
		   updated_at = excluded.updated_at`,
		column{"source", "text", ""}, column{"external_id", "text", ""}, column{"version", "bigint", ""},
		column{"name", "text", ""}, column{"splits", "text", "JSONB"}, column{"amount", "text", "NUMERIC"},
		column{"currency", "text", ""}, column{"stage", "text", ""}, column{"close_time", "bigint", ""},
		column{"product", "text", ""}, column{"credits", "text", "JSONB"}, column{"event_key", "text", ""},
		column{"updated_at", "bigint", ""})
	insertActivities = newBulk("activities", "",
		column{"source", "text", ""}, column{"external_id", "text", ""}, column{"rep_id", "bigint", ""},
		column{"kind", "text", ""}, column{"count", "bigint", ""}, column{"occurred_at", "bigint", ""})
	insertLedger = newBulk("ledger", "",
		column{"event_key", "text", ""}, column{"at", "bigint", ""}, column{"rep_id", "bigint", ""},
		column{"team_id", "bigint", ""}, column{"metric", "text", ""}, column{"day", "text", ""},
		column{"delta", "bigint", ""}, column{"amount", "text", "NUMERIC"}, column{"reason", "text", ""},
		column{"deal", "text", ""}, column{"corrects", "text", ""})
	insertOutbox = newBulk("outbox", "",
		column{"event_key", "text", ""}, column{"payload", "bytea", ""}, column{"created_at", "bigint", ""})
	// A period marked again takes the new event and time, and loses its
	// claim: the computation running on the old claim leaves it in place
	// (CompTx.DoneCompWork), so the new credit is computed too.
	upsertCompWork = newBulk("comp_work",
		`ON CONFLICT (rep_id, period) DO UPDATE SET
		   event_key = excluded.event_key, marked_at = excluded.marked_at, claimed_at = NULL`,
		column{"rep_id", "bigint", ""}, column{"period", "text", ""}, column{"event_key", "text", ""},
		column{"marked_at", "bigint", ""})
)

// Prefetch loads the events and deals the transaction does not know yet, in
// one batch: on Postgres one round trip that takes the deals' advisory locks
// (in the order of their lock keys) and then reads them FOR UPDATE.
// Afterwards Event and Deal answer those keys from memory, absent ones
// included.
func (t *tx) Prefetch(ctx context.Context, eventKeys []string, deals []engine.DealRef) error {
	keys := slices.DeleteFunc(slices.Compact(slices.Sorted(slices.Values(eventKeys))), func(k string) bool {
		_, known := t.events[k]
		return known
	})
	refs := slices.DeleteFunc(slices.Compact(slices.SortedFunc(slices.Values(deals), compareRefs)),
		func(r engine.DealRef) bool {
			_, known := t.deals[r]
			return known
		})
	return t.load(ctx, keys, refs)
}

func compareRefs(a, b engine.DealRef) int {
	return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.ExternalID, b.ExternalID))
}

// load reads events and deals (for update) that the transaction does not
// know yet, in one batch, and remembers them, absent ones included.
func (t *tx) load(ctx context.Context, keys []string, refs []engine.DealRef) error {
	if len(keys) == 0 && len(refs) == 0 {
		return nil
	}
	var stmts []Stmt
	for _, c := range in(&t.s.d, "key", keys) {
		stmts = append(stmts, Stmt{
			SQL:  `SELECT key, kind, hash, status, response, at FROM events WHERE ` + c.sql,
			Args: c.args,
			Scan: t.scanEvents,
		})
	}
	if len(refs) > 0 && t.s.d.LockDeals != "" {
		src, ext := splitRefs(refs)
		stmts = append(stmts, Stmt{SQL: t.s.d.LockDeals, Args: []any{src, ext}})
	}
	for _, c := range dealsIn(&t.s.d, refs) {
		stmts = append(stmts, Stmt{
			SQL:  `SELECT ` + dealColumns + ` FROM deals WHERE ` + c.sql + t.s.d.ForUpdate,
			Args: c.args,
			Scan: t.scanDeals,
		})
	}
	if _, err := runBatch(ctx, t.q, stmts); err != nil {
		return fmt.Errorf("load %d events and %d deals: %w", len(keys), len(refs), err)
	}
	for _, k := range keys {
		if _, ok := t.events[k]; !ok {
			t.events[k] = nil
		}
	}
	for _, r := range refs {
		if _, ok := t.deals[r]; !ok {
			t.deals[r] = nil
		}
	}
	return nil
}

func (t *tx) scanEvents(rows Rows) error {
	for rows.Next() {
		var (
			e  engine.StoredEvent
			at int64
		)
		if err := rows.Scan(&e.Key, &e.Kind, &e.Hash, &e.Status, &e.Response, &at); err != nil {
			return err
		}
		e.At = fromMicros(at)
		t.events[e.Key] = &e
	}
	return nil
}

func (t *tx) scanDeals(rows Rows) error {
	for rows.Next() {
		d, err := scanDeal(rows)
		if err != nil {
			return err
		}
		t.deals[engine.DealRef{Source: d.Source, ExternalID: d.ExternalID}] = d
	}
	return nil
}

// Event returns a stored or buffered event by idempotency key, nil when
// absent; from memory when the transaction knows the key.
func (t *tx) Event(ctx context.Context, key string) (*engine.StoredEvent, error) {
	e, ok := t.events[key]
	if !ok {
		if err := t.load(ctx, []string{key}, nil); err != nil {
			return nil, err
		}
		e = t.events[key]
	}
	if e == nil {
		return nil, nil
	}
	c := *e
	return &c, nil
}

// PutEvent buffers an event. A key the transaction knows to be taken is an
// EConflict error on "idempotency_key" at once; one taken in the database
// unbeknown to it (not loaded, or stored meanwhile by another node) is the
// same error from InTx.
func (t *tx) PutEvent(_ context.Context, e engine.StoredEvent) error {
	if old := t.events[e.Key]; old != nil {
		return eventConflict(e.Key)
	}
	e.Response = slices.Clone(e.Response) // sent later; the caller may reuse its slice
	t.events[e.Key] = &e
	t.eventKeys = append(t.eventKeys, e.Key)
	t.eventRows = append(t.eventRows, e.Key, e.Kind, e.Hash, e.Status, e.Response, micros(e.At))
	return nil
}

func eventConflict(key string) error {
	return game.Errorf(game.EConflict, "idempotency_key", "event %q is already stored", key)
}

// Reps returns the named reps that exist, active or not, by id. Reps read
// before in the transaction are answered from memory; the others are read
// in one batch.
func (t *tx) Reps(ctx context.Context, ids []int64) (map[int64]game.Rep, error) {
	out := make(map[int64]game.Rep, len(ids))
	var missing []int64
	for _, id := range ids {
		if r, ok := t.reps[id]; ok {
			out[id] = r
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	missing = slices.Compact(slices.Sorted(slices.Values(missing)))
	var stmts []Stmt
	for _, c := range in(&t.s.d, "id", missing) {
		stmts = append(stmts, Stmt{
			SQL:  `SELECT ` + repColumns + ` FROM reps WHERE ` + c.sql,
			Args: c.args,
			Scan: func(rows Rows) error {
				for rows.Next() {
					r, err := scanRep(rows)
					if err != nil {
						return err
					}
					t.reps[r.ID], out[r.ID] = r, r
				}
				return nil
			},
		})
	}
	if _, err := runBatch(ctx, t.q, stmts); err != nil {
		return nil, fmt.Errorf("load reps: %w", err)
	}
	return out, nil
}

// Deal returns a deal's state, nil when unknown, and holds it until the
// transaction ends: another transaction's Deal or Prefetch of the same deal
// waits, also while the deal does not exist yet, so two first versions of
// one deal cannot both be credited. A deal this transaction has put is
// returned as put; one it has loaded comes from memory.
func (t *tx) Deal(ctx context.Context, source, externalID string) (*engine.DealState, error) {
	ref := engine.DealRef{Source: source, ExternalID: externalID}
	if _, ok := t.deals[ref]; !ok {
		if err := t.load(ctx, nil, []engine.DealRef{ref}); err != nil {
			return nil, err
		}
	}
	if w, ok := t.dealWrites[ref]; ok {
		d := cloneDeal(w.state)
		return &d, nil
	}
	d := t.deals[ref]
	if d == nil {
		return nil, nil
	}
	c := cloneDeal(*d)
	return &c, nil
}

// cloneDeal copies the slices of d, so that what the caller does with its
// copy does not change what the transaction remembers, nor the reverse.
func cloneDeal(d engine.DealState) engine.DealState {
	d.Splits = slices.Clone(d.Splits)
	d.Credits = slices.Clone(d.Credits)
	return d
}

// PutDeal buffers a deal's new state; a later PutDeal of the same deal in
// the transaction replaces it, so only the last one is written.
func (t *tx) PutDeal(_ context.Context, d engine.DealState) error {
	splits, err := json.Marshal(d.Splits)
	if err != nil {
		return fmt.Errorf("deal %s/%s splits: %w", d.Source, d.ExternalID, err)
	}
	credits, err := json.Marshal(d.Credits)
	if err != nil {
		return fmt.Errorf("deal %s/%s credits: %w", d.Source, d.ExternalID, err)
	}
	t.dealWrites[engine.DealRef{Source: d.Source, ExternalID: d.ExternalID}] = dealWrite{
		state: cloneDeal(d),
		row: []any{d.Source, d.ExternalID, d.Version, d.Name, string(splits), decimalText(d.Amount),
			d.Currency, string(d.Stage), micros(d.CloseTime), d.Product, string(credits), d.EventKey,
			micros(t.s.now())},
	}
	return nil
}

// PutActivity buffers an activity. A (source, external id) already put in
// the transaction is an EConflict error at once; one already stored is the
// same error from InTx, and a rep that does not exist EUnknownRep from
// InTx.
func (t *tx) PutActivity(_ context.Context, a game.Activity) error {
	if !t.activityKeys.add([2]string{a.Source, a.ExternalID}) {
		return activityConflict(a.Source, a.ExternalID)
	}
	t.activityRows = append(t.activityRows,
		a.Source, a.ExternalID, a.RepID, string(a.Kind), a.Count, micros(a.OccurredAt))
	return nil
}

func activityConflict(source, externalID string) error {
	return game.Errorf(game.EConflict, "external_id", "activity %s/%s is already stored", source, externalID)
}

// AppendLedger buffers ledger rows. A rep that does not exist is an
// EUnknownRep error from InTx.
func (t *tx) AppendLedger(_ context.Context, eventKey string, at time.Time, entries []game.LedgerEntry) error {
	us := micros(at)
	for _, e := range entries {
		var amount any
		if e.Amount != nil {
			amount = decimalText(*e.Amount)
		}
		t.ledgerRows = append(t.ledgerRows, eventKey, us, e.RepID, e.TeamID, string(e.Metric), e.Day,
			e.Delta, amount, e.Reason, nullText(e.DealID), nullText(e.Corrects))
	}
	return nil
}

// AddOutbox buffers the outbox row of an event. An event key already given
// an outbox row in the transaction is an EConflict error at once; one
// stored before is the same error from InTx.
func (t *tx) AddOutbox(_ context.Context, eventKey string, payload []byte, at time.Time) error {
	if !t.outboxKeys.add(eventKey) {
		return outboxConflict(eventKey)
	}
	payload = append([]byte{}, payload...) // NOT NULL, so never nil; and sent later
	t.outboxRows = append(t.outboxRows, eventKey, payload, micros(at))
	return nil
}

// AddCompWork buffers the mark of a rep's plan period for a pay
// computation, stamped with the store's clock (claims take the oldest marks
// first). A later mark of the same period in the transaction replaces it.
// A rep that does not exist is an EUnknownRep error from InTx.
func (t *tx) AddCompWork(_ context.Context, w engine.CompWork) error {
	t.compWork[repPeriod{w.RepID, w.Period}] = []any{w.RepID, w.Period, w.EventKey, micros(t.s.now())}
	return nil
}

func outboxConflict(key string) error {
	return game.Errorf(game.EConflict, "event_key", "the outbox row of event %q is already stored", key)
}

// flush sends the buffered writes, one multi-row statement per table (more
// on SQLite, see bulk), as one batch, in an order the foreign keys accept.
// The unique and foreign key violations the write calls used to report come
// back from here with the same codes.
func (t *tx) flush(ctx context.Context) error {
	var (
		stmts  []Stmt
		blames []func(error) error // blames[i] explains the failure of stmts[i]
	)
	add := func(ss []Stmt, blame func(error) error) {
		stmts = append(stmts, ss...)
		for range ss {
			blames = append(blames, blame)
		}
	}
	d := &t.s.d
	add(insertEvents.stmts(d, t.eventRows), t.eventsError)
	if len(t.dealWrites) > 0 {
		// One row per deal, the last write, in key order: one statement
		// cannot upsert a row twice, and a fixed order keeps concurrent
		// upserts from deadlocking on row locks.
		var rows []any
		for _, ref := range slices.SortedFunc(maps.Keys(t.dealWrites), compareRefs) {
			rows = append(rows, t.dealWrites[ref].row...)
		}
		add(upsertDeals.stmts(d, rows), func(err error) error {
			return fmt.Errorf("store %d deals: %w", len(t.dealWrites), err)
		})
	}
	add(insertActivities.stmts(d, t.activityRows), t.activitiesError)
	add(insertLedger.stmts(d, t.ledgerRows), func(err error) error {
		if t.s.d.IsForeignKeyViolation(err) {
			return game.Errorf(game.EUnknownRep, "rep_id", "a ledger row names a rep that does not exist")
		}
		return fmt.Errorf("insert ledger: %w", err)
	})
	if len(t.compWork) > 0 {
		// In key order, like the deals: concurrent upserts of overlapping
		// periods then lock their rows in one order and cannot deadlock.
		var rows []any
		for _, k := range slices.SortedFunc(maps.Keys(t.compWork), compareRepPeriods) {
			rows = append(rows, t.compWork[k]...)
		}
		add(upsertCompWork.stmts(d, rows), func(err error) error {
			if t.s.d.IsForeignKeyViolation(err) {
				return game.Errorf(game.EUnknownRep, "rep_id", "pay work names a rep that does not exist")
			}
			return fmt.Errorf("mark %d pay periods: %w", len(t.compWork), err)
		})
	}
	add(insertOutbox.stmts(d, t.outboxRows), func(err error) error {
		if t.s.d.IsUniqueViolation(err) {
			if len(t.outboxKeys.m) == 1 {
				return outboxConflict(t.outboxKeys.first)
			}
			return game.Errorf(game.EConflict, "event_key", "the outbox row of one of %d events is already stored", len(t.outboxKeys.m))
		}
		return fmt.Errorf("insert outbox: %w", err)
	})
	i, err := runBatch(ctx, t.q, stmts)
	switch {
	case err == nil:
		return nil
	case i < len(blames):
		return blames[i](err)
	}
	return fmt.Errorf("write: %w", err)
}

// eventsError explains the failure of the events insert. Postgres names
// the key that was taken in its message only, which the store does not
// parse: one event's key is named, a group's is not.
func (t *tx) eventsError(err error) error {
	if !t.s.d.IsUniqueViolation(err) {
		return fmt.Errorf("insert %d events: %w", len(t.eventKeys), err)
	}
	if len(t.eventKeys) == 1 {
		return eventConflict(t.eventKeys[0])
	}
	return game.Errorf(game.EConflict, "idempotency_key", "one of %d events is already stored", len(t.eventKeys))
}

func (t *tx) activitiesError(err error) error {
	switch {
	case t.s.d.IsUniqueViolation(err):
		if len(t.activityKeys.m) == 1 {
			return activityConflict(t.activityKeys.first[0], t.activityKeys.first[1])
		}
		return game.Errorf(game.EConflict, "external_id", "one of %d activities is already stored", len(t.activityKeys.m))
	case t.s.d.IsForeignKeyViolation(err):
		return game.Errorf(game.EUnknownRep, "rep_id", "an activity names a rep that does not exist")
	}
	return fmt.Errorf("insert %d activities: %w", len(t.activityKeys.m), err)
}

// unmarshal decodes a JSON column; SQL NULL or "null" leaves v as it is.
func unmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}
