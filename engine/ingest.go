package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"podium/game"
)

// MaxBatchItems caps the number of items in one batch request.
const MaxBatchItems = 5000

// Result is the answer to an ingest request: an HTTP status and its JSON body.
// A replayed request gets exactly the stored first answer back.
type Result struct {
	Status   int
	Body     []byte
	Replayed bool
}

// BatchItem is one element of a batch: a deal or an activity.
type BatchItem struct {
	Type     string              `json:"type"` // "deal" or "activity"
	Deal     *game.DealInput     `json:"deal,omitempty"`
	Activity *game.ActivityInput `json:"activity,omitempty"`
}

// item is a validated input with its idempotency key and hash.
type item struct {
	natKey   string // source + external id (+ version): the input's identity
	hash     string
	deal     *game.Deal
	activity *game.Activity
}

type request struct {
	hdrKey string // "hdr:" + Idempotency-Key, or ""
	hash   string // of the whole request, for the header key
	kind   string
	items  []item
	done   chan reply
}

type reply struct {
	res Result
	err error
}

func hashOf(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func dealKey(d game.Deal) string {
	return "deal:" + d.Source + ":" + d.ExternalID + ":v" + strconv.FormatInt(d.Version, 10)
}

func activityKey(a game.Activity) string {
	return "activity:" + a.Source + ":" + a.ExternalID
}

func (e *Engine) dealItem(in game.DealInput, field string) (item, error) {
	d, err := game.ValidateDeal(in, e.cfg.Currency)
	if err != nil {
		return item{}, game.PrefixField(err, field)
	}
	return item{natKey: dealKey(d), hash: hashOf(d), deal: &d}, nil
}

func (e *Engine) activityItem(in game.ActivityInput, field string) (item, error) {
	a, err := game.ValidateActivity(in)
	if err != nil {
		return item{}, game.PrefixField(err, field)
	}
	return item{natKey: activityKey(a), hash: hashOf(a), activity: &a}, nil
}

func headerKey(k string) (string, error) {
	if k == "" {
		return "", nil
	}
	if len(k) > 255 {
		return "", game.Errorf(game.EInvalid, "Idempotency-Key", "Idempotency-Key is longer than 255 characters")
	}
	return "hdr:" + k, nil
}

// IngestDeal creates or updates a deal by source and external id. A newer
// version replaces the deal and posts the difference of its credit to the
// ledger; an older or equal version changes nothing (answered "stale"); the
// same version with the same content is a replay and gets the first answer.
func (e *Engine) IngestDeal(ctx context.Context, in game.DealInput, idempotencyKey string) (Result, error) {
	it, err := e.dealItem(in, "")
	if err != nil {
		return Result{}, err
	}
	return e.submit(ctx, "deal", idempotencyKey, it.hash, []item{it})
}

// IngestActivity records an activity once per source and external id.
func (e *Engine) IngestActivity(ctx context.Context, in game.ActivityInput, idempotencyKey string) (Result, error) {
	it, err := e.activityItem(in, "")
	if err != nil {
		return Result{}, err
	}
	return e.submit(ctx, "activity", idempotencyKey, it.hash, []item{it})
}

// IngestBatch ingests many deals and activities in one transaction: either
// every item takes effect (or is recognised as already received) or none does,
// and the error names the first bad item ("items[3].amount").
func (e *Engine) IngestBatch(ctx context.Context, batch []BatchItem, idempotencyKey string) (Result, error) {
	if len(batch) == 0 {
		return Result{}, game.Errorf(game.EMissingField, "items", "the batch is empty")
	}
	if len(batch) > MaxBatchItems {
		return Result{}, game.Errorf(game.ETooLarge, "items", "a batch holds at most %d items; split it", MaxBatchItems)
	}
	items := make([]item, len(batch))
	hashes := make([]string, len(batch))
	for i, b := range batch {
		field := "items[" + strconv.Itoa(i) + "]"
		var it item
		var err error
		switch {
		case b.Type == "deal" && b.Deal != nil:
			it, err = e.dealItem(*b.Deal, field+".deal")
		case b.Type == "activity" && b.Activity != nil:
			it, err = e.activityItem(*b.Activity, field+".activity")
		default:
			err = game.Errorf(game.EInvalid, field+".type", `each item needs "type": "deal" with a "deal" object, or "activity" with an "activity" object`)
		}
		if err != nil {
			return Result{}, err
		}
		items[i], hashes[i] = it, it.hash
	}
	return e.submit(ctx, "batch", idempotencyKey, hashOf(hashes), items)
}

func (e *Engine) submit(ctx context.Context, kind, idempotencyKey, hash string, items []item) (Result, error) {
	hk, err := headerKey(idempotencyKey)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	r := &request{hdrKey: hk, hash: hash, kind: kind, items: items, done: make(chan reply, 1)}
	if e.closed.Load() {
		return Result{}, game.Errorf(game.EUnavailable, "", "the server is shutting down; retry")
	}
	if kind == "batch" {
		// A batch is a transaction of its own, committed by the caller's
		// goroutine: grouping it with others would tie their fate to its items.
		e.commitGroup([]*request{r}, false)
		rep := <-r.done
		e.cfg.Metrics.observeIngest(kind, rep.err, time.Since(start))
		return rep.res, rep.err
	}
	select {
	case e.queue <- r:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	select {
	case rep := <-r.done:
		e.cfg.Metrics.observeIngest(kind, rep.err, time.Since(start))
		return rep.res, rep.err
	case <-ctx.Done():
		// The request may still commit; its idempotency key makes a retry safe.
		return Result{}, ctx.Err()
	}
}

// commitLoop takes queued requests and commits them in groups: one
// transaction for up to BatchSize events, one durable commit before any of
// them is answered.
func (e *Engine) commitLoop(ctx context.Context) {
	for {
		// A fresh slice each time: the group outlives this iteration on
		// its way through the applier.
		batch := make([]*request, 0, e.cfg.BatchSize)
		select {
		case r := <-e.queue:
			batch = append(batch, r)
		case <-ctx.Done():
			e.failQueued()
			return
		}
	fill:
		for len(batch) < e.cfg.BatchSize {
			select {
			case r := <-e.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		e.commitGroup(batch, true)
	}
}

func (e *Engine) failQueued() {
	for {
		select {
		case r := <-e.queue:
			r.done <- reply{err: game.Errorf(game.EUnavailable, "", "the server is shutting down; retry")}
		default:
			return
		}
	}
}

// outcome is what processing one request inside a transaction produced.
type outcome struct {
	res    Result
	err    error   // a business error: the request wrote nothing
	outbox *effect // nil when nothing to apply
	pay    bool    // marked pay periods to compute
}

// group is a committed group on its way to the applier.
type group struct {
	batch []*request
	outs  []outcome
	err   error
}

// commitGroup commits a group and has its effects applied and its requests
// answered: by an applier goroutine when async, so that the committer can
// start the next transaction while this one's effects go to Redis, or right
// here. The ingest lock is held from before the commit until the effects are
// applied, which is what lets Rebuild see no event in between.
func (e *Engine) commitGroup(batch []*request, async bool) {
	// Commits outlive the caller's context: an answer may be lost, the
	// transaction is not left half-done. The idempotency key makes retries safe.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.ingestMu.RLock()
	var groups []group
	outs, err := e.commit(ctx, batch)
	if err != nil && len(batch) > 1 {
		// One request broke the shared transaction (a constraint raced with
		// another node, say): commit each on its own so the others land.
		for _, r := range batch {
			o, err := e.commit(ctx, []*request{r})
			groups = append(groups, group{[]*request{r}, o, err})
		}
	} else {
		groups = append(groups, group{batch, outs, err})
	}
	if !async {
		for _, g := range groups {
			e.finish(g.batch, g.outs, g.err)
		}
		e.ingestMu.RUnlock()
		return
	}
	e.applyQ <- groups // the applier releases the ingest lock
}

// applyLoop applies committed groups and answers their requests until the
// committers are gone and the queue is drained.
func (e *Engine) applyLoop() {
	for groups := range e.applyQ {
		for _, g := range groups {
			e.finish(g.batch, g.outs, g.err)
		}
		e.ingestMu.RUnlock()
	}
}

func (e *Engine) commit(ctx context.Context, batch []*request) ([]outcome, error) {
	var outs []outcome
	err := e.store.InTx(ctx, func(tx Tx) error {
		if err := prefetch(ctx, tx, batch); err != nil {
			return err
		}
		outs = make([]outcome, len(batch))
		now := e.cfg.Now().UTC()
		for i, r := range batch {
			o, err := e.process(ctx, tx, r, now)
			if err != nil {
				return err
			}
			outs[i] = o
		}
		return nil
	})
	if err != nil {
		var ab *abortBatch
		if errors.As(err, &ab) {
			return []outcome{{err: ab.err}}, nil
		}
		// A unique key taken meanwhile by another node means the event was
		// received there: once more, the replay path answers it.
		if len(batch) == 1 && game.ErrorCode(err) == game.EConflict {
			err = e.store.InTx(ctx, func(tx Tx) error {
				o, err := e.process(ctx, tx, batch[0], e.cfg.Now().UTC())
				outs = []outcome{o}
				return err
			})
		}
	}
	return outs, err
}

// prefetch loads every event and deal the group will look up in a constant
// number of round trips, and locks the deals.
func prefetch(ctx context.Context, tx Tx, batch []*request) error {
	var keys []string
	var deals []DealRef
	for _, r := range batch {
		if r.hdrKey != "" {
			keys = append(keys, r.hdrKey)
		}
		for _, it := range r.items {
			keys = append(keys, it.natKey)
			if it.deal != nil {
				deals = append(deals, DealRef{Source: it.deal.Source, ExternalID: it.deal.ExternalID})
			}
		}
	}
	return tx.Prefetch(ctx, keys, deals)
}

func (e *Engine) finish(batch []*request, outs []outcome, err error) {
	if err != nil {
		for _, r := range batch {
			r.done <- reply{err: fmt.Errorf("ingest: %w", err)}
		}
		return
	}
	var effects []*effect
	pay := false
	for _, o := range outs {
		if o.outbox != nil {
			effects = append(effects, o.outbox)
		}
		pay = pay || o.pay
	}
	e.applyEffects(context.Background(), effects)
	if pay {
		e.wakeComp()
	}
	for i, r := range batch {
		r.done <- reply{res: outs[i].res, err: outs[i].err}
	}
}

// abortBatch rolls a batch's transaction back because one item was refused.
type abortBatch struct{ err error }

func (a *abortBatch) Error() string { return a.err.Error() }

// process runs one request inside the group's transaction. Each item checks
// before it writes, so a single item refused with a business error has written
// nothing; a refused batch item rolls the whole batch back.
func (e *Engine) process(ctx context.Context, tx Tx, r *request, now time.Time) (outcome, error) {
	if r.hdrKey != "" {
		ev, err := tx.Event(ctx, r.hdrKey)
		if err != nil {
			return outcome{}, err
		}
		if ev != nil {
			if ev.Hash != r.hash {
				return outcome{err: game.Errorf(game.EIdempotency, "Idempotency-Key", "this Idempotency-Key was already used for a different request; resend the original body or use a new key")}, nil
			}
			return outcome{res: Result{Status: ev.Status, Body: ev.Response, Replayed: true}}, nil
		}
	}
	eff := &effect{}
	var entries []game.LedgerEntry
	results := make([]json.RawMessage, len(r.items))
	var first Result
	for i, it := range r.items {
		res, err := e.processItem(ctx, tx, it, now, eff, &entries)
		if err != nil {
			if game.AsError(err) == nil {
				return outcome{}, err
			}
			if r.kind == "batch" {
				return outcome{}, &abortBatch{game.PrefixField(err, "items["+strconv.Itoa(i)+"]")}
			}
			return outcome{err: err}, nil
		}
		results[i] = res.Body
		if i == 0 {
			first = res
		}
	}
	res := first
	if r.kind == "batch" {
		body, _ := json.Marshal(map[string]any{"items": results})
		res = Result{Status: http.StatusOK, Body: body}
	}
	if r.hdrKey != "" {
		if err := tx.PutEvent(ctx, StoredEvent{Key: r.hdrKey, Kind: r.kind, Hash: r.hash, Status: res.Status, Response: res.Body, At: now}); err != nil {
			return outcome{}, err
		}
	}
	o := outcome{res: res}
	if len(entries) > 0 || len(eff.Pubs) > 0 {
		eff.Moves = movesOf(entries)
		deltas, err := eff.deltas()
		if err != nil {
			return outcome{}, err
		}
		eff.Deltas = deltas
		if r.kind == "batch" {
			eff.Key = "batch:" + hashOf(eff.keys)
		} else {
			eff.Key = eff.keys[0]
		}
		payload, _ := json.Marshal(eff)
		if err := tx.AddOutbox(ctx, eff.Key, payload, now); err != nil {
			return outcome{}, err
		}
		o.outbox = eff
		if o.pay, err = e.markCompWork(ctx, tx, eff.Key, entries); err != nil {
			return outcome{}, err
		}
	}
	return o, nil
}

// DealResponse is the answer to a deal: what Podium did with it.
type DealResponse struct {
	Status string             `json:"status"` // created, updated, stale
	Deal   DealState          `json:"deal"`
	Ledger []game.LedgerEntry `json:"ledger"`
}

// ActivityResponse is the answer to an activity.
type ActivityResponse struct {
	Status   string             `json:"status"` // created
	Activity game.Activity      `json:"activity"`
	Ledger   []game.LedgerEntry `json:"ledger"`
}

func (e *Engine) processItem(ctx context.Context, tx Tx, it item, now time.Time, eff *effect, entries *[]game.LedgerEntry) (Result, error) {
	ev, err := tx.Event(ctx, it.natKey)
	if err != nil {
		return Result{}, err
	}
	if ev != nil {
		if ev.Hash != it.hash {
			if it.deal != nil {
				return Result{}, game.Errorf(game.EIdempotency, "version", "deal %s version %d was already received with different content; send the change with a higher version", it.deal.ExternalID, it.deal.Version)
			}
			return Result{}, game.Errorf(game.EIdempotency, "external_id", "activity %s was already received with different content; activities cannot change, send a new external_id", it.activity.ExternalID)
		}
		return Result{Status: ev.Status, Body: ev.Response, Replayed: true}, nil
	}
	var res Result
	if it.deal != nil {
		res, err = e.processDeal(ctx, tx, it, now, eff, entries)
	} else {
		res, err = e.processActivity(ctx, tx, it, now, eff, entries)
	}
	if err != nil {
		return Result{}, err
	}
	eff.keys = append(eff.keys, it.natKey)
	if err := tx.PutEvent(ctx, StoredEvent{Key: it.natKey, Kind: kindOf(it), Hash: it.hash, Status: res.Status, Response: res.Body, At: now}); err != nil {
		return Result{}, err
	}
	return res, nil
}

func kindOf(it item) string {
	if it.deal != nil {
		return "deal"
	}
	return "activity"
}

// activeReps checks that every rep exists and is active, naming the field of
// the first that does not. Reps come from the node's roster when it knows
// them all (no round trip); a rep created on another node a moment ago may
// not have reached this node's roster yet, so any miss asks the database.
func (e *Engine) activeReps(ctx context.Context, tx Tx, ids []int64, field func(i int) string) (map[int64]game.Rep, error) {
	reps := make(map[int64]game.Rep, len(ids))
	e.rosterMu.RLock()
	for _, id := range ids {
		if r, ok := e.reps[id]; ok && r.Active {
			reps[id] = r
		}
	}
	e.rosterMu.RUnlock()
	if len(reps) < len(ids) {
		var err error
		if reps, err = tx.Reps(ctx, ids); err != nil {
			return nil, err
		}
	}
	for i, id := range ids {
		r, ok := reps[id]
		if !ok {
			return nil, game.Errorf(game.EUnknownRep, field(i), "there is no rep with id %d; create the rep first", id)
		}
		if !r.Active {
			return nil, game.Errorf(game.EUnknownRep, field(i), "rep %d (%s) is deactivated and cannot be credited", id, r.Name)
		}
	}
	return reps, nil
}

func (e *Engine) processDeal(ctx context.Context, tx Tx, it item, now time.Time, eff *effect, entries *[]game.LedgerEntry) (Result, error) {
	d := *it.deal
	ids := make([]int64, len(d.Splits))
	for i, s := range d.Splits {
		ids[i] = s.RepID
	}
	reps, err := e.activeReps(ctx, tx, ids, func(i int) string {
		if len(ids) == 1 {
			return "rep_id"
		}
		return "splits[" + strconv.Itoa(i) + "].rep_id"
	})
	if err != nil {
		return Result{}, err
	}
	cur, err := tx.Deal(ctx, d.Source, d.ExternalID)
	if err != nil {
		return Result{}, err
	}
	if cur != nil && cur.Version >= d.Version {
		// Out of order or repeated: the deal already reflects a newer change.
		body, _ := json.Marshal(DealResponse{Status: "stale", Deal: *cur, Ledger: []game.LedgerEntry{}})
		return Result{Status: http.StatusOK, Body: body}, nil
	}
	teamOf := make(map[int64]int64, len(reps))
	for id, r := range reps {
		teamOf[id] = r.TeamID
	}
	after := game.Credits(d, teamOf, e.cfg.Location)
	var before []game.Credit
	corrects := ""
	status, code := "created", http.StatusCreated
	if cur != nil {
		before, corrects = cur.Credits, cur.EventKey
		status, code = "updated", http.StatusOK
	}
	dealID := d.Source + "/" + d.ExternalID
	led := game.DealLedger(dealID, before, after, d.Currency, corrects)
	state := DealState{Deal: d, Credits: after, EventKey: it.natKey}
	if state.Credits == nil {
		state.Credits = []game.Credit{}
	}
	if err := tx.PutDeal(ctx, state); err != nil {
		return Result{}, err
	}
	if len(led) > 0 {
		if err := tx.AppendLedger(ctx, it.natKey, now, led); err != nil {
			return Result{}, err
		}
	}
	*entries = append(*entries, led...)
	e.dealPubs(eff, d, before, after, led)
	if led == nil {
		led = []game.LedgerEntry{}
	}
	body, _ := json.Marshal(DealResponse{Status: status, Deal: state, Ledger: led})
	return Result{Status: code, Body: body}, nil
}

func (e *Engine) processActivity(ctx context.Context, tx Tx, it item, now time.Time, eff *effect, entries *[]game.LedgerEntry) (Result, error) {
	a := *it.activity
	reps, err := e.activeReps(ctx, tx, []int64{a.RepID}, func(int) string { return "rep_id" })
	if err != nil {
		return Result{}, err
	}
	if err := tx.PutActivity(ctx, a); err != nil {
		return Result{}, err
	}
	led := game.ActivityLedger(a, reps[a.RepID].TeamID, e.cfg.Location)
	if err := tx.AppendLedger(ctx, it.natKey, now, led); err != nil {
		return Result{}, err
	}
	*entries = append(*entries, led...)
	body, _ := json.Marshal(ActivityResponse{Status: "created", Activity: a, Ledger: led})
	return Result{Status: http.StatusCreated, Body: body}, nil
}
