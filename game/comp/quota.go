package comp

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"podium/game"
)

// A Quota is what a rep is expected to credit in one period instance.
type Quota struct {
	RepID    int64           `json:"rep_id"`
	Period   game.Period     `json:"period"`   // month, quarter or year
	Instance string          `json:"instance"` // "2026-11", "2026-Q4" or "2026", as boards name periods
	Currency string          `json:"currency"`
	Amount   decimal.Decimal `json:"amount"`
}

// Validate checks a quota: a rep, a plan period and its instance's name, a
// known currency and a non-negative amount in its digits.
func (q Quota) Validate() error {
	if q.RepID <= 0 {
		return game.Errorf(game.EMissingField, "rep_id", "rep_id is required")
	}
	if !planPeriod(q.Period) {
		return game.Errorf(game.EInvalid, "period", "a quota's period is month, quarter or year, not %q", string(q.Period))
	}
	if _, _, err := periodBounds(q.Period, q.Instance); err != nil {
		return err
	}
	digits, err := game.MinorDigits(q.Currency)
	if err != nil {
		return err
	}
	return checkAmount(q.Amount, "amount", digits, q.Currency)
}

// RollUp returns a manager's quota for a period: the sum of the quotas of the
// team's members, which must all be valid and name the same period instance
// and currency. Fields are prefixed with the quota's index: "[2].instance".
func RollUp(managerID int64, quotas []Quota) (Quota, error) {
	if len(quotas) == 0 {
		return Quota{}, game.Errorf(game.EMissingField, "", "rolling up needs the quotas of the team's members; there are none")
	}
	out := Quota{RepID: managerID, Period: quotas[0].Period, Instance: quotas[0].Instance, Currency: quotas[0].Currency}
	for i, q := range quotas {
		f := fmt.Sprintf("[%d]", i)
		if err := q.Validate(); err != nil {
			e := game.AsError(err)
			return Quota{}, game.Errorf(e.Code, f+"."+e.Field, "%s", e.Message)
		}
		switch {
		case q.Period != out.Period || q.Instance != out.Instance:
			return Quota{}, game.Errorf(game.EInvalid, f+".instance", "quota of rep %d is for %s, not %s", q.RepID, q.Instance, out.Instance)
		case q.Currency != out.Currency:
			return Quota{}, game.Errorf(game.ECurrency, f+".currency", "quota of rep %d is in %s, not %s", q.RepID, q.Currency, out.Currency)
		}
		out.Amount = out.Amount.Add(q.Amount)
	}
	if err := out.Validate(); err != nil {
		return Quota{}, err
	}
	return out, nil
}

// ProrationRule names how a quota shrinks for a rep active for part of a
// period.
type ProrationRule string

// The proration rules.
const (
	// ProrateDays scales the quota by the days the rep is active over the
	// days of the period.
	ProrateDays ProrationRule = "days"
	// ProrateMonths scales it by the whole months the rep is active (active
	// on every day of the month) over the months of the period, each month
	// weighted by Proration.Weights when given. A rep who joins on the 2nd
	// has no quota for that month: it is a ramp month.
	ProrateMonths ProrationRule = "months"
)

// Proration is a proration rule with its optional weights. Weights apply to
// ProrateMonths only: one per month of the period, or, for a period of twelve
// months, one per quarter (each month of a quarter weighing the quarter's
// weight), for seasonal quotas. No weights means equal months.
type Proration struct {
	Rule    ProrationRule     `json:"rule"`
	Weights []decimal.Decimal `json:"weights,omitempty"`
}

// Prorate returns a quota amount for a rep active from activeFrom to
// activeTo (inclusive days; "" for active since before the period, or still
// active) within the period periodStart to periodEnd (inclusive), by rule,
// rounded half up to the currency's digits. A rep active all period keeps
// the whole amount.
func Prorate(amount decimal.Decimal, currency, periodStart, periodEnd, activeFrom, activeTo string, rule Proration) (decimal.Decimal, error) {
	digits, err := game.MinorDigits(currency)
	if err != nil {
		return decimal.Decimal{}, err
	}
	if err := checkAmount(amount, "amount", digits, currency); err != nil {
		return decimal.Decimal{}, err
	}
	ps, err := parseDay(periodStart, "period_start")
	if err != nil {
		return decimal.Decimal{}, err
	}
	pe, err := parseDay(periodEnd, "period_end")
	if err != nil {
		return decimal.Decimal{}, err
	}
	if pe.Before(ps) {
		return decimal.Decimal{}, game.Errorf(game.EInvalid, "period_end", "the period ends on %s, before it starts on %s", periodEnd, periodStart)
	}
	// An open end is open: a rep who joins after the period (and has no
	// end) or left before it (and has no start) is simply not active in it.
	var af, at time.Time
	if activeFrom != "" {
		if af, err = parseDay(activeFrom, "active_from"); err != nil {
			return decimal.Decimal{}, err
		}
	}
	if activeTo != "" {
		if at, err = parseDay(activeTo, "active_to"); err != nil {
			return decimal.Decimal{}, err
		}
	}
	switch {
	case activeFrom == "" && activeTo == "":
		af, at = ps, pe
	case activeFrom == "":
		af = earlier(ps, at)
	case activeTo == "":
		at = later(pe, af)
	}
	if at.Before(af) {
		return decimal.Decimal{}, game.Errorf(game.EInvalid, "active_to", "the rep is active until %s, before %s", activeTo, activeFrom)
	}
	var num, den decimal.Decimal
	switch rule.Rule {
	case ProrateDays:
		if len(rule.Weights) > 0 {
			return decimal.Decimal{}, game.Errorf(game.EInvalid, "weights", "weights apply to the months rule only")
		}
		lo, hi := later(ps, af), earlier(pe, at)
		if !hi.Before(lo) {
			num = decimal.NewFromInt(daysBetween(lo, hi) + 1)
		}
		den = decimal.NewFromInt(daysBetween(ps, pe) + 1)
	case ProrateMonths:
		num, den, err = monthWeights(ps, pe, af, at, rule.Weights)
		if err != nil {
			return decimal.Decimal{}, err
		}
	case "":
		return decimal.Decimal{}, game.Errorf(game.EMissingField, "rule", "a proration rule is required: days or months")
	default:
		return decimal.Decimal{}, game.Errorf(game.EInvalid, "rule", "unknown proration rule %q: use days or months", rule.Rule)
	}
	return amount.Mul(num).DivRound(den, digits), nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// monthWeights returns the weight of the months active and of all months.
func monthWeights(ps, pe, af, at time.Time, weights []decimal.Decimal) (num, den decimal.Decimal, err error) {
	if ps.Day() != 1 {
		return num, den, game.Errorf(game.EInvalid, "period_start", "the months rule needs a period that starts on the first of a month, not %s", formatDay(ps))
	}
	if pe.AddDate(0, 0, 1).Day() != 1 {
		return num, den, game.Errorf(game.EInvalid, "period_end", "the months rule needs a period that ends on the last day of a month, not %s", formatDay(pe))
	}
	months := (pe.Year()-ps.Year())*12 + int(pe.Month()) - int(ps.Month()) + 1
	weight := func(m int) decimal.Decimal { return decimal.NewFromInt(1) }
	switch {
	case len(weights) == 0:
	case len(weights) == months:
		weight = func(m int) decimal.Decimal { return weights[m] }
	case len(weights) == 4 && months == 12:
		weight = func(m int) decimal.Decimal { return weights[m/3] }
	default:
		return num, den, game.Errorf(game.EInvalid, "weights", "%d weights for a period of %d months: give one per month, or one per quarter for a year", len(weights), months)
	}
	for i, w := range weights {
		f := fmt.Sprintf("weights[%d]", i)
		if err := checkPercent(w, f, maxAttainmentDec, false); err != nil {
			return num, den, err
		}
	}
	for m := range months {
		first := ps.AddDate(0, m, 0)
		last := first.AddDate(0, 1, -1)
		w := weight(m)
		den = den.Add(w)
		if !af.After(first) && !at.Before(last) {
			num = num.Add(w)
		}
	}
	if !den.IsPositive() {
		return num, den, game.Errorf(game.EInvalid, "weights", "the weights are all zero")
	}
	return num, den, nil
}
