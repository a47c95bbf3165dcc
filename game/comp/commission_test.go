package comp_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"podium/game"
	"podium/game/comp"
)

// TestCommissionF pins F of one commission component for credit and quota.
func TestCommissionF(t *testing.T) {
	gate := func(c comp.Component, at, rate string) comp.Component {
		c.Gate = &comp.Gate{At: dec(at), Rate: dec(rate)}
		return c
	}
	soft := func(c comp.Component, at string, factor, rate *decimal.Decimal) comp.Component {
		c.SoftCap = &comp.SoftCap{At: dec(at), Factor: factor, Rate: rate}
		return c
	}
	capped := func(c comp.Component, amount string) comp.Component {
		c.Cap = decp(amount)
		return c
	}
	marginal := commission(comp.Marginal, exampleTiers())
	retro := commission(comp.Retroactive, exampleTiers())
	flat := commission(comp.Marginal, tiers("0", "10"))
	decel := commission(comp.Marginal, tiers("0", "10", "100", "4"))
	for _, tc := range []struct {
		name            string
		c               comp.Component
		quota, credited string
		want            string
	}{
		{"nothing credited", marginal, "10000", "0", "0"},
		{"marginal inside the first band", marginal, "10000", "4000", "200"},
		{"marginal exactly at 50 %", marginal, "10000", "5000", "250"},
		{"marginal a cent above 50 %", marginal, "10000", "5000.01", "250.001"},
		{"marginal exactly at quota", marginal, "10000", "10000", "750"},
		{"marginal far above", marginal, "10000", "100000", "14100"},
		{"retroactive a cent below 50 %", retro, "10000", "4999.99", "249.9995"},
		{"retroactive exactly at 50 % takes the higher tier", retro, "10000", "5000", "500"},
		{"retroactive exactly at quota", retro, "10000", "10000", "1200"},
		{"retroactive at 150 %", retro, "10000", "15000", "2250"},
		{"flat rate needs no quota", flat, "0", "12345.67", "1234.567"},
		{"decelerator above quota", decel, "10000", "15000", "1200"},
		{"below a zero-rate gate pays nothing", gate(marginal, "50", "0"), "10000", "4999.99", "0"},
		{"at the gate everything pays", gate(marginal, "50", "0"), "10000", "5000", "250"},
		{"below a gate with a rate", gate(marginal, "50", "2"), "10000", "4000", "80"},
		{"retroactive gate", gate(retro, "50", "0"), "10000", "6000", "600"},
		{"soft cap by factor", soft(flat, "100", decp("0.5"), nil), "10000", "15000", "1250"},
		{"soft cap exactly at its threshold", soft(flat, "100", decp("0.5"), nil), "10000", "10000", "1000"},
		{"soft cap with factor 0 stops pay", soft(flat, "100", decp("0"), nil), "10000", "50000", "1000"},
		{"soft cap by rate", soft(flat, "100", nil, decp("4")), "10000", "15000", "1200"},
		{"soft cap on marginal tiers", soft(marginal, "120", decp("0.5"), nil), "10000", "15000", "1170"},
		{"soft cap on retroactive tiers", soft(retro, "120", decp("0.5"), nil), "10000", "15000", "1845"},
		{"cap not reached", capped(flat, "1000"), "0", "9000", "900"},
		{"cap reached", capped(flat, "1000"), "0", "14000", "1000"},
		{"zero cap pays nothing", capped(flat, "0"), "0", "14000", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planWith(tc.c)
			if err := p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			e := mustEvaluate(t, p, comp.State{Quota: dec(tc.quota), Credited: dec(tc.credited)})
			wantEqual(t, "F", e.Components[0].Exact, dec(tc.want))
		})
	}
}

// TestZeroQuota: a plan that measures attainment refuses a zero quota with a
// clear error; a flat plan does not need one.
func TestZeroQuota(t *testing.T) {
	for _, c := range []comp.Component{
		commission(comp.Marginal, exampleTiers()),
		{Kind: comp.KindCommission, Name: "gated", Mode: comp.Marginal, Tiers: tiers("0", "5"), Gate: &comp.Gate{At: dec("50")}},
		{Kind: comp.KindBonus, Name: "club", Steps: []comp.Step{{At: dec("100"), Amount: dec("1000")}}},
	} {
		_, err := comp.Evaluate(planWith(c), comp.State{Credited: dec("100")})
		wantError(t, err, game.EInvalid, "state.quota")
		_, err = comp.Post(planWith(c), comp.State{Quota: dec("1000")}, comp.State{Credited: dec("100")})
		wantError(t, err, game.EInvalid, "after.quota")
	}
	_, err := comp.Evaluate(planWith(commission(comp.Marginal, tiers("0", "5"))), comp.State{Quota: dec("-1"), Credited: dec("100")})
	wantError(t, err, game.EInvalid, "state.quota")
}

// TestCommissionLines checks the lines of single events: caps hit mid-deal,
// gate crossings both ways, corrections that lower pay.
func TestCommissionLines(t *testing.T) {
	q := dec("10000")
	flatCapped := commission(comp.Marginal, tiers("0", "10"))
	flatCapped.Cap = decp("1000")
	gated := commission(comp.Marginal, exampleTiers())
	gated.Gate = &comp.Gate{At: dec("50"), Rate: dec("2")}
	for _, tc := range []struct {
		name          string
		c             comp.Component
		before, after string
		want          string
		text          string
	}{
		{"cap hit mid-deal", flatCapped, "9000", "14000", "100",
			"10 % on 5,000.00, less 400.00 over the cap of 1,000.00: 100.00 for this deal"},
		{"already over the cap", flatCapped, "14000", "15000", "0",
			"10 % on 1,000.00, less 100.00 over the cap of 1,000.00: 0.00 for this deal"},
		{"back under the cap", flatCapped, "14000", "8000", "-200",
			"less 10 % on 6,000.00, 400.00 previously over the cap of 1,000.00: -200.00 for this deal"},
		{"below the gate", gated, "1000", "3000", "40",
			"2 % on 2,000.00 below the 50 % gate: 40.00 for this deal"},
		{"crossing the gate", gated, "4000", "6000", "270",
			"10 % on 1,000.00 from 50 % to 100 %, 150.00 released by reaching the 50 % gate (the credit below it now earns the tier rates), 2 % on 1,000.00 below the 50 % gate: 270.00 for this deal"},
		{"falling back below the gate", gated, "6000", "4000", "-270",
			"less 10 % on 1,000.00 from 50 % to 100 %, less 150.00 withheld again below the 50 % gate, less 2 % on 1,000.00 below the 50 % gate: -270.00 for this deal"},
		{"lower amount", commission(comp.Marginal, exampleTiers()), "15000", "9000", "-700",
			"less 12 % on 5,000.00 from 100 % to 150 %, less 10 % on 1,000.00 from 50 % to 100 %: -700.00 for this deal"},
		{"retroactive tier lost", commission(comp.Retroactive, exampleTiers()), "15000", "9000", "-1350",
			"10 % on 9,000.00 (all credit, tier from 50 % to 100 %), less 2,250.00 already earned: -1,350.00 for this deal"},
		{"retroactive same tier", commission(comp.Retroactive, exampleTiers()), "11000", "12000", "120",
			"12 % on 1,000.00 from 100 % to 150 %: 120.00 for this deal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planWith(tc.c)
			lines := mustPost(t, p, comp.State{Quota: q, Credited: dec(tc.before)}, comp.State{Quota: q, Credited: dec(tc.after)})
			if len(lines) != 1 {
				t.Fatalf("%d lines, want 1", len(lines))
			}
			l := lines[0]
			wantEqual(t, "amount", l.Amount, dec(tc.want))
			wantEqual(t, "sum of parts", sumParts(l), l.Trace.Exact)
			if l.Trace.Text != tc.text {
				t.Errorf("text\n got %q\nwant %q", l.Trace.Text, tc.text)
			}
		})
	}
}

// TestQuotaChangedMidPeriod: when the quota itself changes (a correction),
// the bands move, so the line says what is earned now against what was.
func TestQuotaChangedMidPeriod(t *testing.T) {
	p := planWith(commission(comp.Marginal, exampleTiers()))
	l := mustPost(t, p, comp.State{Quota: dec("10000"), Credited: dec("15000")}, comp.State{Quota: dec("20000"), Credited: dec("15000")})[0]
	wantEqual(t, "amount", l.Amount, dec("-350"))
	wantEqual(t, "sum of parts", sumParts(l), l.Trace.Exact)
	want := "1,000.00 earned on 15,000.00 credited against a quota of 20,000.00, less 1,350.00 already earned against a quota of 10,000.00: -350.00 for this deal"
	if l.Trace.Text != want {
		t.Errorf("text\n got %q\nwant %q", l.Trace.Text, want)
	}
}

func sumParts(l comp.Line) decimal.Decimal {
	sum := decimal.Zero
	for _, p := range l.Trace.Parts {
		sum = sum.Add(p.Pay)
	}
	return sum
}

// TestGroupedCommission: products filter what is paid, rate overrides how,
// and attainment stays the rep's whole credit.
func TestGroupedCommission(t *testing.T) {
	services := comp.Component{
		Kind: comp.KindCommission, Name: "services", Mode: comp.Retroactive,
		Products: []string{"services", "training"},
		Tiers:    tiers("0", "3", "100", "4"),
		RateOverrides: []comp.RateOverride{{
			Products: []string{"training"}, Tiers: tiers("0", "6", "100", "8"),
		}},
	}
	hw := comp.Component{
		Kind: comp.KindCommission, Name: "software", Mode: comp.Marginal,
		Tiers: tiers("0", "5", "100", "10"),
		RateOverrides: []comp.RateOverride{{
			Products: []string{"hardware"}, Tiers: tiers("0", "2", "100", "4"),
		}},
	}
	renewals := comp.Component{
		Kind: comp.KindCommission, Name: "renewals", Mode: comp.Marginal,
		DealTypes: []string{"renewal"}, Tiers: tiers("0", "5"),
	}
	d := func(id, amount, product, typ string) comp.DealCredit {
		return comp.DealCredit{ID: id, Amount: dec(amount), Product: product, Type: typ}
	}
	for _, tc := range []struct {
		name  string
		c     comp.Component
		deals []comp.DealCredit
		want  string
	}{
		{"retroactive groups at 150 %", services, []comp.DealCredit{d("s", "6000", "services", ""), d("t", "4000", "training", ""), d("h", "5000", "hardware", "")}, "560"},
		{"filtered-out deals still raise attainment", services, []comp.DealCredit{d("s", "6000", "services", ""), d("h", "4000", "hardware", "")}, "240"},
		{"marginal overrides", hw, []comp.DealCredit{d("s", "12000", "software", ""), d("h", "8000", "hardware", "")}, "1140"},
		{"marginal overrides, inexact shares", hw, []comp.DealCredit{d("s", "7000", "software", ""), d("h", "5000", "hardware", "")}, "525"},
		{"deal type filter", renewals, []comp.DealCredit{d("r", "1000", "x", "renewal"), d("n", "5000", "x", "new")}, "50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planWith(tc.c)
			e := mustEvaluate(t, p, comp.StateOf(dec("10000"), tc.deals...))
			wantEqual(t, "F", e.Components[0].Amount, dec(tc.want))
			// Post deal by deal adds up to the same, and the parts explain it.
			s := comp.State{Quota: dec("10000")}
			sum := decimal.Zero
			for _, dl := range tc.deals {
				next := with(s, dl)
				l := mustPost(t, p, s, next)[0]
				wantEqual(t, "sum of parts", sumParts(l), l.Trace.Exact)
				sum = sum.Add(l.Amount)
				s = next
			}
			wantEqual(t, "posted", sum, dec(tc.want))
		})
	}
	// A grouped commission without its deals is refused, not guessed.
	_, err := comp.Evaluate(planWith(services), comp.State{Quota: dec("10000"), Credited: dec("5000")})
	wantError(t, err, game.EInvalid, "state.deals")
}

// TestRoundingModes: each mode on a line, and "total" rounding F itself.
func TestRoundingModes(t *testing.T) {
	c := commission(comp.Marginal, tiers("0", "2.5"))
	for _, tc := range []struct {
		mode           comp.RoundingMode
		credited, want string
	}{
		{comp.HalfUp, "100.10", "2.50"},   // 2.5025
		{comp.HalfUp, "100.20", "2.51"},   // 2.505
		{comp.HalfEven, "100.20", "2.50"}, // 2.505, ties to even
		{comp.HalfEven, "100.60", "2.52"}, // 2.515
		{comp.Down, "100.39", "2.50"},     // 2.50975
		{comp.Up, "100.01", "2.51"},       // 2.50025
	} {
		p := planWith(c)
		p.Rounding = comp.Rounding{Mode: tc.mode, Where: comp.PerLine}
		l := mustPost(t, p, comp.State{}, comp.State{Credited: dec(tc.credited)})[0]
		wantEqual(t, string(tc.mode)+" "+tc.credited, l.Amount, dec(tc.want))
		neg := mustPost(t, p, comp.State{Credited: dec(tc.credited)}, comp.State{})[0]
		wantEqual(t, string(tc.mode)+" reversal", neg.Amount, dec(tc.want).Neg())
	}
	// Per line, three deals of 100.20 each post 2.51 (7.53); on the total,
	// the lines follow round(F): 2.51, 2.50, 2.51 (F = 7.515 → 7.52).
	for _, tc := range []struct {
		where comp.RoundingScope
		want  []string
	}{
		{comp.PerLine, []string{"2.51", "2.51", "2.51"}},
		{comp.OnTotal, []string{"2.51", "2.50", "2.51"}},
	} {
		p := planWith(c)
		p.Rounding.Where = tc.where
		s := comp.State{}
		for _, w := range tc.want {
			next := comp.State{Credited: s.Credited.Add(dec("100.20"))}
			wantEqual(t, string(tc.where)+" line", mustPost(t, p, s, next)[0].Amount, dec(w))
			s = next
		}
	}
}

// TestAdjust: corrections post F(new) − posted, including for a component a
// corrected plan no longer has.
func TestAdjust(t *testing.T) {
	p := planWith(commission(comp.Marginal, exampleTiers()))
	s := comp.State{Quota: dec("33000"), Credited: dec("55000")}
	lines, err := comp.Adjust(p, map[string]decimal.Decimal{"commission": dec("5280.00")}, s)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "nothing to correct", lines[0].Amount, decimal.Zero)

	// The deal of 5,000 is lost: 4,530.00 is owed now.
	s.Credited = dec("50000")
	lines, err = comp.Adjust(p, map[string]decimal.Decimal{"commission": dec("5280.00"), "old-spiff": dec("250.00")}, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	wantEqual(t, "commission correction", lines[0].Amount, dec("-750"))
	wantEqual(t, "sum of parts", sumParts(lines[0]), lines[0].Trace.Exact)
	want := "15 % on 500.00 above 150 %, 12 % on 16,500.00 from 100 % to 150 %, 10 % on 16,500.00 from 50 % to 100 %, 5 % on 16,500.00 below 50 %, less 5,280.00 already posted: -750.00 to correct what was posted"
	if lines[0].Trace.Text != want {
		t.Errorf("text\n got %q\nwant %q", lines[0].Trace.Text, want)
	}
	if lines[1].Component != "old-spiff" || !lines[1].Amount.Equal(dec("-250")) || lines[1].Kind != "" {
		t.Errorf("removed component line = %+v, want old-spiff reversed", lines[1])
	}

	// A plan correction: the same credit under new rates.
	fixed := planWith(commission(comp.Retroactive, exampleTiers()))
	fixed.Version = 2
	lines, err = comp.Adjust(fixed, map[string]decimal.Decimal{"commission": dec("4530.00")}, comp.State{Quota: dec("33000"), Credited: dec("55000")})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "plan correction", lines[0].Amount, dec("3720"))
	if lines[0].PlanVersion != 2 {
		t.Errorf("plan version %d, want 2", lines[0].PlanVersion)
	}
}
