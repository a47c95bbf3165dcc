package comp_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"podium/game"
	"podium/game/comp"
)

// The generators draw valid plans of every kind and shape, in currencies
// with 0, 2 and 3 digits, and deals that straddle tier boundaries.

var (
	propProducts = []string{"a", "b", "c", ""}
	propTypes    = []string{"new", "renewal"}
	propDays     = []string{"2026-01-01", "2026-01-10", "2026-01-31", ""}
)

type gen struct {
	t        *rapid.T
	currency string
	digits   int32
}

func (g gen) money(label string, maxMajor int64) decimal.Decimal {
	maxMinor := maxMajor * decimal.New(1, g.digits).IntPart()
	return decimal.New(rapid.OneOf(rapid.Int64Range(0, 100), rapid.Int64Range(0, maxMinor)).Draw(g.t, label), -g.digits)
}

// tiers draws a rate table: froms in tenths of a percent, rates in
// hundredths, non-decreasing when the mode or grouping requires it.
func (g gen) tiers(label string, nondecreasing bool) []comp.Tier {
	n := rapid.IntRange(1, 5).Draw(g.t, label+"n")
	var out []comp.Tier
	from, rate := int64(0), int64(0)
	for i := range n {
		if i > 0 {
			from += rapid.Int64Range(1, 1000).Draw(g.t, fmt.Sprintf("%sfrom%d", label, i))
		}
		if nondecreasing {
			rate = min(rate+rapid.Int64Range(0, 500).Draw(g.t, fmt.Sprintf("%sup%d", label, i)), 10000)
		} else {
			rate = rapid.Int64Range(0, 2000).Draw(g.t, fmt.Sprintf("%srate%d", label, i))
		}
		out = append(out, comp.Tier{From: decimal.New(from, -1), Rate: decimal.New(rate, -2)})
	}
	return out
}

func minRate(ts []comp.Tier) decimal.Decimal {
	m := ts[0].Rate
	for _, t := range ts {
		m = decimal.Min(m, t.Rate)
	}
	return m
}

func (g gen) component(i int) comp.Component {
	l := fmt.Sprintf("c%d.", i)
	c := comp.Component{Name: fmt.Sprintf("c%d", i)}
	c.Kind = rapid.SampledFrom([]comp.Kind{comp.KindCommission, comp.KindCommission, comp.KindSpiff, comp.KindBonus, comp.KindOverride}).Draw(g.t, l+"kind")
	switch c.Kind {
	case comp.KindCommission:
		c.Mode = rapid.SampledFrom([]comp.TierMode{comp.Marginal, comp.Retroactive}).Draw(g.t, l+"mode")
		grouped := rapid.Bool().Draw(g.t, l+"grouped")
		if grouped {
			switch rapid.IntRange(0, 2).Draw(g.t, l+"grouping") {
			case 0:
				c.Products = []string{"a", "b"}
			case 1:
				c.RateOverrides = []comp.RateOverride{{Products: []string{"b"}}}
			default:
				c.DealTypes = []string{"renewal"}
				c.RateOverrides = []comp.RateOverride{{Products: []string{"a"}, DealTypes: []string{"renewal"}}}
			}
		}
		nondecreasing := c.Mode == comp.Retroactive || grouped
		c.Tiers = g.tiers(l+"tiers.", nondecreasing)
		lowest := minRate(c.Tiers)
		for j := range c.RateOverrides {
			c.RateOverrides[j].Tiers = g.tiers(fmt.Sprintf("%sov%d.", l, j), true)
			lowest = decimal.Min(lowest, minRate(c.RateOverrides[j].Tiers))
		}
		gateAt := int64(0)
		if rapid.Bool().Draw(g.t, l+"gate") {
			gateAt = rapid.Int64Range(1, 1500).Draw(g.t, l+"gate.at")
			rate := rapid.Int64Range(0, lowest.Shift(2).IntPart()).Draw(g.t, l+"gate.rate")
			c.Gate = &comp.Gate{At: decimal.New(gateAt, -1), Rate: decimal.New(rate, -2)}
		}
		if !grouped && rapid.Bool().Draw(g.t, l+"soft") {
			at := max(gateAt, 1) + rapid.Int64Range(0, 3000).Draw(g.t, l+"soft.at")
			c.SoftCap = &comp.SoftCap{At: decimal.New(at, -1)}
			if rapid.Bool().Draw(g.t, l+"soft.byFactor") {
				c.SoftCap.Factor = decp(decimal.New(rapid.Int64Range(0, 100).Draw(g.t, l+"soft.factor"), -2).String())
			} else {
				c.SoftCap.Rate = decp(decimal.New(rapid.Int64Range(0, 2000).Draw(g.t, l+"soft.rate"), -2).String())
			}
		}
	case comp.KindSpiff:
		if rapid.Bool().Draw(g.t, l+"fixed") {
			c.Amount = g.money(l+"amount", 1000)
			if c.Amount.IsZero() {
				c.Amount = decimal.NewFromInt(1)
			}
		} else {
			c.Rate = decimal.New(rapid.Int64Range(1, 2000).Draw(g.t, l+"rate"), -2)
		}
		if rapid.Bool().Draw(g.t, l+"filter") {
			c.Products = []string{"a"}
		}
		c.MinAmount = g.money(l+"min", 20000)
		if rapid.Bool().Draw(g.t, l+"window") {
			c.Window = &comp.Window{From: "2026-01-05", To: "2026-01-20"}
		}
	case comp.KindBonus:
		at := int64(0)
		for j := range rapid.IntRange(1, 3).Draw(g.t, l+"steps") {
			at += rapid.Int64Range(1, 1500).Draw(g.t, fmt.Sprintf("%sstep%d", l, j))
			amount := g.money(fmt.Sprintf("%sstep%d.amount", l, j), 5000).Add(decimal.New(1, -g.digits))
			c.Steps = append(c.Steps, comp.Step{At: decimal.New(at, -1), Amount: amount})
		}
	case comp.KindOverride:
		c.Rate = decimal.New(rapid.Int64Range(1, 1000).Draw(g.t, l+"rate"), -2)
	}
	if c.Kind != comp.KindBonus && rapid.Bool().Draw(g.t, l+"capped") {
		c.Cap = decp(g.money(l+"cap", 20000).String())
	}
	return c
}

func genPlan(t *rapid.T) (comp.Plan, gen) {
	currency := rapid.SampledFrom([]string{"USD", "JPY", "KWD"}).Draw(t, "currency")
	digits, _ := game.MinorDigits(currency)
	g := gen{t: t, currency: currency, digits: digits}
	p := comp.Plan{
		ID: "prop", Name: "property", Version: 1, Currency: currency, EffectiveFrom: "2026-01-01", Period: game.PeriodMonth,
		Rounding: comp.Rounding{
			Mode:  rapid.SampledFrom([]comp.RoundingMode{comp.HalfUp, comp.HalfEven, comp.Down, comp.Up}).Draw(t, "mode"),
			Where: rapid.SampledFrom([]comp.RoundingScope{comp.PerLine, comp.OnTotal}).Draw(t, "where"),
		},
	}
	for i := range rapid.IntRange(1, 4).Draw(t, "components") {
		p.Components = append(p.Components, g.component(i))
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("generated plan refused: %v", err)
	}
	return p, g
}

func (g gen) deal(id string) comp.DealCredit {
	return comp.DealCredit{
		ID:       id,
		Amount:   g.money(id+".amount", 50000),
		Product:  rapid.SampledFrom(propProducts).Draw(g.t, id+".product"),
		Type:     rapid.SampledFrom(propTypes).Draw(g.t, id+".type"),
		CloseDay: rapid.SampledFrom(propDays).Draw(g.t, id+".day"),
	}
}

func (g gen) quota() decimal.Decimal {
	return g.money("quota", 100000).Add(decimal.New(1, -g.digits))
}

func evalT(t *rapid.T, p comp.Plan, s comp.State) map[string]comp.Earned {
	e, err := comp.Evaluate(p, s)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	out := map[string]comp.Earned{}
	for _, c := range e.Components {
		out[c.Component] = c
	}
	return out
}

// checkLines checks what every line must satisfy: parts that add up to the
// exact amount, an amount in the currency's digits, and a sentence.
func checkLines(t *rapid.T, p comp.Plan, digits int32, lines []comp.Line) {
	for _, l := range lines {
		sum := decimal.Zero
		for _, part := range l.Trace.Parts {
			sum = sum.Add(part.Pay)
		}
		if !sum.Equal(l.Trace.Exact) {
			t.Fatalf("%s: parts sum to %s, exact is %s\n%+v", l.Component, sum, l.Trace.Exact, l.Trace.Parts)
		}
		if !l.Amount.Equal(l.Amount.Truncate(digits)) {
			t.Fatalf("%s: amount %s has more than %d digits", l.Component, l.Amount, digits)
		}
		if l.Trace.Text == "" || l.PlanID != p.ID {
			t.Fatalf("%s: line without sentence or plan: %+v", l.Component, l)
		}
	}
}

// addLines checks lines and adds their amounts to posted, per component, as
// the ledger would.
func addLines(t *rapid.T, p comp.Plan, digits int32, posted map[string]decimal.Decimal, lines []comp.Line) {
	checkLines(t, p, digits, lines)
	for _, l := range lines {
		posted[l.Component] = posted[l.Component].Add(l.Amount)
	}
}

// A step is one event of a period: a deal won, lost, edited, or the team's
// revenue moving.
func (g gen) step(s comp.State, i int) comp.State {
	next := s
	next.Deals = slices.Clone(s.Deals)
	label := fmt.Sprintf("e%d.", i)
	switch k := rapid.IntRange(0, 5).Draw(g.t, label+"kind"); {
	case k <= 2 || len(next.Deals) == 0:
		next.Deals = append(next.Deals, g.deal(fmt.Sprintf("d%d", i)))
	case k == 3:
		j := rapid.IntRange(0, len(next.Deals)-1).Draw(g.t, label+"lost")
		next.Deals = slices.Delete(next.Deals, j, j+1)
	case k == 4:
		j := rapid.IntRange(0, len(next.Deals)-1).Draw(g.t, label+"edited")
		edited := g.deal(next.Deals[j].ID)
		next.Deals[j] = edited
	default:
		next.TeamCredited = g.money(label+"team", 500000)
	}
	next.Credited = decimal.Zero
	for _, d := range next.Deals {
		next.Credited = next.Credited.Add(d.Amount)
	}
	return next
}

// TestPropertyTelescopes: whatever the events (deals won, lost, edited, in any
// order), the exact lines sum to F(final); with rounding on the total the
// posted lines sum to exactly round(F(final)); per line they stay within a
// unit per line of it; and Adjust then brings them to round(F(final)), after
// which it posts nothing.
func TestPropertyTelescopes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p, g := genPlan(t)
		s := comp.State{Quota: g.quota()}
		posted := map[string]decimal.Decimal{}
		exact := map[string]decimal.Decimal{}
		n := rapid.IntRange(1, 10).Draw(t, "events")
		for i := range n {
			next := g.step(s, i)
			lines, err := comp.Post(p, s, next)
			if err != nil {
				t.Fatalf("Post: %v", err)
			}
			addLines(t, p, g.digits, posted, lines)
			for _, l := range lines {
				exact[l.Component] = exact[l.Component].Add(l.Trace.Exact)
			}
			s = next
		}
		unit := decimal.New(1, -g.digits)
		for name, e := range evalT(t, p, s) {
			if !exact[name].Equal(e.Exact) {
				t.Fatalf("%s: exact lines sum to %s, F(final) = %s", name, exact[name], e.Exact)
			}
			drift := posted[name].Sub(e.Amount).Abs()
			if p.Rounding.Where == comp.OnTotal && !drift.IsZero() {
				t.Fatalf("%s: lines sum to %s, round(F(final)) = %s", name, posted[name], e.Amount)
			}
			if drift.GreaterThan(unit.Mul(decimal.NewFromInt(int64(n)))) {
				t.Fatalf("%s: lines drifted by %s over %d events", name, drift, n)
			}
		}
		lines, err := comp.Adjust(p, posted, s)
		if err != nil {
			t.Fatalf("Adjust: %v", err)
		}
		addLines(t, p, g.digits, posted, lines)
		for name, e := range evalT(t, p, s) {
			if !posted[name].Equal(e.Amount) {
				t.Fatalf("%s: after Adjust %s posted, round(F) = %s", name, posted[name], e.Amount)
			}
		}
		again, err := comp.Adjust(p, posted, s)
		if err != nil {
			t.Fatalf("Adjust: %v", err)
		}
		if tot := comp.Total(again); !tot.IsZero() {
			t.Fatalf("a second Adjust posts %s", tot)
		}
	})
}

// TestPropertyOrderAndSplit: F depends on the deals, not on their order, and
// splitting a deal into parts (by shares, allocated with SplitAmount) changes
// nothing.
func TestPropertyOrderAndSplit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p, g := genPlan(t)
		var deals []comp.DealCredit
		for i := range rapid.IntRange(1, 6).Draw(t, "deals") {
			deals = append(deals, g.deal(fmt.Sprintf("d%d", i)))
		}
		quota := g.quota()
		want := evalT(t, p, comp.StateOf(quota, deals...))

		shuffled := rapid.Permutation(deals).Draw(t, "order")
		for name, e := range evalT(t, p, comp.StateOf(quota, shuffled...)) {
			if !e.Exact.Equal(want[name].Exact) {
				t.Fatalf("%s: F = %s in another order, %s before", name, e.Exact, want[name].Exact)
			}
		}

		j := rapid.IntRange(0, len(deals)-1).Draw(t, "split")
		whole := deals[j]
		first := decimal.New(rapid.Int64Range(0, 100).Draw(t, "share"), -2)
		shares := []decimal.Decimal{first, decimal.NewFromInt(1).Sub(first)}
		amounts, err := comp.SplitAmount(whole.Amount, g.currency, shares)
		if err != nil {
			t.Fatalf("SplitAmount: %v", err)
		}
		split := slices.Clone(deals)
		split = slices.Delete(split, j, j+1)
		for k, a := range amounts {
			if shares[k].IsZero() {
				continue // a zero share is no part of the deal (and a zero Share means "whole")
			}
			part := whole
			part.ID, part.Amount, part.Share, part.DealAmount = fmt.Sprintf("%s/%d", whole.ID, k), a, shares[k], whole.Amount
			split = append(split, part)
		}
		for name, e := range evalT(t, p, comp.StateOf(quota, split...)) {
			if !e.Exact.Equal(want[name].Exact) {
				t.Fatalf("%s: F = %s with deal %s split %v, %s whole", name, e.Exact, whole.ID, shares, want[name].Exact)
			}
		}
	})
}

// TestPropertyMonotone: with non-negative rates (all Validate accepts), F of
// every component never decreases when credit grows, by a new deal or a
// larger amount.
func TestPropertyMonotone(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p, g := genPlan(t)
		s := comp.State{Quota: g.quota(), TeamCredited: g.money("team", 100000)}
		prev := evalT(t, p, s)
		for i := range rapid.IntRange(1, 8).Draw(t, "deals") {
			next := s
			next.Deals = slices.Clone(s.Deals)
			if len(next.Deals) > 0 && rapid.Bool().Draw(t, fmt.Sprintf("grow%d", i)) {
				j := rapid.IntRange(0, len(next.Deals)-1).Draw(t, fmt.Sprintf("which%d", i))
				more := g.money(fmt.Sprintf("more%d", i), 20000)
				next.Deals[j].Amount = next.Deals[j].Amount.Add(more)
				next.Credited = next.Credited.Add(more)
			} else {
				next = with(next, g.deal(fmt.Sprintf("d%d", i)))
			}
			cur := evalT(t, p, next)
			for name, e := range cur {
				if e.Exact.LessThan(prev[name].Exact) {
					t.Fatalf("%s: F fell from %s to %s as credit grew from %s to %s", name, prev[name].Exact, e.Exact, s.Credited, next.Credited)
				}
			}
			s, prev = next, cur
		}
	})
}

// TestPropertyAllocation: SplitAmount's parts always add up to the amount,
// each within a minor unit of its exact share, and a negative amount splits
// into exactly the negated parts.
func TestPropertyAllocation(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		currency := rapid.SampledFrom([]string{"USD", "JPY", "KWD"}).Draw(t, "currency")
		digits, _ := game.MinorDigits(currency)
		amount := decimal.New(rapid.Int64Range(0, 1_000_000_000_000).Draw(t, "minor"), -digits)
		n := rapid.IntRange(1, 6).Draw(t, "n")
		left := int64(10000)
		var shares []decimal.Decimal
		for i := range n {
			sh := left
			if i < n-1 {
				sh = rapid.Int64Range(0, left).Draw(t, fmt.Sprintf("share%d", i))
			}
			left -= sh
			shares = append(shares, decimal.New(sh, -4))
		}
		parts, err := comp.SplitAmount(amount, currency, shares)
		if err != nil {
			t.Fatal(err)
		}
		neg, err := comp.SplitAmount(amount.Neg(), currency, shares)
		if err != nil {
			t.Fatal(err)
		}
		sum := decimal.Zero
		unit := decimal.New(1, -digits)
		for i, part := range parts {
			sum = sum.Add(part)
			if part.Sub(amount.Mul(shares[i])).Abs().GreaterThanOrEqual(unit) {
				t.Fatalf("part %d = %s, exact share %s", i, part, amount.Mul(shares[i]))
			}
			if !neg[i].Equal(part.Neg()) {
				t.Fatalf("negative split part %d = %s, want %s", i, neg[i], part.Neg())
			}
		}
		if !sum.Equal(amount) {
			t.Fatalf("parts sum to %s, amount %s", sum, amount)
		}
	})
}

// TestPropertyPlanJSON: every generated plan survives a JSON round trip.
func TestPropertyPlanJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p, _ := genPlan(t)
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := comp.ParsePlan(data)
		if err != nil {
			t.Fatalf("ParsePlan(%s): %v", data, err)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(data) {
			t.Fatalf("round trip changed the plan:\n%s\n%s", data, again)
		}
	})
}

// TestPropertyNextStep: closing the distance NextStep names reaches its
// threshold, so the next step after that is higher (or there is none), and
// the gain it promised is what WhatIf projects.
func TestPropertyNextStep(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p, g := genPlan(t)
		var deals []comp.DealCredit
		for i := range rapid.IntRange(0, 3).Draw(t, "deals") {
			deals = append(deals, g.deal(fmt.Sprintf("d%d", i)))
		}
		s := comp.StateOf(g.quota(), deals...)
		next, err := comp.NextStep(p, s)
		if err != nil {
			t.Fatalf("NextStep: %v", err)
		}
		if next == nil {
			return
		}
		if !next.Distance.IsPositive() || len(next.Unlocks) == 0 || next.Text == "" {
			t.Fatalf("next step %+v", next)
		}
		proj, err := comp.WhatIf(p, s, next.Distance)
		if err != nil {
			t.Fatal(err)
		}
		if !proj.Gain.Equal(next.Gain) {
			t.Fatalf("NextStep gain %s, WhatIf gain %s", next.Gain, proj.Gain)
		}
		after := with(s, comp.DealCredit{ID: "closing", Amount: next.Distance})
		if after.Credited.LessThan(next.Threshold) {
			t.Fatalf("closing %s reaches %s, short of %s", next.Distance, after.Credited, next.Threshold)
		}
		then, err := comp.NextStep(p, after)
		if err != nil {
			t.Fatal(err)
		}
		if then != nil && !then.At.GreaterThan(next.At) {
			t.Fatalf("after reaching %s %%, the next step is %s %%", next.At, then.At)
		}
	})
}
