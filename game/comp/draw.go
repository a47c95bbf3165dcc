package comp

import (
	"github.com/shopspring/decimal"

	"podium/game"
)

// DrawSettlement is the data of a draw settled at period close.
type DrawSettlement struct {
	Draw        decimal.Decimal `json:"draw"`        // the guaranteed amount
	Recoverable bool            `json:"recoverable"` // whether a top-up is owed back
	Earned      decimal.Decimal `json:"earned"`      // what the rep earned in the period
	CarriedIn   decimal.Decimal `json:"carried_in"`  // advanced earlier, still to recover
	CarriedOut  decimal.Decimal `json:"carried_out"` // still to recover after this period
}

// SettleDraw settles the plan's draw at the close of a period in which the
// rep earned earned (the sum of the period's posted lines, negative if
// clawbacks outweigh new pay), with carriedIn advanced by earlier draws and
// not yet recovered. It returns the draw line's amount (payout), what is
// still to recover after it (carriedOut) and the line to post:
//
//   - earned below the draw: payout tops earned up to the draw. A recoverable
//     draw adds the top-up to what is to recover; a non-recoverable one
//     forgives it.
//   - earned above the draw: payout is minus what is recovered, the smaller
//     of carriedIn and the excess over the draw, so the rep is still paid at
//     least the draw. A balance carried in is recovered this way whichever
//     kind the draw is now, since it was advanced under a recoverable one.
//
// Amounts are rounded by the plan's rounding mode to its currency's digits.
func SettleDraw(p Plan, earned, carriedIn decimal.Decimal) (payout, carriedOut decimal.Decimal, line Line, err error) {
	if err := p.Validate(); err != nil {
		return payout, carriedOut, line, err
	}
	var c *Component
	for i := range p.Components {
		if p.Components[i].Kind == KindDraw {
			c = &p.Components[i]
		}
	}
	if c == nil {
		return payout, carriedOut, line, game.Errorf(game.ENotFound, "components", "plan %q version %d has no draw", p.ID, p.Version)
	}
	if err := checkShape(earned, "earned"); err != nil {
		return payout, carriedOut, line, err
	}
	if err := checkShape(carriedIn, "carried_in"); err != nil {
		return payout, carriedOut, line, err
	}
	if carriedIn.IsNegative() {
		return payout, carriedOut, line, game.Errorf(game.EInvalid, "carried_in", "carried_in %s is negative: it is what the rep still owes back", carriedIn)
	}
	digits := digitsOf(p.Currency)
	var parts []Part
	if shortfall := c.Amount.Sub(earned); shortfall.IsPositive() {
		payout = p.Rounding.Round(shortfall, digits)
		parts = append(parts, Part{Label: "draw top-up (" + FormatMoney(c.Amount, p.Currency) + " guaranteed, " + FormatMoney(earned, p.Currency) + " earned)", Pay: shortfall})
	} else {
		recovered := decimal.Min(carriedIn, shortfall.Neg())
		payout = p.Rounding.Round(recovered.Neg(), digits)
		if recovered.IsPositive() {
			parts = append(parts, Part{Label: "recovered from the draw advanced earlier (" + FormatMoney(earned, p.Currency) + " earned, " + FormatMoney(c.Amount, p.Currency) + " guaranteed)", Pay: recovered.Neg()})
		}
	}
	carriedOut = carriedIn
	if payout.IsNegative() || c.Recoverable {
		carriedOut = carriedIn.Add(payout)
	}
	line = p.line(c)
	line.Amount = payout
	line.Trace = Trace{Before: tidy(carriedIn, digits), After: tidy(carriedOut, digits), Exact: tidy(sumPay(parts), digits), Rounding: p.Rounding, Parts: tidyParts(parts, digits)}
	line.Trace.Draw = &DrawSettlement{Draw: c.Amount, Recoverable: c.Recoverable, Earned: earned, CarriedIn: carriedIn, CarriedOut: carriedOut}
	suffix := "at period close"
	if carriedOut.IsPositive() {
		suffix += ", " + FormatMoney(carriedOut, p.Currency) + " left to recover from later earnings"
	}
	line.Trace.Text = sentence(parts, payout, line.Trace.Exact, p.Currency, suffix, p.Rounding, nil)
	return payout, carriedOut, line, nil
}
