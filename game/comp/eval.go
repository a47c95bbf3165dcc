package comp

import (
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"podium/game"
)

// State is what one rep has in one period of a plan: everything F reads.
// Amounts are in the plan's currency (convert with Rates first).
type State struct {
	// Quota is the rep's quota for the period (prorated, see Prorate). It may
	// be zero only for plans that never measure attainment.
	Quota decimal.Decimal `json:"quota"`
	// Credited is the rep's credited revenue in the period: attainment is
	// Credited / Quota.
	Credited decimal.Decimal `json:"credited"`
	// TeamCredited is the credited revenue of the team a manager's override
	// pays on; zero for reps.
	TeamCredited decimal.Decimal `json:"team_credited,omitzero"`
	// Deals are the rep's credited deals in the period. Plans with a spiff,
	// or a commission with products, deal_types or rate_overrides, need them,
	// and then they must sum to Credited. Others ignore them, except that
	// Post records the exchange rates of the deals an event changed.
	Deals []DealCredit `json:"deals,omitempty"`
}

// DealCredit is one deal as credited to the rep.
type DealCredit struct {
	ID     string          `json:"id"`     // source/external id, unique in the state
	Amount decimal.Decimal `json:"amount"` // credited to this rep, in the plan currency
	// Share is the rep's fraction of a split deal; zero means 1 (the whole
	// deal). A fixed spiff pays its amount times the share, so a deal's spiff
	// costs the same however it is split.
	Share decimal.Decimal `json:"share,omitzero"`
	// DealAmount is the whole deal before the split, in the plan currency;
	// zero means Amount. A spiff's min_amount is compared with it.
	DealAmount decimal.Decimal `json:"deal_amount,omitzero"`
	Product    string          `json:"product,omitempty"`
	Type       string          `json:"type,omitempty"`      // deal type: new, renewal, upsell…
	CloseDay   string          `json:"close_day,omitempty"` // YYYY-MM-DD, local
	// Exchange is the conversion that produced Amount, when the deal was in
	// another currency; Post copies it onto the lines the deal moves.
	Exchange *Exchange `json:"exchange,omitempty"`
}

// StateOf returns the state whose credit is the sum of deals.
func StateOf(quota decimal.Decimal, deals ...DealCredit) State {
	s := State{Quota: quota, Deals: deals}
	for _, d := range deals {
		s.Credited = s.Credited.Add(d.Amount)
	}
	return s
}

func (d DealCredit) share() decimal.Decimal {
	if d.Share.IsZero() {
		return decimal.NewFromInt(1)
	}
	return d.Share
}

func (d DealCredit) whole() decimal.Decimal {
	if d.DealAmount.IsZero() {
		return d.Amount
	}
	return d.DealAmount
}

// needs reports what the plan's math reads of a state.
func (p *Plan) needs() (deals, quota bool) {
	for i := range p.Components {
		c := &p.Components[i]
		if c.Kind == KindDraw {
			continue
		}
		deals = deals || c.needsDeals()
		quota = quota || c.needsQuota()
	}
	return deals, quota
}

// checkState refuses a state the plan cannot evaluate; name prefixes fields
// ("before", "after", "state").
func (p *Plan) checkState(s State, name string) error {
	for _, f := range []struct {
		d     decimal.Decimal
		field string
	}{{s.Quota, "quota"}, {s.Credited, "credited"}, {s.TeamCredited, "team_credited"}} {
		if err := checkShape(f.d, name+"."+f.field); err != nil {
			return err
		}
		if f.d.IsNegative() {
			return game.Errorf(game.EInvalid, name+"."+f.field, "%s %s is negative", f.field, f.d)
		}
	}
	needDeals, needQuota := p.needs()
	if needQuota && s.Quota.IsZero() {
		return game.Errorf(game.EInvalid, name+".quota", "the quota is zero, so attainment is undefined and plan %q cannot place credit in its tiers, gate or bonus steps: set a quota for the period", p.ID)
	}
	sum := decimal.Zero
	seen := make(map[string]bool, len(s.Deals))
	for i, d := range s.Deals {
		f := fmt.Sprintf("%s.deals[%d]", name, i)
		if d.ID == "" {
			return game.Errorf(game.EMissingField, f+".id", "each deal needs an id")
		}
		if seen[d.ID] {
			return game.Errorf(game.EInvalid, f+".id", "deal %q appears twice", d.ID)
		}
		seen[d.ID] = true
		for _, v := range []struct {
			d     decimal.Decimal
			field string
		}{{d.Amount, ".amount"}, {d.Share, ".share"}, {d.DealAmount, ".deal_amount"}} {
			if err := checkShape(v.d, f+v.field); err != nil {
				return err
			}
			if v.d.IsNegative() {
				return game.Errorf(game.EInvalid, f+v.field, "%s is negative", v.field[1:])
			}
		}
		if d.Share.GreaterThan(decimal.NewFromInt(1)) {
			return game.Errorf(game.EInvalid, f+".share", "share %s is above 1", d.Share)
		}
		sum = sum.Add(d.Amount)
	}
	if needDeals && !sum.Equal(s.Credited) {
		return game.Errorf(game.EInvalid, name+".deals", "the deals sum to %s but credited is %s: plan %q pays by deal, so it needs every credited deal of the period", sum, s.Credited, p.ID)
	}
	return nil
}

// A curve is a rate table placed on a quota: the pay, before the component's
// cap, that credit T earns if all of it were paid at this table.
type curve struct {
	mode   TierMode
	from   []decimal.Decimal // where each tier starts, percent of quota
	bounds []decimal.Decimal // where each tier starts, credit
	rate   []decimal.Decimal // percent
	gate   *Gate
	gateAt decimal.Decimal // credit
	soft   *SoftCap
	softAt decimal.Decimal // credit
}

func newCurve(c *Component, tiers []Tier, quota decimal.Decimal) *curve {
	k := &curve{mode: c.Mode, gate: c.Gate, soft: c.SoftCap}
	for _, t := range tiers {
		k.from = append(k.from, t.From)
		k.bounds = append(k.bounds, ofQuota(quota, t.From))
		k.rate = append(k.rate, t.Rate)
	}
	if k.gate != nil {
		k.gateAt = ofQuota(quota, k.gate.At)
	}
	if k.soft != nil {
		k.softAt = ofQuota(quota, k.soft.At)
	}
	return k
}

// tier returns the tier credit t is in: the last that starts at or below it
// (a tier's from is inclusive, so exactly at a boundary is the higher tier).
func (k *curve) tier(t decimal.Decimal) int {
	i := 0
	for j, b := range k.bounds {
		if b.LessThanOrEqual(t) {
			i = j
		}
	}
	return i
}

// g is the rate table alone.
func (k *curve) g(t decimal.Decimal) decimal.Decimal {
	if k.mode == Retroactive {
		return pct(k.rate[k.tier(t)]).Mul(t)
	}
	sum := decimal.Zero
	for i, lo := range k.bounds {
		if t.LessThanOrEqual(lo) {
			break
		}
		hi := t
		if i+1 < len(k.bounds) && k.bounds[i+1].LessThan(t) {
			hi = k.bounds[i+1]
		}
		sum = sum.Add(hi.Sub(lo).Mul(pct(k.rate[i])))
	}
	return sum
}

func (k *curve) aboveSoft(t decimal.Decimal) bool {
	return k.soft != nil && t.GreaterThan(k.softAt)
}

// softened is g with the soft cap applied.
func (k *curve) softened(t decimal.Decimal) decimal.Decimal {
	if !k.aboveSoft(t) {
		return k.g(t)
	}
	atCap := k.g(k.softAt)
	if k.soft.Factor != nil {
		return atCap.Add(k.g(t).Sub(atCap).Mul(*k.soft.Factor))
	}
	return atCap.Add(t.Sub(k.softAt).Mul(pct(*k.soft.Rate)))
}

func (k *curve) belowGate(t decimal.Decimal) bool {
	return k.gate != nil && t.LessThan(k.gateAt)
}

// h is the whole curve: gate, tiers and soft cap.
func (k *curve) h(t decimal.Decimal) decimal.Decimal {
	if k.belowGate(t) {
		return pct(k.gate.Rate).Mul(t)
	}
	return k.softened(t)
}

// matches reports whether a deal is of one of products (if any) and one of
// types (if any).
func matches(products, types []string, d DealCredit) bool {
	return (len(products) == 0 || slices.Contains(products, d.Product)) &&
		(len(types) == 0 || slices.Contains(types, d.Type))
}

// groupOf returns which rate table pays a deal of a grouped commission: -1
// for none (filtered out), 0 for the component's tiers, i+1 for override i.
func (c *Component) groupOf(d DealCredit) int {
	if !matches(c.Products, c.DealTypes, d) {
		return -1
	}
	for i, o := range c.RateOverrides {
		if matches(o.Products, o.DealTypes, d) {
			return i + 1
		}
	}
	return 0
}

// curves returns the component's rate tables on quota, main table first.
func (c *Component) curves(quota decimal.Decimal) []*curve {
	out := []*curve{newCurve(c, c.Tiers, quota)}
	for _, o := range c.RateOverrides {
		out = append(out, newCurve(c, o.Tiers, quota))
	}
	return out
}

// groups returns, per rate table of a grouped commission, the credit it pays
// (base) and its pay: base × h(T) / T, the group's share of what its table
// would pay on all credit T. The one division is carried to divPlaces.
func (c *Component) groups(s State) (bases, pays []decimal.Decimal) {
	ks := c.curves(s.Quota)
	bases = make([]decimal.Decimal, len(ks))
	pays = make([]decimal.Decimal, len(ks))
	for _, d := range s.Deals {
		if g := c.groupOf(d); g >= 0 {
			bases[g] = bases[g].Add(d.Amount)
		}
	}
	if !s.Credited.IsPositive() {
		return bases, pays
	}
	for g, k := range ks {
		if bases[g].IsPositive() {
			pays[g] = bases[g].Mul(k.h(s.Credited)).DivRound(s.Credited, divPlaces)
		}
	}
	return bases, pays
}

// spiffPay returns what a deal earns from a spiff, and why not when it does
// not qualify.
func (c *Component) spiffPay(d DealCredit) (decimal.Decimal, string) {
	switch {
	case !matches(c.Products, nil, d):
		return decimal.Zero, fmt.Sprintf("its product %q is not %s", d.Product, orList(c.Products))
	case !matches(nil, c.DealTypes, d):
		return decimal.Zero, fmt.Sprintf("its type %q is not %s", d.Type, orList(c.DealTypes))
	case d.whole().LessThan(c.MinAmount):
		return decimal.Zero, "the deal is under the minimum of " + group(c.MinAmount.String())
	case c.Window != nil && (d.CloseDay == "" || d.CloseDay < c.Window.From || d.CloseDay > c.Window.To):
		return decimal.Zero, fmt.Sprintf("it did not close between %s and %s", c.Window.From, c.Window.To)
	case !c.Rate.IsZero():
		return pct(c.Rate).Mul(d.Amount), ""
	}
	return c.Amount.Mul(d.share()), ""
}

// raw is the component's F before its cap.
func (c *Component) raw(s State) decimal.Decimal {
	switch c.Kind {
	case KindCommission:
		if !c.grouped() {
			return newCurve(c, c.Tiers, s.Quota).h(s.Credited)
		}
		_, pays := c.groups(s)
		return decimal.Sum(decimal.Zero, pays...)
	case KindSpiff:
		sum := decimal.Zero
		for _, d := range s.Deals {
			p, _ := c.spiffPay(d)
			sum = sum.Add(p)
		}
		return sum
	case KindBonus:
		sum := decimal.Zero
		for _, st := range c.Steps {
			if s.Credited.GreaterThanOrEqual(ofQuota(s.Quota, st.At)) {
				sum = sum.Add(st.Amount)
			}
		}
		return sum
	case KindOverride:
		return pct(c.Rate).Mul(s.TeamCredited)
	}
	return decimal.Zero // a draw pays only when settled (SettleDraw)
}

// value is the component's F: raw, capped.
func (c *Component) value(s State) decimal.Decimal {
	v := c.raw(s)
	if c.Cap != nil && v.GreaterThan(*c.Cap) {
		return *c.Cap
	}
	return v
}

// Earnings is what a plan's components are worth for a state: F per
// component and in total.
type Earnings struct {
	Components []Earned        `json:"components"`
	Total      decimal.Decimal `json:"total"` // the sum of the rounded amounts
}

// Earned is one component's F for a state.
type Earned struct {
	Component string          `json:"component"`
	Kind      Kind            `json:"kind"`
	Exact     decimal.Decimal `json:"exact"`  // F, unrounded
	Amount    decimal.Decimal `json:"amount"` // F rounded by the plan's rounding mode
}

// Evaluate returns F for every component of the plan except the draw, which
// pays only at period close (SettleDraw).
func Evaluate(p Plan, s State) (Earnings, error) {
	if err := p.Validate(); err != nil {
		return Earnings{}, err
	}
	if err := p.checkState(s, "state"); err != nil {
		return Earnings{}, err
	}
	digits := digitsOf(p.Currency)
	e := Earnings{Total: decimal.Zero.Round(digits)}
	for i := range p.Components {
		c := &p.Components[i]
		if c.Kind == KindDraw {
			continue
		}
		v := c.value(s)
		r := p.Rounding.Round(v, digits)
		e.Components = append(e.Components, Earned{Component: c.Name, Kind: c.Kind, Exact: tidy(v, digits), Amount: r})
		e.Total = e.Total.Add(r)
	}
	return e, nil
}

// tidy gives an exact amount its shortest form with at least the currency's
// digits, for display and JSON: "8250.00", not "8250.0000" or "8250".
func tidy(d decimal.Decimal, digits int32) decimal.Decimal {
	n := d.Normalize()
	if n.Exponent() > -digits {
		return n.Round(digits)
	}
	return n
}
