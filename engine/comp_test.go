package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
	"podium/game/comp"
)

// The worked example: quota 33,000 a month; 5 % below 50 %
// attainment, 10 % from 50 %, 12 % from 100 %, 15 % from 150 %.
func examplePlan(id string, mode comp.TierMode) comp.Plan {
	d := decimal.RequireFromString
	return comp.Plan{
		ID: id, Name: "Account executive " + string(mode), Version: 1, Currency: "USD",
		EffectiveFrom: "2026-01-01", Period: game.PeriodMonth,
		Rounding: comp.Rounding{Mode: comp.HalfUp, Where: comp.OnTotal},
		Components: []comp.Component{{
			Kind: comp.KindCommission, Name: "commission", Mode: mode,
			Tiers: []comp.Tier{{From: d("0"), Rate: d("5")}, {From: d("50"), Rate: d("10")}, {From: d("100"), Rate: d("12")}, {From: d("150"), Rate: d("15")}},
		}},
	}
}

func newCompFixture(t *testing.T, b backend) (*fixture, engine.CompStore) {
	t.Helper()
	var cs engine.CompStore
	f := newFixtureWith(t, b, func(e *engine.Engine, s engine.Store) {
		var ok bool
		if cs, ok = s.(engine.CompStore); !ok {
			t.Fatalf("%T does not keep compensation", s)
		}
		e.UseComp(cs)
	})
	ctx := context.Background()
	for i, mode := range []comp.TierMode{comp.Marginal, comp.Retroactive} {
		p := examplePlan("ae-"+string(mode), mode)
		if err := cs.PutPlan(ctx, p, game.ActorSystem); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.PutAssignment(ctx, engine.Assignment{PlanID: p.ID, RepID: f.reps[i].ID, From: "2026-01-01"}, game.ActorSystem); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"2026-11", "2026-12"} {
			q := comp.Quota{RepID: f.reps[i].ID, Period: game.PeriodMonth, Instance: m, Currency: "USD", Amount: decimal.RequireFromString("33000")}
			if err := cs.PutQuota(ctx, q, game.ActorSystem); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.e.CompChanged(ctx); err != nil {
		t.Fatal(err)
	}
	return f, cs
}

// payTotal waits until the rep's pay lines posted in period sum to want.
func payTotal(t *testing.T, f *fixture, cs engine.CompStore, rep int64, period, want string) []engine.PayLine {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := f.e.ComputePay(context.Background()); err != nil {
			t.Fatal(err)
		}
		lines, err := cs.PayLinesPostedIn(context.Background(), rep, period)
		if err != nil {
			t.Fatal(err)
		}
		sum := decimal.Zero
		for _, l := range lines {
			sum = sum.Add(l.Amount)
		}
		if sum.Equal(decimal.RequireFromString(want)) {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("rep %d's pay posted in %s is %s, want %s: %+v", rep, period, sum, want, lines)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPayWorkedExample(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f, cs := newCompFixture(t, b)
			ana, ben := f.reps[0].ID, f.reps[1].ID
			ctx := context.Background()
			live := f.e.Hub().NewConn(64)
			defer live.Close(1000, "")
			if err := live.Subscribe(ctx, engine.RepChannel(ana), nil); err != nil {
				t.Fatal(err)
			}
			// Ana (marginal) closes 20,000 then 35,000; Ben (retroactive) the
			// same 55,000 in another order and split differently.
			f.deal(t, game.DealInput{ExternalID: "A-1", Version: 1, RepID: ana, Amount: "20000.00", Stage: "won", CloseTime: "2026-11-10T10:00:00Z"}, "")
			var earn engine.Earnings
			if err := f.e.ComputePay(ctx); err != nil {
				t.Fatalf("compute pay: %v", err)
			}
			for earn.Kind != "earnings" { // the deal's "credited" message comes first
				if err := json.Unmarshal(next(t, live, "event").Data, &earn); err != nil {
					t.Fatal(err)
				}
			}
			if !earn.Provisional || !earn.Earned.Equal(decimal.RequireFromString("1175")) || earn.Next == nil {
				t.Fatalf("first earnings push = %+v", earn)
			}
			f.deal(t, game.DealInput{ExternalID: "A-2", Version: 1, RepID: ana, Amount: "35000.00", Stage: "won", CloseTime: "2026-11-20T10:00:00Z"}, "")
			for i, amt := range []string{"5000.00", "40000.00", "10000.00"} {
				f.deal(t, game.DealInput{ExternalID: fmt.Sprintf("B-%d", i), Version: 1, RepID: ben, Amount: amt, Stage: "won", CloseTime: "2026-11-1" + fmt.Sprint(i) + "T10:00:00Z"}, "")
			}
			payTotal(t, f, cs, ana, "2026-11", "5280.00")
			payTotal(t, f, cs, ben, "2026-11", "8250.00")

			// The second deal drops to 30,000: F(50,000) − posted is posted.
			f.deal(t, game.DealInput{ExternalID: "A-2", Version: 2, RepID: ana, Amount: "30000.00", Stage: "won", CloseTime: "2026-11-20T10:00:00Z"}, "")
			lines := payTotal(t, f, cs, ana, "2026-11", "4530.00") // 15 % on the 500 above 150 % (49,500)
			last := lines[len(lines)-1]
			if !last.Amount.Equal(decimal.RequireFromString("-750")) || last.Text == "" || len(last.Trace) == 0 {
				t.Fatalf("correction line %+v", last)
			}

			// The statement is approved and locked; a late November deal in
			// December lands in December, labelled as November's correction.
			for _, st := range []engine.StatementStatus{engine.StatementManagerApproved, engine.StatementFinanceApproved, engine.StatementLocked} {
				if _, err := f.e.MoveStatement(ctx, ana, "2026-11", st, game.ActorSystem); err != nil {
					t.Fatalf("move to %s: %v", st, err)
				}
			}
			locked, err := f.e.Statement(ctx, ana, "2026-11")
			if err != nil || locked.Hash == "" || !locked.Total.Equal(decimal.RequireFromString("4530")) || locked.Provisional {
				t.Fatalf("locked statement %+v %v", locked, err)
			}
			goldenStatement(t, locked)
			if _, err := f.e.MoveStatement(ctx, ana, "2026-11", engine.StatementLocked, game.ActorSystem); game.ErrorCode(err) != game.EConflict {
				t.Fatalf("locking twice: %v, want conflict", err)
			}
			f.clock.Set(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
			f.deal(t, game.DealInput{ExternalID: "A-3", Version: 1, RepID: ana, Amount: "1000.00", Stage: "won", CloseTime: "2026-11-25T10:00:00Z"}, "")
			dec := payTotal(t, f, cs, ana, "2026-12", "150.00") // 15 % above 150 %
			if dec[0].Period != "2026-11" || dec[0].PostedIn != "2026-12" || dec[0].Kind != "adjustment" {
				t.Fatalf("late deal line %+v", dec[0])
			}
			again, err := f.e.Statement(ctx, ana, "2026-11")
			if err != nil || again.Hash != locked.Hash || !again.Total.Equal(locked.Total) {
				t.Fatalf("the locked statement changed: %+v", again)
			}
			f.boardsEqualLedger(t)
		})
	}
}

// TestClawbackWindow: a won deal lost within the plan's clawback window
// takes its commission back; lost after it, the commission stays (the
// revenue board loses the deal either way).
func TestClawbackWindow(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f, cs := newCompFixture(t, b)
			ctx := context.Background()
			p := examplePlan("flat", comp.Marginal)
			p.Components[0].Tiers = []comp.Tier{{From: decimal.Zero, Rate: decimal.NewFromInt(10)}}
			days := 10
			p.ClawbackDays = &days
			if err := cs.PutPlan(ctx, p, game.ActorSystem); err != nil {
				t.Fatal(err)
			}
			cleo := f.reps[2].ID
			if _, err := cs.PutAssignment(ctx, engine.Assignment{PlanID: "flat", RepID: cleo, From: "2026-01-01"}, game.ActorSystem); err != nil {
				t.Fatal(err)
			}
			if err := f.e.CompChanged(ctx); err != nil {
				t.Fatal(err)
			}
			f.clock.Set(time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC))
			for _, id := range []string{"EARLY", "LATE"} {
				f.deal(t, game.DealInput{ExternalID: id, Version: 1, RepID: cleo, Amount: "1000.00", Stage: "won", CloseTime: "2026-11-02T10:00:00Z"}, "")
			}
			payTotal(t, f, cs, cleo, "2026-11", "200.00")
			f.clock.Set(time.Date(2026, 11, 6, 9, 0, 0, 0, time.UTC)) // 4 days after the close: within
			f.deal(t, game.DealInput{ExternalID: "EARLY", Version: 2, RepID: cleo, Amount: "1000.00", Stage: "lost", CloseTime: "2026-11-02T10:00:00Z"}, "")
			payTotal(t, f, cs, cleo, "2026-11", "100.00")
			f.clock.Set(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)) // 26 days after: outside
			f.deal(t, game.DealInput{ExternalID: "LATE", Version: 2, RepID: cleo, Amount: "1000.00", Stage: "lost", CloseTime: "2026-11-02T10:00:00Z"}, "")
			if err := f.e.MarkPay(ctx, cleo, "2026-11"); err != nil {
				t.Fatal(err)
			}
			payTotal(t, f, cs, cleo, "2026-11", "100.00")
			v, err := f.e.Statement(ctx, cleo, "2026-11")
			if err != nil || !v.Credited.Equal(decimal.NewFromInt(1000)) {
				t.Fatalf("statement after the late loss: credited %v (%v), want the late deal still credited for pay", v.Credited, err)
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenStatement compares a statement, as the API serves it, with
// testdata/statement.golden.json (go test -run TestPayWorkedExample
// -update rewrites it). Line ids and the hash depend on the order the
// worker met other reps' work, so they are left out.
func goldenStatement(t *testing.T, v engine.StatementView) {
	t.Helper()
	if v.Hash == "" {
		t.Fatal("a locked statement without a hash")
	}
	v.Hash, v.Stamps = "", nil
	for i := range v.Lines {
		v.Lines[i].ID = 0
	}
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "statement.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("statement differs from %s:\n%s", path, got)
	}
}
