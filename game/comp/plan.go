package comp

import (
	"github.com/shopspring/decimal"

	"podium/game"
)

// Kind names what a plan component pays for; it is the tag of the
// Component union in JSON ("kind").
type Kind string

// The component kinds.
const (
	KindCommission Kind = "commission" // a rate table on attainment
	KindSpiff      Kind = "spiff"      // a fixed amount or a percentage per qualifying deal
	KindBonus      Kind = "bonus"      // fixed amounts once per period on crossing attainment steps
	KindDraw       Kind = "draw"       // a guaranteed minimum, settled at period close
	KindOverride   Kind = "override"   // a manager's percentage of the team's credited revenue
)

// TierMode says how a commission's rate table turns credit into pay.
type TierMode string

// The tier modes.
const (
	// Marginal pays each band of credit at the rate of the tier it falls in,
	// like income tax brackets.
	Marginal TierMode = "marginal"
	// Retroactive pays all credit at the rate of the highest tier reached.
	Retroactive TierMode = "retroactive"
)

// RoundingMode names how an exact amount is brought to the currency's digits.
// The names follow java.math.RoundingMode, which payroll people know.
type RoundingMode string

// The rounding modes. Every mode is symmetric around zero, so a reversal
// rounds to exactly the negation of what it reverses.
const (
	HalfUp   RoundingMode = "half_up"   // nearest; a half goes away from zero
	HalfEven RoundingMode = "half_even" // nearest; a half goes to the even digit (banker's)
	Down     RoundingMode = "down"      // toward zero (truncate)
	Up       RoundingMode = "up"        // away from zero
)

// RoundingScope names what gets rounded.
type RoundingScope string

// The rounding scopes.
const (
	// PerLine rounds each posted delta: a line is round(F(after) − F(before)).
	// Lines can then drift from round(F(final)) by up to one unit per line;
	// Adjust (round(F) − posted) trues them up.
	PerLine RoundingScope = "line"
	// OnTotal rounds F itself: a line is round(F(after)) − round(F(before)), so
	// the lines of a period always sum to exactly round(F(final)).
	OnTotal RoundingScope = "total"
)

// Rounding is the plan's rounding rule. Both fields are required: DESIGN.md
// wants the rounding mode named at each rule rather than defaulted.
type Rounding struct {
	Mode  RoundingMode  `json:"mode"`
	Where RoundingScope `json:"where"`
}

// A Plan turns a rep's credited revenue in a period into pay. It is versioned:
// a version is in effect from EffectiveFrom to EffectiveTo (both inclusive,
// "YYYY-MM-DD" local days, aligned to whole periods); successive versions of
// one plan must tile time without gaps or overlaps (ValidateVersions).
type Plan struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Version       int64       `json:"version"`
	Currency      string      `json:"currency"`                // ISO 4217; every amount of the plan is in it
	EffectiveFrom string      `json:"effective_from"`          // first day in effect, the first day of a period
	EffectiveTo   string      `json:"effective_to,omitempty"`  // last day in effect, the last day of a period; "" for open-ended
	Period        game.Period `json:"period"`                  // month, quarter or year: how often F starts again from zero
	Rounding      Rounding    `json:"rounding"`                // how lines are rounded to the currency's digits
	ClawbackDays  *int        `json:"clawback_days,omitempty"` // a won deal lost within this many days of its close reverses its credit; absent: always
	Components    []Component `json:"components"`              // what the plan pays, each posted as its own line
}

// A Component is one thing a plan pays for. It is a union tagged by Kind:
// each kind reads only its own fields, and Validate refuses a field that does
// not belong to the kind (a misplaced "cap" that silently paid uncapped would
// cost real money). Name identifies the component's lines across events and
// plan versions, so keep it stable when correcting a plan.
type Component struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`

	// Commission.
	Mode          TierMode       `json:"mode,omitempty"`
	Tiers         []Tier         `json:"tiers,omitempty"`
	Gate          *Gate          `json:"gate,omitempty"`
	SoftCap       *SoftCap       `json:"soft_cap,omitempty"`
	RateOverrides []RateOverride `json:"rate_overrides,omitempty"`

	// Commission, spiff and override: the most this component pays in a
	// period. Absent means no cap; "0" pays nothing.
	Cap *decimal.Decimal `json:"cap,omitempty"`

	// Commission and spiff: only deals of these products and deal types are
	// paid (empty: all). A commission still measures attainment on all credit.
	Products  []string `json:"products,omitempty"`
	DealTypes []string `json:"deal_types,omitempty"`

	// Spiff: a fixed amount per qualifying deal; draw: the guaranteed amount.
	Amount decimal.Decimal `json:"amount,omitzero"`
	// Spiff and override: a percentage (5 means 5 %).
	Rate decimal.Decimal `json:"rate,omitzero"`
	// Spiff: a deal qualifies only if the whole deal is at least this amount.
	MinAmount decimal.Decimal `json:"min_amount,omitzero"`
	// Spiff: a deal qualifies only if it closed within the window.
	Window *Window `json:"window,omitempty"`

	// Bonus: the attainment steps, each paid once per period.
	Steps []Step `json:"steps,omitempty"`

	// Draw: true for a recoverable draw (an advance repaid from later
	// earnings), false for a non-recoverable guarantee.
	Recoverable bool `json:"recoverable,omitempty"`
}

// A Tier is one row of a commission rate table: from From percent of quota
// (inclusive) up to the next tier's From, credit pays Rate percent.
type Tier struct {
	From decimal.Decimal `json:"from"` // attainment, percent of quota; the first tier starts at 0
	Rate decimal.Decimal `json:"rate"` // percent of credit
}

// A Gate withholds a commission until attainment reaches At percent: below
// it, all paid credit earns Rate percent (0 when absent); from At on, the
// commission pays as if there were no gate, on all credit, so reaching the
// gate releases what it held back. Rate may not exceed any tier's rate, so
// crossing the gate never lowers pay.
type Gate struct {
	At   decimal.Decimal `json:"at"`
	Rate decimal.Decimal `json:"rate,omitzero"`
}

// A SoftCap slows a commission above At percent of quota. With Factor, every
// unit of pay earned above the threshold is multiplied by Factor (0 to 1):
// pay = F(S) + Factor × (F(T) − F(S)), where S is the threshold's credit.
// With Rate instead, credit above the threshold earns that flat percentage in
// place of the tiers: pay = F(S) + Rate × (T − S). Exactly one of the two.
type SoftCap struct {
	At     decimal.Decimal  `json:"at"`
	Factor *decimal.Decimal `json:"factor,omitempty"`
	Rate   *decimal.Decimal `json:"rate,omitempty"`
}

// A RateOverride pays the deals it matches (all of its products, if any, and
// all of its deal types, if any) at its own rate table. Attainment is still
// the rep's whole credit: a matched deal group earns its share of the pay its
// tiers would give on all credit (see the package documentation). The first
// override that matches a deal wins.
type RateOverride struct {
	Products  []string `json:"products,omitempty"`
	DealTypes []string `json:"deal_types,omitempty"`
	Tiers     []Tier   `json:"tiers"`
}

// A Window is a range of close days, both inclusive, "YYYY-MM-DD".
type Window struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// A Step of a bonus pays Amount once in a period when attainment reaches At
// percent of quota. Steps add up: reaching the second also keeps the first.
type Step struct {
	At     decimal.Decimal `json:"at"`
	Amount decimal.Decimal `json:"amount"`
}

// grouped reports whether a commission pays deals differently by product or
// type, which makes its pay depend on the deals and not just the total.
func (c *Component) grouped() bool {
	return c.Kind == KindCommission && (len(c.Products) > 0 || len(c.DealTypes) > 0 || len(c.RateOverrides) > 0)
}

// needsDeals reports whether the component reads State.Deals.
func (c *Component) needsDeals() bool {
	return c.Kind == KindSpiff || c.grouped()
}

// needsQuota reports whether the component measures attainment.
func (c *Component) needsQuota() bool {
	switch c.Kind {
	case KindBonus:
		return true
	case KindCommission:
		if c.Gate != nil || c.SoftCap != nil || len(c.Tiers) > 1 {
			return true
		}
		for _, o := range c.RateOverrides {
			if len(o.Tiers) > 1 {
				return true
			}
		}
	}
	return false
}

// ClawsBack reports whether reversing a won deal (lost or refunded) on
// reversedDay takes back the credit it earned when it closed on closeDay:
// always when the plan has no clawback_days, otherwise only within that many
// days of the close (a reversal on or before the close day is within). When
// it does not, the engine leaves the deal in the state, so nothing is posted.
func (p Plan) ClawsBack(closeDay, reversedDay string) (bool, error) {
	c, err := parseDay(closeDay, "close_day")
	if err != nil {
		return false, err
	}
	r, err := parseDay(reversedDay, "reversed_day")
	if err != nil {
		return false, err
	}
	if p.ClawbackDays == nil {
		return true, nil
	}
	return daysBetween(c, r) <= int64(*p.ClawbackDays), nil
}
