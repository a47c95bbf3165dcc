package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"podium/engine"
	"podium/engine/memory"
	predis "podium/engine/redis"
	"podium/game"
	"podium/internal/testsvc"
	"podium/store/postgres"
	"podium/store/sqlite"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// backend is one wiring of the engine's ports.
type backend struct {
	name string
	open func(t *testing.T) (engine.Store, engine.Boards, engine.Bus)
}

func backends() []backend {
	return []backend{
		{"embedded", func(t *testing.T) (engine.Store, engine.Boards, engine.Bus) {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "podium.db"), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s, memory.NewBoards(), memory.NewBus(100)
		}},
		{"production", func(t *testing.T) (engine.Store, engine.Boards, engine.Bus) {
			url := testsvc.PostgresURL(t)
			if err := postgres.Migrate(context.Background(), url); err != nil {
				t.Fatal(err)
			}
			s, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			rc, prefix := testsvc.Redis(t)
			return s, predis.NewBoards(rc, prefix), predis.NewBus(rc, prefix, 100)
		}},
	}
}

type fixture struct {
	e      *engine.Engine
	store  engine.Store
	boards engine.Boards
	clock  *clock
	team   game.Team
	reps   []game.Rep
}

var nov28 = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, b backend) *fixture {
	t.Helper()
	return newFixtureWith(t, b, nil)
}

// newFixtureWith is newFixture with a hook that runs before the engine starts.
func newFixtureWith(t *testing.T, b backend, before func(*engine.Engine, engine.Store)) *fixture {
	t.Helper()
	s, boards, bus := b.open(t)
	clk := &clock{t: nov28}
	e := engine.New(engine.Config{Now: clk.Now, CoalesceInterval: 20 * time.Millisecond, RelayInterval: 50 * time.Millisecond, RelayGrace: 100 * time.Millisecond, CompPoll: 50 * time.Millisecond}, s, boards, bus)
	if before != nil {
		before(e, s)
	}
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	f := &fixture{e: e, store: s, boards: boards, clock: clk}
	var err error
	if f.team, err = e.CreateTeam(ctx, game.Team{Name: "Enterprise"}, game.ActorSystem); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Ana", "Ben", "Cleo"} {
		r, err := e.CreateRep(ctx, game.Rep{Name: n, TeamID: f.team.ID}, game.ActorSystem)
		if err != nil {
			t.Fatal(err)
		}
		f.reps = append(f.reps, r)
	}
	return f
}

func (f *fixture) deal(t *testing.T, in game.DealInput, key string) (engine.Result, engine.DealResponse) {
	t.Helper()
	res, err := f.e.IngestDeal(context.Background(), in, key)
	if err != nil {
		t.Fatalf("ingest deal %+v: %v", in, err)
	}
	var dr engine.DealResponse
	if err := json.Unmarshal(res.Body, &dr); err != nil {
		t.Fatalf("decode %s: %v", res.Body, err)
	}
	return res, dr
}

// boardsEqualLedger checks invariant 1: every board equals the SQL aggregate.
func (f *fixture) boardsEqualLedger(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	want, err := engine.ComputeBoards(ctx, f.store)
	if err != nil {
		t.Fatal(err)
	}
	have, err := f.boards.Boards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, k := range have {
		seen[k] = true
		top, err := f.boards.Top(ctx, k, 1000)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]int64{}
		for _, s := range top {
			if s.Score != 0 {
				got[s.RepID] = s.Score
			}
		}
		exp := map[int64]int64{}
		for rep, v := range want[k] {
			if v != 0 {
				exp[rep] = v
			}
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("board %s = %v, ledger says %v", k, got, exp)
		}
	}
	for k, m := range want {
		nonzero := false
		for _, v := range m {
			nonzero = nonzero || v != 0
		}
		if nonzero && !seen[k] {
			t.Errorf("board %s missing; ledger says %v", k, m)
		}
	}
}

func (f *fixture) score(t *testing.T, board string, rep int64) int64 {
	t.Helper()
	s, ok, err := f.boards.Standing(context.Background(), board, rep)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return 0
	}
	return s.Score
}

func TestDealLifecycle(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b)
			ana := f.reps[0].ID
			won := game.DealInput{ExternalID: "D-1", Version: 1, RepID: ana, Amount: "1200.50", Stage: "won", CloseTime: "2026-11-27T10:00:00Z", Name: "Acme"}
			res, dr := f.deal(t, won, "")
			if res.Status != 201 || dr.Status != "created" || res.Replayed {
				t.Fatalf("first deal: status %d %q replayed=%v", res.Status, dr.Status, res.Replayed)
			}
			month := "revenue:month:2026-11:company"
			if got := f.score(t, month, ana); got != 120050 {
				t.Fatalf("revenue = %d, want 120050", got)
			}
			if got := f.score(t, "deals:week:2026-W48:"+game.TeamScope(f.team.ID), ana); got != 1 {
				t.Fatalf("deals this week on the team board = %d, want 1", got)
			}
			if got := f.score(t, "points:all:all:company", ana); got != 101 {
				t.Fatalf("points = %d, want 100 per deal + 1 per 1,000", got)
			}

			// The same delivery again: the first answer, nothing changes.
			res2, _ := f.deal(t, won, "")
			if !res2.Replayed || string(res2.Body) != string(res.Body) || res2.Status != 201 {
				t.Fatalf("replay: replayed=%v status=%d body differs=%v", res2.Replayed, res2.Status, string(res2.Body) != string(res.Body))
			}
			if got := f.score(t, month, ana); got != 120050 {
				t.Fatalf("after replay revenue = %d", got)
			}

			// Same version, different content: refused, nothing changes.
			bad := won
			bad.Amount = "999.00"
			_, err := f.e.IngestDeal(context.Background(), bad, "")
			if game.ErrorCode(err) != game.EIdempotency {
				t.Fatalf("same version, new body: err = %v, want %s", err, game.EIdempotency)
			}

			// A correction posts only the difference, pointing at what it corrects.
			up := won
			up.Version, up.Amount = 5, "1000.00"
			_, dr = f.deal(t, up, "")
			if dr.Status != "updated" || len(dr.Ledger) == 0 || dr.Ledger[0].Delta != -20050 || dr.Ledger[0].Corrects != "deal:api:D-1:v1" {
				t.Fatalf("correction ledger = %+v", dr.Ledger)
			}
			if got := f.score(t, month, ana); got != 100000 {
				t.Fatalf("after correction revenue = %d", got)
			}

			// An older version arriving late changes nothing.
			_, dr = f.deal(t, game.DealInput{ExternalID: "D-1", Version: 3, RepID: ana, Amount: "5.00", Stage: "won", CloseTime: "2026-11-27T10:00:00Z"}, "k-late")
			if dr.Status != "stale" {
				t.Fatalf("late version: %q", dr.Status)
			}

			// Lost reverses everything.
			lost := up
			lost.Version, lost.Stage = 6, "lost"
			f.deal(t, lost, "")
			for _, board := range []string{month, "deals:month:2026-11:company", "points:all:all:company"} {
				if got := f.score(t, board, ana); got != 0 {
					t.Fatalf("after lost %s = %d", board, got)
				}
			}
			rows, err := f.store.Ledger(context.Background(), ana, 100)
			if err != nil {
				t.Fatal(err)
			}
			// won: revenue, deals, points; corrected: revenue only (points
			// per full 1,000 did not change); lost: all three reversed.
			if len(rows) != 7 {
				t.Fatalf("ledger has %d rows for ana, want 7: %+v", len(rows), rows)
			}
			f.boardsEqualLedger(t)
		})
	}
}

func TestSplitDealAllocatesEveryCent(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b)
			in := game.DealInput{ExternalID: "S-1", Version: 1, Amount: "100.01", Stage: "won", CloseTime: "2026-11-28T09:00:00Z",
				Splits: []game.SplitInput{{RepID: f.reps[0].ID, Share: "0.3333"}, {RepID: f.reps[1].ID, Share: "0.3333"}, {RepID: f.reps[2].ID, Share: "0.3334"}}}
			f.deal(t, in, "")
			var sum int64
			for _, r := range f.reps {
				sum += f.score(t, "revenue:day:2026-11-28:company", r.ID)
			}
			if sum != 10001 {
				t.Fatalf("split credits sum to %d, want 10001", sum)
			}
			f.boardsEqualLedger(t)
		})
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			cases := []struct {
				in    game.DealInput
				code  string
				field string
			}{
				{game.DealInput{ExternalID: "X", Version: 1, RepID: 999, Amount: "10", Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}, game.EUnknownRep, "rep_id"},
				{game.DealInput{ExternalID: "X", Version: 1, RepID: f.reps[0].ID, Amount: "-10", Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}, game.EInvalid, "amount"},
				{game.DealInput{ExternalID: "X", Version: 1, RepID: f.reps[0].ID, Amount: "1e400", Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}, game.EInvalid, "amount"},
				{game.DealInput{ExternalID: "X", Version: 1, RepID: f.reps[0].ID, Amount: "10", Stage: "signed", CloseTime: "2026-11-28T09:00:00Z"}, game.EInvalid, "stage"},
				{game.DealInput{ExternalID: "X", Version: 1, Amount: "10", Stage: "won", CloseTime: "2026-11-28T09:00:00Z", Splits: []game.SplitInput{{RepID: f.reps[0].ID, Share: "0.5"}, {RepID: 12345, Share: "0.5"}}}, game.EUnknownRep, "splits[1].rep_id"},
			}
			for _, c := range cases {
				_, err := f.e.IngestDeal(ctx, c.in, "")
				ge := game.AsError(err)
				if ge == nil || ge.Code != c.code || ge.Field != c.field {
					t.Errorf("%+v: err = %v, want %s on %s", c.in, err, c.code, c.field)
				}
			}
			if _, err := f.e.Deal(ctx, "api", "X"); game.ErrorCode(err) != game.ENotFound {
				t.Fatalf("a refused deal was stored: %v", err)
			}
			ks, _ := f.boards.Boards(ctx)
			if len(ks) != 0 {
				t.Fatalf("refused input created boards %v", ks)
			}

			// A deactivated rep cannot be credited.
			r := f.reps[2]
			r.Active = false
			if _, err := f.e.UpdateRep(ctx, r, game.ActorSystem); err != nil {
				t.Fatal(err)
			}
			_, err := f.e.IngestActivity(ctx, game.ActivityInput{ExternalID: "A", RepID: r.ID, Kind: "call", OccurredAt: "2026-11-28T09:00:00Z"}, "")
			if game.ErrorCode(err) != game.EUnknownRep {
				t.Fatalf("activity for deactivated rep: %v", err)
			}
		})
	}
}

func TestIdempotencyKeyHeader(t *testing.T) {
	f := newFixture(t, backends()[0])
	ctx := context.Background()
	in := game.ActivityInput{ExternalID: "A-1", RepID: f.reps[0].ID, Kind: "demo", Count: 2, OccurredAt: "2026-11-28T09:00:00Z"}
	first, err := f.e.IngestActivity(ctx, in, "key-1")
	if err != nil || first.Status != 201 {
		t.Fatalf("first: %v %d", err, first.Status)
	}
	again, err := f.e.IngestActivity(ctx, in, "key-1")
	if err != nil || !again.Replayed || string(again.Body) != string(first.Body) {
		t.Fatalf("replay with the same key: %v %+v", err, again)
	}
	other := in
	other.ExternalID = "A-2"
	if _, err := f.e.IngestActivity(ctx, other, "key-1"); game.ErrorCode(err) != game.EIdempotency {
		t.Fatalf("same key, different body: %v", err)
	}
	if got := f.score(t, "points:day:2026-11-28:company", f.reps[0].ID); got != 20 {
		t.Fatalf("points = %d, want 2 demos × 10", got)
	}
}

func TestBatchIsAllOrNothing(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			ana := f.reps[0].ID
			good := engine.BatchItem{Type: "deal", Deal: &game.DealInput{ExternalID: "B-1", Version: 1, RepID: ana, Amount: "50.00", Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}}
			act := engine.BatchItem{Type: "activity", Activity: &game.ActivityInput{ExternalID: "BA-1", RepID: ana, Kind: "call", OccurredAt: "2026-11-28T09:00:00Z"}}
			unknown := engine.BatchItem{Type: "activity", Activity: &game.ActivityInput{ExternalID: "BA-2", RepID: 4242, Kind: "call", OccurredAt: "2026-11-28T09:00:00Z"}}
			_, err := f.e.IngestBatch(ctx, []engine.BatchItem{good, act, unknown}, "")
			if ge := game.AsError(err); ge == nil || ge.Code != game.EUnknownRep || ge.Field != "items[2].rep_id" {
				t.Fatalf("batch with unknown rep: %v", err)
			}
			if got := f.score(t, "revenue:all:all:company", ana); got != 0 {
				t.Fatalf("refused batch credited %d", got)
			}
			res, err := f.e.IngestBatch(ctx, []engine.BatchItem{good, act}, "")
			if err != nil || res.Status != 200 {
				t.Fatalf("good batch: %v", err)
			}
			if got := f.score(t, "revenue:all:all:company", ana); got != 5000 {
				t.Fatalf("batch revenue = %d", got)
			}
			// Resending the batch changes nothing.
			if _, err := f.e.IngestBatch(ctx, []engine.BatchItem{good, act}, ""); err != nil {
				t.Fatal(err)
			}
			if got := f.score(t, "activities:all:all:company", ana); got != 1 {
				t.Fatalf("activities after resend = %d", got)
			}
			f.boardsEqualLedger(t)
		})
	}
}

// TestOrderDoesNotMatter delivers the versions of deals in two orders, with
// duplicates, and checks both end with identical boards equal to the ledger.
func TestOrderDoesNotMatter(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			var results [2]map[string]map[int64]int64
			for run, order := range [][]int{{0, 1, 2, 3}, {3, 1, 1, 0, 2, 3}} {
				f := newFixture(t, b)
				ana, ben := f.reps[0].ID, f.reps[1].ID
				versions := []game.DealInput{
					{ExternalID: "O-1", Version: 1, RepID: ana, Amount: "100.00", Stage: "open"},
					{ExternalID: "O-1", Version: 2, RepID: ana, Amount: "300.00", Stage: "won", CloseTime: "2026-11-20T10:00:00Z"},
					{ExternalID: "O-1", Version: 3, RepID: ben, Amount: "350.00", Stage: "won", CloseTime: "2026-11-21T10:00:00Z"},
					{ExternalID: "O-1", Version: 4, Amount: "400.00", Stage: "won", CloseTime: "2026-11-22T10:00:00Z", Splits: []game.SplitInput{{RepID: ana, Share: "0.5"}, {RepID: ben, Share: "0.5"}}},
				}
				for _, i := range order {
					f.deal(t, versions[i], "")
				}
				f.boardsEqualLedger(t)
				got, err := engine.ComputeBoards(context.Background(), f.store)
				if err != nil {
					t.Fatal(err)
				}
				for k, m := range got {
					for rep, v := range m {
						if v == 0 {
							delete(m, rep)
						}
					}
					if len(m) == 0 {
						delete(got, k)
					}
				}
				results[run] = got
				if s := f.score(t, "revenue:month:2026-11:company", ana); s != 20000 {
					t.Fatalf("order %v: ana revenue = %d, want 20000", order, s)
				}
			}
			if !reflect.DeepEqual(results[0], results[1]) {
				t.Fatalf("delivery order changed the boards:\n%v\n%v", results[0], results[1])
			}
		})
	}
}

// TestBoardStoreLossRebuilds drops every board (as a Redis flush does) and
// checks the engine rebuilds them from the ledger by itself.
func TestBoardStoreLossRebuilds(t *testing.T) {
	b := backends()[1]
	f := newFixture(t, b)
	ctx := context.Background()
	for i, amt := range []string{"10.00", "20.00", "30.00"} {
		f.deal(t, game.DealInput{ExternalID: "R-" + string(rune('a'+i)), Version: 1, RepID: f.reps[i].ID, Amount: amt, Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}, "")
	}
	keys, _ := f.boards.Boards(ctx)
	for _, k := range keys {
		if err := f.boards.Replace(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.boards.SetEpoch(ctx, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.score(t, "revenue:month:2026-11:company", f.reps[2].ID) != 3000 {
		if time.Now().After(deadline) {
			t.Fatal("boards were not rebuilt after the board store lost them")
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.boardsEqualLedger(t)
}

// TestRelayAppliesWhatACrashedNodeCommitted commits an event's ledger rows and
// outbox row as a node does and then "crashes" before applying them: the
// relay of the running node applies them, exactly once.
func TestRelayAppliesWhatACrashedNodeCommitted(t *testing.T) {
	f := newFixture(t, backends()[1])
	ctx := context.Background()
	ana := f.reps[0]
	// The fixture's clock is frozen; the relay takes rows older than the grace.
	f.clock.Set(nov28.Add(time.Hour))
	entry := game.LedgerEntry{RepID: ana.ID, TeamID: ana.TeamID, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 7, Reason: "test"}
	payload := fmt.Sprintf(`{"key":"crashed-1","moves":[{"r":%d,"t":%d,"m":"points","d":"2026-11-28","v":7}]}`, ana.ID, ana.TeamID)
	err := f.store.InTx(ctx, func(tx engine.Tx) error {
		if err := tx.PutEvent(ctx, engine.StoredEvent{Key: "crashed-1", Kind: "activity", Hash: "h", Status: 201, Response: []byte(`{}`), At: nov28}); err != nil {
			return err
		}
		if err := tx.AppendLedger(ctx, "crashed-1", nov28, []game.LedgerEntry{entry}); err != nil {
			return err
		}
		return tx.AddOutbox(ctx, "crashed-1", []byte(payload), nov28)
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.score(t, "points:all:all:company", ana.ID) != 7 {
		if time.Now().After(deadline) {
			t.Fatal("the relay did not apply the committed effect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // more relay rounds: nothing more happens
	if got := f.score(t, "points:all:all:company", ana.ID); got != 7 {
		t.Fatalf("points = %d after more relay rounds, want 7", got)
	}
	pending, err := f.store.PendingOutbox(ctx, nov28.Add(48*time.Hour), 10)
	if err != nil || len(pending) != 0 {
		t.Fatalf("outbox still holds %v (%v)", pending, err)
	}
	f.boardsEqualLedger(t)
}
