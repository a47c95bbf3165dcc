package comp

import (
	"slices"

	"github.com/shopspring/decimal"
)

// A Line is what one component posts for one event: the amount to append to
// the ledger (already rounded by the plan's rule) and its explanation.
// Post and Adjust return one line per component, zero amounts included, so a
// rep can be told why a deal earned nothing (below a gate, not a SPIFF
// product); the ledger need not store the zero ones.
type Line struct {
	PlanID      string          `json:"plan_id"`
	PlanVersion int64           `json:"plan_version"`
	Component   string          `json:"component"`
	Kind        Kind            `json:"kind,omitempty"` // empty for a component no longer in the plan (Adjust)
	Currency    string          `json:"currency"`
	Amount      decimal.Decimal `json:"amount"`
	Trace       Trace           `json:"trace"`
}

// A Trace explains a line as data and as one sentence a rep can read.
type Trace struct {
	Quota decimal.Decimal `json:"quota"` // the period's quota after the event
	// CreditedBefore is the credit before the event; absent on an adjustment,
	// which starts from what was posted rather than from an earlier state.
	CreditedBefore *decimal.Decimal `json:"credited_before,omitempty"`
	Credited       decimal.Decimal  `json:"credited"`             // the credit after the event
	Attainment     *decimal.Decimal `json:"attainment,omitempty"` // percent of quota after the event, 2 places; absent without a quota
	// Before is the component's F before the event, or for an adjustment
	// the amount already posted; After is F after it. Both exact.
	Before    decimal.Decimal `json:"before"`
	After     decimal.Decimal `json:"after"`
	Exact     decimal.Decimal `json:"exact"`    // the line before rounding
	Rounding  Rounding        `json:"rounding"` // how Exact became the line's Amount
	Parts     []Part          `json:"parts"`    // their pays sum to Exact
	Exchanges []Exchange      `json:"exchanges,omitempty"`
	Draw      *DrawSettlement `json:"draw,omitempty"` // on a draw's line (SettleDraw): Before and After are then what is left to recover
	Text      string          `json:"text"`
}

// attainment is credit over quota in percent, to 2 places (display only).
func attainment(s State) decimal.Decimal {
	return s.Credited.Mul(hundred).DivRound(s.Quota, 2)
}

func (p *Plan) line(c *Component) Line {
	return Line{PlanID: p.ID, PlanVersion: p.Version, Component: c.Name, Kind: c.Kind, Currency: p.Currency}
}

func (p *Plan) trace(s State, before, after, exact decimal.Decimal) Trace {
	digits := digitsOf(p.Currency)
	t := Trace{Quota: s.Quota, Credited: s.Credited, Before: tidy(before, digits), After: tidy(after, digits), Exact: tidy(exact, digits), Rounding: p.Rounding}
	if s.Quota.IsPositive() {
		t.Attainment = ptr(attainment(s))
	}
	return t
}

// Post returns the lines to post for an event that moved a rep's period from
// before to after: for each component (but the draw), F(after) − F(before),
// rounded by the plan's rule (see RoundingScope). Summed over any sequence of
// events, the exact amounts telescope to F(final) − F(start), whatever the
// order of the deals and however they were split. Each line records the
// exchange rates of the deals the event changed.
func Post(p Plan, before, after State) ([]Line, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p.post(before, after, "for this deal")
}

// post is Post on a valid plan; suffix ends each line's sentence.
func (p *Plan) post(before, after State, suffix string) ([]Line, error) {
	if err := p.checkState(before, "before"); err != nil {
		return nil, err
	}
	if err := p.checkState(after, "after"); err != nil {
		return nil, err
	}
	digits := digitsOf(p.Currency)
	var exchanges []Exchange
	for _, ch := range changedDeals(before, after) {
		switch {
		case ch.now.Exchange != nil:
			exchanges = append(exchanges, *ch.now.Exchange)
		case ch.was.Exchange != nil:
			exchanges = append(exchanges, *ch.was.Exchange)
		}
	}
	var lines []Line
	for i := range p.Components {
		c := &p.Components[i]
		if c.Kind == KindDraw {
			continue
		}
		fb, fa := c.value(before), c.value(after)
		exact := fa.Sub(fb)
		amount := p.Rounding.Round(exact, digits)
		if p.Rounding.Where == OnTotal {
			amount = p.Rounding.Round(fa, digits).Sub(p.Rounding.Round(fb, digits))
		}
		l := p.line(c)
		l.Amount = amount
		l.Trace = p.trace(after, fb, fa, exact)
		l.Trace.CreditedBefore = ptr(before.Credited)
		l.Trace.Parts = tidyParts(c.explain(before, after, p.Currency, true), digits)
		l.Trace.Exchanges = exchanges
		l.Trace.Text = sentence(l.Trace.Parts, amount, exact, p.Currency, suffix, p.Rounding, exchanges)
		lines = append(lines, l)
	}
	return lines, nil
}

// Adjust returns the lines that bring what was posted for a rep's period to
// what the plan pays for s now: per component, round(F(s)) − posted[name],
// in either rounding scope. It is the one rule for every correction: an
// amount edited, a deal lost, a late deal, a corrected plan; and it trues up
// the drift of PerLine rounding. Aiming at round(F) rather than rounding
// F − posted makes it idempotent: a second call posts zero (with mode "up",
// round(F − posted) would swing by a unit on every call). posted holds the sums of the amounts posted so far
// per component name; a name the plan no longer has is reversed in full.
// Draw components are settled by SettleDraw and ignored here.
func Adjust(p Plan, posted map[string]decimal.Decimal, s State) ([]Line, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := p.checkState(s, "state"); err != nil {
		return nil, err
	}
	digits := digitsOf(p.Currency)
	empty := State{Quota: s.Quota}
	known := make(map[string]bool, len(p.Components))
	var lines []Line
	for i := range p.Components {
		c := &p.Components[i]
		known[c.Name] = true
		if c.Kind == KindDraw {
			continue
		}
		done := posted[c.Name]
		if err := checkShape(done, "posted"); err != nil {
			return nil, err
		}
		f := c.value(s)
		exact := f.Sub(done)
		amount := p.Rounding.Round(f, digits).Sub(done)
		l := p.line(c)
		l.Amount = amount
		l.Trace = p.trace(s, done, f, exact)
		l.Trace.Parts = c.explain(empty, s, p.Currency, false)
		if !done.IsZero() {
			l.Trace.Parts = append(l.Trace.Parts, Part{Label: "already posted", Pay: done.Neg()})
		}
		l.Trace.Parts = tidyParts(l.Trace.Parts, digits)
		l.Trace.Text = sentence(l.Trace.Parts, amount, exact, p.Currency, "to correct what was posted", p.Rounding, nil)
		lines = append(lines, l)
	}
	var gone []string
	for name := range posted {
		if !known[name] {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		done := posted[name]
		if err := checkShape(done, "posted"); err != nil {
			return nil, err
		}
		l := Line{PlanID: p.ID, PlanVersion: p.Version, Component: name, Currency: p.Currency, Amount: done.Neg()}
		l.Trace = p.trace(s, done, decimal.Zero, done.Neg())
		l.Trace.Parts = []Part{{Label: "posted for " + name + ", which version " + itoa(p.Version) + " of the plan no longer pays", Pay: done.Neg()}}
		l.Trace.Text = sentence(l.Trace.Parts, l.Amount, l.Amount, p.Currency, "to correct what was posted", p.Rounding, nil)
		lines = append(lines, l)
	}
	return lines, nil
}

// tidyParts gives the parts' amounts their shortest exact form (tidy).
func tidyParts(parts []Part, digits int32) []Part {
	for i := range parts {
		parts[i].Pay = tidy(parts[i].Pay, digits)
		if parts[i].Base != nil {
			parts[i].Base = ptr(tidy(*parts[i].Base, digits))
		}
	}
	return parts
}

func itoa(i int64) string { return decimal.NewFromInt(i).String() }

// Total returns the sum of the lines' amounts.
func Total(lines []Line) decimal.Decimal {
	sum := decimal.Zero
	for _, l := range lines {
		sum = sum.Add(l.Amount)
	}
	return sum
}
