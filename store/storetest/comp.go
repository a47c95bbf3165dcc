package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
	"podium/game/comp"
)

// This file is engine.CompStore's contract: plans, assignments, quotas,
// rates, the pay work queue, the pay computation's transaction, the pay
// ledger, statements and disputes.

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// plan returns a valid monthly USD plan version with one commission.
func plan(id string, version int64, from, to string) comp.Plan {
	cap := d("40000.00")
	days := 90
	return comp.Plan{
		ID: id, Name: "Account executives", Version: version, Currency: "USD",
		EffectiveFrom: from, EffectiveTo: to, Period: game.PeriodMonth,
		Rounding:     comp.Rounding{Mode: comp.HalfUp, Where: comp.OnTotal},
		ClawbackDays: &days,
		Components: []comp.Component{{
			Kind: comp.KindCommission, Name: "commission", Mode: comp.Marginal, Cap: &cap,
			Tiers: []comp.Tier{{From: d("0"), Rate: d("5")}, {From: d("100"), Rate: d("12.50")}},
		}},
	}
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testCompPlans(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	if got := try(s.Plans(c)).must(t); len(got) != 0 {
		t.Fatalf("Plans on an empty store = %v", got)
	}
	ae1, ae2 := plan("ae", 1, "2026-01-01", "2026-06-30"), plan("ae", 2, "2026-07-01", "")
	ae2.Components[0].Tiers[1].Rate = d("15")
	ab := plan("ab", 1, "2026-01-01", "")
	for _, p := range []comp.Plan{ae2, ab, ae1} {
		if err := s.PutPlan(c, p, admin); err != nil {
			t.Fatal(err)
		}
	}
	dup := ae1
	dup.Name = "Another name"
	wantCode(t, s.PutPlan(c, dup, admin), game.EConflict, "version")
	wantCode(t, s.PutPlan(c, plan("", 1, "2026-01-01", ""), admin), game.EMissingField, "id")

	got := try(s.Plans(c)).must(t)
	want := []comp.Plan{ab, ae1, ae2}
	if jsonOf(t, got) != jsonOf(t, want) {
		t.Fatalf("Plans = %s\nwant    %s", jsonOf(t, got), jsonOf(t, want))
	}
	wantLog(t, s, []entry{
		{admin, "plan.create", "plan:ae@2", nil, ae2},
		{admin, "plan.create", "plan:ab@1", nil, ab},
		{admin, "plan.create", "plan:ae@1", nil, ae1},
	})
}

func testCompAssignments(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	team, reps := seedReps(t, s, 2)
	other, _ := seedReps(t, s, 0)
	if err := s.PutPlan(c, plan("ae", 1, "2026-01-01", ""), admin); err != nil {
		t.Fatal(err)
	}
	n := len(auditLog(t, s))

	var stored []engine.Assignment
	for _, tc := range []struct {
		name        string
		a           engine.Assignment
		code, field string // "" when accepted
	}{
		{"a rep, open-ended", engine.Assignment{PlanID: "ae", RepID: reps[0].ID, From: "2026-07-01"}, "", ""},
		{"a rep, before it", engine.Assignment{PlanID: "ae", RepID: reps[0].ID, From: "2026-01-01", To: "2026-06-30"}, "", ""},
		{"a team with override teams", engine.Assignment{PlanID: "ae", TeamID: team.ID, From: "2026-01-01", OverrideTeams: []int64{team.ID, other.ID}}, "", ""},
		{"another rep, one day", engine.Assignment{PlanID: "ae", RepID: reps[1].ID, From: "2026-03-01", To: "2026-03-01"}, "", ""},
		{"another team", engine.Assignment{PlanID: "ae", TeamID: other.ID, From: "2026-01-01", To: "2026-12-31"}, "", ""},
		{"the day after", engine.Assignment{PlanID: "ae", RepID: reps[1].ID, From: "2026-03-02", To: "2026-03-31"}, "", ""},

		{"both a rep and a team", engine.Assignment{PlanID: "ae", RepID: reps[1].ID, TeamID: team.ID, From: "2027-01-01"}, game.EInvalid, "rep_id"},
		{"neither", engine.Assignment{PlanID: "ae", From: "2027-01-01"}, game.EInvalid, "rep_id"},
		{"no plan", engine.Assignment{RepID: reps[1].ID, From: "2027-01-01"}, game.EMissingField, "plan_id"},
		{"unknown plan", engine.Assignment{PlanID: "nope", RepID: reps[1].ID, From: "2027-01-01"}, game.EInvalid, "plan_id"},
		{"unknown rep", engine.Assignment{PlanID: "ae", RepID: reps[1].ID + 1000, From: "2027-01-01"}, game.EInvalid, "rep_id"},
		{"unknown team", engine.Assignment{PlanID: "ae", TeamID: other.ID + 1000, From: "2027-01-01"}, game.EInvalid, "team_id"},
		{"unknown override team", engine.Assignment{PlanID: "ae", RepID: reps[1].ID, From: "2027-01-01", OverrideTeams: []int64{other.ID + 1000}}, game.EInvalid, "override_teams"},
		{"no first day", engine.Assignment{PlanID: "ae", RepID: reps[1].ID}, game.EMissingField, "from"},
		{"not a day", engine.Assignment{PlanID: "ae", RepID: reps[1].ID, From: "2027-1-1"}, game.EInvalid, "from"},
		{"ends before it starts", engine.Assignment{PlanID: "ae", RepID: reps[1].ID, From: "2027-02-01", To: "2027-01-31"}, game.EInvalid, "to"},
		{"inside an open range", engine.Assignment{PlanID: "ae", RepID: reps[0].ID, From: "2030-01-01", To: "2030-12-31"}, game.EConflict, "from"},
		{"open, over a closed range", engine.Assignment{PlanID: "ae", RepID: reps[1].ID, From: "2026-01-01"}, game.EConflict, "from"},
		{"sharing the last day", engine.Assignment{PlanID: "ae", RepID: reps[0].ID, From: "2025-01-01", To: "2026-01-01"}, game.EConflict, "from"},
		{"sharing the first day", engine.Assignment{PlanID: "ae", RepID: reps[1].ID, From: "2026-03-31", To: "2026-04-30"}, game.EConflict, "from"},
		{"the team again", engine.Assignment{PlanID: "ae", TeamID: other.ID, From: "2026-12-31"}, game.EConflict, "from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.PutAssignment(c, tc.a, admin)
			if tc.code != "" {
				wantCode(t, err, tc.code, tc.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.a
			want.ID = got.ID
			if got.ID <= 0 || jsonOf(t, got) != jsonOf(t, want) {
				t.Fatalf("PutAssignment = %+v, want %+v with an id", got, tc.a)
			}
			stored = append(stored, got)
			wantTail(t, s, entry{admin, "assignment.create", obj("assignment", got.ID), nil, got})
			n++
		})
	}
	if got := try(s.Assignments(c)).must(t); jsonOf(t, got) != jsonOf(t, stored) {
		t.Fatalf("Assignments = %s\nwant %s", jsonOf(t, got), jsonOf(t, stored))
	}
	if got := len(auditLog(t, s)); got != n {
		t.Fatalf("%d audit entries, want %d: one per accepted assignment", got, n)
	}

	// Ending: earlier only, never before the first day.
	open := stored[0] // reps[0] from 2026-07-01, open-ended
	ended := try(s.EndAssignment(c, open.ID, "2026-09-30", admin)).must(t)
	want := open
	want.To = "2026-09-30"
	if jsonOf(t, ended) != jsonOf(t, want) {
		t.Fatalf("EndAssignment = %+v, want %+v", ended, want)
	}
	wantTail(t, s, entry{admin, "assignment.end", obj("assignment", open.ID), open, want})
	_, err := s.EndAssignment(c, open.ID, "2026-10-31", admin)
	wantCode(t, err, game.EInvalid, "to")
	_, err = s.EndAssignment(c, open.ID, "2026-06-30", admin)
	wantCode(t, err, game.EInvalid, "to")
	_, err = s.EndAssignment(c, open.ID+1000, "2026-09-30", admin)
	wantCode(t, err, game.ENotFound, "id")
	_, err = s.EndAssignment(c, open.ID, "2026-9-30", admin)
	wantCode(t, err, game.EInvalid, "to")
	verify(t, s)
}

func testCompQuotas(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	_, reps := seedReps(t, s, 2)
	a, b := reps[0].ID, reps[1].ID
	q := func(rep int64, p game.Period, inst, amount string) comp.Quota {
		return comp.Quota{RepID: rep, Period: p, Instance: inst, Currency: "USD", Amount: d(amount)}
	}
	nov, dec := q(a, game.PeriodMonth, "2026-11", "10000.00"), q(a, game.PeriodMonth, "2026-12", "12000.50")
	q4, bNov := q(a, game.PeriodQuarter, "2026-Q4", "30000"), q(b, game.PeriodMonth, "2026-11", "9000.00")
	for _, quota := range []comp.Quota{dec, bNov, q4, nov} {
		if err := s.PutQuota(c, quota, admin); err != nil {
			t.Fatal(err)
		}
	}
	raised := q(a, game.PeriodMonth, "2026-11", "11000.10")
	if err := s.PutQuota(c, raised, "cli"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.PutQuota(c, q(b+1000, game.PeriodMonth, "2026-11", "1.00"), admin), game.EInvalid, "rep_id")
	wantCode(t, s.PutQuota(c, q(a, game.PeriodMonth, "2026-11", "-1.00"), admin), game.EInvalid, "amount")
	wantCode(t, s.PutQuota(c, q(a, game.PeriodMonth, "2026-Q4", "1.00"), admin), game.EInvalid, "instance")

	same := func(what string, got, want []comp.Quota) {
		t.Helper()
		// JSON compares the amounts' digits too: "10000.00" stays "10000.00".
		if jsonOf(t, got) != jsonOf(t, want) {
			t.Errorf("%s = %s\nwant %s", what, jsonOf(t, got), jsonOf(t, want))
		}
	}
	same("Quotas(a)", try(s.Quotas(c, a)).must(t), []comp.Quota{raised, dec, q4})
	same("Quotas(0)", try(s.Quotas(c, 0)).must(t), []comp.Quota{raised, dec, q4, bNov})
	same("Quotas(unknown)", try(s.Quotas(c, b+1000)).must(t), nil)
	wantTail(t, s,
		entry{admin, "quota.set", fmt.Sprintf("quota:%d:month:2026-11", a), nil, nov},
		entry{"cli", "quota.set", fmt.Sprintf("quota:%d:month:2026-11", a), nov, raised},
	)
	verify(t, s)

	err := s.InCompTx(c, func(tx engine.CompTx) error {
		got, ok, err := tx.Quota(c, a, game.PeriodMonth, "2026-11")
		if err != nil || !ok || jsonOf(t, got) != jsonOf(t, raised) {
			t.Errorf("CompTx.Quota = %+v, %v, %v; want %+v", got, ok, err, raised)
		}
		got, ok, err = tx.Quota(c, a, game.PeriodYear, "2026")
		if err != nil || ok {
			t.Errorf("CompTx.Quota of no quota = %+v, %v, %v; want none", got, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testCompRates(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	eur := comp.Rate{From: "EUR", To: "USD", Day: "2026-11-01", Rate: d("1.0850")}
	eurDec := comp.Rate{From: "EUR", To: "USD", Day: "2026-12-01", Rate: d("1.1")}
	gbp := comp.Rate{From: "GBP", To: "USD", Day: "2026-01-01", Rate: d("1.27")}
	for _, r := range []comp.Rate{gbp, eurDec, eur} {
		if err := s.PutRate(c, r, admin); err != nil {
			t.Fatal(err)
		}
	}
	fixed := eur
	fixed.Rate = d("1.0849")
	if err := s.PutRate(c, fixed, admin); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r           comp.Rate
		code, field string
	}{
		{comp.Rate{From: "USD", To: "USD", Day: "2026-11-01", Rate: d("1")}, game.EInvalid, "to"},
		{comp.Rate{From: "XXX", To: "USD", Day: "2026-11-01", Rate: d("1")}, game.ECurrency, "from"},
		{comp.Rate{From: "EUR", To: "USD", Day: "2026-11-31", Rate: d("1")}, game.EInvalid, "day"},
		{comp.Rate{From: "EUR", To: "USD", Day: "2026-11-01", Rate: d("0")}, game.EInvalid, "rate"},
	} {
		wantCode(t, s.PutRate(c, tc.r, admin), tc.code, tc.field)
	}
	if got, want := try(s.Rates(c)).must(t), []comp.Rate{fixed, eurDec, gbp}; jsonOf(t, got) != jsonOf(t, want) {
		t.Fatalf("Rates = %s\nwant %s", jsonOf(t, got), jsonOf(t, want))
	}
	wantLog(t, s, []entry{
		{admin, "rate.set", "rate:GBP/USD@2026-01-01", nil, gbp},
		{admin, "rate.set", "rate:EUR/USD@2026-12-01", nil, eurDec},
		{admin, "rate.set", "rate:EUR/USD@2026-11-01", nil, eur},
		{admin, "rate.set", "rate:EUR/USD@2026-11-01", eur, fixed},
	})
}

// mark marks pay work in one ingest transaction.
func mark(t testing.TB, s engine.Store, ws ...engine.CompWork) {
	t.Helper()
	inTx(t, s, func(tx engine.Tx) error {
		for _, w := range ws {
			if err := tx.AddCompWork(ctx(t), w); err != nil {
				return err
			}
		}
		return nil
	})
}

// ageClaims moves every claim back by d, as if it were made d ago.
func ageClaims(t testing.TB, db DB, by time.Duration) {
	t.Helper()
	if _, err := db.SQL.ExecContext(ctx(t), `UPDATE comp_work SET claimed_at = claimed_at - $1 WHERE claimed_at IS NOT NULL`,
		by.Microseconds()); err != nil {
		t.Fatal(err)
	}
}

func testCompWork(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	_, reps := seedReps(t, s, 2)
	a, b := reps[0].ID, reps[1].ID
	if got := try(s.ClaimCompWork(c, 10)).must(t); len(got) != 0 {
		t.Fatalf("ClaimCompWork on an empty queue = %+v", got)
	}
	// Marked twice in one transaction and once more later: one row, with
	// the last event.
	mark(t, s, engine.CompWork{RepID: a, Period: "2026-11", EventKey: "e1"}, engine.CompWork{RepID: a, Period: "2026-11", EventKey: "e2"})
	time.Sleep(2 * time.Millisecond) // marks stamped apart: claims are oldest first
	mark(t, s, engine.CompWork{RepID: b, Period: "2026-11", EventKey: "e3"})
	time.Sleep(2 * time.Millisecond)
	if err := s.MarkCompWork(c, engine.CompWork{RepID: a, Period: "2026-12", EventKey: "plan:ae"}); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(c, func(tx engine.Tx) error {
		return tx.AddCompWork(c, engine.CompWork{RepID: b + 1000, Period: "2026-11", EventKey: "e4"})
	})
	wantCode(t, err, game.EUnknownRep, "rep_id")
	wantCode(t, s.MarkCompWork(c, engine.CompWork{RepID: b + 1000, Period: "2026-11"}), game.EUnknownRep, "rep_id")

	before := time.Now().Truncate(time.Microsecond)
	first := try(s.ClaimCompWork(c, 2)).must(t)
	key := func(ws []engine.CompWork) []string {
		var out []string
		for _, w := range ws {
			out = append(out, fmt.Sprintf("%d/%s/%s", w.RepID, w.Period, w.EventKey))
		}
		return out
	}
	want := []string{fmt.Sprintf("%d/2026-11/e2", a), fmt.Sprintf("%d/2026-11/e3", b)}
	if got := key(first); !slices.Equal(got, want) {
		t.Fatalf("first claim = %v, want %v (oldest first)", got, want)
	}
	for _, w := range first {
		if w.ClaimedAt.Before(before) || w.ClaimedAt.After(time.Now()) || w.ClaimedAt.Nanosecond()%1000 != 0 {
			t.Errorf("claimed at %v, want the store's clock, in microseconds", w.ClaimedAt)
		}
	}
	second := try(s.ClaimCompWork(c, 10)).must(t)
	if got := key(second); !slices.Equal(got, []string{fmt.Sprintf("%d/2026-12/plan:ae", a)}) {
		t.Fatalf("second claim = %v, want only what the first left", got)
	}
	if got := try(s.ClaimCompWork(c, 10)).must(t); len(got) != 0 {
		t.Fatalf("claim while every row is claimed = %v, want none", key(got))
	}

	// a's November is marked again while claimed: done with the old claim,
	// it stays, to be computed again, and is claimable at once.
	mark(t, s, engine.CompWork{RepID: a, Period: "2026-11", EventKey: "e5"})
	done := func(w engine.CompWork) {
		t.Helper()
		if err := s.InCompTx(c, func(tx engine.CompTx) error {
			return tx.DoneCompWork(c, w.RepID, w.Period, w.ClaimedAt)
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range first {
		done(w)
	}
	third := try(s.ClaimCompWork(c, 10)).must(t)
	if got := key(third); !slices.Equal(got, []string{fmt.Sprintf("%d/2026-11/e5", a)}) {
		t.Fatalf("claim after done = %v, want a's re-marked November only (b's is done)", got)
	}

	// A claim older than a minute is claimable again (its node crashed);
	// the first node's late done then leaves the new claim alone.
	ageClaims(t, db, 2*time.Minute)
	again := try(s.ClaimCompWork(c, 10)).must(t)
	if len(again) != 2 {
		t.Fatalf("claim after the claims expired = %v, want both", key(again))
	}
	done(second[0])
	done(third[0])
	if got := try(s.ClaimCompWork(c, 10)).must(t); len(got) != 0 {
		t.Fatalf("claim = %v, want none: both are claimed anew", key(got))
	}
	ageClaims(t, db, 2*time.Minute)
	still := try(s.ClaimCompWork(c, 10))
	if got := still.must(t); len(got) != 2 {
		t.Fatalf("claim = %v, want both: an expired claim's late done must not clear a newer claim", key(got))
	}
	for _, w := range still.v {
		done(w)
	}
	ageClaims(t, db, 2*time.Minute)
	if got := try(s.ClaimCompWork(c, 10)).must(t); len(got) != 0 {
		t.Fatalf("claim after every done = %v, want none", key(got))
	}
	if got := try(s.ClaimCompWork(c, 0)).must(t); len(got) != 0 {
		t.Fatalf("ClaimCompWork(0) = %v", key(got))
	}
}

// testCompWorkLateMark marks a period in an ingest transaction that is
// still open when a node claims the period's older mark: when the
// computation on that claim is done, the new mark must survive, although it
// was stamped before the claim.
func testCompWorkLateMark(t *testing.T, db DB) {
	if db.Dialect != "postgres" {
		t.Skip("SQLite has one writer: no claim runs while an ingest transaction is open")
	}
	c, s := ctx(t), db.Store
	_, reps := seedReps(t, s, 1)
	mark(t, s, engine.CompWork{RepID: reps[0].ID, Period: "2026-11", EventKey: "e1"})
	var (
		marked  = make(chan struct{})
		stamped = sync.OnceFunc(func() { close(marked) })
		claimed = make(chan struct{})
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		defer stamped()
		err := s.InTx(c, func(tx engine.Tx) error {
			if err := tx.AddCompWork(c, engine.CompWork{RepID: reps[0].ID, Period: "2026-11", EventKey: "e2"}); err != nil {
				return err
			}
			stamped()
			<-claimed
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-marked
	first := try(s.ClaimCompWork(c, 10)).must(t)
	close(claimed)
	wg.Wait()
	if len(first) != 1 || first[0].EventKey != "e1" {
		t.Fatalf("claim = %+v, want the committed mark", first)
	}
	if err := s.InCompTx(c, func(tx engine.CompTx) error {
		return tx.DoneCompWork(c, first[0].RepID, first[0].Period, first[0].ClaimedAt)
	}); err != nil {
		t.Fatal(err)
	}
	if got := try(s.ClaimCompWork(c, 10)).must(t); len(got) != 1 || got[0].EventKey != "e2" {
		t.Fatalf("claim after done = %+v, want the late mark, still to compute", got)
	}
}

// testCompClaimConcurrent has several goroutines on several Stores (on
// Postgres, pools of their own: other nodes) claim one queue at once: each
// period must be claimed exactly once.
func testCompClaimConcurrent(t *testing.T, db DB) {
	const periods, workers = 60, 6
	c, s := ctx(t), db.Store
	_, reps := seedReps(t, s, 3)
	var ws []engine.CompWork
	for i := range periods {
		ws = append(ws, engine.CompWork{RepID: reps[i%3].ID, Period: fmt.Sprintf("p%02d", i), EventKey: fmt.Sprint(i)})
	}
	mark(t, s, ws...)
	stores := []engine.CompStore{s, db.Node(t), db.Node(t)}
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for i := range workers {
		cs := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			for {
				got, err := cs.ClaimCompWork(c, 4)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, w := range got {
					claimed[fmt.Sprintf("%d/%s", w.RepID, w.Period)]++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(claimed) != periods {
		t.Errorf("%d periods claimed, want %d", len(claimed), periods)
	}
	for k, n := range claimed {
		if n != 1 {
			t.Errorf("%s claimed %d times", k, n)
		}
	}
}

// testCompCredits posts deals and revenue through the ingest path (InTx,
// PutDeal, AppendLedger) and reads them back as a pay computation does.
func testCompCredits(t *testing.T, db DB) {
	c, s, cs := ctx(t), db.Store, db.Store
	team, reps := seedReps(t, s, 2)
	other, others := seedReps(t, s, 1)
	a, b, cc := reps[0].ID, reps[1].ID, others[0].ID
	type row struct {
		rep, team int64
		day       string
		delta     int64
		deal      string
		at        time.Duration // after t0
	}
	whole := []game.Split{{RepID: a, Share: d("1")}}
	deals := []engine.DealState{
		{Deal: game.Deal{Source: "crm", ExternalID: "opp-1", Version: 1, Splits: whole, Amount: d("100.00"), Currency: "USD",
			Stage: game.StageWon, CloseTime: t0, Product: "suite"},
			Credits: []game.Credit{{RepID: a, TeamID: team.ID, Day: "2026-11-05", Minor: 10000}}},
		{Deal: game.Deal{Source: "crm", ExternalID: "opp-2", Version: 2, Amount: d("50.01"), Currency: "USD",
			Splits: []game.Split{{RepID: a, Share: d("0.5")}, {RepID: b, Share: d("0.50")}},
			Stage:  game.StageWon, CloseTime: t0, Product: "services"},
			Credits: []game.Credit{{RepID: a, TeamID: team.ID, Day: "2026-11-10", Minor: 2001}, {RepID: b, TeamID: team.ID, Day: "2026-11-10", Minor: 2500}}},
		{Deal: game.Deal{Source: "crm", ExternalID: "opp-3", Version: 2, Splits: whole, Amount: d("30.00"), Currency: "USD",
			Stage: game.StageLost, CloseTime: t0}},
		{Deal: game.Deal{Source: "crm/eu", ExternalID: "opp-5", Version: 1, Splits: whole, Amount: d("4.00"), Currency: "USD",
			Stage: game.StageWon, CloseTime: t0, Product: "suite"},
			Credits: []game.Credit{{RepID: a, TeamID: team.ID, Day: "2026-11-03", Minor: 400}}},
		{Deal: game.Deal{Source: "crm", ExternalID: "opp-6", Version: 2, Splits: whole, Amount: d("6.00"), Currency: "USD",
			Stage: game.StageLost, CloseTime: t0, Product: "suite"}},
		{Deal: game.Deal{Source: "crm", ExternalID: "opp-7", Version: 1, Splits: []game.Split{{RepID: cc, Share: d("1")}},
			Amount: d("999"), Currency: "JPY", Stage: game.StageWon, CloseTime: t0},
			Credits: []game.Credit{{RepID: cc, TeamID: other.ID, Day: "2026-11-07", Minor: 999}}},
	}
	rows := []row{
		{a, team.ID, "2026-11-05", 10000, "crm/opp-1", 0},
		{a, team.ID, "2026-11-10", 2501, "crm/opp-2", time.Hour},
		{b, team.ID, "2026-11-10", 2500, "crm/opp-2", time.Hour},
		{a, team.ID, "2026-11-10", -500, "crm/opp-2", 2 * time.Hour}, // the amount corrected
		{a, team.ID, "2026-11-12", 3000, "crm/opp-3", 0},
		{a, team.ID, "2026-11-20", -3000, "crm/opp-3", time.Hour}, // lost in the month: nets to zero
		{a, team.ID, "2026-12-01", 7000, "crm/opp-4", 0},          // after the month
		{a, team.ID, "2026-10-31", 7000, "crm/opp-4", 0},          // before it
		{a, team.ID, "2026-11-03", 400, "crm/eu/opp-5", 0},
		{a, team.ID, "2026-11-28", 600, "crm/opp-6", 3 * time.Hour},
		{a, team.ID, "2026-12-02", -600, "crm/opp-6", 4 * time.Hour}, // lost in December
		{a, team.ID, "2026-11-15", 100, "nodeal/x", 0},
		{cc, other.ID, "2026-11-07", 999, "crm/opp-7", 0},
	}
	inTx(t, s, func(tx engine.Tx) error {
		for _, dl := range deals {
			dl.EventKey = dl.Source + "/" + dl.ExternalID
			if err := tx.PutDeal(c, dl); err != nil {
				return err
			}
		}
		for i, r := range rows {
			amount := decimal.New(r.delta, -2)
			if err := tx.AppendLedger(c, fmt.Sprint("ev", i), t0.Add(r.at), []game.LedgerEntry{
				{RepID: r.rep, TeamID: r.team, Metric: game.MetricRevenue, Day: r.day, Delta: r.delta, Amount: &amount, DealID: r.deal},
				// Other metrics of the same deal are not revenue.
				{RepID: r.rep, TeamID: r.team, Metric: game.MetricPoints, Day: r.day, Delta: 100, DealID: r.deal},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	want := []engine.Credited{
		{Deal: "crm/eu/opp-5", Minor: 400, DealMinor: 400, Share: d("1"), Product: "suite", CloseDay: "2026-11-03", LastChange: t0},
		{Deal: "crm/opp-1", Minor: 10000, DealMinor: 10000, Share: d("1"), Product: "suite", CloseDay: "2026-11-05", LastChange: t0},
		{Deal: "crm/opp-2", Minor: 2001, DealMinor: 5001, Share: d("0.5"), Product: "services", CloseDay: "2026-11-10", LastChange: t0.Add(2 * time.Hour)},
		{Deal: "crm/opp-6", Minor: 600, DealMinor: 600, Share: d("1"), Product: "suite", LastChange: t0.Add(3 * time.Hour)},
		{Deal: "nodeal/x", Minor: 100, LastChange: t0},
	}
	wantC := []engine.Credited{
		{Deal: "crm/opp-7", Minor: 999, DealMinor: 999, Share: d("1"), CloseDay: "2026-11-07", LastChange: t0},
	}
	same := func(what string, got, want []engine.Credited) {
		t.Helper()
		ok := len(got) == len(want)
		for i := 0; ok && i < len(want); i++ {
			g, w := got[i], want[i]
			ok = g.Deal == w.Deal && g.Minor == w.Minor && g.DealMinor == w.DealMinor && g.Share.Equal(w.Share) &&
				g.Product == w.Product && g.CloseDay == w.CloseDay && g.LastChange.Equal(w.LastChange)
		}
		if !ok {
			t.Errorf("%s = %+v\nwant %+v", what, got, want)
		}
	}
	err := cs.InCompTx(c, func(tx engine.CompTx) error {
		same("Credits(a, November)", try(tx.Credits(c, a, "2026-11-01", "2026-11-30")).must(t), want)
		same("Credits(c, November)", try(tx.Credits(c, cc, "2026-11-01", "2026-11-30")).must(t), wantC)
		same("Credits(a, one day)", try(tx.Credits(c, a, "2026-11-05", "2026-11-05")).must(t), want[1:2])
		same("Credits(a, no day)", try(tx.Credits(c, a, "2026-11-06", "2026-11-06")).must(t), nil)
		// b's share of opp-2 is the other half.
		got := try(tx.Credits(c, b, "2026-11-01", "2026-11-30")).must(t)
		if len(got) != 1 || got[0].Minor != 2500 || !got[0].Share.Equal(d("0.5")) {
			t.Errorf("Credits(b) = %+v, want opp-2's other half", got)
		}
		for _, tc := range []struct {
			teams []int64
			want  int64
		}{
			{[]int64{team.ID}, 10000 + 2501 + 2500 - 500 + 3000 - 3000 + 400 + 600 + 100},
			{[]int64{team.ID, other.ID}, 15601 + 999},
			{[]int64{other.ID}, 999},
			{[]int64{other.ID + 1000}, 0},
			{nil, 0},
		} {
			if got := try(tx.TeamCredits(c, tc.teams, "2026-11-01", "2026-11-30")).must(t); got != tc.want {
				t.Errorf("TeamCredits(%v) = %d, want %d", tc.teams, got, tc.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// payLine returns a line of rep for period, as a computation posts it.
func payLine(rep int64, period, component, amount string) engine.PayLine {
	return engine.PayLine{
		RepID: rep, Period: period, PostedIn: period, Component: component, Kind: "earned",
		Amount: d(amount), Currency: "USD", PlanID: "ae", PlanVersion: 1, EventKey: "crm/opp-1/1",
		Trace: json.RawMessage(`{"text":"5 % on 100.00"}`), Text: "5 % on 100.00", Actor: game.ActorSystem, At: t0,
	}
}

func samePay(a, b engine.PayLine) bool {
	return a.ID == b.ID && a.RepID == b.RepID && a.Period == b.Period && a.PostedIn == b.PostedIn &&
		a.Component == b.Component && a.Kind == b.Kind && a.Amount.Equal(b.Amount) &&
		a.Amount.String() == b.Amount.String() && a.Currency == b.Currency && a.PlanID == b.PlanID &&
		a.PlanVersion == b.PlanVersion && a.EventKey == b.EventKey && bytes.Equal(a.Trace, b.Trace) &&
		a.Text == b.Text && a.Actor == b.Actor && a.Reason == b.Reason && a.Dispute == b.Dispute &&
		a.At.Equal(b.At) && a.At.Location() == time.UTC
}

func wantPay(t testing.TB, what string, got []engine.PayLine, want ...engine.PayLine) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = samePay(got[i], want[i])
	}
	if !ok {
		t.Fatalf("%s = %+v\nwant %+v", what, got, want)
	}
}

// appendPay appends lines in a pay transaction and returns them with their
// ids.
func appendPay(t testing.TB, cs engine.CompStore, lines ...engine.PayLine) []engine.PayLine {
	t.Helper()
	if err := cs.InCompTx(ctx(t), func(tx engine.CompTx) error { return tx.AppendPay(ctx(t), lines) }); err != nil {
		t.Fatal(err)
	}
	return lines
}

func testCompTx(t *testing.T, db DB) {
	c, s, cs := ctx(t), db.Store, db.Store
	_, reps := seedReps(t, s, 2)
	a, b := reps[0].ID, reps[1].ID
	base := payLine(a, "2026-11", "commission", "100.50")
	spiff := payLine(a, "2026-11", "spiff", "250.00")
	spiff.Trace, spiff.Text = nil, ""
	bLine := payLine(b, "2026-11", "commission", "7.00")
	manual := payLine(a, "2026-11", "commission", "-20.00")
	manual.Kind, manual.Actor, manual.Reason = "manual", admin, "goodwill"
	manual.At = time.Time{} // stamped by the store
	late := payLine(a, "2026-10", "commission", "-5.25")
	late.PostedIn, late.Kind = "2026-11", "adjustment" // a correction of a locked October
	state := comp.StateOf(d("10000.00"), comp.DealCredit{ID: "crm/opp-1", Amount: d("100.00"), Product: "suite", CloseDay: "2026-11-05"})

	before := time.Now().Truncate(time.Microsecond)
	var lines []engine.PayLine
	err := cs.InCompTx(c, func(tx engine.CompTx) error {
		if err := tx.LockPay(c, a, "2026-11"); err != nil {
			return err
		}
		if st, ok, err := tx.LastState(c, a, "2026-11"); err != nil || ok {
			return fmt.Errorf("LastState before any = %+v, %v, %v", st, ok, err)
		}
		if st, err := tx.StatementStatus(c, a, "2026-11"); err != nil || st != engine.StatementDraft {
			return fmt.Errorf("StatementStatus of none = %q, %v; want draft", st, err)
		}
		if posted, err := tx.Posted(c, a, "2026-11"); err != nil || len(posted) != 0 {
			return fmt.Errorf("Posted before any = %v, %v", posted, err)
		}
		lines = []engine.PayLine{base, spiff, bLine, manual, late}
		if err := tx.AppendPay(c, lines); err != nil {
			return err
		}
		if err := tx.AppendPay(c, nil); err != nil {
			return err
		}
		// What it appended, it reads back.
		posted, err := tx.Posted(c, a, "2026-11")
		if err != nil {
			return err
		}
		if len(posted) != 2 || !posted["commission"].Equal(d("100.50")) || !posted["spiff"].Equal(d("250")) {
			t.Errorf("Posted = %v, want commission 100.50 and spiff 250 (the manual line left out, October's elsewhere)", posted)
		}
		if err := tx.SaveState(c, a, "2026-11", state); err != nil {
			return err
		}
		got, ok, err := tx.LastState(c, a, "2026-11")
		if err != nil || !ok || jsonOf(t, got) != jsonOf(t, state) {
			t.Errorf("LastState = %+v, %v, %v; want %+v", got, ok, err, state)
		}
		// The board rows and the effect go the ingest's way.
		if err := tx.AppendLedger(c, "pay/1", t0, []game.LedgerEntry{{RepID: a, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 3}}); err != nil {
			return err
		}
		return tx.AddOutbox(c, "pay/1", []byte(`{"kind":"earnings"}`), t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range lines {
		if i > 0 && lines[i].ID <= lines[i-1].ID {
			t.Fatalf("ids %d then %d: want them increasing in the order given", lines[i-1].ID, lines[i].ID)
		}
	}
	if at := lines[3].At; at.Before(before) || at.After(time.Now()) {
		t.Errorf("a line without a time got %v, want the store's clock", at)
	}
	base, spiff, bLine, manual, late = lines[0], lines[1], lines[2], lines[3], lines[4]
	wantPay(t, "PayLines(a, November)", try(cs.PayLines(c, a, "2026-11")).must(t), base, spiff, manual)
	wantPay(t, "PayLines(all, November)", try(cs.PayLines(c, 0, "2026-11")).must(t), base, spiff, bLine, manual)
	wantPay(t, "PayLines(a, October)", try(cs.PayLines(c, a, "2026-10")).must(t), late)
	wantPay(t, "PayLinesPostedIn(a, November)", try(cs.PayLinesPostedIn(c, a, "2026-11")).must(t), base, spiff, manual, late)
	wantPay(t, "PayLinesPostedIn(all, November)", try(cs.PayLinesPostedIn(c, 0, "2026-11")).must(t), base, spiff, bLine, manual, late)
	wantPay(t, "PayLinesPostedIn(a, October)", try(cs.PayLinesPostedIn(c, a, "2026-10")).must(t))
	wantPay(t, "PayLine", []engine.PayLine{try(cs.PayLine(c, spiff.ID)).must(t)}, spiff)
	_, err = cs.PayLine(c, late.ID+1000)
	wantCode(t, err, game.ENotFound, "id")
	if rows := try(s.Ledger(c, a, 10)).must(t); len(rows) != 1 || rows[0].EventKey != "pay/1" {
		t.Fatalf("Ledger = %+v, want the computation's row", rows)
	}
	if out := try(s.PendingOutbox(c, t0.Add(time.Second), 10)).must(t); len(out) != 1 || out[0].EventKey != "pay/1" {
		t.Fatalf("PendingOutbox = %+v, want the computation's effect", out)
	}

	// SaveState replaces; a failed computation leaves nothing.
	state2 := comp.StateOf(d("10000.00"))
	err = cs.InCompTx(c, func(tx engine.CompTx) error {
		if err := tx.SaveState(c, a, "2026-11", state2); err != nil {
			return err
		}
		if err := tx.AppendPay(c, []engine.PayLine{payLine(a, "2026-11", "commission", "1.00")}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InCompTx = %v, want fn's error", err)
	}
	wantPay(t, "PayLines after a rollback", try(cs.PayLines(c, a, "2026-11")).must(t), base, spiff, manual)
	err = cs.InCompTx(c, func(tx engine.CompTx) error {
		got, ok, err := tx.LastState(c, a, "2026-11")
		if err != nil || !ok || jsonOf(t, got) != jsonOf(t, state) {
			t.Errorf("LastState after a rollback = %+v, %v, %v; want %+v", got, ok, err, state)
		}
		if err := tx.SaveState(c, a, "2026-11", state2); err != nil {
			return err
		}
		got, _, err = tx.LastState(c, a, "2026-11")
		if err != nil || jsonOf(t, got) != jsonOf(t, state2) {
			t.Errorf("LastState after SaveState = %+v, %v; want %+v", got, err, state2)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		change      func(*engine.PayLine)
		code, field string
	}{
		{func(l *engine.PayLine) { l.RepID = b + 1000 }, game.EInvalid, "rep_id"},
		{func(l *engine.PayLine) { l.RepID = 0 }, game.EMissingField, "rep_id"},
		{func(l *engine.PayLine) { l.PostedIn = "" }, game.EMissingField, "posted_in"},
		{func(l *engine.PayLine) { l.Component = "" }, game.EMissingField, "component"},
		{func(l *engine.PayLine) { l.Currency = "XXX" }, game.ECurrency, "currency"},
		{func(l *engine.PayLine) { l.Trace = json.RawMessage(`{`) }, game.EInvalid, "trace"},
	} {
		l := payLine(a, "2026-11", "commission", "1.00")
		tc.change(&l)
		err := cs.InCompTx(c, func(tx engine.CompTx) error { return tx.AppendPay(c, []engine.PayLine{l}) })
		wantCode(t, err, tc.code, tc.field)
	}
	wantPay(t, "PayLines after refused lines", try(cs.PayLines(c, a, "2026-11")).must(t), base, spiff, manual)
}

// testCompLockPay checks that LockPay makes two computations of one rep's
// period take turns, and leaves another rep's alone.
func testCompLockPay(t *testing.T, db DB) {
	c, s, cs := ctx(t), db.Store, db.Store
	_, reps := seedReps(t, s, 1)
	var (
		first    atomic.Bool // set by the first computation just before it commits
		locked   = make(chan struct{})
		unlocked = sync.OnceFunc(func() { close(locked) })
		wg       sync.WaitGroup
	)
	wg.Go(func() {
		defer unlocked() // also when it fails, so that the test does not hang
		err := cs.InCompTx(c, func(tx engine.CompTx) error {
			if err := tx.LockPay(c, reps[0].ID, "2026-11"); err != nil {
				return err
			}
			unlocked()
			time.Sleep(150 * time.Millisecond)
			first.Store(true)
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-locked
	err := cs.InCompTx(c, func(tx engine.CompTx) error {
		if err := tx.LockPay(c, reps[0].ID, "2026-11"); err != nil {
			return err
		}
		if !first.Load() {
			t.Error("the second computation got the pay lock while the first held it")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// testPayLedgerAppendOnly checks that the database itself refuses to
// change or delete pay lines.
func testPayLedgerAppendOnly(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	_, reps := seedReps(t, s, 1)
	appendPay(t, s, payLine(reps[0].ID, "2026-11", "commission", "100.00"))
	for _, q := range []string{
		`UPDATE pay_ledger SET amount = 1000`,
		`UPDATE pay_ledger SET text = 'x'`,
		`DELETE FROM pay_ledger`,
	} {
		if _, err := db.SQL.ExecContext(c, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only error", q, err)
		}
	}
	if got := try(s.PayLines(c, reps[0].ID, "2026-11")).must(t); len(got) != 1 || !got[0].Amount.Equal(d("100")) {
		t.Fatalf("PayLines = %+v, want the line unchanged", got)
	}
}

func stamped(t testing.TB, st engine.Statement, want ...engine.StatementStatus) {
	t.Helper()
	if len(st.Stamps) != len(want) {
		t.Fatalf("stamps %v, want %v", st.Stamps, want)
	}
	for _, s := range want {
		if p, ok := st.Stamps[string(s)]; !ok || p.By == "" || p.At.IsZero() || p.At.Location() != time.UTC {
			t.Fatalf("stamps %v: want %s stamped by someone at a UTC time", st.Stamps, s)
		}
	}
}

func testStatements(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	_, reps := seedReps(t, s, 2)
	a, b := reps[0].ID, reps[1].ID
	draft := engine.Statement{RepID: a, Period: "2026-11", Status: engine.StatementDraft}
	if got := try(s.Statement(c, a, "2026-11")).must(t); jsonOf(t, got) != jsonOf(t, draft) {
		t.Fatalf("Statement never acted on = %+v, want a draft", got)
	}
	if got := try(s.Statements(c, "2026-11")).must(t); len(got) != 0 {
		t.Fatalf("Statements = %+v, want none stored", got)
	}
	snapshot := json.RawMessage(`{"total":"4515.00", "lines":[1,2]}`) // spaces kept: the hash covers these bytes
	move := func(to, from engine.StatementStatus, snap json.RawMessage, hash string, by game.Actor) (engine.Statement, error) {
		return s.MoveStatement(c, engine.Statement{RepID: a, Period: "2026-11", Status: to, Snapshot: snap, Hash: hash,
			Stamps: map[string]engine.StampInfo{"draft": {By: "user:666"}}}, from, by)
	}
	var log []entry
	var prev *engine.Statement
	for _, tc := range []struct {
		name        string
		to, from    engine.StatementStatus
		snap        json.RawMessage
		hash        string
		code, field string // "" when accepted
		msg         string // in the error's message
	}{
		{"approve a draft never stored", engine.StatementManagerApproved, engine.StatementDraft, nil, "", "", "", ""},
		{"from the wrong status", engine.StatementFinanceApproved, engine.StatementDraft, nil, "", game.EConflict, "status", "this statement is manager_approved, not draft"},
		{"an unknown status", "approved", engine.StatementManagerApproved, nil, "", game.EInvalid, "status", ""},
		{"an unknown from", engine.StatementFinanceApproved, "approved", nil, "", game.EInvalid, "from", ""},
		{"finance", engine.StatementFinanceApproved, engine.StatementManagerApproved, nil, "", "", "", ""},
		{"lock without a snapshot", engine.StatementLocked, engine.StatementFinanceApproved, nil, "h", game.EMissingField, "snapshot", ""},
		{"lock without a hash", engine.StatementLocked, engine.StatementFinanceApproved, snapshot, "", game.EMissingField, "hash", ""},
		{"lock with a snapshot that is not JSON", engine.StatementLocked, engine.StatementFinanceApproved, json.RawMessage(`{`), "h", game.EInvalid, "snapshot", ""},
		{"lock", engine.StatementLocked, engine.StatementFinanceApproved, snapshot, "abc123", "", "", ""},
		{"unlock", engine.StatementFinanceApproved, engine.StatementLocked, nil, "", game.EConflict, "status", "locked"},
		{"lock again", engine.StatementLocked, engine.StatementFinanceApproved, snapshot, "abc123", game.EConflict, "status", "this statement is locked, not finance_approved"},
		{"pay with another snapshot", engine.StatementPaid, engine.StatementLocked, json.RawMessage(`{"total":"0"}`), "", game.EConflict, "snapshot", ""},
		{"pay with another hash", engine.StatementPaid, engine.StatementLocked, nil, "def456", game.EConflict, "snapshot", ""},
		{"pay", engine.StatementPaid, engine.StatementLocked, nil, "", "", "", ""},
		{"after paid", engine.StatementDraft, engine.StatementPaid, nil, "", game.EConflict, "status", "paid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := move(tc.to, tc.from, tc.snap, tc.hash, admin)
			if tc.code != "" {
				wantCode(t, err, tc.code, tc.field)
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q, want it to say %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.to || got.RepID != a || got.Period != "2026-11" {
				t.Fatalf("MoveStatement = %+v, want %s", got, tc.to)
			}
			stored := try(s.Statement(c, a, "2026-11")).must(t)
			if jsonOf(t, stored) != jsonOf(t, got) || !bytes.Equal(stored.Snapshot, got.Snapshot) {
				t.Fatalf("Statement = %s\nwant the moved one %s", jsonOf(t, stored), jsonOf(t, got))
			}
			if p := got.Stamps[string(tc.to)]; p.By != admin {
				t.Fatalf("stamp of %s = %+v, want by %s", tc.to, p, admin)
			}
			if _, forged := got.Stamps["draft"]; forged {
				t.Fatalf("stamps %v: the caller's stamps were taken", got.Stamps)
			}
			var before any
			if prev != nil {
				before = *prev
			}
			log = append(log, entry{admin, "statement." + string(tc.to), fmt.Sprintf("statement:%d:2026-11", a), before, got})
			prev = &got
		})
	}
	wantTail(t, s, log...)
	final := try(s.Statement(c, a, "2026-11")).must(t)
	if final.Status != engine.StatementPaid || !bytes.Equal(final.Snapshot, snapshot) || final.Hash != "abc123" {
		t.Fatalf("paid statement = %s, want the locked snapshot and hash", jsonOf(t, final))
	}
	stamped(t, final, engine.StatementManagerApproved, engine.StatementFinanceApproved, engine.StatementLocked, engine.StatementPaid)
	_, err := s.MoveStatement(c, engine.Statement{RepID: b + 1000, Period: "2026-11", Status: engine.StatementManagerApproved}, engine.StatementDraft, admin)
	wantCode(t, err, game.EInvalid, "rep_id")
	try(s.MoveStatement(c, engine.Statement{RepID: b, Period: "2026-11", Status: engine.StatementManagerApproved}, engine.StatementDraft, "cli")).must(t)
	if got := try(s.Statements(c, "2026-11")).must(t); len(got) != 2 || got[0].RepID != a || got[1].RepID != b ||
		got[1].Status != engine.StatementManagerApproved {
		t.Fatalf("Statements = %s, want a's and b's", jsonOf(t, got))
	}
	verify(t, s)

	// Behind the store's back, the database refuses too.
	for _, q := range []string{
		`UPDATE statements SET snapshot = '{"total":"1.00"}' WHERE status = 'paid'`,
		`UPDATE statements SET hash = 'x' WHERE status = 'paid'`,
		`UPDATE statements SET status = 'draft' WHERE status = 'paid'`,
		`DELETE FROM statements WHERE status = 'paid'`,
	} {
		if _, err := db.SQL.ExecContext(c, q); err == nil {
			t.Errorf("%s was accepted", q)
		}
	}
	if got := try(s.Statement(c, a, "2026-11")).must(t); jsonOf(t, got) != jsonOf(t, final) {
		t.Fatalf("statement after the attempts = %s, want it unchanged", jsonOf(t, got))
	}
}

// testStatementRace has several goroutines, on several Stores, move one
// statement from the same status at once: exactly one wins.
func testStatementRace(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	_, reps := seedReps(t, s, 1)
	stores := []engine.CompStore{s, db.Node(t)}
	var (
		wins, conflicts atomic.Int32
		wg              sync.WaitGroup
	)
	for i := range 6 {
		wg.Go(func() {
			_, err := stores[i%2].MoveStatement(c, engine.Statement{RepID: reps[0].ID, Period: "2026-11",
				Status: engine.StatementManagerApproved}, engine.StatementDraft, admin)
			switch game.ErrorCode(err) {
			case "":
				wins.Add(1)
			case game.EConflict:
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 5 {
		t.Fatalf("%d moves won, %d conflicted; want 1 and 5", wins.Load(), conflicts.Load())
	}
	verify(t, s)
}

// resolvedEntry is the after of a "dispute.resolve" entry.
type resolvedEntry struct {
	Dispute    engine.Dispute  `json:"dispute"`
	Adjustment *engine.PayLine `json:"adjustment,omitempty"`
}

func testDisputes(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	_, reps := seedReps(t, s, 2)
	a, b := reps[0].ID, reps[1].ID
	lines := appendPay(t, s,
		payLine(a, "2026-11", "commission", "100.00"),
		payLine(b, "2026-11", "commission", "80.00"),
		payLine(a, "2026-11", "spiff", "50.00"))
	comment := func(body string) engine.DisputeComment { return engine.DisputeComment{By: "user:666", Body: body} }
	open := engine.Dispute{RepID: a, LineID: lines[0].ID, Comments: []engine.DisputeComment{comment("The Acme deal is missing.")}}

	for _, tc := range []struct {
		name        string
		change      func(*engine.Dispute)
		code, field string
	}{
		{"no comment", func(d *engine.Dispute) { d.Comments = nil }, game.EMissingField, "comment"},
		{"a blank comment", func(d *engine.Dispute) { d.Comments = []engine.DisputeComment{comment("  ")} }, game.EMissingField, "comment"},
		{"an unknown line", func(d *engine.Dispute) { d.LineID = lines[2].ID + 1000 }, game.EInvalid, "line_id"},
		{"another rep's line", func(d *engine.Dispute) { d.LineID = lines[1].ID }, game.EInvalid, "line_id"},
		{"another period", func(d *engine.Dispute) { d.Period = "2026-10" }, game.EInvalid, "period"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := open
			tc.change(&d)
			_, err := s.OpenDispute(c, d, admin)
			wantCode(t, err, tc.code, tc.field)
		})
	}
	n := len(auditLog(t, s))

	before := time.Now().Truncate(time.Microsecond)
	opened := try(s.OpenDispute(c, open, "user:7")).must(t)
	if opened.ID <= 0 || opened.Status != "open" || opened.Period != "2026-11" || opened.OpenedBy != "user:7" ||
		opened.OpenedAt.Before(before) || len(opened.Comments) != 1 || opened.Comments[0].By != "user:7" ||
		!opened.Comments[0].At.Equal(opened.OpenedAt) || opened.Comments[0].Body != open.Comments[0].Body {
		t.Fatalf("OpenDispute = %+v: want it open, on the line's period, by its actor, now", opened)
	}
	_, err := s.OpenDispute(c, open, "user:7")
	wantCode(t, err, game.EConflict, "line_id")

	replied := try(s.CommentDispute(c, opened.ID, comment("It closed on the 30th; it is in December."), admin)).must(t)
	if len(replied.Comments) != 2 || replied.Comments[1].By != admin || replied.Comments[1].At.Before(opened.OpenedAt) {
		t.Fatalf("CommentDispute = %+v, want the reply appended, by its actor", replied)
	}
	_, err = s.CommentDispute(c, opened.ID+1000, comment("?"), admin)
	wantCode(t, err, game.ENotFound, "id")
	_, err = s.CommentDispute(c, opened.ID, comment(""), admin)
	wantCode(t, err, game.EMissingField, "comment")
	if got := try(s.Dispute(c, opened.ID)).must(t); jsonOf(t, got) != jsonOf(t, replied) {
		t.Fatalf("Dispute = %s\nwant %s", jsonOf(t, got), jsonOf(t, replied))
	}

	_, err = s.ResolveDispute(c, opened.ID, " ", nil, admin)
	wantCode(t, err, game.EMissingField, "resolution")
	_, err = s.ResolveDispute(c, opened.ID+1000, "no", nil, admin)
	wantCode(t, err, game.ENotFound, "id")
	adj := engine.PayLine{Period: "2026-11", PostedIn: "2026-11", Component: "commission", Amount: d("12.34"),
		Currency: "USD", Text: "Acme credited in November after all", Reason: "dispute"}
	bad := adj
	bad.RepID = b
	_, err = s.ResolveDispute(c, opened.ID, "credited", &bad, admin)
	wantCode(t, err, game.EInvalid, "adjustment.rep_id")
	bad = adj
	bad.Currency = ""
	_, err = s.ResolveDispute(c, opened.ID, "credited", &bad, admin)
	wantCode(t, err, game.ECurrency, "adjustment.currency")
	if got := try(s.Dispute(c, opened.ID)).must(t); got.Status != "open" {
		t.Fatalf("a refused resolution changed the dispute: %+v", got)
	}
	resolved := try(s.ResolveDispute(c, opened.ID, "credited", &adj, admin)).must(t)
	if resolved.Status != "resolved" || resolved.Resolution != "credited" || len(resolved.Comments) != 2 {
		t.Fatalf("ResolveDispute = %+v", resolved)
	}
	pay := try(s.PayLines(c, a, "2026-11")).must(t)
	if len(pay) != 3 {
		t.Fatalf("PayLines = %+v, want the adjustment appended", pay)
	}
	want := adj
	want.ID, want.RepID, want.Kind, want.Actor, want.Dispute, want.At = pay[2].ID, a, "adjustment", admin, opened.ID, pay[2].At
	wantPay(t, "adjustment", pay[2:], want)
	if adj.ID != 0 || adj.Dispute != 0 {
		t.Fatalf("the caller's adjustment was changed: %+v", adj)
	}

	_, err = s.ResolveDispute(c, opened.ID, "again", nil, admin)
	wantCode(t, err, game.EConflict, "status")
	_, err = s.CommentDispute(c, opened.ID, comment("Thanks"), "user:7")
	wantCode(t, err, game.EConflict, "status")

	// A second dispute, on the spiff, resolved without an adjustment; an
	// adjustment into a locked statement is refused.
	spiff := try(s.OpenDispute(c, engine.Dispute{RepID: a, Period: "2026-11", LineID: lines[2].ID,
		Comments: []engine.DisputeComment{comment("Spiff too low"), comment("See the plan")}}, "user:7")).must(t)
	try(s.MoveStatement(c, engine.Statement{RepID: a, Period: "2026-10", Status: engine.StatementLocked,
		Snapshot: json.RawMessage(`{}`), Hash: "h"}, engine.StatementDraft, admin)).must(t)
	late := adj
	late.PostedIn = "2026-10"
	_, err = s.ResolveDispute(c, spiff.ID, "paid", &late, admin)
	wantCode(t, err, game.EConflict, "adjustment.posted_in")
	spiffDone := try(s.ResolveDispute(c, spiff.ID, "as the plan says", nil, admin)).must(t)
	// b's dispute stays open.
	bOpen := try(s.OpenDispute(c, engine.Dispute{RepID: b, LineID: lines[1].ID, Comments: []engine.DisputeComment{comment("?")}}, admin)).must(t)

	same := func(what string, got []engine.Dispute, want ...engine.Dispute) {
		t.Helper()
		if jsonOf(t, got) != jsonOf(t, want) {
			t.Errorf("%s = %s\nwant %s", what, jsonOf(t, got), jsonOf(t, want))
		}
	}
	same("Disputes(a)", try(s.Disputes(c, a, "2026-11")).must(t), resolved, spiffDone)
	same("Disputes(all)", try(s.Disputes(c, 0, "2026-11")).must(t), resolved, spiffDone, bOpen)
	same("Disputes(a, October)", try(s.Disputes(c, a, "2026-10")).must(t))
	_, err = s.Dispute(c, bOpen.ID+1000)
	wantCode(t, err, game.ENotFound, "id")

	log := auditLog(t, s)[n:]
	wantOrder := []entry{
		{"user:7", "dispute.open", obj("dispute", opened.ID), nil, opened},
		{admin, "dispute.comment", obj("dispute", opened.ID), nil, replied.Comments[1]},
		{admin, "dispute.resolve", obj("dispute", opened.ID), replied, resolvedEntry{resolved, &pay[2]}},
		{"user:7", "dispute.open", obj("dispute", spiff.ID), nil, spiff},
		{admin, "statement.locked", "statement:" + fmt.Sprint(a) + ":2026-10", nil, nil}, // checked below
		{admin, "dispute.resolve", obj("dispute", spiff.ID), spiff, resolvedEntry{spiffDone, nil}},
		{admin, "dispute.open", obj("dispute", bOpen.ID), nil, bOpen},
	}
	if len(log) != len(wantOrder) {
		t.Fatalf("audit entries %s, want %d: none for refused changes", describe(log), len(wantOrder))
	}
	for i, w := range wantOrder {
		if w.action == "statement.locked" {
			if log[i].Action != w.action {
				t.Errorf("entry %d is %s, want %s", log[i].Seq, log[i].Action, w.action)
			}
			continue
		}
		wantEntry(t, log[i], w)
	}
	verify(t, s)
}

// testAdjustPay: a manual adjustment is appended with its audit entry in
// one transaction, and refused into a locked statement.
func testAdjustPay(t *testing.T, db DB) {
	c, s := ctx(t), db.Store
	_, reps := seedReps(t, s, 1)
	a := reps[0].ID
	l := engine.PayLine{RepID: a, Period: "2026-11", PostedIn: "2026-11", Component: "adjustment", Kind: "manual",
		Amount: d("25.00"), Currency: "USD", Text: "Travel allowance", Actor: admin, Reason: "Travel allowance", At: t0}
	got := try(s.AdjustPay(c, l, admin)).must(t)
	if got.ID <= 0 || !got.Amount.Equal(d("25.00")) {
		t.Fatalf("AdjustPay = %+v", got)
	}
	wantTail(t, s, entry{admin, "pay.adjust", obj("rep", a), nil, got})
	if lines := try(s.PayLinesPostedIn(c, a, "2026-11")).must(t); len(lines) != 1 || lines[0].ID != got.ID {
		t.Fatalf("lines = %+v", lines)
	}
	for _, to := range []engine.StatementStatus{engine.StatementManagerApproved, engine.StatementFinanceApproved} {
		try(s.MoveStatement(c, engine.Statement{RepID: a, Period: "2026-11", Status: to}, map[engine.StatementStatus]engine.StatementStatus{
			engine.StatementManagerApproved: engine.StatementDraft, engine.StatementFinanceApproved: engine.StatementManagerApproved}[to], admin)).must(t)
	}
	try(s.MoveStatement(c, engine.Statement{RepID: a, Period: "2026-11", Status: engine.StatementLocked, Snapshot: json.RawMessage(`{}`), Hash: "h"},
		engine.StatementFinanceApproved, admin)).must(t)
	n := len(auditLog(t, s))
	_, err := s.AdjustPay(c, l, admin)
	wantCode(t, err, game.EConflict, "period")
	if got := len(auditLog(t, s)); got != n {
		t.Fatalf("a refused adjustment wrote %d audit entries", got-n)
	}
	if lines := try(s.PayLinesPostedIn(c, a, "2026-11")).must(t); len(lines) != 1 {
		t.Fatalf("a refused adjustment wrote a line: %+v", lines)
	}
	verify(t, s)
}
