package comp_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"podium/game"
	"podium/game/comp"
)

func TestPeriodDays(t *testing.T) {
	for _, tc := range []struct {
		p           game.Period
		instance    string
		first, last string
	}{
		{game.PeriodMonth, "2026-02", "2026-02-01", "2026-02-28"},
		{game.PeriodMonth, "2024-02", "2024-02-01", "2024-02-29"},
		{game.PeriodQuarter, "2026-Q4", "2026-10-01", "2026-12-31"},
		{game.PeriodQuarter, "2026-Q1", "2026-01-01", "2026-03-31"},
		{game.PeriodYear, "2026", "2026-01-01", "2026-12-31"},
	} {
		first, last, err := comp.PeriodDays(tc.p, tc.instance)
		if err != nil || first != tc.first || last != tc.last {
			t.Errorf("PeriodDays(%s, %s) = %s, %s, %v; want %s, %s", tc.p, tc.instance, first, last, err, tc.first, tc.last)
		}
	}
	for _, tc := range []struct {
		p        game.Period
		instance string
	}{
		{game.PeriodMonth, "2026-13"}, {game.PeriodMonth, "2026-1"}, {game.PeriodQuarter, "2026-Q5"},
		{game.PeriodQuarter, "2026-Q04"}, {game.PeriodYear, "26"}, {game.PeriodYear, "2026-Q1"}, {game.PeriodWeek, "2026-W01"},
	} {
		_, _, err := comp.PeriodDays(tc.p, tc.instance)
		if game.ErrorCode(err) != game.EInvalid {
			t.Errorf("PeriodDays(%s, %q) = %v, want an invalid error", tc.p, tc.instance, err)
		}
	}
}

func quota(rep int64, instance, amount string) comp.Quota {
	return comp.Quota{RepID: rep, Period: game.PeriodMonth, Instance: instance, Currency: "USD", Amount: dec(amount)}
}

func TestQuotaRollUp(t *testing.T) {
	q, err := comp.RollUp(9, []comp.Quota{quota(1, "2026-11", "30000"), quota(2, "2026-11", "25000.50"), quota(3, "2026-11", "0")})
	if err != nil {
		t.Fatal(err)
	}
	if q.RepID != 9 || q.Instance != "2026-11" || q.Period != game.PeriodMonth || !q.Amount.Equal(dec("55000.50")) {
		t.Errorf("rolled up %+v", q)
	}
	eur := quota(2, "2026-11", "1")
	eur.Currency = "EUR"
	bad := quota(2, "2026-11", "1.001")
	for _, tc := range []struct {
		name   string
		quotas []comp.Quota
		code   string
		field  string
	}{
		{"none", nil, game.EMissingField, ""},
		{"other month", []comp.Quota{quota(1, "2026-11", "1"), quota(2, "2026-12", "1")}, game.EInvalid, "[1].instance"},
		{"other currency", []comp.Quota{quota(1, "2026-11", "1"), eur}, game.ECurrency, "[1].currency"},
		{"invalid member quota", []comp.Quota{quota(1, "2026-11", "1"), bad}, game.EInvalid, "[1].amount"},
	} {
		_, err := comp.RollUp(9, tc.quotas)
		wantError(t, err, tc.code, tc.field)
	}
	for _, tc := range []struct {
		q     comp.Quota
		field string
	}{
		{quota(0, "2026-11", "1"), "rep_id"},
		{comp.Quota{RepID: 1, Period: game.PeriodDay, Instance: "2026-11-01", Currency: "USD"}, "period"},
		{quota(1, "2026-11-01", "1"), "instance"},
		{quota(1, "2026-11", "-1"), "amount"},
	} {
		err := tc.q.Validate()
		if e := game.AsError(err); e == nil || e.Field != tc.field {
			t.Errorf("Validate(%+v) = %v, want an error on %s", tc.q, err, tc.field)
		}
	}
}

func TestProrate(t *testing.T) {
	days := comp.Proration{Rule: comp.ProrateDays}
	months := comp.Proration{Rule: comp.ProrateMonths}
	w := func(ws ...string) comp.Proration {
		p := comp.Proration{Rule: comp.ProrateMonths}
		for _, s := range ws {
			p.Weights = append(p.Weights, dec(s))
		}
		return p
	}
	for _, tc := range []struct {
		name                 string
		amount, currency     string
		start, end, from, to string
		rule                 comp.Proration
		want                 string
	}{
		{"days, whole month", "30000", "USD", "2026-11-01", "2026-11-30", "", "", days, "30000"},
		{"days, joined mid-month", "30000", "USD", "2026-11-01", "2026-11-30", "2026-11-16", "", days, "15000"},
		{"days, left mid-month", "30000", "USD", "2026-11-01", "2026-11-30", "2025-01-01", "2026-11-10", days, "10000"},
		{"days, rounded half up", "10000", "USD", "2026-12-01", "2026-12-31", "2026-12-22", "", days, "3225.81"},
		{"days, in yen", "10000", "JPY", "2026-12-01", "2026-12-31", "2026-12-22", "", days, "3226"},
		{"days, joined after the period", "30000", "USD", "2026-11-01", "2026-11-30", "2026-12-01", "", days, "0"},
		{"days, left before the period", "30000", "USD", "2026-11-01", "2026-11-30", "", "2026-10-31", days, "0"},
		{"months, joined after the period", "30000", "USD", "2026-11-01", "2026-11-30", "2026-12-01", "", months, "0"},
		{"days, a quarter", "92000", "USD", "2026-10-01", "2026-12-31", "2026-12-01", "", days, "31000"},
		{"months, whole months", "90000", "USD", "2026-10-01", "2026-12-31", "2026-11-01", "", months, "60000"},
		{"months, a partial month does not count", "90000", "USD", "2026-10-01", "2026-12-31", "2026-11-02", "", months, "30000"},
		{"months, left on the last day", "90000", "USD", "2026-10-01", "2026-12-31", "", "2026-11-30", months, "60000"},
		{"months, monthly weights", "90000", "USD", "2026-10-01", "2026-12-31", "2026-11-01", "", w("1", "1", "2"), "67500"},
		{"months, quarter weights over a year", "1200000", "USD", "2026-01-01", "2026-12-31", "2026-04-01", "", w("20", "25", "25", "30"), "960000"},
		{"months, quarter weights from May", "1200000", "USD", "2026-01-01", "2026-12-31", "2026-05-01", "", w("20", "25", "25", "30"), "860000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := comp.Prorate(dec(tc.amount), tc.currency, tc.start, tc.end, tc.from, tc.to, tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "prorated", got, dec(tc.want))
		})
	}
	for _, tc := range []struct {
		name                 string
		start, end, from, to string
		rule                 comp.Proration
		code, field          string
	}{
		{"months mid-month start", "2026-11-02", "2026-11-30", "", "", months, game.EInvalid, "period_start"},
		{"months mid-month end", "2026-11-01", "2026-11-29", "", "", months, game.EInvalid, "period_end"},
		{"weights miscounted", "2026-10-01", "2026-12-31", "", "", w("1", "2"), game.EInvalid, "weights"},
		{"weights all zero", "2026-10-01", "2026-12-31", "", "", w("0", "0", "0"), game.EInvalid, "weights"},
		{"negative weight", "2026-10-01", "2026-12-31", "", "", w("1", "-1", "1"), game.EInvalid, "weights[1]"},
		{"weights with days", "2026-10-01", "2026-12-31", "", "", comp.Proration{Rule: comp.ProrateDays, Weights: []decimal.Decimal{dec("1")}}, game.EInvalid, "weights"},
		{"no rule", "2026-10-01", "2026-12-31", "", "", comp.Proration{}, game.EMissingField, "rule"},
		{"unknown rule", "2026-10-01", "2026-12-31", "", "", comp.Proration{Rule: "weeks"}, game.EInvalid, "rule"},
		{"period backwards", "2026-12-31", "2026-10-01", "", "", days, game.EInvalid, "period_end"},
		{"active backwards", "2026-10-01", "2026-12-31", "2026-11-05", "2026-11-01", days, game.EInvalid, "active_to"},
		{"bad day", "2026-10-01", "2026-12-31", "2026-11-31", "", days, game.EInvalid, "active_from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := comp.Prorate(dec("1000"), "USD", tc.start, tc.end, tc.from, tc.to, tc.rule)
			wantError(t, err, tc.code, tc.field)
		})
	}
}

func TestSplitAmount(t *testing.T) {
	for _, tc := range []struct {
		amount, currency string
		shares, want     []string
	}{
		{"100.00", "USD", []string{"0.3333", "0.3333", "0.3334"}, []string{"33.33", "33.33", "33.34"}},
		{"0.01", "USD", []string{"0.5", "0.5"}, []string{"0.01", "0.00"}},
		{"-0.01", "USD", []string{"0.5", "0.5"}, []string{"-0.01", "0.00"}},
		{"1001", "JPY", []string{"0.5", "0.5"}, []string{"501", "500"}},
		{"10.000", "KWD", []string{"0.3", "0.7"}, []string{"3.000", "7.000"}},
	} {
		var shares []decimal.Decimal
		for _, s := range tc.shares {
			shares = append(shares, dec(s))
		}
		got, err := comp.SplitAmount(dec(tc.amount), tc.currency, shares)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			wantEqual(t, tc.amount+" part", got[i], dec(tc.want[i]))
		}
	}
	for _, tc := range []struct {
		amount, currency string
		shares           []string
		code, field      string
	}{
		{"1.00", "XXX", []string{"1"}, game.ECurrency, "currency"},
		{"1.001", "USD", []string{"1"}, game.EInvalid, "amount"},
		{"1.00", "USD", nil, game.EMissingField, "shares"},
		{"1.00", "USD", []string{"0.5", "0.4"}, game.EInvalid, "shares"},
		{"1.00", "USD", []string{"1.5", "-0.5"}, game.EInvalid, "shares[1]"},
	} {
		var shares []decimal.Decimal
		for _, s := range tc.shares {
			shares = append(shares, dec(s))
		}
		_, err := comp.SplitAmount(dec(tc.amount), tc.currency, shares)
		wantError(t, err, tc.code, tc.field)
	}
}
