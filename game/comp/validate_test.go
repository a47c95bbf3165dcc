package comp_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"podium/game"
	"podium/game/comp"
)

// validPlan has one component of every kind, each valid.
func validPlan() comp.Plan {
	days := 90
	p := planWith(
		comp.Component{Kind: comp.KindCommission, Name: "commission", Mode: comp.Marginal, Tiers: exampleTiers(),
			Gate: &comp.Gate{At: dec("25"), Rate: dec("2")}, SoftCap: &comp.SoftCap{At: dec("300"), Factor: decp("0.5")}, Cap: decp("40000")},
		comp.Component{Kind: comp.KindCommission, Name: "services", Mode: comp.Retroactive, Products: []string{"services", "training"},
			Tiers: tiers("0", "3", "100", "4"), RateOverrides: []comp.RateOverride{{Products: []string{"training"}, Tiers: tiers("0", "6", "100", "8")}}},
		widgetSpiff(),
		comp.Component{Kind: comp.KindBonus, Name: "club", Steps: []comp.Step{{At: dec("100"), Amount: dec("1000")}, {At: dec("150"), Amount: dec("2500")}}},
		comp.Component{Kind: comp.KindDraw, Name: "draw", Amount: dec("3000"), Recoverable: true},
		comp.Component{Kind: comp.KindOverride, Name: "team", Rate: dec("1.5")},
	)
	p.ClawbackDays = &days
	p.EffectiveTo = "2026-12-31"
	return p
}

func TestValidate(t *testing.T) {
	if err := validPlan().Validate(); err != nil {
		t.Fatalf("valid plan refused: %v", err)
	}
	neg := -1
	for _, tc := range []struct {
		name   string
		change func(p *comp.Plan)
		code   string
		field  string
	}{
		{"no id", func(p *comp.Plan) { p.ID = " " }, game.EMissingField, "id"},
		{"no name", func(p *comp.Plan) { p.Name = "" }, game.EMissingField, "name"},
		{"version 0", func(p *comp.Plan) { p.Version = 0 }, game.EInvalid, "version"},
		{"unknown currency", func(p *comp.Plan) { p.Currency = "XXX" }, game.ECurrency, "currency"},
		{"no period", func(p *comp.Plan) { p.Period = "" }, game.EMissingField, "period"},
		{"weekly period", func(p *comp.Plan) { p.Period = game.PeriodWeek }, game.EInvalid, "period"},
		{"no start", func(p *comp.Plan) { p.EffectiveFrom = "" }, game.EMissingField, "effective_from"},
		{"bad start", func(p *comp.Plan) { p.EffectiveFrom = "2026-13-01" }, game.EInvalid, "effective_from"},
		{"start mid-month", func(p *comp.Plan) { p.EffectiveFrom = "2026-01-15" }, game.EInvalid, "effective_from"},
		{"start mid-quarter", func(p *comp.Plan) { p.Period = game.PeriodQuarter; p.EffectiveFrom = "2026-02-01" }, game.EInvalid, "effective_from"},
		{"end before start", func(p *comp.Plan) { p.EffectiveFrom = "2026-07-01"; p.EffectiveTo = "2026-06-30" }, game.EInvalid, "effective_to"},
		{"end mid-month", func(p *comp.Plan) { p.EffectiveTo = "2026-06-29" }, game.EInvalid, "effective_to"},
		{"end mid-year", func(p *comp.Plan) { p.Period = game.PeriodYear; p.EffectiveTo = "2026-06-30" }, game.EInvalid, "effective_to"},
		{"no rounding mode", func(p *comp.Plan) { p.Rounding.Mode = "" }, game.EMissingField, "rounding.mode"},
		{"unknown rounding mode", func(p *comp.Plan) { p.Rounding.Mode = "ceiling" }, game.EInvalid, "rounding.mode"},
		{"no rounding scope", func(p *comp.Plan) { p.Rounding.Where = "" }, game.EMissingField, "rounding.where"},
		{"unknown rounding scope", func(p *comp.Plan) { p.Rounding.Where = "deal" }, game.EInvalid, "rounding.where"},
		{"negative clawback", func(p *comp.Plan) { p.ClawbackDays = &neg }, game.EInvalid, "clawback_days"},
		{"no components", func(p *comp.Plan) { p.Components = nil }, game.EMissingField, "components"},
		{"unnamed component", func(p *comp.Plan) { p.Components[0].Name = "" }, game.EMissingField, "components[0].name"},
		{"duplicate names", func(p *comp.Plan) { p.Components[1].Name = "commission" }, game.EInvalid, "components[1].name"},
		{"no kind", func(p *comp.Plan) { p.Components[0].Kind = "" }, game.EMissingField, "components[0].kind"},
		{"unknown kind", func(p *comp.Plan) { p.Components[0].Kind = "quota_bonus" }, game.EInvalid, "components[0].kind"},
		{"no mode", func(p *comp.Plan) { p.Components[0].Mode = "" }, game.EMissingField, "components[0].mode"},
		{"unknown mode", func(p *comp.Plan) { p.Components[0].Mode = "progressive" }, game.EInvalid, "components[0].mode"},
		{"no tiers", func(p *comp.Plan) { p.Components[0].Tiers = nil }, game.EMissingField, "components[0].tiers"},
		{"tiers not starting at 0", func(p *comp.Plan) { p.Components[0].Tiers[0].From = dec("10") }, game.EInvalid, "components[0].tiers[0].from"},
		{"unsorted tiers", func(p *comp.Plan) { p.Components[0].Tiers[2].From = dec("40") }, game.EInvalid, "components[0].tiers[2].from"},
		{"overlapping tiers", func(p *comp.Plan) { p.Components[0].Tiers[2].From = dec("50.0") }, game.EInvalid, "components[0].tiers[2].from"},
		{"negative tier from", func(p *comp.Plan) { p.Components[0].Tiers[1].From = dec("-5") }, game.EInvalid, "components[0].tiers[1].from"},
		{"negative rate", func(p *comp.Plan) { p.Components[0].Tiers[1].Rate = dec("-1") }, game.EInvalid, "components[0].tiers[1].rate"},
		{"rate above 100 %", func(p *comp.Plan) { p.Components[0].Tiers[3].Rate = dec("150") }, game.EInvalid, "components[0].tiers[3].rate"},
		{"rate with too many places", func(p *comp.Plan) { p.Components[0].Tiers[3].Rate = dec("15.00000000001") }, game.EInvalid, "components[0].tiers[3].rate"},
		{"absurd exponent", func(p *comp.Plan) { p.Components[0].Tiers[1].From = decimal.New(1, 1_000_000) }, game.EInvalid, "components[0].tiers[1].from"},
		{"retroactive decelerator", func(p *comp.Plan) { p.Components[1].Tiers[1].Rate = dec("2") }, game.EInvalid, "components[1].tiers[1].rate"},
		{"grouped marginal decelerator", func(p *comp.Plan) {
			p.Components[1].Mode = comp.Marginal
			p.Components[1].RateOverrides[0].Tiers[1].Rate = dec("5")
		}, game.EInvalid, "components[1].rate_overrides[0].tiers[1].rate"},
		{"gate rate above a tier rate", func(p *comp.Plan) { p.Components[0].Gate.Rate = dec("6") }, game.EInvalid, "components[0].gate.rate"},
		{"gate at 0", func(p *comp.Plan) { p.Components[0].Gate.At = decimal.Zero }, game.EInvalid, "components[0].gate.at"},
		{"gate above the soft cap", func(p *comp.Plan) { p.Components[0].Gate.At = dec("301") }, game.EInvalid, "components[0].gate.at"},
		{"soft cap without factor or rate", func(p *comp.Plan) { p.Components[0].SoftCap.Factor = nil }, game.EMissingField, "components[0].soft_cap.factor"},
		{"soft cap with both", func(p *comp.Plan) { p.Components[0].SoftCap.Rate = decp("3") }, game.EInvalid, "components[0].soft_cap.rate"},
		{"soft cap factor above 1", func(p *comp.Plan) { p.Components[0].SoftCap.Factor = decp("1.5") }, game.EInvalid, "components[0].soft_cap.factor"},
		{"soft cap on a grouped commission", func(p *comp.Plan) {
			p.Components[1].SoftCap = &comp.SoftCap{At: dec("200"), Factor: decp("0.5")}
		}, game.EInvalid, "components[1].soft_cap"},
		{"negative cap", func(p *comp.Plan) { p.Components[0].Cap = decp("-1") }, game.EInvalid, "components[0].cap"},
		{"cap with too many digits", func(p *comp.Plan) { p.Components[0].Cap = decp("1.001") }, game.EInvalid, "components[0].cap"},
		{"commission with an amount", func(p *comp.Plan) { p.Components[0].Amount = dec("5") }, game.EInvalid, "components[0].amount"},
		{"spiff with tiers", func(p *comp.Plan) { p.Components[2].Tiers = exampleTiers() }, game.EInvalid, "components[2].tiers"},
		{"bonus with a cap", func(p *comp.Plan) { p.Components[3].Cap = decp("5") }, game.EInvalid, "components[3].cap"},
		{"override with products", func(p *comp.Plan) { p.Components[5].Products = []string{"x"} }, game.EInvalid, "components[5].products"},
		{"empty product", func(p *comp.Plan) { p.Components[1].Products[1] = "" }, game.EMissingField, "components[1].products[1]"},
		{"duplicate product", func(p *comp.Plan) { p.Components[1].Products[1] = "services" }, game.EInvalid, "components[1].products[1]"},
		{"rate override without a match", func(p *comp.Plan) { p.Components[1].RateOverrides[0].Products = nil }, game.EMissingField, "components[1].rate_overrides[0].products"},
		{"rate override with bad tiers", func(p *comp.Plan) { p.Components[1].RateOverrides[0].Tiers = tiers("1", "6") }, game.EInvalid, "components[1].rate_overrides[0].tiers[0].from"},
		{"spiff paying nothing", func(p *comp.Plan) { p.Components[2].Amount = decimal.Zero }, game.EMissingField, "components[2].amount"},
		{"spiff paying both", func(p *comp.Plan) { p.Components[2].Rate = dec("1") }, game.EInvalid, "components[2].rate"},
		{"spiff negative amount", func(p *comp.Plan) { p.Components[2].Amount = dec("-250") }, game.EInvalid, "components[2].amount"},
		{"spiff bad window", func(p *comp.Plan) { p.Components[2].Window.To = "2026-02-30" }, game.EInvalid, "components[2].window.to"},
		{"spiff reversed window", func(p *comp.Plan) { p.Components[2].Window.To = "2026-09-30" }, game.EInvalid, "components[2].window.to"},
		{"spiff negative minimum", func(p *comp.Plan) { p.Components[2].MinAmount = dec("-1") }, game.EInvalid, "components[2].min_amount"},
		{"bonus without steps", func(p *comp.Plan) { p.Components[3].Steps = nil }, game.EMissingField, "components[3].steps"},
		{"bonus steps unsorted", func(p *comp.Plan) { p.Components[3].Steps[1].At = dec("90") }, game.EInvalid, "components[3].steps[1].at"},
		{"bonus step at 0", func(p *comp.Plan) { p.Components[3].Steps[0].At = decimal.Zero }, game.EInvalid, "components[3].steps[0].at"},
		{"bonus step paying nothing", func(p *comp.Plan) { p.Components[3].Steps[0].Amount = decimal.Zero }, game.EMissingField, "components[3].steps[0].amount"},
		{"draw without amount", func(p *comp.Plan) { p.Components[4].Amount = decimal.Zero }, game.EMissingField, "components[4].amount"},
		{"two draws", func(p *comp.Plan) {
			p.Components[5] = comp.Component{Kind: comp.KindDraw, Name: "draw2", Amount: dec("1")}
		}, game.EInvalid, "components[5].kind"},
		{"override without rate", func(p *comp.Plan) { p.Components[5].Rate = decimal.Zero }, game.EInvalid, "components[5].rate"},
		{"override rate above 100 %", func(p *comp.Plan) { p.Components[5].Rate = dec("101") }, game.EInvalid, "components[5].rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validPlan()
			tc.change(&p)
			wantError(t, p.Validate(), tc.code, tc.field)
			// No entry point evaluates an invalid plan.
			_, err := comp.Evaluate(p, comp.State{Quota: dec("1000")})
			wantError(t, err, tc.code, tc.field)
		})
	}
}

func TestValidateVersions(t *testing.T) {
	v := func(version int64, from, to string) comp.Plan {
		p := planWith(commission(comp.Marginal, exampleTiers()))
		p.Version, p.EffectiveFrom, p.EffectiveTo = version, from, to
		return p
	}
	if err := comp.ValidateVersions([]comp.Plan{v(3, "2026-07-01", ""), v(1, "2026-01-01", "2026-03-31"), v(2, "2026-04-01", "2026-06-30")}); err != nil {
		t.Fatalf("tiling versions refused: %v", err)
	}
	otherID := v(2, "2026-07-01", "")
	otherID.ID = "se"
	otherCurrency := v(2, "2026-07-01", "")
	otherCurrency.Currency = "EUR"
	broken := v(2, "2026-07-01", "")
	broken.Components[0].Tiers[0].From = dec("1")
	for _, tc := range []struct {
		name     string
		versions []comp.Plan
		code     string
		field    string
	}{
		{"none", nil, game.EMissingField, ""},
		{"gap", []comp.Plan{v(1, "2026-01-01", "2026-06-30"), v(2, "2026-08-01", "")}, game.EInvalid, "[1].effective_from"},
		{"overlap", []comp.Plan{v(1, "2026-01-01", "2026-07-31"), v(2, "2026-07-01", "")}, game.EInvalid, "[1].effective_from"},
		{"same start", []comp.Plan{v(1, "2026-01-01", "2026-07-31"), v(2, "2026-01-01", "")}, game.EInvalid, "[1].effective_from"},
		{"open-ended before another", []comp.Plan{v(2, "2026-07-01", ""), v(1, "2026-01-01", "")}, game.EInvalid, "[0].effective_from"},
		{"version numbers backwards", []comp.Plan{v(2, "2026-01-01", "2026-06-30"), v(1, "2026-07-01", "")}, game.EInvalid, "[1].version"},
		{"another plan", []comp.Plan{v(1, "2026-01-01", "2026-06-30"), otherID}, game.EInvalid, "[1].id"},
		{"another currency", []comp.Plan{v(1, "2026-01-01", "2026-06-30"), otherCurrency}, game.EInvalid, "[1].currency"},
		{"an invalid version", []comp.Plan{v(1, "2026-01-01", "2026-06-30"), broken}, game.EInvalid, "[1].components[0].tiers[0].from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, comp.ValidateVersions(tc.versions), tc.code, tc.field)
		})
	}
	versions := []comp.Plan{v(1, "2026-01-01", "2026-06-30"), v(2, "2026-07-01", "")}
	for day, want := range map[string]int64{"2026-01-01": 1, "2026-06-30": 1, "2026-07-01": 2, "2031-01-01": 2} {
		p, err := comp.PlanFor(versions, day)
		if err != nil || p.Version != want {
			t.Errorf("PlanFor(%s) = version %d, %v; want %d", day, p.Version, err, want)
		}
	}
	_, err := comp.PlanFor(versions, "2025-12-31")
	wantError(t, err, game.ENotFound, "day")
}
