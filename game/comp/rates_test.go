package comp_test

import (
	"testing"

	"podium/game"
	"podium/game/comp"
)

func TestRates(t *testing.T) {
	rates, err := comp.NewRates([]comp.Rate{
		{From: "EUR", To: "USD", Day: "2026-11-01", Rate: dec("1.0825")},
		{From: "EUR", To: "USD", Day: "2026-01-01", Rate: dec("1.10")},
		{From: "EUR", To: "USD", Day: "2026-06-01", Rate: dec("1.08")},
		{From: "EUR", To: "JPY", Day: "2026-01-01", Rate: dec("161.235")},
		{From: "USD", To: "KWD", Day: "2026-01-01", Rate: dec("0.30712")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		amount, from, to, day string
		want, rate, rateDay   string
	}{
		{"1000.00", "EUR", "USD", "2026-05-31", "1100.00", "1.10", "2026-01-01"},
		{"1000.00", "EUR", "USD", "2026-06-01", "1080.00", "1.08", "2026-06-01"},
		{"1000.00", "EUR", "USD", "2027-03-01", "1082.50", "1.0825", "2026-11-01"},
		{"0.01", "EUR", "USD", "2026-06-01", "0.01", "1.08", "2026-06-01"}, // 0.0108
		{"1000.55", "EUR", "JPY", "2026-02-01", "161324", "161.235", "2026-01-01"},
		{"1000.00", "USD", "KWD", "2026-02-01", "307.120", "0.30712", "2026-01-01"},
		{"12.34", "USD", "USD", "2020-01-01", "12.34", "1", "2020-01-01"},
	} {
		got, ex, err := rates.Convert(dec(tc.amount), tc.from, tc.to, tc.day)
		if err != nil {
			t.Errorf("Convert(%s %s→%s on %s): %v", tc.amount, tc.from, tc.to, tc.day, err)
			continue
		}
		wantEqual(t, tc.amount+" "+tc.from+"→"+tc.to, got, dec(tc.want))
		if !ex.Rate.Equal(dec(tc.rate)) || ex.Day != tc.rateDay || !ex.Converted.Equal(got) || !ex.Amount.Equal(dec(tc.amount)) {
			t.Errorf("exchange %+v, want rate %s of %s", ex, tc.rate, tc.rateDay)
		}
	}
	for _, tc := range []struct {
		from, to, day string
		code, field   string
	}{
		{"EUR", "USD", "2025-12-31", game.ECurrency, "currency"}, // before the first rate
		{"USD", "EUR", "2026-06-01", game.ECurrency, "currency"}, // the inverse is not guessed
		{"EUR", "XXX", "2026-06-01", game.ECurrency, "currency"},
		{"EUR", "USD", "2026-6-1", game.EInvalid, "day"},
	} {
		_, _, err := rates.Convert(dec("1"), tc.from, tc.to, tc.day)
		wantError(t, err, tc.code, tc.field)
	}
}

func TestNewRatesErrors(t *testing.T) {
	ok := comp.Rate{From: "EUR", To: "USD", Day: "2026-01-01", Rate: dec("1.1")}
	for _, tc := range []struct {
		name   string
		change func(r *comp.Rate)
		code   string
		field  string
	}{
		{"unknown from", func(r *comp.Rate) { r.From = "EURO" }, game.ECurrency, "[1].from"},
		{"unknown to", func(r *comp.Rate) { r.To = "" }, game.ECurrency, "[1].to"},
		{"same currency", func(r *comp.Rate) { r.To = "EUR" }, game.EInvalid, "[1].to"},
		{"bad day", func(r *comp.Rate) { r.Day = "2026-02-30" }, game.EInvalid, "[1].day"},
		{"zero rate", func(r *comp.Rate) { r.Rate = dec("0") }, game.EInvalid, "[1].rate"},
		{"negative rate", func(r *comp.Rate) { r.Rate = dec("-1.1") }, game.EInvalid, "[1].rate"},
		{"duplicate day", func(r *comp.Rate) { r.Rate = dec("1.2"); r.Day = "2026-01-01" }, game.EInvalid, "[1].day"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := ok
			bad.Day = "2026-02-01"
			tc.change(&bad)
			_, err := comp.NewRates([]comp.Rate{ok, bad})
			wantError(t, err, tc.code, tc.field)
		})
	}
}
