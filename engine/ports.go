package engine

import (
	"context"
	"encoding/json"
	"time"

	"podium/game"
)

// Boards is the derived, rebuildable store of leaderboards: one sorted set per
// game.BoardKey, members are rep ids, scores are integers (minor units or
// counts). engine/memory and engine/redis implement it and pass the contract
// suite in engine/enginetest.
type Boards interface {
	// Apply adds every delta in one round trip. It is idempotent per eventID
	// for at least DedupWindow: applying the same eventID again (the outbox
	// relay after a crash between apply and acknowledgement) changes nothing.
	Apply(ctx context.Context, eventID string, deltas []game.BoardDelta) error
	// ApplyBatch is Apply for several events in one round trip. On error,
	// any of them may or may not have been applied; Apply's idempotency makes
	// retrying them all safe.
	ApplyBatch(ctx context.Context, events []EventDeltas) error
	// Top returns the first n standings of a board in game.RankLess order with
	// competition ranks; an unknown board is empty, not an error.
	Top(ctx context.Context, board string, n int) ([]game.Standing, error)
	// Standing returns one rep's standing; ok is false when the rep is not on
	// the board.
	Standing(ctx context.Context, board string, repID int64) (s game.Standing, ok bool, err error)
	// Around returns the standings of up to radius reps before and after repID
	// in board order, the rep included; empty when the rep is not on the board.
	Around(ctx context.Context, board string, repID int64, radius int) ([]game.Standing, error)
	// Replace sets a board to exactly scores (reps absent from scores are
	// removed); an empty map deletes the board. Used by rebuild.
	Replace(ctx context.Context, board string, scores map[int64]int64) error
	// Boards lists the keys of every board that exists.
	Boards(ctx context.Context) ([]string, error)
	// Epoch returns the store's epoch marker, "" when it has none: a store
	// that lost its data (flushed, restarted without persistence) has none, and
	// the engine rebuilds every board before setting a new one.
	Epoch(ctx context.Context) (string, error)
	// SetEpoch stores the epoch marker.
	SetEpoch(ctx context.Context, epoch string) error
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
}

// EventDeltas are the board increments of one event.
type EventDeltas struct {
	ID     string
	Deltas []game.BoardDelta
}

// DedupWindow is how long a board store remembers applied event ids. The outbox
// relay re-applies an event well within it (see Config.RelayGrace).
const DedupWindow = 10 * time.Minute

// A Message is one publication on a channel. Offset grows by one per message
// on a channel; Epoch changes when the channel's history was lost, telling a
// resuming client that offsets restarted.
type Message struct {
	Channel string `json:"channel"`
	Offset  uint64 `json:"offset"`
	Epoch   string `json:"epoch"`
	Data    []byte `json:"data"`
}

// Publication is a message to publish on a channel.
type Publication struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// Bus carries messages between nodes. Every node's hub subscribes to every
// channel and fans messages out to its own connections. engine/memory and
// engine/redis implement it and pass the contract suite in engine/enginetest.
type Bus interface {
	// Publish assigns the next offset on channel, keeps the message in the
	// channel's bounded history and delivers it to every subscriber on every
	// node, in one round trip.
	Publish(ctx context.Context, channel string, data []byte) (Message, error)
	// PublishBatch publishes several messages, in order, in one round trip.
	PublishBatch(ctx context.Context, pubs []Publication) error
	// History returns the messages on channel with offsets above since, oldest
	// first, and the channel's epoch. complete is false when the history no
	// longer reaches back to since+1 (the caller then sends a fresh snapshot).
	History(ctx context.Context, channel string, since uint64) (msgs []Message, epoch string, complete bool, err error)
	// Forget drops a channel's history and offsets (erasing a person drops
	// the messages that named them). The next publish starts a new epoch, so
	// a resuming client is sent a fresh snapshot instead of the old messages.
	Forget(ctx context.Context, channel string) error
	// Subscribe delivers every message published on any channel, from any node,
	// to handler until ctx is done. It returns once the subscription is active;
	// delivery then goes on in the background. Delivery is at most once;
	// handler must not block for long and must not modify Message.Data, which
	// may be shared.
	Subscribe(ctx context.Context, handler func(Message)) error
}

// Store is the relational source of truth. store/sqlite and store/postgres
// implement it and pass the contract suite in store/storetest.
type Store interface {
	// CreateTeam, UpdateTeam, CreateRep and UpdateRep write their audit
	// entry ("team.create", "team.update", "rep.create", "rep.update") in
	// the same transaction. A team's parent must exist and must not be the
	// team itself or below it (EInvalid on "parent_id").
	CreateTeam(ctx context.Context, t game.Team, by game.Actor) (game.Team, error)
	UpdateTeam(ctx context.Context, t game.Team, by game.Actor) (game.Team, error)
	ListTeams(ctx context.Context) ([]game.Team, error)
	CreateRep(ctx context.Context, r game.Rep, by game.Actor) (game.Rep, error)
	UpdateRep(ctx context.Context, r game.Rep, by game.Actor) (game.Rep, error)
	ListReps(ctx context.Context) ([]game.Rep, error)

	// InTx runs fn in one transaction, committing when fn returns nil and
	// rolling back otherwise.
	InTx(ctx context.Context, fn func(Tx) error) error

	// Deal returns a deal's current state, nil when unknown.
	Deal(ctx context.Context, source, externalID string) (*DealState, error)
	// Ledger returns a rep's ledger rows, newest first, at most limit.
	Ledger(ctx context.Context, repID int64, limit int) ([]LedgerRow, error)
	// LedgerTotals streams SUM(delta) grouped by rep, team, metric and day.
	LedgerTotals(ctx context.Context, fn func(LedgerTotal) error) error

	// PendingOutbox returns unapplied outbox rows created before olderThan,
	// oldest first.
	PendingOutbox(ctx context.Context, olderThan time.Time, limit int) ([]OutboxRow, error)
	// MarkApplied records that the outbox rows of these event keys took
	// effect on boards and bus. Unknown keys are ignored.
	MarkApplied(ctx context.Context, eventKeys []string) error

	Ping(ctx context.Context) error
	Close() error
}

// Tx is the work the ingest pipeline does inside one transaction.
//
// Reads see the transaction's own writes. Writes may be buffered and sent to
// the database in one round trip when fn returns, so a constraint they break
// (a unique key taken meanwhile by another node) can surface as the error of
// InTx rather than of the write call; the transaction is then rolled back.
type Tx interface {
	// Prefetch loads, in a constant number of round trips, the events and
	// the deals (locked for update until commit) that the transaction is
	// about to look up, so that Event and Deal answer from memory. Deals are
	// locked in a fixed order, so concurrent transactions cannot deadlock.
	Prefetch(ctx context.Context, eventKeys []string, deals []DealRef) error
	// Event returns a stored event by idempotency key, nil when absent.
	Event(ctx context.Context, key string) (*StoredEvent, error)
	// PutEvent stores an event; its key is unique.
	PutEvent(ctx context.Context, e StoredEvent) error
	// Reps returns the named reps that exist (active or not).
	Reps(ctx context.Context, ids []int64) (map[int64]game.Rep, error)
	// Deal returns a deal's state for update (locked until commit), nil when unknown.
	Deal(ctx context.Context, source, externalID string) (*DealState, error)
	// PutDeal inserts or replaces a deal's state.
	PutDeal(ctx context.Context, d DealState) error
	// PutActivity stores an activity; (source, external id) is unique.
	PutActivity(ctx context.Context, a game.Activity) error
	// AppendLedger appends rows caused by the event with key eventKey, at time at.
	AppendLedger(ctx context.Context, eventKey string, at time.Time, entries []game.LedgerEntry) error
	// AddOutbox appends the outbox row of an event; eventKey is unique.
	AddOutbox(ctx context.Context, eventKey string, payload []byte, at time.Time) error
	// AddCompWork marks a rep's plan period for a pay computation (an
	// upsert: a period marked again keeps one row, with the latest event
	// key and a cleared claim).
	AddCompWork(ctx context.Context, w CompWork) error
}

// DealRef names a deal by source and external id.
type DealRef struct {
	Source     string
	ExternalID string
}

// StoredEvent is an accepted input, kept for idempotency: a replay with the
// same key and the same body hash gets Response back; a different hash is
// refused.
type StoredEvent struct {
	Key      string
	Kind     string // "deal", "activity", "batch"
	Hash     string // hex SHA-256 of the canonical request
	Status   int    // HTTP status of the first answer
	Response []byte // JSON of the first answer
	At       time.Time
}

// DealState is a deal with what it is currently credited with.
type DealState struct {
	game.Deal
	Credits  []game.Credit `json:"credits"`
	EventKey string        `json:"event_key"` // the event that last changed the deal
}

// LedgerRow is a stored ledger entry.
type LedgerRow struct {
	ID       int64     `json:"id"`
	EventKey string    `json:"event_key"`
	At       time.Time `json:"at"`
	game.LedgerEntry
}

// LedgerTotal is an aggregate of ledger deltas.
type LedgerTotal struct {
	RepID  int64
	TeamID int64
	Metric game.Metric
	Day    string
	Total  int64
}

// OutboxRow is an effect committed with its event and not yet known applied.
type OutboxRow struct {
	EventKey  string
	Payload   []byte
	CreatedAt time.Time
}
