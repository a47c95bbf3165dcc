package comp_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"podium/game/comp"
)

// scenarioPlan pays with every kind a rep sees lines from.
func scenarioPlan() comp.Plan {
	p := planWith(
		comp.Component{Kind: comp.KindCommission, Name: "commission", Mode: comp.Marginal, Tiers: exampleTiers(),
			Gate: &comp.Gate{At: dec("25"), Rate: dec("2")}, Cap: decp("4000")},
		comp.Component{Kind: comp.KindCommission, Name: "services", Mode: comp.Retroactive, Products: []string{"services", "training"},
			Tiers: tiers("0", "3", "100", "4"), RateOverrides: []comp.RateOverride{{Products: []string{"training"}, Tiers: tiers("0", "6", "100", "8")}}},
		widgetSpiff(),
		comp.Component{Kind: comp.KindBonus, Name: "club", Steps: []comp.Step{{At: dec("100"), Amount: dec("1000")}, {At: dec("150"), Amount: dec("2500")}}},
		comp.Component{Kind: comp.KindOverride, Name: "team", Rate: dec("1.5")},
		comp.Component{Kind: comp.KindDraw, Name: "draw", Amount: dec("3000"), Recoverable: true},
	)
	p.Rounding = comp.Rounding{Mode: comp.HalfUp, Where: comp.PerLine}
	return p
}

// eurDeal converts the 8,000.00 EUR of a deal closed on 2026-11-20 at the
// rate of 2026-11-01.
func eurDeal(t *testing.T) (decimal.Decimal, comp.Exchange) {
	t.Helper()
	rates, err := comp.NewRates([]comp.Rate{{From: "EUR", To: "USD", Day: "2026-11-01", Rate: dec("1.0825")}})
	if err != nil {
		t.Fatal(err)
	}
	amount, ex, err := rates.Convert(dec("8000.00"), "EUR", "USD", "2026-11-20")
	if err != nil {
		t.Fatal(err)
	}
	return amount, ex
}

// TestTraceSentences walks a month of events through the scenario plan and
// pins every sentence a rep would read (testdata/sentences.golden; refresh
// with go test -update).
func TestTraceSentences(t *testing.T) {
	p := scenarioPlan()
	eur, ex := eurDeal(t)
	sw := func(id, amount string) comp.DealCredit {
		return comp.DealCredit{ID: id, Amount: dec(amount), Product: "software", CloseDay: "2026-11-02"}
	}
	var out strings.Builder
	s := comp.State{Quota: dec("33000")}
	step := func(name string, next comp.State) {
		t.Helper()
		fmt.Fprintf(&out, "## %s (credited %s)\n", name, comp.FormatMoney(next.Credited, "USD"))
		for _, l := range mustPost(t, p, s, next) {
			if len(l.Trace.Parts) > 0 || !l.Amount.IsZero() {
				fmt.Fprintf(&out, "%s: %s\n", l.Component, l.Trace.Text)
			}
		}
		s = next
	}
	edit := func(st comp.State, id, amount string) comp.State {
		next := st
		next.Deals = nil
		next.Credited = decimal.Zero
		for _, d := range st.Deals {
			if d.ID == id {
				d.Amount = dec(amount)
			}
			next = with(next, d)
		}
		return next
	}
	drop := func(st comp.State, id string) comp.State {
		next := comp.State{Quota: st.Quota, TeamCredited: st.TeamCredited}
		for _, d := range st.Deals {
			if d.ID != id {
				next = with(next, d)
			}
		}
		return next
	}
	step("first deal, below the gate", with(s, sw("opp-1", "5000")))
	step("crossing the gate", with(s, sw("opp-2", "10000")))
	step("a widget deal in the SPIFF window", with(s, comp.DealCredit{ID: "opp-3", Amount: dec("6000"), Product: "widget", CloseDay: "2026-11-03"}))
	step("a small widget deal", with(s, comp.DealCredit{ID: "opp-4", Amount: dec("900"), Product: "widget", CloseDay: "2026-11-04"}))
	step("services", with(s, comp.DealCredit{ID: "opp-5", Amount: dec("4000"), Product: "services", CloseDay: "2026-11-05"}))
	step("training, at its own rates", with(s, comp.DealCredit{ID: "opp-6", Amount: dec("3000"), Product: "training", CloseDay: "2026-11-06"}))
	step("a deal in EUR crosses quota", with(s, comp.DealCredit{ID: "opp-7", Amount: eur, Product: "software", CloseDay: "2026-11-20", Exchange: &ex}))
	step("a split deal", with(s, comp.DealCredit{ID: "opp-8", Amount: dec("6000.01"), Share: dec("0.5"), DealAmount: dec("12000.02"), Product: "widget", CloseDay: "2026-11-21"}))
	step("the big one hits the cap", with(s, sw("opp-9", "20000")))
	step("the widget deal is lost", drop(s, "opp-3"))
	step("an amount edited down", edit(s, "opp-9", "7000"))
	step("the team sells", comp.State{Quota: s.Quota, Credited: s.Credited, Deals: s.Deals, TeamCredited: dec("250000")})

	out.WriteString("## a correction after the plan changed\n")
	fixed := scenarioPlan()
	fixed.Version = 2
	fixed.Components[0].Mode = comp.Retroactive
	fixed.Components = fixed.Components[:5]
	posted := map[string]decimal.Decimal{"commission": dec("3200.00"), "club": dec("1000.00"), "old-kicker": dec("120.00")}
	lines, err := comp.Adjust(fixed, posted, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if len(l.Trace.Parts) > 0 || !l.Amount.IsZero() {
			fmt.Fprintf(&out, "%s: %s\n", l.Component, l.Trace.Text)
		}
	}

	out.WriteString("## what if\n")
	proj, err := comp.WhatIf(p, s, dec("15000"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range proj.Lines {
		if !l.Amount.IsZero() {
			fmt.Fprintf(&out, "%s: %s\n", l.Component, l.Trace.Text)
		}
	}
	fmt.Fprintf(&out, "earned %s, projected %s\n", proj.Earned, proj.Projected)
	next, err := comp.NextStep(p, comp.StateOf(dec("33000"), sw("a", "30000")))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&out, "next: %s\n", next.Text)

	out.WriteString("## draw settlements\n")
	carried := decimal.Zero
	for _, earned := range []string{"1200.00", "2500.00", "4400.00", "6000.00"} {
		_, c, line, err := comp.SettleDraw(p, dec(earned), carried)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "earned %s: %s\n", earned, line.Trace.Text)
		carried = c
	}
	golden(t, "sentences.golden", []byte(out.String()))
}

// TestLineJSON pins the wire form of a line: what the engine stores and
// pushes to a rep's phone (testdata/line.golden.json).
func TestLineJSON(t *testing.T) {
	p := scenarioPlan()
	amount, ex := eurDeal(t)
	before := comp.StateOf(dec("33000"), comp.DealCredit{ID: "opp-1", Amount: dec("30000"), Product: "software"})
	after := with(before, comp.DealCredit{ID: "opp-7", Amount: amount, Product: "software", CloseDay: "2026-11-20", Exchange: &ex})
	l := lineOf(t, mustPost(t, p, before, after), "commission")
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "line.golden.json", append(data, '\n'))
}
