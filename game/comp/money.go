package comp

import (
	"strings"

	"github.com/shopspring/decimal"

	"podium/game"
)

// divPlaces is how far the few divisions of the package are carried (the
// average rate of a deal group, quota proration before its rounding): far
// below any currency's digits, and fixed, so that every node computes the
// same F to the last digit and deltas still telescope exactly.
const divPlaces = 20

var hundred = decimal.NewFromInt(100)

// pct turns a percentage (5) into a fraction (0.05), exactly.
func pct(d decimal.Decimal) decimal.Decimal { return d.Shift(-2) }

// ofQuota returns the credit at which attainment reaches at percent of quota.
func ofQuota(quota, at decimal.Decimal) decimal.Decimal { return quota.Mul(at).Shift(-2) }

// Round brings d to digits decimal places by the rule's mode.
func (r Rounding) Round(d decimal.Decimal, digits int32) decimal.Decimal {
	switch r.Mode {
	case HalfEven:
		return d.RoundBank(digits)
	case Down:
		return d.RoundDown(digits)
	case Up:
		return d.RoundUp(digits)
	default: // HalfUp; Validate refuses any other name
		return d.Round(digits)
	}
}

// digitsOf returns a currency's digits, 2 for one Podium does not know (only
// for display: Validate refuses such currencies before any math runs).
func digitsOf(currency string) int32 {
	d, err := game.MinorDigits(currency)
	if err != nil {
		return 2
	}
	return d
}

// FormatMoney renders an amount for a person: thousands separators and the
// currency's digits, rounded half up for display only ("55,000.00",
// "-1,234.50", "12,000" in JPY).
func FormatMoney(d decimal.Decimal, currency string) string {
	digits := digitsOf(currency)
	return group(d.Round(digits).StringFixed(digits))
}

// formatExact renders an amount with at least the currency's digits and up to
// four more when it has them ("3,090.005"), to show what rounding changed.
func formatExact(d decimal.Decimal, currency string) string {
	digits := digitsOf(currency)
	s := d.Round(digits + 4).StringFixed(digits + 4)
	if digits == 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	} else {
		for len(s) > 0 && s[len(s)-1] == '0' && len(s)-strings.IndexByte(s, '.')-1 > int(digits) {
			s = s[:len(s)-1]
		}
	}
	return group(s)
}

// group inserts thousands separators into a plain decimal string.
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i:]
	}
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return sign + b.String() + frac
}

// formatPct renders a percentage without trailing zeros: "12", "12.5".
func formatPct(d decimal.Decimal) string {
	s := d.String()
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return group(s)
}
