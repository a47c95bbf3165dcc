package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"podium/game"
)

// effect is what a committed event must do outside SQL: board increments and
// publications. It is stored as the outbox row's payload, so that the relay can
// redo it after a crash between commit and apply.
type effect struct {
	Key string `json:"key"` // dedup id for Boards.Apply
	// Moves are the event's ledger changes in short form; the board deltas
	// (a deal touches 36 boards) are derived from them, so the outbox row,
	// written for every event, stays small.
	Moves []move        `json:"moves,omitempty"`
	Pubs  []Publication `json:"pubs,omitempty"`

	Deltas []game.BoardDelta `json:"-"`

	keys []string
}

// move is one ledger change as the outbox keeps it.
type move struct {
	Rep    int64       `json:"r"`
	Team   int64       `json:"t,omitempty"`
	Metric game.Metric `json:"m"`
	Day    string      `json:"d"`
	Delta  int64       `json:"v"`
}

func movesOf(entries []game.LedgerEntry) []move {
	out := make([]move, len(entries))
	for i, e := range entries {
		out[i] = move{e.RepID, e.TeamID, e.Metric, e.Day, e.Delta}
	}
	return out
}

// deltas derives the board increments of the effect's moves.
func (eff *effect) deltas() ([]game.BoardDelta, error) {
	entries := make([]game.LedgerEntry, len(eff.Moves))
	for i, m := range eff.Moves {
		entries[i] = game.LedgerEntry{RepID: m.Rep, TeamID: m.Team, Metric: m.Metric, Day: m.Day, Delta: m.Delta}
	}
	return game.BoardDeltas(entries)
}

// FeedChannel is the public channel of won deals.
const FeedChannel = "feed"

// RepChannel returns the personal channel of a rep.
func RepChannel(repID int64) string { return "rep:" + strconv.FormatInt(repID, 10) }

// FeedRep is one credited rep in a feed event.
type FeedRep struct {
	RepID  int64  `json:"rep_id"`
	Name   string `json:"name"`
	Team   string `json:"team,omitempty"`
	Amount string `json:"amount"`
}

// FeedEvent is published on the feed channel when a deal is won.
type FeedEvent struct {
	Kind     string    `json:"kind"` // deal_won
	DealName string    `json:"deal_name"`
	Product  string    `json:"product,omitempty"`
	Amount   string    `json:"amount"`
	Currency string    `json:"currency"`
	Reps     []FeedRep `json:"reps"`
	At       time.Time `json:"at"`
}

// RepEvent is published on a rep's personal channel when their credit changes.
type RepEvent struct {
	Kind     string `json:"kind"` // credited
	Deal     string `json:"deal"`
	DealName string `json:"deal_name"`
	Reason   string `json:"reason"`
	Revenue  string `json:"revenue"` // the change, signed
	Currency string `json:"currency"`
	Points   int64  `json:"points"`
}

func (e *Engine) dealPubs(eff *effect, d game.Deal, before, after []game.Credit, led []game.LedgerEntry) {
	name := d.Name
	if name == "" {
		name = d.ExternalID
	}
	if len(before) == 0 && len(after) > 0 {
		ev := FeedEvent{Kind: "deal_won", DealName: name, Product: d.Product, Amount: d.Amount.StringFixed(mustDigits(d.Currency)), Currency: d.Currency, At: d.CloseTime}
		for _, c := range after {
			fr := FeedRep{RepID: c.RepID, Amount: game.FormatMinor(c.Minor, d.Currency)}
			if r, ok := e.Rep(c.RepID); ok {
				fr.Name = r.Name
			}
			if t, ok := e.Team(c.TeamID); ok {
				fr.Team = t.Name
			}
			ev.Reps = append(ev.Reps, fr)
		}
		data, _ := json.Marshal(ev)
		eff.Pubs = append(eff.Pubs, Publication{Channel: FeedChannel, Data: data})
	}
	type sums struct{ revenue, points int64 }
	per := map[int64]*sums{}
	var order []int64
	for _, l := range led {
		s := per[l.RepID]
		if s == nil {
			s = &sums{}
			per[l.RepID] = s
			order = append(order, l.RepID)
		}
		switch l.Metric {
		case game.MetricRevenue:
			s.revenue += l.Delta
		case game.MetricPoints:
			s.points += l.Delta
		}
	}
	for _, rep := range order {
		s := per[rep]
		data, _ := json.Marshal(RepEvent{Kind: "credited", Deal: d.Source + "/" + d.ExternalID, DealName: name, Reason: led[0].Reason, Revenue: game.FormatMinor(s.revenue, d.Currency), Currency: d.Currency, Points: s.points})
		eff.Pubs = append(eff.Pubs, Publication{Channel: RepChannel(rep), Data: data})
	}
}

func mustDigits(currency string) int32 {
	d, _ := game.MinorDigits(currency)
	return d
}

// applyEffects carries committed effects to the boards and the bus, then
// marks their outbox rows applied: one round trip for all the group's board
// increments, then one for all its messages, ending with a notice that lists
// every board the group touched (so screens re-read them after they changed).
// If the boards cannot be updated the rows stay pending for the relay;
// Boards.Apply is idempotent per effect key, so a retry cannot double count.
// Messages are at most once, like the bus itself: a failed publish is logged
// and the effects are still marked applied.
func (e *Engine) applyEffects(ctx context.Context, effects []*effect) {
	if len(effects) == 0 {
		return
	}
	events := make([]EventDeltas, 0, len(effects))
	var pubs []Publication
	touched := map[string]bool{}
	var boards []string
	keys := make([]string, len(effects))
	for i, eff := range effects {
		keys[i] = eff.Key
		if len(eff.Deltas) > 0 {
			events = append(events, EventDeltas{ID: eff.Key, Deltas: eff.Deltas})
		}
		for _, d := range eff.Deltas {
			if !touched[d.Board] {
				touched[d.Board] = true
				boards = append(boards, d.Board)
			}
		}
		pubs = append(pubs, eff.Pubs...)
	}
	if err := e.boards.ApplyBatch(ctx, events); err != nil {
		e.log.Warn("apply effects; the relay will retry", "events", len(events), "err", err)
		return
	}
	if len(boards) > 0 {
		data, _ := json.Marshal(boards)
		pubs = append(pubs, Publication{Channel: chanBoards, Data: data})
	}
	if err := e.bus.PublishBatch(ctx, pubs); err != nil {
		e.log.Warn("publish effects", "messages", len(pubs), "err", err)
	}
	e.cfg.Metrics.EffectsApplied.Add(float64(len(effects)))
	if err := e.store.MarkApplied(ctx, keys); err != nil {
		e.log.Warn("mark outbox applied; the relay will retry", "err", err)
	}
}

// relayLoop re-applies effects that were committed but not applied (the node
// that committed them crashed, or the board store was briefly down) and
// rebuilds the boards when the board store lost its data.
func (e *Engine) relayLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.RelayInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if rebuilt, err := e.ensureBoards(ctx); err != nil {
			e.log.Warn("board epoch check", "err", err)
		} else if rebuilt {
			e.cfg.Metrics.Rebuilds.Add(1)
		}
		if err := e.relayOnce(ctx, e.cfg.Now().Add(-e.cfg.RelayGrace)); err != nil && ctx.Err() == nil {
			e.log.Warn("outbox relay", "err", err)
		}
	}
}

// relayOnce applies pending outbox rows created before olderThan.
func (e *Engine) relayOnce(ctx context.Context, olderThan time.Time) error {
	prevFirst := ""
	for {
		rows, err := e.store.PendingOutbox(ctx, olderThan, 256)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		// Rows leave the outbox when marked applied; the same first row
		// again means marking fails, so stop until the next round.
		if rows[0].EventKey == prevFirst {
			return errors.New("outbox rows are not being marked applied; retrying next round")
		}
		prevFirst = rows[0].EventKey
		effects := make([]*effect, 0, len(rows))
		for _, r := range rows {
			eff := &effect{}
			if err := json.Unmarshal(r.Payload, eff); err != nil {
				e.log.Error("unreadable outbox row; skipped", "event", r.EventKey, "err", err)
				_ = e.store.MarkApplied(ctx, []string{r.EventKey})
				continue
			}
			eff.Key = r.EventKey
			if eff.Deltas, err = eff.deltas(); err != nil {
				e.log.Error("outbox row names no board; skipped", "event", r.EventKey, "err", err)
				_ = e.store.MarkApplied(ctx, []string{r.EventKey})
				continue
			}
			effects = append(effects, eff)
		}
		e.ingestMu.RLock()
		e.applyEffects(ctx, effects)
		e.ingestMu.RUnlock()
		e.cfg.Metrics.Relayed.Add(float64(len(effects)))
		if len(rows) < 256 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
