package comp

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"podium/game"
)

// A Projection is what a rep would earn by closing more: from the same F,
// so a projection and the lines later posted for that deal agree.
type Projection struct {
	Extra     decimal.Decimal `json:"extra"`     // the credit added
	Earned    decimal.Decimal `json:"earned"`    // the plan's rounded F now (Evaluate's total)
	Gain      decimal.Decimal `json:"gain"`      // the sum of the lines the deal would post
	Projected decimal.Decimal `json:"projected"` // Earned + Gain
	Lines     []Line          `json:"lines"`     // as Post would return them
}

// WhatIf projects closing extra more credit as a deal with no product, type
// or close day: it earns what attainment pays (commission tiers, gates,
// bonus steps) and spiffs without filters, not product-specific pay. Use
// WhatIfDeal to project a particular deal.
func WhatIf(p Plan, s State, extra decimal.Decimal) (Projection, error) {
	id := "what-if"
	for n := 2; hasDeal(s, id); n++ {
		id = fmt.Sprintf("what-if-%d", n)
	}
	return WhatIfDeal(p, s, DealCredit{ID: id, Amount: extra})
}

func hasDeal(s State, id string) bool {
	for _, d := range s.Deals {
		if d.ID == id {
			return true
		}
	}
	return false
}

// WhatIfDeal projects crediting one more deal, whose id must be new to s.
func WhatIfDeal(p Plan, s State, d DealCredit) (Projection, error) {
	if err := p.Validate(); err != nil {
		return Projection{}, err
	}
	if err := checkShape(d.Amount, "extra"); err != nil {
		return Projection{}, err
	}
	if d.Amount.IsNegative() {
		return Projection{}, game.Errorf(game.EInvalid, "extra", "a projected deal of %s is negative", d.Amount)
	}
	if hasDeal(s, d.ID) {
		return Projection{}, game.Errorf(game.EInvalid, "id", "deal %q is already credited", d.ID)
	}
	now, err := Evaluate(p, s)
	if err != nil {
		return Projection{}, err
	}
	after := s
	after.Deals = append(append([]DealCredit(nil), s.Deals...), d)
	after.Credited = s.Credited.Add(d.Amount)
	lines, err := p.post(s, after, "if you close "+FormatMoney(d.Amount, p.Currency)+" more")
	if err != nil {
		return Projection{}, err
	}
	gain := Total(lines)
	return Projection{Extra: d.Amount, Earned: now.Total, Gain: gain, Projected: now.Total.Add(gain), Lines: lines}, nil
}

// Next is the nearest attainment threshold above a rep's credit and what
// reaching it changes, for the live earnings push ("5,000.00 more to reach
// quota: 12 % above quota, 1,000.00 bonus").
type Next struct {
	At        decimal.Decimal `json:"at"`        // the threshold, percent of quota
	Threshold decimal.Decimal `json:"threshold"` // the credit at which it is reached
	Distance  decimal.Decimal `json:"distance"`  // the credit still to close
	Gain      decimal.Decimal `json:"gain"`      // what closing exactly Distance more would post, all components
	Unlocks   []Unlock        `json:"unlocks"`   // one per thing that changes there, in plan order
	Text      string          `json:"text"`
}

// An Unlock is one thing that changes at a threshold.
type Unlock struct {
	Component string           `json:"component"`
	What      string           `json:"what"`             // "tier", "gate", "soft_cap" or "bonus"
	Rate      *decimal.Decimal `json:"rate,omitempty"`   // the rate from there on, percent
	Amount    *decimal.Decimal `json:"amount,omitempty"` // a bonus step's amount
	Text      string           `json:"text"`
}

// NextStep returns the nearest threshold above the rep's credit at which a
// component changes: a tier boundary (of any rate table), a gate, a soft cap
// or a bonus step. It returns nil when no threshold is left.
func NextStep(p Plan, s State) (*Next, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := p.checkState(s, "state"); err != nil {
		return nil, err
	}
	var next *Next
	consider := func(at decimal.Decimal, u Unlock) {
		t := ofQuota(s.Quota, at)
		if !t.GreaterThan(s.Credited) {
			return
		}
		if next == nil || t.LessThan(next.Threshold) {
			next = &Next{At: at, Threshold: t}
		}
		if t.Equal(next.Threshold) {
			next.Unlocks = append(next.Unlocks, u)
		}
	}
	for i := range p.Components {
		c := &p.Components[i]
		switch c.Kind {
		case KindCommission:
			tables := [][]Tier{c.Tiers}
			for _, o := range c.RateOverrides {
				tables = append(tables, o.Tiers)
			}
			for ti, tiers := range tables {
				on := c.tableName(ti)
				for j := 1; j < len(tiers); j++ {
					var to *decimal.Decimal
					if j+1 < len(tiers) {
						to = ptr(tiers[j+1].From)
					}
					text := formatPct(tiers[j].Rate) + " % on " + on + " " + bandLabel(tiers[j].From, to)
					if c.Mode == Retroactive {
						text = formatPct(tiers[j].Rate) + " % on all " + on
					}
					consider(tiers[j].From, Unlock{Component: c.Name, What: "tier", Rate: ptr(tiers[j].Rate), Text: text})
				}
			}
			if g := c.Gate; g != nil {
				consider(g.At, Unlock{Component: c.Name, What: "gate", Text: "the " + pctLabel(g.At) + " gate: commission at the tier rates on all credit"})
			}
			if sc := c.SoftCap; sc != nil {
				u := Unlock{Component: c.Name, What: "soft_cap", Text: "the soft cap at " + pctLabel(sc.At) + ": "}
				if sc.Rate != nil {
					u.Rate = sc.Rate
					u.Text += formatPct(*sc.Rate) + " % above it"
				} else {
					u.Text += "rates × " + formatPct(*sc.Factor) + " above it"
				}
				consider(sc.At, u)
			}
		case KindBonus:
			for _, st := range c.Steps {
				consider(st.At, Unlock{Component: c.Name, What: "bonus", Amount: ptr(st.Amount), Text: FormatMoney(st.Amount, p.Currency) + " bonus"})
			}
		}
	}
	if next == nil {
		return nil, nil
	}
	// Credit comes in the currency's units, so the distance is rounded up to
	// them: closing that much is sure to reach the threshold.
	next.Distance = next.Threshold.Sub(s.Credited).RoundCeil(digitsOf(p.Currency))
	proj, err := WhatIf(p, s, next.Distance)
	if err != nil {
		return nil, err
	}
	next.Gain = proj.Gain
	texts := make([]string, len(next.Unlocks))
	for i, u := range next.Unlocks {
		texts[i] = u.Text
	}
	next.Text = fmt.Sprintf("%s more to reach %s: %s (%s more pay)", FormatMoney(next.Distance, p.Currency), goalLabel(next.At), strings.Join(texts, ", "), FormatMoney(next.Gain, p.Currency))
	return next, nil
}
