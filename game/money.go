package game

import (
	"math/big"
	"strings"

	"github.com/shopspring/decimal"
)

// minorDigits is the number of minor-unit digits of the ISO 4217 currencies
// Podium accepts. A currency not listed here is refused rather than guessed.
var minorDigits = map[string]int32{
	"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "NZD": 2, "CHF": 2, "SEK": 2,
	"NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "INR": 2, "SGD": 2, "HKD": 2, "MXN": 2,
	"BRL": 2, "ZAR": 2, "CNY": 2, "ILS": 2, "AED": 2, "JPY": 0, "KRW": 0, "ISK": 0,
	"KWD": 3, "BHD": 3,
}

func init() {
	// Amounts print with the digits they carry ("12000.00", "-200.50"):
	// statements and API answers show money the way the currency writes it.
	// Amounts are brought to the currency's digits when parsed (ParseAmount),
	// so every amount of one currency has one string form. This is the one
	// process-wide setting shopspring/decimal offers for it.
	decimal.TrimTrailingZeros = false
}

// MaxAmount bounds a single amount so that a board score in minor units stays
// exact in a float64 (below 2^53) even summed over many deals.
var MaxAmount = decimal.New(1, 12) // 1,000,000,000,000 major units

// MinorDigits returns the minor-unit digits of an ISO 4217 currency code.
func MinorDigits(currency string) (int32, error) {
	d, ok := minorDigits[currency]
	if !ok {
		return 0, Errorf(ECurrency, "currency", "currency %q is not supported (use an ISO 4217 code such as USD or EUR)", currency)
	}
	return d, nil
}

// ParseAmount parses a non-negative decimal string in currency into its exact
// decimal value and its integer minor units. It refuses exponents, signs,
// more fraction digits than the currency has, and amounts above MaxAmount.
func ParseAmount(s, currency, field string) (decimal.Decimal, int64, error) {
	digits, err := MinorDigits(currency)
	if err != nil {
		return decimal.Decimal{}, 0, err
	}
	if s == "" {
		return decimal.Decimal{}, 0, Errorf(EMissingField, field, "amount is required, as a decimal string such as \"1250.00\"")
	}
	// Only plain decimals: "1e400" would make decimal allocate a huge number.
	if strings.ContainsAny(s, "eE+") || len(s) > 32 {
		return decimal.Decimal{}, 0, Errorf(EInvalid, field, "amount %q is not a plain decimal such as \"1250.00\"", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, 0, Errorf(EInvalid, field, "amount %q is not a decimal number", s)
	}
	if d.IsNegative() {
		return decimal.Decimal{}, 0, Errorf(EInvalid, field, "amount %s is negative; send a lost stage or a lower amount instead", s)
	}
	if d.GreaterThan(MaxAmount) {
		return decimal.Decimal{}, 0, Errorf(EInvalid, field, "amount %s is larger than %s", s, MaxAmount)
	}
	if !d.Equal(d.Truncate(digits)) {
		return decimal.Decimal{}, 0, Errorf(EInvalid, field, "amount %s has more than %d decimal places, which %s does not allow", s, digits, currency)
	}
	// Round to the currency's digits (exact: no more digits were accepted)
	// gives "12000", "12000.0" and "12000.00" one form.
	d = d.Round(digits)
	return d, d.Shift(digits).IntPart(), nil
}

// Allocate splits total minor units into parts proportional to shares, which must
// be non-negative and sum to 1. The parts always sum to total: each part gets the
// floor of its exact share, and the remaining units go one each to the parts with
// the largest fractional remainders, ties to the earlier part. Deterministic, so
// every node and every rebuild credit the same cents to the same reps.
func Allocate(total int64, shares []decimal.Decimal) []int64 {
	parts := make([]int64, len(shares))
	if len(shares) == 0 {
		return parts
	}
	type rem struct {
		i int
		r decimal.Decimal
	}
	rems := make([]rem, len(shares))
	t := decimal.NewFromInt(total)
	var given int64
	for i, s := range shares {
		exact := t.Mul(s)
		fl := exact.Floor()
		parts[i] = fl.IntPart()
		given += parts[i]
		rems[i] = rem{i, exact.Sub(fl)}
	}
	left := total - given
	// Stable selection of the largest remainders; n is small (split lists).
	for ; left > 0; left-- {
		best := -1
		for j := range rems {
			if rems[j].i < 0 {
				continue
			}
			if best < 0 || rems[j].r.GreaterThan(rems[best].r) {
				best = j
			}
		}
		parts[rems[best].i]++
		rems[best].i = -1
	}
	return parts
}

// FormatMinor renders minor units as a decimal string in the currency ("1250.00").
func FormatMinor(minor int64, currency string) string {
	digits, err := MinorDigits(currency)
	if err != nil {
		digits = 2
	}
	return decimal.NewFromBigInt(big.NewInt(minor), -digits).StringFixed(digits)
}
