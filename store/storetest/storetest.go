// Package storetest is the contract every engine.Store passes: store/sqlite
// and store/postgres run Run against a fresh database each, and Bench for
// their ingest benchmarks. Adding a behaviour to engine.Store means adding
// its test here, once.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
)

// Run runs the contract suite. open must return a Store on a fresh, migrated,
// empty database each time it is called, closed at the test's cleanup.
func Run(t *testing.T, open func(t *testing.T) engine.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s engine.Store)
	}{
		{"Teams", testTeams},
		{"Reps", testReps},
		{"TxCommit", testTxCommit},
		{"TxRollback", testTxRollback},
		{"TxPanic", testTxPanic},
		{"EventKeyUnique", testEventKeyUnique},
		{"Deals", testDeals},
		{"DealLock", testDealLock},
		{"Activities", testActivities},
		{"Ledger", testLedger},
		{"LedgerTotals", testLedgerTotals},
		{"Outbox", testOutbox},
		{"ConcurrentTx", testConcurrentTx},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// ctx returns a context that ends with the test.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// t0 is a fixed time with microseconds, the precision every Store keeps.
var t0 = time.Date(2026, 11, 28, 15, 4, 5, 123456000, time.UTC)

func wantCode(t testing.TB, err error, code, field string) {
	t.Helper()
	e := game.AsError(err)
	if e == nil {
		t.Fatalf("error = %v, want a game error with code %q", err, code)
	}
	if e.Code != code || e.Field != field {
		t.Fatalf("error = %v, want code %q on field %q", err, code, field)
	}
}

// result carries a call's value and error to must: try(s.ListTeams(c)).must(t).
type result[T any] struct {
	v   T
	err error
}

func try[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) must(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func inTx(t testing.TB, s engine.Store, fn func(tx engine.Tx) error) {
	t.Helper()
	if err := s.InTx(ctx(t), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

func testTeams(t *testing.T, s engine.Store) {
	c := ctx(t)
	if got := try(s.ListTeams(c)).must(t); len(got) != 0 {
		t.Fatalf("ListTeams on an empty store = %v", got)
	}
	east := try(s.CreateTeam(c, game.Team{Name: "East", Active: true})).must(t)
	west := try(s.CreateTeam(c, game.Team{Name: "West"})).must(t)
	if east.ID <= 0 || west.ID <= 0 || east.ID == west.ID {
		t.Fatalf("ids %d, %d: want distinct positive ids", east.ID, west.ID)
	}
	_, err := s.CreateTeam(c, game.Team{Name: "East", Active: true})
	wantCode(t, err, game.EConflict, "name")

	west.Name, west.Active = "West Coast", true
	if got := try(s.UpdateTeam(c, west)).must(t); got != west {
		t.Fatalf("UpdateTeam = %+v, want %+v", got, west)
	}
	_, err = s.UpdateTeam(c, game.Team{ID: west.ID, Name: "East"})
	wantCode(t, err, game.EConflict, "name")
	_, err = s.UpdateTeam(c, game.Team{ID: west.ID + 1000, Name: "Nowhere"})
	wantCode(t, err, game.ENotFound, "id")

	want := []game.Team{east, west}
	if got := try(s.ListTeams(c)).must(t); !slices.Equal(got, want) {
		t.Fatalf("ListTeams = %+v, want %+v", got, want)
	}
}

func testReps(t *testing.T, s engine.Store) {
	c := ctx(t)
	team := try(s.CreateTeam(c, game.Team{Name: "East", Active: true})).must(t)
	ann := try(s.CreateRep(c, game.Rep{TeamID: team.ID, Name: "Ann", Email: "ann@example.com", Active: true})).must(t)
	bob := try(s.CreateRep(c, game.Rep{Name: "Bob", Active: true})).must(t) // no team, no email
	cat := try(s.CreateRep(c, game.Rep{Name: "Cat"})).must(t)               // a second rep without email
	if ann.ID <= 0 || bob.ID <= 0 || cat.ID <= 0 {
		t.Fatalf("rep ids %d, %d, %d", ann.ID, bob.ID, cat.ID)
	}

	_, err := s.CreateRep(c, game.Rep{Name: "Ann 2", Email: "ann@example.com"})
	wantCode(t, err, game.EConflict, "email")
	_, err = s.CreateRep(c, game.Rep{Name: "Dan", TeamID: team.ID + 1000})
	wantCode(t, err, game.EInvalid, "team_id")

	bob.TeamID, bob.Email = team.ID, "bob@example.com"
	if got := try(s.UpdateRep(c, bob)).must(t); got != bob {
		t.Fatalf("UpdateRep = %+v, want %+v", got, bob)
	}
	_, err = s.UpdateRep(c, game.Rep{ID: cat.ID, Name: "Cat", Email: "ann@example.com"})
	wantCode(t, err, game.EConflict, "email")
	_, err = s.UpdateRep(c, game.Rep{ID: cat.ID, Name: "Cat", TeamID: team.ID + 1000})
	wantCode(t, err, game.EInvalid, "team_id")
	_, err = s.UpdateRep(c, game.Rep{ID: cat.ID + 1000, Name: "Nobody"})
	wantCode(t, err, game.ENotFound, "id")

	ann.TeamID = 0 // leaving a team
	try(s.UpdateRep(c, ann)).must(t)
	want := []game.Rep{ann, bob, cat}
	if got := try(s.ListReps(c)).must(t); !slices.Equal(got, want) {
		t.Fatalf("ListReps = %+v, want %+v", got, want)
	}

	inTx(t, s, func(tx engine.Tx) error {
		got, err := tx.Reps(c, []int64{cat.ID, ann.ID, ann.ID, cat.ID + 1000})
		if err != nil {
			return err
		}
		if len(got) != 2 || got[ann.ID] != ann || got[cat.ID] != cat {
			t.Errorf("Tx.Reps = %+v, want Ann and Cat (inactive included), not the unknown id", got)
		}
		if none, err := tx.Reps(c, nil); err != nil || len(none) != 0 {
			t.Errorf("Tx.Reps(nil) = %v, %v; want empty", none, err)
		}
		return nil
	})
}

// seedReps creates a team and n reps in it.
func seedReps(t testing.TB, s engine.Store, n int) (game.Team, []game.Rep) {
	t.Helper()
	c := ctx(t)
	team := try(s.CreateTeam(c, game.Team{Name: fmt.Sprintf("Team %d", time.Now().UnixNano()), Active: true})).must(t)
	reps := make([]game.Rep, n)
	for i := range reps {
		reps[i] = try(s.CreateRep(c, game.Rep{TeamID: team.ID, Name: fmt.Sprintf("Rep %d", i), Active: true})).must(t)
	}
	return team, reps
}

func event(key string) engine.StoredEvent {
	return engine.StoredEvent{Key: key, Kind: "deal", Hash: "ab12", Status: 201, Response: []byte(`{"ok":true}`), At: t0}
}

func testTxCommit(t *testing.T, s engine.Store) {
	c := ctx(t)
	team, reps := seedReps(t, s, 1)
	var outID int64
	inTx(t, s, func(tx engine.Tx) error {
		if e, err := tx.Event(c, "api/1/1"); err != nil || e != nil {
			return fmt.Errorf("Event before PutEvent = %v, %v; want nil, nil", e, err)
		}
		if err := tx.PutEvent(c, event("api/1/1")); err != nil {
			return err
		}
		// Visible inside the transaction that wrote it.
		if e, err := tx.Event(c, "api/1/1"); err != nil || e == nil {
			return fmt.Errorf("Event after PutEvent = %v, %v", e, err)
		}
		if err := tx.AppendLedger(c, "api/1/1", t0, []game.LedgerEntry{
			{RepID: reps[0].ID, TeamID: team.ID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1, Reason: "won"},
		}); err != nil {
			return err
		}
		var err error
		outID, err = tx.AddOutbox(c, "api/1/1", []byte(`{}`), t0)
		return err
	})
	var got *engine.StoredEvent
	inTx(t, s, func(tx engine.Tx) error {
		var err error
		got, err = tx.Event(c, "api/1/1")
		return err
	})
	want := event("api/1/1")
	if got == nil || got.Key != want.Key || got.Kind != want.Kind || got.Hash != want.Hash ||
		got.Status != want.Status || !bytes.Equal(got.Response, want.Response) || !got.At.Equal(want.At) ||
		got.At.Location() != time.UTC {
		t.Fatalf("Event = %+v, want %+v", got, want)
	}
	if rows := try(s.Ledger(c, reps[0].ID, 10)).must(t); len(rows) != 1 {
		t.Fatalf("Ledger = %+v, want the committed row", rows)
	}
	if out := try(s.PendingOutbox(c, t0.Add(time.Second), 10)).must(t); len(out) != 1 || out[0].ID != outID {
		t.Fatalf("PendingOutbox = %+v, want row %d", out, outID)
	}
}

var errBoom = errors.New("boom")

// writeAll does one of every Tx write for the key.
func writeAll(c context.Context, tx engine.Tx, key string, repID int64) error {
	if err := tx.PutEvent(c, event(key)); err != nil {
		return err
	}
	if err := tx.PutDeal(c, engine.DealState{Deal: deal(key, repID, "10.00"), EventKey: key}); err != nil {
		return err
	}
	if err := tx.PutActivity(c, game.Activity{Source: "crm", ExternalID: key, RepID: repID, Kind: game.ActivityCall, Count: 1, OccurredAt: t0}); err != nil {
		return err
	}
	if err := tx.AppendLedger(c, key, t0, []game.LedgerEntry{{RepID: repID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1}}); err != nil {
		return err
	}
	_, err := tx.AddOutbox(c, key, []byte(`{}`), t0)
	return err
}

// wantNothing checks that no trace of key's writes is in the store.
func wantNothing(t *testing.T, s engine.Store, key string, repID int64) {
	t.Helper()
	c := ctx(t)
	inTx(t, s, func(tx engine.Tx) error {
		if e, err := tx.Event(c, key); err != nil || e != nil {
			t.Errorf("event %q survived the rollback: %v, %v", key, e, err)
		}
		return nil
	})
	if d := try(s.Deal(c, "crm", key)).must(t); d != nil {
		t.Errorf("deal survived the rollback: %+v", d)
	}
	if rows := try(s.Ledger(c, repID, 10)).must(t); len(rows) != 0 {
		t.Errorf("ledger rows survived the rollback: %+v", rows)
	}
	if out := try(s.PendingOutbox(c, t0.Add(time.Hour), 10)).must(t); len(out) != 0 {
		t.Errorf("outbox rows survived the rollback: %+v", out)
	}
	// The activity key is free again.
	inTx(t, s, func(tx engine.Tx) error {
		return tx.PutActivity(c, game.Activity{Source: "crm", ExternalID: key, RepID: repID, Kind: game.ActivityCall, Count: 1, OccurredAt: t0})
	})
}

func testTxRollback(t *testing.T, s engine.Store) {
	c := ctx(t)
	_, reps := seedReps(t, s, 1)
	err := s.InTx(c, func(tx engine.Tx) error {
		if err := writeAll(c, tx, "k1", reps[0].ID); err != nil {
			return err
		}
		return fmt.Errorf("rules refused: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	wantNothing(t, s, "k1", reps[0].ID)
}

func testTxPanic(t *testing.T, s engine.Store) {
	c := ctx(t)
	_, reps := seedReps(t, s, 1)
	func() {
		defer func() {
			if p := recover(); p != errBoom {
				t.Fatalf("recovered %v, want the panic of fn to go on", p)
			}
		}()
		_ = s.InTx(c, func(tx engine.Tx) error {
			if err := writeAll(c, tx, "k1", reps[0].ID); err != nil {
				t.Error(err)
			}
			panic(errBoom)
		})
	}()
	// Rolled back, and the connection went back: the store still works.
	wantNothing(t, s, "k1", reps[0].ID)
}

func testEventKeyUnique(t *testing.T, s engine.Store) {
	c := ctx(t)
	_, reps := seedReps(t, s, 1)
	inTx(t, s, func(tx engine.Tx) error { return tx.PutEvent(c, event("dup")) })
	err := s.InTx(c, func(tx engine.Tx) error {
		if err := tx.AppendLedger(c, "dup", t0, []game.LedgerEntry{{RepID: reps[0].ID, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 5}}); err != nil {
			return err
		}
		return tx.PutEvent(c, event("dup"))
	})
	wantCode(t, err, game.EConflict, "idempotency_key")
	if rows := try(s.Ledger(c, reps[0].ID, 10)).must(t); len(rows) != 0 {
		t.Fatalf("the failed transaction left ledger rows: %+v", rows)
	}
}

func deal(id string, repID int64, amount string) game.Deal {
	return game.Deal{
		Source: "crm", ExternalID: id, Version: 1, Name: "Acme renewal",
		Splits:   []game.Split{{RepID: repID, Share: decimal.NewFromInt(1)}},
		Amount:   decimal.RequireFromString(amount),
		Currency: "USD", Stage: game.StageWon, CloseTime: t0, Product: "suite",
	}
}

func equalDeal(a, b *engine.DealState) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Source != b.Source || a.ExternalID != b.ExternalID || a.Version != b.Version || a.Name != b.Name ||
		!a.Amount.Equal(b.Amount) || a.Amount.Exponent() != b.Amount.Exponent() ||
		a.Currency != b.Currency || a.Stage != b.Stage || a.CloseTime != b.CloseTime ||
		a.Product != b.Product || a.EventKey != b.EventKey ||
		!slices.Equal(a.Credits, b.Credits) || len(a.Splits) != len(b.Splits) {
		return false
	}
	for i := range a.Splits {
		if a.Splits[i].RepID != b.Splits[i].RepID || !a.Splits[i].Share.Equal(b.Splits[i].Share) {
			return false
		}
	}
	return true
}

func testDeals(t *testing.T, s engine.Store) {
	c := ctx(t)
	team, reps := seedReps(t, s, 2)
	won := &engine.DealState{
		Deal: deal("opp-1", reps[0].ID, "1234567.89"),
		Credits: []game.Credit{
			{RepID: reps[0].ID, TeamID: team.ID, Day: "2026-11-28", Minor: 61728395},
			{RepID: reps[1].ID, TeamID: 0, Day: "2026-11-28", Minor: 61728394},
		},
		EventKey: "crm/opp-1/1",
	}
	won.Splits = []game.Split{
		{RepID: reps[0].ID, Share: decimal.RequireFromString("0.5")},
		{RepID: reps[1].ID, Share: decimal.RequireFromString("0.50")},
	}
	small := &engine.DealState{Deal: deal("opp-2", reps[1].ID, "0.10"), EventKey: "crm/opp-2/1"}
	open := &engine.DealState{Deal: deal("opp-3", reps[1].ID, "999999999999.99"), EventKey: "crm/opp-3/7"}
	open.Stage, open.CloseTime, open.Version = game.StageOpen, time.Time{}, 7 // no close time yet

	inTx(t, s, func(tx engine.Tx) error {
		for _, d := range []*engine.DealState{won, small, open} {
			if got, err := tx.Deal(c, d.Source, d.ExternalID); err != nil || got != nil {
				return fmt.Errorf("Tx.Deal of a new deal = %+v, %v; want nil", got, err)
			}
			if err := tx.PutDeal(c, *d); err != nil {
				return err
			}
		}
		return nil
	})
	for _, want := range []*engine.DealState{won, small, open} {
		got := try(s.Deal(c, want.Source, want.ExternalID)).must(t)
		if !equalDeal(got, want) {
			t.Errorf("Deal = %+v\nwant   %+v", got, want)
		}
		if got != nil && got.CloseTime.Location() != time.UTC {
			t.Errorf("CloseTime in %v, want UTC", got.CloseTime.Location())
		}
		inTx(t, s, func(tx engine.Tx) error {
			got, err := tx.Deal(c, want.Source, want.ExternalID)
			if !equalDeal(got, want) {
				t.Errorf("Tx.Deal = %+v, %v\nwant   %+v", got, err, want)
			}
			return err
		})
	}
	if got := try(s.Deal(c, "crm", "unknown")).must(t); got != nil {
		t.Fatalf("Deal(unknown) = %+v, want nil", got)
	}
	if got := try(s.Deal(c, "other-crm", "opp-1")).must(t); got != nil {
		t.Fatalf("Deal of another source = %+v, want nil", got)
	}

	// Replace: a later version that lost the deal clears its credits.
	lost := *won
	lost.Version, lost.Stage, lost.Credits, lost.EventKey = 2, game.StageLost, nil, "crm/opp-1/2"
	lost.Amount = decimal.RequireFromString("1000.5")
	inTx(t, s, func(tx engine.Tx) error { return tx.PutDeal(c, lost) })
	if got := try(s.Deal(c, "crm", "opp-1")).must(t); !equalDeal(got, &lost) {
		t.Fatalf("Deal after replace = %+v\nwant %+v", got, lost)
	}
}

// testDealLock checks that Tx.Deal holds a deal until commit, also one that
// does not exist yet: the second transaction must see the first one's deal.
func testDealLock(t *testing.T, s engine.Store) {
	c := ctx(t)
	_, reps := seedReps(t, s, 1)
	locked := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.InTx(c, func(tx engine.Tx) error {
			if d, err := tx.Deal(c, "crm", "race"); err != nil || d != nil {
				return fmt.Errorf("first Tx.Deal = %v, %v; want nil", d, err)
			}
			close(locked)
			time.Sleep(100 * time.Millisecond) // give the second transaction time to get ahead if it can
			return tx.PutDeal(c, engine.DealState{Deal: deal("race", reps[0].ID, "1.00"), EventKey: "first"})
		})
	}()
	<-locked
	var seen *engine.DealState
	inTx(t, s, func(tx engine.Tx) error {
		var err error
		seen, err = tx.Deal(c, "crm", "race")
		return err
	})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if seen == nil || seen.EventKey != "first" {
		t.Fatalf("second Tx.Deal = %+v, want the deal the first transaction committed", seen)
	}
}

func testActivities(t *testing.T, s engine.Store) {
	c := ctx(t)
	_, reps := seedReps(t, s, 1)
	a := game.Activity{Source: "crm", ExternalID: "call-1", RepID: reps[0].ID, Kind: game.ActivityCall, Count: 3, OccurredAt: t0}
	inTx(t, s, func(tx engine.Tx) error { return tx.PutActivity(c, a) })
	err := s.InTx(c, func(tx engine.Tx) error { return tx.PutActivity(c, a) })
	wantCode(t, err, game.EConflict, "external_id")
	a.ExternalID, a.RepID = "call-2", reps[0].ID+1000
	err = s.InTx(c, func(tx engine.Tx) error { return tx.PutActivity(c, a) })
	wantCode(t, err, game.EUnknownRep, "rep_id")
}

func dec(s string) *decimal.Decimal {
	d := decimal.RequireFromString(s)
	return &d
}

func testLedger(t *testing.T, s engine.Store) {
	c := ctx(t)
	team, reps := seedReps(t, s, 2)
	a, b := reps[0].ID, reps[1].ID
	first := []game.LedgerEntry{
		{RepID: a, TeamID: team.ID, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 123456789, Amount: dec("1234567.89"), Reason: "deal won", DealID: "crm/opp-1"},
		{RepID: a, TeamID: team.ID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1, Reason: "deal won", DealID: "crm/opp-1"},
		{RepID: b, TeamID: 0, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 10, Reason: "demo"},
	}
	second := []game.LedgerEntry{
		{RepID: a, TeamID: team.ID, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: -10, Amount: dec("-0.10"), Reason: "amount corrected", DealID: "crm/opp-1", Corrects: "crm/opp-1/1"},
	}
	at2 := t0.Add(time.Minute)
	inTx(t, s, func(tx engine.Tx) error {
		if err := tx.AppendLedger(c, "crm/opp-1/1", t0, first); err != nil {
			return err
		}
		return tx.AppendLedger(c, "crm/opp-1/2", at2, nil) // nothing to append is fine
	})
	inTx(t, s, func(tx engine.Tx) error { return tx.AppendLedger(c, "crm/opp-1/2", at2, second) })

	got := try(s.Ledger(c, a, 10)).must(t)
	want := []engine.LedgerRow{
		{EventKey: "crm/opp-1/2", At: at2, LedgerEntry: second[0]},
		{EventKey: "crm/opp-1/1", At: t0, LedgerEntry: first[1]},
		{EventKey: "crm/opp-1/1", At: t0, LedgerEntry: first[0]},
	}
	if len(got) != len(want) {
		t.Fatalf("Ledger(a) = %+v, want %d rows", got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if i > 0 && g.ID >= got[i-1].ID {
			t.Errorf("Ledger ids %d then %d: want newest (highest id) first", got[i-1].ID, g.ID)
		}
		if g.EventKey != w.EventKey || !g.At.Equal(w.At) || g.At.Location() != time.UTC ||
			g.RepID != w.RepID || g.TeamID != w.TeamID || g.Metric != w.Metric || g.Day != w.Day ||
			g.Delta != w.Delta || g.Reason != w.Reason || g.DealID != w.DealID || g.Corrects != w.Corrects ||
			(g.Amount == nil) != (w.Amount == nil) || (g.Amount != nil && !g.Amount.Equal(*w.Amount)) {
			t.Errorf("Ledger row %d = %+v, want %+v", i, g, w)
		}
	}
	if got := try(s.Ledger(c, a, 1)).must(t); len(got) != 1 || got[0].EventKey != "crm/opp-1/2" {
		t.Errorf("Ledger(a, 1) = %+v, want the newest row only", got)
	}
	if got := try(s.Ledger(c, b+1000, 10)).must(t); len(got) != 0 {
		t.Errorf("Ledger(unknown rep) = %+v, want none", got)
	}

	err := s.InTx(c, func(tx engine.Tx) error {
		return tx.AppendLedger(c, "x", t0, []game.LedgerEntry{{RepID: b + 1000, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1}})
	})
	wantCode(t, err, game.EUnknownRep, "rep_id")

	// Many rows in one call (more than one INSERT batch).
	many := make([]game.LedgerEntry, 250)
	for i := range many {
		many[i] = game.LedgerEntry{RepID: b, Metric: game.MetricActivities, Day: "2026-11-29", Delta: int64(i)}
	}
	inTx(t, s, func(tx engine.Tx) error { return tx.AppendLedger(c, "bulk", t0, many) })
	if got := try(s.Ledger(c, b, 1000)).must(t); len(got) != 251 || got[0].Delta != 249 {
		t.Fatalf("Ledger(b) after bulk = %d rows, newest delta %d; want 251, 249", len(got), got[0].Delta)
	}
}

func testLedgerTotals(t *testing.T, s engine.Store) {
	c := ctx(t)
	east, reps := seedReps(t, s, 2)
	a, b := reps[0].ID, reps[1].ID
	entries := []game.LedgerEntry{
		{RepID: a, TeamID: east.ID, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 1000},
		{RepID: a, TeamID: east.ID, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 250},
		{RepID: a, TeamID: east.ID, Metric: game.MetricRevenue, Day: "2026-11-29", Delta: 7},
		{RepID: a, TeamID: east.ID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 2},
		{RepID: a, TeamID: 0, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 5}, // before joining the team
		{RepID: b, TeamID: east.ID, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 300},
		{RepID: b, TeamID: east.ID, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: -300},             // corrected to zero
		{RepID: b, TeamID: east.ID, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 4_000_000_000_000}, // beyond int32
	}
	want := map[engine.LedgerTotal]int64{} // group, Total left zero → sum of its deltas
	for _, e := range entries {
		want[engine.LedgerTotal{RepID: e.RepID, TeamID: e.TeamID, Metric: e.Metric, Day: e.Day}] += e.Delta
	}
	inTx(t, s, func(tx engine.Tx) error { return tx.AppendLedger(c, "e1", t0, entries[:4]) })
	inTx(t, s, func(tx engine.Tx) error { return tx.AppendLedger(c, "e2", t0, entries[4:]) })

	var got []engine.LedgerTotal
	if err := s.LedgerTotals(c, func(lt engine.LedgerTotal) error {
		got = append(got, lt)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("LedgerTotals = %+v, want %d groups: %v", got, len(want), want)
	}
	for _, lt := range got {
		group := lt
		group.Total = 0
		if sum, ok := want[group]; !ok || sum != lt.Total {
			t.Errorf("LedgerTotals gave %+v, want total %d (known group: %v)", lt, sum, ok)
		}
	}
	if !slices.IsSortedFunc(got, func(a, b engine.LedgerTotal) int {
		return cmp.Or(cmp.Compare(a.RepID, b.RepID), cmp.Compare(a.TeamID, b.TeamID),
			cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Day, b.Day))
	}) {
		t.Errorf("LedgerTotals = %+v, want them by rep, team, metric, day", got)
	}

	// fn's error stops the stream and comes back as is.
	calls := 0
	err := s.LedgerTotals(c, func(engine.LedgerTotal) error {
		calls++
		return errBoom
	})
	if !errors.Is(err, errBoom) || calls != 1 {
		t.Fatalf("LedgerTotals with a failing fn = %v after %d calls, want errBoom after 1", err, calls)
	}
}

func testOutbox(t *testing.T, s engine.Store) {
	c := ctx(t)
	var ids []int64
	inTx(t, s, func(tx engine.Tx) error {
		for i, payload := range []string{`{"n":0}`, `{"n":1}`, `{"n":2}`} {
			id, err := tx.AddOutbox(c, fmt.Sprintf("e%d", i), []byte(payload), t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if !slices.IsSorted(ids) || ids[0] == ids[1] || ids[1] == ids[2] {
		t.Fatalf("outbox ids %v, want increasing", ids)
	}
	pending := func(olderThan time.Time, limit int) []int64 {
		t.Helper()
		rows := try(s.PendingOutbox(c, olderThan, limit)).must(t)
		out := make([]int64, len(rows))
		for i, r := range rows {
			out[i] = r.ID
			if want := fmt.Sprintf(`{"n":%d}`, slices.Index(ids, r.ID)); string(r.Payload) != want ||
				r.EventKey != fmt.Sprintf("e%d", slices.Index(ids, r.ID)) {
				t.Errorf("outbox row %+v, want payload %s", r, want)
			}
			if !r.CreatedAt.Equal(t0.Add(time.Duration(slices.Index(ids, r.ID))*time.Second)) || r.CreatedAt.Location() != time.UTC {
				t.Errorf("outbox row %d created at %v", r.ID, r.CreatedAt)
			}
		}
		return out
	}
	if got := pending(t0.Add(1500*time.Millisecond), 10); !slices.Equal(got, ids[:2]) {
		t.Fatalf("PendingOutbox(t0+1.5s) = %v, want %v (strictly older, oldest first)", got, ids[:2])
	}
	if got := pending(t0, 10); len(got) != 0 {
		t.Fatalf("PendingOutbox(t0) = %v, want none (created at t0 is not older than t0)", got)
	}
	if got := pending(t0.Add(time.Hour), 2); !slices.Equal(got, ids[:2]) {
		t.Fatalf("PendingOutbox(limit 2) = %v, want %v", got, ids[:2])
	}
	if err := s.MarkApplied(c, []int64{ids[0], ids[2], ids[2] + 1000}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkApplied(c, []int64{ids[0]}); err != nil { // twice is fine
		t.Fatal(err)
	}
	if err := s.MarkApplied(c, nil); err != nil {
		t.Fatal(err)
	}
	if got := pending(t0.Add(time.Hour), 10); !slices.Equal(got, ids[1:2]) {
		t.Fatalf("PendingOutbox after MarkApplied = %v, want %v", got, ids[1:2])
	}
}

// testConcurrentTx runs many writers at once. Every transaction reads the
// same deal for update and writes the next version, so a lost update (two
// transactions reading the same version) shows up in the final version.
func testConcurrentTx(t *testing.T, s engine.Store) {
	const writers, perWriter = 8, 50
	c := ctx(t)
	team, reps := seedReps(t, s, writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				key := fmt.Sprintf("w%d/%d", w, i)
				err := s.InTx(c, func(tx engine.Tx) error {
					if e, err := tx.Event(c, key); err != nil || e != nil {
						return fmt.Errorf("event %s: %v, %v", key, e, err)
					}
					d, err := tx.Deal(c, "crm", "shared")
					if err != nil {
						return err
					}
					next := engine.DealState{Deal: deal("shared", reps[w].ID, "1.00"), EventKey: key}
					if d != nil {
						next.Version = d.Version + 1
					}
					if err := tx.PutDeal(c, next); err != nil {
						return err
					}
					if err := tx.AppendLedger(c, key, t0, []game.LedgerEntry{
						{RepID: reps[w].ID, TeamID: team.ID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1},
					}); err != nil {
						return err
					}
					if _, err := tx.AddOutbox(c, key, []byte(key), t0); err != nil {
						return err
					}
					return tx.PutEvent(c, event(key))
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d tx %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if d := try(s.Deal(c, "crm", "shared")).must(t); d == nil || d.Version != writers*perWriter {
		t.Fatalf("shared deal version = %+v, want %d (one per transaction, none lost)", d, writers*perWriter)
	}
	var total int64
	if err := s.LedgerTotals(c, func(lt engine.LedgerTotal) error {
		total += lt.Total
		if lt.Total != perWriter {
			return fmt.Errorf("rep %d total %d, want %d", lt.RepID, lt.Total, perWriter)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if total != writers*perWriter {
		t.Fatalf("ledger total %d, want %d", total, writers*perWriter)
	}
	if out := try(s.PendingOutbox(c, t0.Add(time.Second), 1000)).must(t); len(out) != writers*perWriter {
		t.Fatalf("%d outbox rows, want %d", len(out), writers*perWriter)
	}
}
