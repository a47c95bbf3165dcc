package comp_test

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"podium/game"
	"podium/game/comp"
)

func widgetSpiff() comp.Component {
	return comp.Component{
		Kind: comp.KindSpiff, Name: "widgets", Amount: dec("250.00"),
		Products: []string{"widget"}, MinAmount: dec("5000.00"),
		Window: &comp.Window{From: "2026-10-01", To: "2026-12-31"},
	}
}

func TestSpiff(t *testing.T) {
	w := func(id, amount, day string) comp.DealCredit {
		return comp.DealCredit{ID: id, Amount: dec(amount), Product: "widget", CloseDay: day}
	}
	split := comp.DealCredit{ID: "half", Amount: dec("5000"), Share: dec("0.5"), DealAmount: dec("10000"), Product: "widget", CloseDay: "2026-11-10"}
	rated := widgetSpiff()
	rated.Amount, rated.Rate = decimal.Zero, dec("2")
	capped := widgetSpiff()
	capped.Cap = decp("400")
	typed := comp.Component{Kind: comp.KindSpiff, Name: "renewals", Amount: dec("100"), DealTypes: []string{"renewal"}}
	for _, tc := range []struct {
		name  string
		c     comp.Component
		deals []comp.DealCredit
		want  string
	}{
		{"qualifies", widgetSpiff(), []comp.DealCredit{w("a", "6000", "2026-11-03")}, "250"},
		{"exactly the minimum", widgetSpiff(), []comp.DealCredit{w("a", "5000", "2026-11-03")}, "250"},
		{"under the minimum", widgetSpiff(), []comp.DealCredit{w("a", "4999.99", "2026-11-03")}, "0"},
		{"wrong product", widgetSpiff(), []comp.DealCredit{{ID: "g", Amount: dec("9000"), Product: "gadget", CloseDay: "2026-11-03"}}, "0"},
		{"before the window", widgetSpiff(), []comp.DealCredit{w("a", "6000", "2026-09-30")}, "0"},
		{"last day of the window", widgetSpiff(), []comp.DealCredit{w("a", "6000", "2026-12-31")}, "250"},
		{"no close day with a window", widgetSpiff(), []comp.DealCredit{w("a", "6000", "")}, "0"},
		{"split deal pays the share, minimum on the whole deal", widgetSpiff(), []comp.DealCredit{split}, "125"},
		{"several deals", widgetSpiff(), []comp.DealCredit{w("a", "6000", "2026-11-03"), w("b", "7000", "2026-11-04"), w("c", "100", "2026-11-05")}, "500"},
		{"percentage", rated, []comp.DealCredit{w("a", "6000", "2026-11-03"), split}, "220"},
		{"cap", capped, []comp.DealCredit{w("a", "6000", "2026-11-03"), w("b", "7000", "2026-11-04")}, "400"},
		{"deal type", typed, []comp.DealCredit{{ID: "r", Amount: dec("1"), Type: "renewal"}, {ID: "n", Amount: dec("1"), Type: "new"}}, "100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEvaluate(t, planWith(tc.c), comp.StateOf(decimal.Zero, tc.deals...))
			wantEqual(t, "F", e.Components[0].Amount, dec(tc.want))
		})
	}
}

func TestSpiffLines(t *testing.T) {
	p := planWith(widgetSpiff())
	won := comp.DealCredit{ID: "opp-7", Amount: dec("6000"), Product: "widget", CloseDay: "2026-11-03"}
	small := comp.DealCredit{ID: "opp-8", Amount: dec("900"), Product: "widget", CloseDay: "2026-11-04"}
	s0 := comp.State{}
	s1 := with(s0, won)
	s2 := with(s1, small)
	for _, tc := range []struct {
		name          string
		before, after comp.State
		want, text    string
	}{
		{"won", s0, s1, "250", "250.00 SPIFF for deal opp-7: 250.00 for this deal"},
		{"does not qualify", s1, s2, "0", `deal opp-8 does not qualify for this SPIFF: the deal is under the minimum of 5,000.00: 0.00 for this deal`},
		{"lost", s1, s0, "-250", "less 250.00 SPIFF for deal opp-7: -250.00 for this deal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustPost(t, p, tc.before, tc.after)[0]
			wantEqual(t, "amount", l.Amount, dec(tc.want))
			if l.Trace.Text != tc.text {
				t.Errorf("text\n got %q\nwant %q", l.Trace.Text, tc.text)
			}
		})
	}
}

func TestBonus(t *testing.T) {
	p := planWith(comp.Component{Kind: comp.KindBonus, Name: "club", Steps: []comp.Step{
		{At: dec("100"), Amount: dec("1000")}, {At: dec("150"), Amount: dec("2500")},
	}})
	q := dec("10000")
	for _, tc := range []struct{ credited, want string }{
		{"0", "0"}, {"9999.99", "0"}, {"10000", "1000"}, {"14999.99", "1000"}, {"15000", "3500"}, {"90000", "3500"},
	} {
		e := mustEvaluate(t, p, comp.State{Quota: q, Credited: dec(tc.credited)})
		wantEqual(t, "bonus at "+tc.credited, e.Total, dec(tc.want))
	}
	// Jumping both steps with one deal, then losing it.
	up := mustPost(t, p, comp.State{Quota: q, Credited: dec("9000")}, comp.State{Quota: q, Credited: dec("16000")})[0]
	wantEqual(t, "both steps", up.Amount, dec("3500"))
	if want := "1,000.00 bonus for reaching quota, 2,500.00 bonus for reaching 150 % of quota: 3,500.00 for this deal"; up.Trace.Text != want {
		t.Errorf("text\n got %q\nwant %q", up.Trace.Text, want)
	}
	down := mustPost(t, p, comp.State{Quota: q, Credited: dec("16000")}, comp.State{Quota: q, Credited: dec("14000")})[0]
	wantEqual(t, "lost step", down.Amount, dec("-2500"))
}

func TestOverride(t *testing.T) {
	c := comp.Component{Kind: comp.KindOverride, Name: "team", Rate: dec("1.5")}
	e := mustEvaluate(t, planWith(c), comp.State{TeamCredited: dec("200000")})
	wantEqual(t, "override", e.Total, dec("3000"))
	c.Cap = decp("2000")
	e = mustEvaluate(t, planWith(c), comp.State{TeamCredited: dec("200000")})
	wantEqual(t, "capped override", e.Total, dec("2000"))
	l := mustPost(t, planWith(comp.Component{Kind: comp.KindOverride, Name: "team", Rate: dec("1.5")}),
		comp.State{TeamCredited: dec("1000")}, comp.State{TeamCredited: dec("11000")})[0]
	if want := "1.5 % on 10,000.00 of team revenue: 150.00 for this deal"; l.Trace.Text != want {
		t.Errorf("text %q, want %q", l.Trace.Text, want)
	}
}

// TestDraw settles draws over periods: a recoverable draw tops up a short
// period and recovers the advance from the excess of the next ones.
func TestDraw(t *testing.T) {
	type period struct{ earned, payout, carried string }
	for _, tc := range []struct {
		name        string
		recoverable bool
		periods     []period
	}{
		{"recoverable over three periods", true, []period{
			{"1000", "2000", "2000"},  // short: topped up to 3,000, 2,000 advanced
			{"4000", "-1000", "1000"}, // 1,000 above the draw recovers 1,000
			{"5500", "-1000", "0"},    // the rest recovered
			{"5000", "0", "0"},        // nothing left to recover
		}},
		{"recoverable, twice short", true, []period{
			{"0", "3000", "3000"}, {"2500", "500", "3500"}, {"3000", "0", "3500"}, {"10000", "-3500", "0"},
		}},
		{"clawbacks outweigh pay", true, []period{{"-500", "3500", "3500"}}},
		{"non-recoverable", false, []period{
			{"1000", "2000", "0"}, {"4000", "0", "0"}, {"2999.99", "0.01", "0"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planWith(commission(comp.Marginal, tiers("0", "10")), comp.Component{Kind: comp.KindDraw, Name: "draw", Amount: dec("3000"), Recoverable: tc.recoverable})
			carried := decimal.Zero
			for i, pd := range tc.periods {
				payout, out, line, err := comp.SettleDraw(p, dec(pd.earned), carried)
				if err != nil {
					t.Fatal(err)
				}
				wantEqual(t, "payout", payout, dec(pd.payout))
				wantEqual(t, "carried", out, dec(pd.carried))
				wantEqual(t, "line", line.Amount, payout)
				if line.Kind != comp.KindDraw || line.Trace.Draw == nil || !strings.Contains(line.Trace.Text, "at period close") {
					t.Errorf("period %d: line %+v does not explain the draw", i, line)
				}
				// Paid in the period: what was earned plus the draw line,
				// never less than the draw.
				if paid := dec(pd.earned).Add(payout); paid.LessThan(dec("3000")) {
					t.Errorf("period %d: paid %s, less than the draw", i, paid)
				}
				carried = out
			}
		})
	}
	// A carried balance is recovered even under a non-recoverable draw.
	p := planWith(comp.Component{Kind: comp.KindDraw, Name: "draw", Amount: dec("3000")})
	payout, out, line, err := comp.SettleDraw(p, dec("4000"), dec("1500"))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "payout", payout, dec("-1000"))
	wantEqual(t, "carried", out, dec("500"))
	if want := "less 1,000.00 recovered from the draw advanced earlier (4,000.00 earned, 3,000.00 guaranteed): -1,000.00 at period close, 500.00 left to recover from later earnings"; line.Trace.Text != want {
		t.Errorf("text\n got %q\nwant %q", line.Trace.Text, want)
	}
	_, _, _, err = comp.SettleDraw(planWith(commission(comp.Marginal, tiers("0", "1"))), dec("1"), decimal.Zero)
	wantError(t, err, game.ENotFound, "components")
	_, _, _, err = comp.SettleDraw(p, dec("1"), dec("-1"))
	wantError(t, err, game.EInvalid, "carried_in")
	// Draws are not posted per event.
	if lines := mustPost(t, p, comp.State{}, comp.State{Credited: dec("1")}); len(lines) != 0 {
		t.Errorf("Post returned %d lines for a draw-only plan", len(lines))
	}
}

func TestClawsBack(t *testing.T) {
	days := 90
	p := planWith(commission(comp.Marginal, tiers("0", "1")))
	for _, tc := range []struct {
		days            *int
		closed, reverse string
		want            bool
	}{
		{nil, "2026-01-01", "2030-01-01", true},
		{&days, "2026-01-01", "2026-03-31", true}, // 89 days
		{&days, "2026-01-01", "2026-04-01", true}, // 90 days
		{&days, "2026-01-01", "2026-04-02", false},
		{&days, "2026-01-10", "2026-01-05", true}, // reversed before the close day
	} {
		p.ClawbackDays = tc.days
		got, err := p.ClawsBack(tc.closed, tc.reverse)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("ClawsBack(%s, %s) with %v days = %v, want %v", tc.closed, tc.reverse, tc.days, got, tc.want)
		}
	}
	_, err := p.ClawsBack("2026-1-1", "2026-01-02")
	wantError(t, err, game.EInvalid, "close_day")
}
