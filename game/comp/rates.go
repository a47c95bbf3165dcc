package comp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"podium/game"
)

// A Rate is an exchange rate in effect from Day until the next rate of the
// same pair: one unit of From is worth Rate units of To.
type Rate struct {
	From string          `json:"from"`
	To   string          `json:"to"`
	Day  string          `json:"day"` // YYYY-MM-DD, the first day the rate applies
	Rate decimal.Decimal `json:"rate"`
}

// Rates is a dated table of exchange rates. It is immutable once built by
// NewRates, so one table may serve concurrent conversions.
type Rates struct {
	pairs map[[2]string][]Rate // each sorted by day
}

// An Exchange records a conversion: which rate turned Amount into Converted.
// It travels with a deal's credit (DealCredit.Exchange) onto the lines the
// deal moves, so a statement can show the rate used.
type Exchange struct {
	From      string          `json:"from"`
	To        string          `json:"to"`
	Day       string          `json:"day"` // the day of the rate used, on or before the credit day
	Rate      decimal.Decimal `json:"rate"`
	Amount    decimal.Decimal `json:"amount"`    // in From
	Converted decimal.Decimal `json:"converted"` // in To, rounded half up to its digits
}

// NewRates checks rates and returns the table: known currencies, two
// different ones, a positive rate, a valid day, and one rate per pair and day.
// Fields are prefixed with the rate's index: "[3].rate".
func NewRates(rates []Rate) (Rates, error) {
	t := Rates{pairs: make(map[[2]string][]Rate)}
	for i, r := range rates {
		f := fmt.Sprintf("[%d]", i)
		for _, c := range []struct{ code, field string }{{r.From, ".from"}, {r.To, ".to"}} {
			if _, err := game.MinorDigits(c.code); err != nil {
				return Rates{}, game.Errorf(game.ECurrency, f+c.field, "%s", game.AsError(err).Message)
			}
		}
		if r.From == r.To {
			return Rates{}, game.Errorf(game.EInvalid, f+".to", "a rate converts between two currencies, not %s to itself", r.From)
		}
		if _, err := parseDay(r.Day, f+".day"); err != nil {
			return Rates{}, err
		}
		if err := checkShape(r.Rate, f+".rate"); err != nil {
			return Rates{}, err
		}
		if !r.Rate.IsPositive() {
			return Rates{}, game.Errorf(game.EInvalid, f+".rate", "rate %s must be above 0", r.Rate)
		}
		k := [2]string{r.From, r.To}
		if slices.ContainsFunc(t.pairs[k], func(o Rate) bool { return o.Day == r.Day }) {
			return Rates{}, game.Errorf(game.EInvalid, f+".day", "there is already a %s to %s rate for %s", r.From, r.To, r.Day)
		}
		t.pairs[k] = append(t.pairs[k], r)
	}
	for _, list := range t.pairs {
		slices.SortFunc(list, func(a, b Rate) int { return strings.Compare(a.Day, b.Day) })
	}
	return t, nil
}

// Convert converts amount from one currency to another with the rate in
// effect on day (the latest rate of the pair dated on or before it), rounded
// half up to the target currency's digits: a credit is money in the plan's
// currency, so it is brought to its digits once, here. The same currency
// converts at 1. Only the direction asked is used: inverting a rate would
// divide, and the inverse of a published rate is not the rate the other way.
func (t Rates) Convert(amount decimal.Decimal, from, to, day string) (decimal.Decimal, Exchange, error) {
	if _, err := parseDay(day, "day"); err != nil {
		return decimal.Decimal{}, Exchange{}, err
	}
	if err := checkShape(amount, "amount"); err != nil {
		return decimal.Decimal{}, Exchange{}, err
	}
	digits, err := game.MinorDigits(to)
	if err != nil {
		return decimal.Decimal{}, Exchange{}, err
	}
	if _, err := game.MinorDigits(from); err != nil {
		return decimal.Decimal{}, Exchange{}, err
	}
	if from == to {
		return amount, Exchange{From: from, To: to, Day: day, Rate: decimal.NewFromInt(1), Amount: amount, Converted: amount}, nil
	}
	list := t.pairs[[2]string{from, to}]
	// The last rate dated on or before day.
	i, _ := slices.BinarySearchFunc(list, day, func(r Rate, d string) int {
		if r.Day <= d {
			return -1
		}
		return 1
	})
	if i == 0 {
		return decimal.Decimal{}, Exchange{}, game.Errorf(game.ECurrency, "currency", "no exchange rate from %s to %s is in effect on %s", from, to, day)
	}
	r := list[i-1]
	out := amount.Mul(r.Rate).Round(digits)
	return out, Exchange{From: from, To: to, Day: r.Day, Rate: r.Rate, Amount: amount, Converted: out}, nil
}
