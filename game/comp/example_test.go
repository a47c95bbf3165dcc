package comp_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"podium/game/comp"
)

// TestWorkedExample is the example of the issue: quota 33,000 for a month,
// 55,000 credited. Retroactive tiers pay 15 % on everything, 8,250.00;
// marginal tiers pay each band at its rate, 5,280.00 — and so do the posted
// lines, whatever the order and split of the deals.
func TestWorkedExample(t *testing.T) {
	quota := dec("33000")
	orders := map[string][]comp.DealCredit{
		"one deal":        {deal("a", "55000")},
		"three deals":     {deal("a", "20000"), deal("b", "30000"), deal("c", "5000")},
		"reversed":        {deal("c", "5000"), deal("b", "30000"), deal("a", "20000")},
		"split at bounds": {deal("a", "16500"), deal("b", "16500"), deal("c", "16500"), deal("d", "5500")},
		"cents":           {deal("a", "0.01"), deal("b", "49999.99"), deal("c", "4999.99"), deal("d", "0.01")},
	}
	for _, tc := range []struct {
		mode comp.TierMode
		want string
	}{
		{comp.Retroactive, "8250.00"},
		{comp.Marginal, "5280.00"},
	} {
		for _, where := range []comp.RoundingScope{comp.OnTotal, comp.PerLine} {
			p := planWith(commission(tc.mode, exampleTiers()))
			p.Rounding.Where = where
			e := mustEvaluate(t, p, comp.StateOf(quota, deal("x", "55000")))
			wantEqual(t, string(tc.mode)+" F(55,000)", e.Total, dec(tc.want))
			if got := e.Total.String(); got != tc.want {
				t.Errorf("%s total prints %q, want %q", tc.mode, got, tc.want)
			}
			for name, deals := range orders {
				s := comp.State{Quota: quota}
				posted := decimal.Zero
				for _, d := range deals {
					next := with(s, d)
					posted = posted.Add(comp.Total(mustPost(t, p, s, next)))
					s = next
				}
				wantEqual(t, string(tc.mode)+"/"+string(where)+"/"+name+" posted", posted, dec(tc.want))
			}
		}
	}
}

// TestWorkedExampleSentence pins the rep's sentence for the deal that takes
// the example from 36,000 to 55,000 (marginal).
func TestWorkedExampleSentence(t *testing.T) {
	p := planWith(commission(comp.Marginal, exampleTiers()))
	before := comp.StateOf(dec("33000"), deal("a", "36000"))
	after := with(before, deal("b", "19000"))
	l := lineOf(t, mustPost(t, p, before, after), "commission")
	want := "15 % on 5,500.00 above 150 %, 12 % on 13,500.00 from 100 % to 150 %: 2,445.00 for this deal"
	if l.Trace.Text != want {
		t.Errorf("sentence\n got %q\nwant %q", l.Trace.Text, want)
	}
	wantEqual(t, "amount", l.Amount, dec("2445"))
}
