package comp_test

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"podium/game"
	"podium/game/comp"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func decp(s string) *decimal.Decimal { d := dec(s); return &d }

// wantError fails unless err is a *game.Error with the given code and field
// and a message a person can act on.
func wantError(t testing.TB, err error, code, field string) {
	t.Helper()
	e := game.AsError(err)
	if e == nil {
		t.Fatalf("err = %v, want a *game.Error with code %q field %q", err, code, field)
	}
	if e.Code != code || e.Field != field {
		t.Fatalf("err = %v: code %q field %q, want code %q field %q", err, e.Code, e.Field, code, field)
	}
	if strings.TrimSpace(e.Message) == "" {
		t.Fatalf("err = %#v has no message", e)
	}
}

func wantEqual(t testing.TB, what string, got, want decimal.Decimal) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// tiers builds a rate table from pairs of "from", "rate".
func tiers(pairs ...string) []comp.Tier {
	var out []comp.Tier
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, comp.Tier{From: dec(pairs[i]), Rate: dec(pairs[i+1])})
	}
	return out
}

// exampleTiers is the worked example's table: 5 % below 50 %, 10 % from 50 %,
// 12 % from 100 %, 15 % from 150 %.
func exampleTiers() []comp.Tier { return tiers("0", "5", "50", "10", "100", "12", "150", "15") }

// planWith returns a valid monthly USD plan with the components.
func planWith(cs ...comp.Component) comp.Plan {
	return comp.Plan{
		ID: "ae", Name: "Account executives", Version: 1, Currency: "USD",
		EffectiveFrom: "2026-01-01", Period: game.PeriodMonth,
		Rounding:   comp.Rounding{Mode: comp.HalfUp, Where: comp.OnTotal},
		Components: cs,
	}
}

func commission(mode comp.TierMode, ts []comp.Tier) comp.Component {
	return comp.Component{Kind: comp.KindCommission, Name: "commission", Mode: mode, Tiers: ts}
}

// deal is an unsplit deal credited in full.
func deal(id, amount string) comp.DealCredit {
	return comp.DealCredit{ID: id, Amount: dec(amount)}
}

func mustEvaluate(t testing.TB, p comp.Plan, s comp.State) comp.Earnings {
	t.Helper()
	e, err := comp.Evaluate(p, s)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return e
}

func mustPost(t testing.TB, p comp.Plan, before, after comp.State) []comp.Line {
	t.Helper()
	lines, err := comp.Post(p, before, after)
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	return lines
}

// lineOf returns the line of the named component.
func lineOf(t testing.TB, lines []comp.Line, name string) comp.Line {
	t.Helper()
	for _, l := range lines {
		if l.Component == name {
			return l
		}
	}
	t.Fatalf("no line for %q in %d lines", name, len(lines))
	return comp.Line{}
}

// with returns s plus a deal, crediting it.
func with(s comp.State, d comp.DealCredit) comp.State {
	s.Deals = append(append([]comp.DealCredit(nil), s.Deals...), d)
	s.Credited = s.Credited.Add(d.Amount)
	return s
}
