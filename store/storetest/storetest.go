// Package storetest is the contract every engine.Store, engine.Directory
// and engine.CompStore passes: store/sqlite and store/postgres run Run
// against a fresh database each, and Bench for their ingest benchmarks.
// Adding a behaviour to one of them means adding its test here, once.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
)

// Store is what the suite tests: the relational store, its directory and
// its comp store.
type Store interface {
	engine.Store
	engine.Directory
	engine.CompStore
}

// DB is a store under test with what the suite needs to look behind its
// back: to search every column for an erased person, and to tamper with
// the audit log as someone with access to the database could.
type DB struct {
	Store Store
	// SQL is a separate pool on the same database, closed at the test's
	// cleanup.
	SQL *sql.DB
	// Dialect is "sqlite" or "postgres": the catalog and the triggers are
	// reached differently.
	Dialect string
	// Node opens another Store on the same database, as a second Podium
	// node (Postgres) or process (SQLite) would; closed at the test's
	// cleanup.
	Node func(t *testing.T) Store
}

// OpenSQL opens a database/sql pool for DB.SQL, closed at the test's
// cleanup.
func OpenSQL(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Run runs the contract suite. open must return a fresh, migrated, empty
// database each time it is called, closed at the test's cleanup.
func Run(t *testing.T, open func(t *testing.T) DB) {
	store := func(fn func(*testing.T, engine.Store)) func(*testing.T, func(*testing.T) DB) {
		return func(t *testing.T, open func(*testing.T) DB) { fn(t, open(t).Store) }
	}
	db := func(fn func(*testing.T, DB)) func(*testing.T, func(*testing.T) DB) {
		return func(t *testing.T, open func(*testing.T) DB) { fn(t, open(t)) }
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(*testing.T) DB)
	}{
		{"Teams", db(testTeams)},
		{"TeamHierarchy", db(testTeamHierarchy)},
		{"Reps", db(testReps)},
		{"TxCommit", store(testTxCommit)},
		{"TxRollback", store(testTxRollback)},
		{"TxPanic", store(testTxPanic)},
		{"EventKeyUnique", store(testEventKeyUnique)},
		{"Deals", store(testDeals)},
		{"DealLock", store(testDealLock)},
		{"Prefetch", store(testPrefetch)},
		{"PutDealTwice", store(testPutDealTwice)},
		{"Group", store(testGroup)},
		{"FlushConflict", store(testFlushConflict)},
		{"Activities", store(testActivities)},
		{"Ledger", store(testLedger)},
		{"LedgerTotals", store(testLedgerTotals)},
		{"Outbox", store(testOutbox)},
		{"ConcurrentTx", store(testConcurrentTx)},
		{"Users", db(testUsers)},
		{"UserErrors", db(testUserErrors)},
		{"Passwords", db(testPasswords)},
		{"Sessions", db(testSessions)},
		{"Resets", db(testResets)},
		{"ResetOnce", db(testResetOnce)},
		{"Tokens", db(testTokens)},
		{"Audit", db(testAudit)},
		{"AuditConcurrent", db(testAuditConcurrent)},
		{"AuditAppendOnly", db(testAuditAppendOnly)},
		{"AuditTamper", testAuditTamper},
		{"PersonData", db(testPersonData)},
		{"EraseErrors", db(testEraseErrors)},
		{"Erase", db(testErase)},
		{"CompPlans", db(testCompPlans)},
		{"CompAssignments", db(testCompAssignments)},
		{"CompQuotas", db(testCompQuotas)},
		{"CompRates", db(testCompRates)},
		{"CompWork", db(testCompWork)},
		{"CompWorkLateMark", db(testCompWorkLateMark)},
		{"CompClaimConcurrent", db(testCompClaimConcurrent)},
		{"CompCredits", db(testCompCredits)},
		{"CompTx", db(testCompTx)},
		{"CompLockPay", db(testCompLockPay)},
		{"PayLedgerAppendOnly", db(testPayLedgerAppendOnly)},
		{"Statements", db(testStatements)},
		{"StatementRace", db(testStatementRace)},
		{"Disputes", db(testDisputes)},
		{"AdjustPay", db(testAdjustPay)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
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

// admin is the actor of the suite's changes: a user id no test creates,
// so that entries by admin are not mistaken for a test user's.
const admin = game.Actor("user:900")

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

func testTeams(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	if got := try(s.ListTeams(c)).must(t); len(got) != 0 {
		t.Fatalf("ListTeams on an empty store = %v", got)
	}
	east := try(s.CreateTeam(c, game.Team{Name: "East", Active: true}, admin)).must(t)
	west := try(s.CreateTeam(c, game.Team{Name: "West"}, admin)).must(t)
	if east.ID <= 0 || west.ID <= 0 || east.ID == west.ID {
		t.Fatalf("ids %d, %d: want distinct positive ids", east.ID, west.ID)
	}
	_, err := s.CreateTeam(c, game.Team{Name: "East", Active: true}, admin)
	wantCode(t, err, game.EConflict, "name")

	oldWest := west
	west.Name, west.Active, west.ParentID = "West Coast", true, east.ID
	if got := try(s.UpdateTeam(c, west, "cli")).must(t); got != west {
		t.Fatalf("UpdateTeam = %+v, want %+v", got, west)
	}
	_, err = s.UpdateTeam(c, game.Team{ID: west.ID, Name: "East"}, admin)
	wantCode(t, err, game.EConflict, "name")
	_, err = s.UpdateTeam(c, game.Team{ID: west.ID + 1000, Name: "Nowhere"}, admin)
	wantCode(t, err, game.ENotFound, "id")

	want := []game.Team{east, west}
	if got := try(s.ListTeams(c)).must(t); !slices.Equal(got, want) {
		t.Fatalf("ListTeams = %+v, want %+v", got, want)
	}
	// One entry per change, none for the refused ones.
	wantLog(t, s, []entry{
		{admin, "team.create", obj("team", east.ID), nil, east},
		{admin, "team.create", obj("team", oldWest.ID), nil, oldWest},
		{"cli", "team.update", obj("team", west.ID), oldWest, west},
	})
}

// testTeamHierarchy checks that a team's parent exists and that no update
// can make the hierarchy a loop.
func testTeamHierarchy(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	_, err := s.CreateTeam(c, game.Team{Name: "Orphan", ParentID: 999}, admin)
	wantCode(t, err, game.EInvalid, "parent_id")
	root := try(s.CreateTeam(c, game.Team{Name: "Company"}, admin)).must(t)
	mid := try(s.CreateTeam(c, game.Team{Name: "Americas", ParentID: root.ID}, admin)).must(t)
	leaf := try(s.CreateTeam(c, game.Team{Name: "Boston", ParentID: mid.ID}, admin)).must(t)
	other := try(s.CreateTeam(c, game.Team{Name: "EMEA", ParentID: root.ID}, admin)).must(t)
	n := len(auditLog(t, s))

	for _, tc := range []struct {
		name   string
		team   game.Team
		parent int64
		ok     bool
	}{
		{"itself", root, root.ID, false},
		{"its child", root, mid.ID, false},
		{"its grandchild", root, leaf.ID, false},
		{"a child onto its grandchild", mid, leaf.ID, false},
		{"unknown parent", leaf, 999, false},
		{"a sibling branch", leaf, other.ID, true},
		{"back up the tree", leaf, root.ID, true},
		{"no parent", mid, 0, true},
		{"a former ancestor below it now", root, mid.ID, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.team
			u.ParentID = tc.parent
			got, err := s.UpdateTeam(c, u, admin)
			if !tc.ok {
				wantCode(t, err, game.EInvalid, "parent_id")
				return
			}
			if err != nil || got != u {
				t.Fatalf("UpdateTeam = %+v, %v; want %+v", got, err, u)
			}
			n++
		})
	}
	teams := try(s.ListTeams(c)).must(t)
	parents := map[int64]int64{}
	for _, tm := range teams {
		parents[tm.ID] = tm.ParentID
	}
	want := map[int64]int64{root.ID: mid.ID, mid.ID: 0, leaf.ID: root.ID, other.ID: root.ID}
	if !maps.Equal(parents, want) {
		t.Fatalf("parents %v, want %v", parents, want)
	}
	if got := len(auditLog(t, s)); got != n {
		t.Fatalf("%d audit entries, want %d: one per accepted change", got, n)
	}
	verify(t, s)
}

func testReps(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	team := try(s.CreateTeam(c, game.Team{Name: "East", Active: true}, admin)).must(t)
	ann := try(s.CreateRep(c, game.Rep{TeamID: team.ID, Name: "Ann", Email: "ann@example.com", Active: true}, admin)).must(t)
	bob := try(s.CreateRep(c, game.Rep{Name: "Bob", Active: true}, admin)).must(t) // no team, no email
	cat := try(s.CreateRep(c, game.Rep{Name: "Cat"}, admin)).must(t)               // a second rep without email
	if ann.ID <= 0 || bob.ID <= 0 || cat.ID <= 0 {
		t.Fatalf("rep ids %d, %d, %d", ann.ID, bob.ID, cat.ID)
	}

	_, err := s.CreateRep(c, game.Rep{Name: "Ann 2", Email: "ann@example.com"}, admin)
	wantCode(t, err, game.EConflict, "email")
	_, err = s.CreateRep(c, game.Rep{Name: "Dan", TeamID: team.ID + 1000}, admin)
	wantCode(t, err, game.EInvalid, "team_id")

	oldBob := bob
	bob.TeamID, bob.Email = team.ID, "bob@example.com"
	if got := try(s.UpdateRep(c, bob, admin)).must(t); got != bob {
		t.Fatalf("UpdateRep = %+v, want %+v", got, bob)
	}
	_, err = s.UpdateRep(c, game.Rep{ID: cat.ID, Name: "Cat", Email: "ann@example.com"}, admin)
	wantCode(t, err, game.EConflict, "email")
	_, err = s.UpdateRep(c, game.Rep{ID: cat.ID, Name: "Cat", TeamID: team.ID + 1000}, admin)
	wantCode(t, err, game.EInvalid, "team_id")
	_, err = s.UpdateRep(c, game.Rep{ID: cat.ID + 1000, Name: "Nobody"}, admin)
	wantCode(t, err, game.ENotFound, "id")

	oldAnn := ann
	ann.TeamID = 0 // leaving a team
	try(s.UpdateRep(c, ann, game.ActorSystem)).must(t)
	want := []game.Rep{ann, bob, cat}
	if got := try(s.ListReps(c)).must(t); !slices.Equal(got, want) {
		t.Fatalf("ListReps = %+v, want %+v", got, want)
	}
	wantLog(t, s, []entry{
		{admin, "team.create", obj("team", team.ID), nil, team},
		{admin, "rep.create", obj("rep", ann.ID), nil, oldAnn},
		{admin, "rep.create", obj("rep", bob.ID), nil, oldBob},
		{admin, "rep.create", obj("rep", cat.ID), nil, cat},
		{admin, "rep.update", obj("rep", bob.ID), oldBob, bob},
		{game.ActorSystem, "rep.update", obj("rep", ann.ID), oldAnn, ann},
	})

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
	team := try(s.CreateTeam(c, game.Team{Name: fmt.Sprintf("Team %d", time.Now().UnixNano()), Active: true}, admin)).must(t)
	reps := make([]game.Rep, n)
	for i := range reps {
		reps[i] = try(s.CreateRep(c, game.Rep{TeamID: team.ID, Name: fmt.Sprintf("Rep %d", i), Active: true}, admin)).must(t)
	}
	return team, reps
}

func event(key string) engine.StoredEvent {
	return engine.StoredEvent{Key: key, Kind: "deal", Hash: "ab12", Status: 201, Response: []byte(`{"ok":true}`), At: t0}
}

func testTxCommit(t *testing.T, s engine.Store) {
	c := ctx(t)
	team, reps := seedReps(t, s, 1)
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
		return tx.AddOutbox(c, "api/1/1", []byte(`{}`), t0)
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
	if out := try(s.PendingOutbox(c, t0.Add(time.Second), 10)).must(t); len(out) != 1 || out[0].EventKey != "api/1/1" {
		t.Fatalf("PendingOutbox = %+v, want the row of api/1/1", out)
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
	return tx.AddOutbox(c, key, []byte(`{}`), t0)
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

// testDealLock checks that Tx.Deal and Tx.Prefetch hold a deal until
// commit, also one that does not exist yet: the second transaction must see
// the first one's deal, so two first versions cannot both be credited.
func testDealLock(t *testing.T, s engine.Store) {
	c := ctx(t)
	_, reps := seedReps(t, s, 1)
	for _, prefetch := range []bool{false, true} {
		id := fmt.Sprintf("race-%v", prefetch)
		read := func(tx engine.Tx) (*engine.DealState, error) {
			if prefetch {
				if err := tx.Prefetch(c, []string{"some/event"}, []engine.DealRef{{Source: "crm", ExternalID: "other"}, {Source: "crm", ExternalID: id}}); err != nil {
					return nil, err
				}
			}
			return tx.Deal(c, "crm", id)
		}
		locked := make(chan struct{})
		errc := make(chan error, 1)
		go func() {
			errc <- s.InTx(c, func(tx engine.Tx) error {
				if d, err := read(tx); err != nil || d != nil {
					return fmt.Errorf("first Tx.Deal = %v, %v; want nil", d, err)
				}
				close(locked)
				time.Sleep(100 * time.Millisecond) // give the second transaction time to get ahead if it can
				return tx.PutDeal(c, engine.DealState{Deal: deal(id, reps[0].ID, "1.00"), EventKey: "first"})
			})
		}()
		<-locked
		var seen *engine.DealState
		inTx(t, s, func(tx engine.Tx) error {
			var err error
			seen, err = read(tx)
			return err
		})
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if seen == nil || seen.EventKey != "first" {
			t.Fatalf("prefetch %v: second Tx.Deal = %+v, want the deal the first transaction committed", prefetch, seen)
		}
	}
}

// testPrefetch checks that Event and Deal answer what Prefetch loaded,
// present and absent, and see the transaction's own buffered writes.
func testPrefetch(t *testing.T, s engine.Store) {
	c := ctx(t)
	_, reps := seedReps(t, s, 1)
	stored := &engine.DealState{Deal: deal("p-1", reps[0].ID, "0.10"), EventKey: "p/1",
		Credits: []game.Credit{{RepID: reps[0].ID, Day: "2026-11-28", Minor: 10}}}
	inTx(t, s, func(tx engine.Tx) error {
		if err := tx.PutEvent(c, event("p/1")); err != nil {
			return err
		}
		return tx.PutDeal(c, *stored)
	})
	put := &engine.DealState{Deal: deal("p-2", reps[0].ID, "2.50"), EventKey: "p/2"}
	replaced := *stored
	replaced.Version, replaced.EventKey, replaced.Credits = 2, "p/3", nil
	inTx(t, s, func(tx engine.Tx) error {
		refs := []engine.DealRef{{Source: "crm", ExternalID: "p-1"}, {Source: "crm", ExternalID: "p-2"}, {Source: "crm", ExternalID: "p-1"}}
		if err := tx.Prefetch(c, []string{"p/1", "p/2", "p/1"}, refs); err != nil {
			return err
		}
		if err := tx.Prefetch(c, []string{"p/1"}, refs[:1]); err != nil { // again: nothing new to load
			return err
		}
		if err := tx.Prefetch(c, nil, nil); err != nil {
			return err
		}
		if e, err := tx.Event(c, "p/1"); err != nil || e == nil || e.Hash != "ab12" || !e.At.Equal(t0) {
			return fmt.Errorf("Event(p/1) = %+v, %v; want the stored event", e, err)
		}
		if e, err := tx.Event(c, "p/2"); err != nil || e != nil {
			return fmt.Errorf("Event(p/2) = %+v, %v; want nil", e, err)
		}
		if e, err := tx.Event(c, "not/prefetched"); err != nil || e != nil {
			return fmt.Errorf("Event(not/prefetched) = %+v, %v; want nil", e, err)
		}
		d, err := tx.Deal(c, "crm", "p-1")
		if err != nil || !equalDeal(d, stored) {
			return fmt.Errorf("Deal(p-1) = %+v, %v; want %+v", d, err, stored)
		}
		d.Credits[0].Minor = 999 // the caller's copy, not the transaction's
		if d, err := tx.Deal(c, "crm", "p-1"); err != nil || !equalDeal(d, stored) {
			return fmt.Errorf("Deal(p-1) after changing a copy = %+v, %v; want %+v", d, err, stored)
		}
		if d, err := tx.Deal(c, "crm", "p-2"); err != nil || d != nil {
			return fmt.Errorf("Deal(p-2) = %+v, %v; want nil", d, err)
		}

		// The transaction's own writes, before they are sent.
		e := event("p/2")
		e.Hash = "cd34"
		if err := tx.PutEvent(c, e); err != nil {
			return err
		}
		if got, err := tx.Event(c, "p/2"); err != nil || got == nil || got.Hash != "cd34" {
			return fmt.Errorf("Event(p/2) after PutEvent = %+v, %v", got, err)
		}
		for _, d := range []*engine.DealState{put, &replaced} {
			if err := tx.PutDeal(c, *d); err != nil {
				return err
			}
			if got, err := tx.Deal(c, d.Source, d.ExternalID); err != nil || !equalDeal(got, d) {
				return fmt.Errorf("Deal after PutDeal = %+v, %v; want %+v", got, err, d)
			}
		}
		// An event key the transaction knows is taken.
		err = tx.PutEvent(c, event("p/1"))
		if err == nil {
			return errors.New("PutEvent of a prefetched, stored key succeeded")
		}
		wantCode(t, err, game.EConflict, "idempotency_key")
		return nil
	})
	for _, want := range []*engine.DealState{put, &replaced} {
		if got := try(s.Deal(c, want.Source, want.ExternalID)).must(t); !equalDeal(got, want) {
			t.Errorf("Deal after commit = %+v, want %+v", got, want)
		}
	}
	inTx(t, s, func(tx engine.Tx) error {
		if e, err := tx.Event(c, "p/2"); err != nil || e == nil || e.Hash != "cd34" {
			t.Errorf("Event(p/2) after commit = %+v, %v", e, err)
		}
		return nil
	})
	// A key taken in the database but not loaded by the transaction is a
	// conflict too, from InTx.
	err := s.InTx(c, func(tx engine.Tx) error { return tx.PutEvent(c, event("p/1")) })
	wantCode(t, err, game.EConflict, "idempotency_key")
}

// testPutDealTwice checks that the last of several writes of one deal in a
// transaction is the one stored, for a new deal and for a stored one.
func testPutDealTwice(t *testing.T, s engine.Store) {
	c := ctx(t)
	_, reps := seedReps(t, s, 2)
	version := func(v int64, amount string, rep int64) engine.DealState {
		d := engine.DealState{Deal: deal("twice", rep, amount), EventKey: fmt.Sprintf("twice/%d", v)}
		d.Version = v
		return d
	}
	for _, run := range [][]engine.DealState{
		{version(1, "1.00", reps[0].ID), version(2, "2.50", reps[1].ID)},                                 // a new deal
		{version(3, "3.00", reps[0].ID), version(5, "5.50", reps[1].ID), version(4, "4.25", reps[0].ID)}, // a stored one; last, not highest
	} {
		inTx(t, s, func(tx engine.Tx) error {
			if err := tx.Prefetch(c, nil, []engine.DealRef{{Source: "crm", ExternalID: "twice"}}); err != nil {
				return err
			}
			for _, d := range run {
				if err := tx.PutDeal(c, d); err != nil {
					return err
				}
			}
			return nil
		})
		want := run[len(run)-1]
		if got := try(s.Deal(c, "crm", "twice")).must(t); !equalDeal(got, &want) {
			t.Fatalf("Deal = %+v, want the last write %+v", got, want)
		}
	}
	// Without Prefetch or Deal first, too.
	want := version(7, "7.77", reps[0].ID)
	inTx(t, s, func(tx engine.Tx) error {
		if err := tx.PutDeal(c, version(6, "6.00", reps[1].ID)); err != nil {
			return err
		}
		return tx.PutDeal(c, want)
	})
	if got := try(s.Deal(c, "crm", "twice")).must(t); !equalDeal(got, &want) {
		t.Fatalf("Deal = %+v, want the last write %+v", got, want)
	}
}

// testGroup commits a group of events in one transaction, as the ingest
// pipeline does under load, and checks that every row arrived.
func testGroup(t *testing.T, s engine.Store) {
	const n = 64
	c := ctx(t)
	team, reps := seedReps(t, s, 2)
	keys := make([]string, n)
	refs := make([]engine.DealRef, n)
	for i := range n {
		keys[i] = fmt.Sprintf("g/%d", i)
		refs[i] = engine.DealRef{Source: "crm", ExternalID: keys[i]}
	}
	want := func(i int) *engine.DealState {
		rep := reps[i%2].ID
		return &engine.DealState{Deal: deal(keys[i], rep, fmt.Sprintf("%d.10", i)), EventKey: keys[i],
			Credits: []game.Credit{{RepID: rep, TeamID: team.ID, Day: "2026-11-28", Minor: int64(i*100 + 10)}}}
	}
	inTx(t, s, func(tx engine.Tx) error {
		if err := tx.Prefetch(c, keys, refs); err != nil {
			return err
		}
		for i, key := range keys {
			rep := reps[i%2].ID
			if e, err := tx.Event(c, key); err != nil || e != nil {
				return fmt.Errorf("Event(%s) = %v, %v", key, e, err)
			}
			if r, err := tx.Reps(c, []int64{rep}); err != nil || r[rep].ID != rep {
				return fmt.Errorf("Reps = %v, %v", r, err)
			}
			if d, err := tx.Deal(c, "crm", key); err != nil || d != nil {
				return fmt.Errorf("Deal(%s) = %v, %v", key, d, err)
			}
			if err := tx.PutDeal(c, *want(i)); err != nil {
				return err
			}
			if err := tx.PutActivity(c, game.Activity{Source: "crm", ExternalID: key, RepID: rep, Kind: game.ActivityCall, Count: 1, OccurredAt: t0}); err != nil {
				return err
			}
			if err := tx.AppendLedger(c, key, t0, []game.LedgerEntry{
				{RepID: rep, TeamID: team.ID, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: int64(i*100 + 10), Amount: dec(fmt.Sprintf("%d.10", i)), Reason: "deal won", DealID: "crm/" + key},
				{RepID: rep, TeamID: team.ID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1, Reason: "deal won", DealID: "crm/" + key},
				{RepID: rep, TeamID: team.ID, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 10, Reason: "deal won", DealID: "crm/" + key},
			}); err != nil {
				return err
			}
			if err := tx.AddOutbox(c, key, []byte(key), t0.Add(time.Duration(i)*time.Microsecond)); err != nil {
				return err
			}
			if err := tx.PutEvent(c, event(key)); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range n {
		if got := try(s.Deal(c, "crm", keys[i])).must(t); !equalDeal(got, want(i)) {
			t.Fatalf("Deal(%s) = %+v, want %+v", keys[i], got, want(i))
		}
	}
	inTx(t, s, func(tx engine.Tx) error {
		if err := tx.Prefetch(c, keys, nil); err != nil {
			return err
		}
		for _, key := range keys {
			if e, err := tx.Event(c, key); err != nil || e == nil {
				t.Errorf("Event(%s) after commit = %v, %v", key, e, err)
			}
		}
		return nil
	})
	for r, rep := range reps {
		rows := try(s.Ledger(c, rep.ID, 1000)).must(t)
		if len(rows) != 3*n/2 {
			t.Fatalf("rep %d has %d ledger rows, want %d", r, len(rows), 3*n/2)
		}
		// Newest first, in the order they were appended.
		last := keys[n-2+r]
		if rows[0].EventKey != last || rows[0].Metric != game.MetricPoints || rows[2].Metric != game.MetricRevenue ||
			rows[2].Amount == nil || rows[2].Amount.StringFixed(2) != fmt.Sprintf("%d.10", n-2+r) || rows[2].Amount.Exponent() != -2 {
			t.Fatalf("rep %d newest ledger rows %+v, want the three of %s, revenue last with amount %d.10", r, rows[:3], last, n-2+r)
		}
	}
	out := try(s.PendingOutbox(c, t0.Add(time.Hour), 1000)).must(t)
	if len(out) != n {
		t.Fatalf("%d outbox rows, want %d", len(out), n)
	}
	for i, o := range out {
		if o.EventKey != keys[i] || string(o.Payload) != keys[i] {
			t.Fatalf("outbox row %d = %+v, want %s", i, o, keys[i])
		}
	}
	err := s.InTx(c, func(tx engine.Tx) error {
		return tx.PutActivity(c, game.Activity{Source: "crm", ExternalID: keys[n-1], RepID: reps[0].ID, Kind: game.ActivityCall, Count: 1, OccurredAt: t0})
	})
	wantCode(t, err, game.EConflict, "external_id")
}

// testFlushConflict checks that a unique key found taken when the buffered
// writes are sent fails the whole transaction with EConflict, and leaves
// nothing of it behind.
func testFlushConflict(t *testing.T, s engine.Store) {
	c := ctx(t)
	_, reps := seedReps(t, s, 1)
	rep := reps[0].ID
	inTx(t, s, func(tx engine.Tx) error {
		if err := tx.PutEvent(c, event("taken")); err != nil {
			return err
		}
		return tx.PutActivity(c, game.Activity{Source: "other", ExternalID: "taken", RepID: rep, Kind: game.ActivityCall, Count: 1, OccurredAt: t0})
	})
	for _, tc := range []struct {
		key, field string
		write      func(tx engine.Tx) error
	}{
		{"k1", "idempotency_key", func(tx engine.Tx) error { return tx.PutEvent(c, event("taken")) }},
		{"k2", "external_id", func(tx engine.Tx) error {
			return tx.PutActivity(c, game.Activity{Source: "other", ExternalID: "taken", RepID: rep, Kind: game.ActivityCall, Count: 1, OccurredAt: t0})
		}},
	} {
		err := s.InTx(c, func(tx engine.Tx) error {
			if err := tx.Prefetch(c, []string{tc.key}, []engine.DealRef{{Source: "crm", ExternalID: tc.key}}); err != nil {
				return err
			}
			if err := writeAll(c, tx, tc.key, rep); err != nil {
				return err
			}
			return tc.write(tx) // not loaded: the database finds the conflict
		})
		wantCode(t, err, game.EConflict, tc.field)
		wantNothing(t, s, tc.key, rep)
	}
	// A rep that does not exist, found when the writes are sent.
	err := s.InTx(c, func(tx engine.Tx) error {
		if err := writeAll(c, tx, "k3", rep); err != nil {
			return err
		}
		return tx.AppendLedger(c, "k3", t0, []game.LedgerEntry{{RepID: rep + 1000, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1}})
	})
	wantCode(t, err, game.EUnknownRep, "rep_id")
	wantNothing(t, s, "k3", rep)
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
	keys := []string{"e0", "e1", "e2"}
	inTx(t, s, func(tx engine.Tx) error {
		for i, key := range keys {
			if err := tx.AddOutbox(c, key, fmt.Appendf(nil, `{"n":%d}`, i), t0.Add(time.Duration(i)*time.Second)); err != nil {
				return err
			}
		}
		return nil
	})
	pending := func(olderThan time.Time, limit int) []string {
		t.Helper()
		rows := try(s.PendingOutbox(c, olderThan, limit)).must(t)
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = r.EventKey
			n := slices.Index(keys, r.EventKey)
			if want := fmt.Sprintf(`{"n":%d}`, n); n < 0 || string(r.Payload) != want {
				t.Errorf("outbox row %+v, want payload %s", r, want)
			}
			if !r.CreatedAt.Equal(t0.Add(time.Duration(n)*time.Second)) || r.CreatedAt.Location() != time.UTC {
				t.Errorf("outbox row %s created at %v", r.EventKey, r.CreatedAt)
			}
		}
		return out
	}
	if got := pending(t0.Add(1500*time.Millisecond), 10); !slices.Equal(got, keys[:2]) {
		t.Fatalf("PendingOutbox(t0+1.5s) = %v, want %v (strictly older, oldest first)", got, keys[:2])
	}
	if got := pending(t0, 10); len(got) != 0 {
		t.Fatalf("PendingOutbox(t0) = %v, want none (created at t0 is not older than t0)", got)
	}
	if got := pending(t0.Add(time.Hour), 2); !slices.Equal(got, keys[:2]) {
		t.Fatalf("PendingOutbox(limit 2) = %v, want %v", got, keys[:2])
	}

	// An event key has one outbox row: a second one is a conflict, from the
	// write call or from InTx.
	err := s.InTx(c, func(tx engine.Tx) error { return tx.AddOutbox(c, "e1", []byte(`{}`), t0) })
	wantCode(t, err, game.EConflict, "event_key")
	err = s.InTx(c, func(tx engine.Tx) error {
		if err := tx.AddOutbox(c, "e9", []byte(`{}`), t0); err != nil {
			return err
		}
		return tx.AddOutbox(c, "e9", []byte(`{}`), t0)
	})
	wantCode(t, err, game.EConflict, "event_key")

	if err := s.MarkApplied(c, []string{"e0", "e2", "unknown"}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkApplied(c, []string{"e0"}); err != nil { // twice is fine
		t.Fatal(err)
	}
	if err := s.MarkApplied(c, nil); err != nil {
		t.Fatal(err)
	}
	if got := pending(t0.Add(time.Hour), 10); !slices.Equal(got, keys[1:2]) {
		t.Fatalf("PendingOutbox after MarkApplied = %v, want %v", got, keys[1:2])
	}

	// Many keys at once (more than one IN list on SQLite).
	many := make([]string, 1200)
	inTx(t, s, func(tx engine.Tx) error {
		for i := range many {
			many[i] = fmt.Sprintf("m%04d", i)
			if err := tx.AddOutbox(c, many[i], []byte(`{}`), t0); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.MarkApplied(c, append(many, "e1")); err != nil {
		t.Fatal(err)
	}
	if got := pending(t0.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("PendingOutbox after marking everything = %v", got)
	}
}

// testConcurrentTx runs many writers at once. Every transaction prefetches
// the same deal for update and writes the next version, so a lost update
// (two transactions reading the same version) shows up in the final version.
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
					if err := tx.Prefetch(c, []string{key}, []engine.DealRef{{Source: "crm", ExternalID: "shared"}}); err != nil {
						return err
					}
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
					if err := tx.AddOutbox(c, key, []byte(key), t0); err != nil {
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
