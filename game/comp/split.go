package comp

import (
	"fmt"
	"math"

	"github.com/shopspring/decimal"

	"podium/game"
)

// SplitAmount splits an amount of money into parts proportional to shares
// (each at least 0, summing to exactly 1) with game.Allocate, so that the
// parts always add up to the amount and the leftover minor units go where
// they go for every other split in Podium. A negative amount is split as its
// absolute value and negated, so a reversal splits into exactly the negation
// of the parts it reverses (game.Allocate alone would floor toward minus
// infinity and hand the leftover units differently).
func SplitAmount(amount decimal.Decimal, currency string, shares []decimal.Decimal) ([]decimal.Decimal, error) {
	digits, err := game.MinorDigits(currency)
	if err != nil {
		return nil, err
	}
	if err := checkShape(amount, "amount"); err != nil {
		return nil, err
	}
	if !amount.Equal(amount.Truncate(digits)) {
		return nil, game.Errorf(game.EInvalid, "amount", "amount %s has more than %d decimal places, which %s does not allow", amount, digits, currency)
	}
	minor := amount.Abs().Shift(digits)
	if minor.GreaterThan(decimal.NewFromInt(math.MaxInt64)) {
		return nil, game.Errorf(game.EInvalid, "amount", "amount %s is too large to split", amount)
	}
	if len(shares) == 0 {
		return nil, game.Errorf(game.EMissingField, "shares", "at least one share is required")
	}
	sum := decimal.Zero
	for i, s := range shares {
		f := fmt.Sprintf("shares[%d]", i)
		if err := checkShape(s, f); err != nil {
			return nil, err
		}
		if s.IsNegative() {
			return nil, game.Errorf(game.EInvalid, f, "share %s is negative", s)
		}
		sum = sum.Add(s)
	}
	if !sum.Equal(decimal.NewFromInt(1)) {
		return nil, game.Errorf(game.EInvalid, "shares", "shares add up to %s; they must add up to exactly 1", sum)
	}
	parts := game.Allocate(minor.IntPart(), shares)
	out := make([]decimal.Decimal, len(parts))
	for i, m := range parts {
		out[i] = decimal.New(m, -digits)
		if amount.IsNegative() {
			out[i] = out[i].Neg()
		}
	}
	return out, nil
}
