package comp_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/shopspring/decimal"

	"podium/game"
	"podium/game/comp"
)

// FuzzParsePlan: whatever bytes an admin (or an attacker) sends, ParsePlan
// returns a *game.Error or a plan that is valid, survives a JSON round trip,
// and evaluates, posts and explains without panicking.
func FuzzParsePlan(f *testing.F) {
	full, err := os.ReadFile("testdata/plan_full.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(full))
	f.Add(`{"id":"x","name":"x","version":1,"currency":"JPY","period":"year","effective_from":"2026-01-01","rounding":{"mode":"up","where":"line"},"components":[{"kind":"commission","name":"c","mode":"retroactive","tiers":[{"from":"0","rate":"1"},{"from":"1e2","rate":"2"}]}]}`)
	f.Add(`{"id":"x","name":"x","version":1,"currency":"USD","period":"month","effective_from":"2026-01-01","rounding":{"mode":"half_up","where":"total"},"components":[{"kind":"commission","name":"c","mode":"marginal","tiers":[{"from":0,"rate":5},{"from":"1e1000000000","rate":"2"}]}]}`)
	f.Add(`{"components":[{"kind":"spiff"}]}`)
	f.Fuzz(func(t *testing.T, data string) {
		p, err := comp.ParsePlan([]byte(data))
		if err != nil {
			if game.AsError(err) == nil {
				t.Fatalf("ParsePlan error %v is not a *game.Error", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParsePlan returned an invalid plan: %v", err)
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := comp.ParsePlan(out); err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		before := comp.StateOf(dec("33000"), comp.DealCredit{ID: "a", Amount: dec("20000"), Product: "widget", CloseDay: "2026-11-03"})
		after := with(before, comp.DealCredit{ID: "b", Amount: dec("35000.01"), Product: "services", Type: "new"})
		if _, err := comp.Post(p, before, after); err != nil {
			t.Fatalf("Post: %v", err)
		}
		if _, err := comp.Adjust(p, map[string]decimal.Decimal{"gone": dec("1")}, after); err != nil {
			t.Fatalf("Adjust: %v", err)
		}
		if _, err := comp.NextStep(p, before); err != nil {
			t.Fatalf("NextStep: %v", err)
		}
	})
}
