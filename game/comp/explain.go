package comp

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// A Part is one piece of a line's explanation: a band of credit at a rate, a
// spiff for one deal, a bonus step, the effect of a cap. The pays of a line's
// parts add up exactly to its unrounded amount (Trace.Exact).
type Part struct {
	Label string           `json:"label"`          // what the part is, as the sentence says it
	From  *decimal.Decimal `json:"from,omitempty"` // a band's start, percent of quota
	To    *decimal.Decimal `json:"to,omitempty"`   // a band's end, percent of quota; absent for the top band
	Base  *decimal.Decimal `json:"base,omitempty"` // the credit Rate applies to; negative when credit went down
	Rate  *decimal.Decimal `json:"rate,omitempty"` // percent
	Pay   decimal.Decimal  `json:"pay"`            // exact
}

func rated(rate, base decimal.Decimal, label string) Part {
	return Part{Label: label, Base: &base, Rate: &rate, Pay: pct(rate).Mul(base)}
}

func ptr(d decimal.Decimal) *decimal.Decimal { return &d }

func negate(parts []Part) []Part {
	for i := range parts {
		parts[i].Pay = parts[i].Pay.Neg()
		if parts[i].Base != nil {
			parts[i].Base = ptr(parts[i].Base.Neg())
		}
	}
	return parts
}

func sumPay(parts []Part) decimal.Decimal {
	sum := decimal.Zero
	for _, p := range parts {
		sum = sum.Add(p.Pay)
	}
	return sum
}

// pctLabel names an attainment: "quota" for 100 %, else "150 %".
func pctLabel(d decimal.Decimal) string {
	if d.Equal(hundred) {
		return "quota"
	}
	return formatPct(d) + " %"
}

// goalLabel names an attainment as a goal: "quota", "150 % of quota".
func goalLabel(d decimal.Decimal) string {
	if d.Equal(hundred) {
		return "quota"
	}
	return formatPct(d) + " % of quota"
}

// bandLabel names the band of a rate table from from to to (nil: no end).
func bandLabel(from decimal.Decimal, to *decimal.Decimal) string {
	switch {
	case from.IsZero() && to == nil:
		return ""
	case from.IsZero():
		return "below " + pctLabel(*to)
	case to == nil:
		return "above " + pctLabel(from)
	}
	return "from " + formatPct(from) + " % to " + formatPct(*to) + " %"
}

func orList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return "one of " + strings.Join(q, ", ")
}

// describe names the deals a filter matches: "gadget deals", "renewal
// deals", "gadget or widget renewal deals", "all deals".
func describe(products, types []string) string {
	words := []string{}
	if len(products) > 0 {
		words = append(words, strings.Join(products, " or "))
	}
	if len(types) > 0 {
		words = append(words, strings.Join(types, " or "))
	}
	if len(words) == 0 {
		return "all deals"
	}
	return strings.Join(words, " ") + " deals"
}

// A segment is a band of credit paid at one marginal rate.
type segment struct {
	lo       decimal.Decimal
	hi       *decimal.Decimal // nil: no end
	from, to *decimal.Decimal // percent of quota
	rate     decimal.Decimal  // percent
	label    string
}

// segments lists the marginal bands of the tier table with the soft cap
// applied.
func (k *curve) segments() []segment {
	var out []segment
	for i := range k.bounds {
		s := segment{lo: k.bounds[i], from: ptr(k.from[i]), rate: k.rate[i]}
		if i+1 < len(k.bounds) {
			s.hi, s.to = ptr(k.bounds[i+1]), ptr(k.from[i+1])
		}
		s.label = bandLabel(*s.from, s.to)
		out = append(out, s)
	}
	if k.soft == nil {
		return out
	}
	var cut []segment
	for _, s := range out {
		if s.hi != nil && s.hi.LessThanOrEqual(k.softAt) {
			cut = append(cut, s)
			continue
		}
		if s.lo.LessThan(k.softAt) {
			below := s
			below.hi, below.to = ptr(k.softAt), ptr(k.soft.At)
			below.label = bandLabel(*below.from, below.to)
			cut = append(cut, below)
			s.lo, s.from = k.softAt, ptr(k.soft.At)
		}
		if k.soft.Rate != nil {
			// One flat rate replaces every tier above the soft cap.
			cut = append(cut, segment{lo: k.softAt, from: ptr(k.soft.At), rate: *k.soft.Rate, label: "above " + pctLabel(k.soft.At) + " (soft cap)"})
			break
		}
		s.rate = s.rate.Mul(*k.soft.Factor)
		s.label = bandLabel(*s.from, s.to) + " (soft cap: rate × " + formatPct(*k.soft.Factor) + ")"
		cut = append(cut, s)
	}
	return cut
}

// marginalParts explains h(y) − h(x) for x ≤ y as the bands crossed; down
// words the gate for a fall in credit (the caller negates the parts).
func (k *curve) marginalParts(x, y decimal.Decimal, down bool) []Part {
	var parts []Part
	if k.belowGate(x) {
		end := decimal.Min(y, k.gateAt)
		parts = append(parts, rated(k.gate.Rate, end.Sub(x), "below the "+pctLabel(k.gate.At)+" gate"))
		if y.LessThan(k.gateAt) {
			return parts
		}
		label := "released by reaching the " + pctLabel(k.gate.At) + " gate (the credit below it now earns the tier rates)"
		if down {
			label = "withheld again below the " + pctLabel(k.gate.At) + " gate"
		}
		parts = append(parts, Part{Label: label, Pay: k.softened(k.gateAt).Sub(pct(k.gate.Rate).Mul(k.gateAt))})
		x = k.gateAt
	}
	for _, s := range k.segments() {
		lo := decimal.Max(x, s.lo)
		hi := y
		if s.hi != nil {
			hi = decimal.Min(y, *s.hi)
		}
		if hi.GreaterThan(lo) {
			p := rated(s.rate, hi.Sub(lo), s.label)
			p.From, p.To = s.from, s.to
			parts = append(parts, p)
		}
	}
	// Highest band first: the sentence starts with what the deal just won.
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return parts
}

// retroParts explains h(y) − h(x) in retroactive mode.
func (k *curve) retroParts(x, y decimal.Decimal) []Part {
	region := func(t decimal.Decimal) int {
		if k.belowGate(t) {
			return -1
		}
		return k.tier(t)
	}
	rx, ry := region(x), region(y)
	label := func(r int) (decimal.Decimal, string) {
		if r < 0 {
			return k.gate.Rate, "below the " + pctLabel(k.gate.At) + " gate"
		}
		var to *decimal.Decimal
		if r+1 < len(k.from) {
			to = ptr(k.from[r+1])
		}
		return k.rate[r], bandLabel(k.from[r], to)
	}
	if rx == ry && !k.aboveSoft(x) && !k.aboveSoft(y) {
		rate, l := label(ry)
		return []Part{rated(rate, y.Sub(x), l)}
	}
	var parts []Part
	if k.aboveSoft(y) {
		parts = append(parts, Part{Label: "earned on all credit, with the soft cap above " + pctLabel(k.soft.At), Pay: k.h(y)})
	} else {
		rate, l := label(ry)
		what := "all credit"
		if l != "" {
			what += ", tier " + l
		}
		parts = append(parts, rated(rate, y, "("+what+")"))
	}
	if before := k.h(x); !before.IsZero() {
		parts = append(parts, Part{Label: "already earned", Pay: before.Neg()})
	}
	return parts
}

// explain returns the parts of the change of the component's F from b to a,
// ending with the effect of its cap. With notes, a changed deal that the
// component does not pay gets a part saying why (for a rep's notification;
// an adjustment, which explains the whole period, leaves them out).
func (c *Component) explain(b, a State, currency string, notes bool) []Part {
	var parts []Part
	switch c.Kind {
	case KindCommission:
		parts = c.explainCommission(b, a, currency, notes)
	case KindSpiff:
		parts = c.explainSpiff(b, a, currency, notes)
	case KindBonus:
		for _, st := range c.Steps {
			was := b.Credited.GreaterThanOrEqual(ofQuota(b.Quota, st.At))
			is := a.Credited.GreaterThanOrEqual(ofQuota(a.Quota, st.At))
			switch {
			case is && !was:
				parts = append(parts, Part{Label: "bonus for reaching " + goalLabel(st.At), Pay: st.Amount})
			case was && !is:
				parts = append(parts, Part{Label: "bonus for " + goalLabel(st.At) + ", no longer reached", Pay: st.Amount.Neg()})
			}
		}
	case KindOverride:
		if d := a.TeamCredited.Sub(b.TeamCredited); !d.IsZero() {
			parts = append(parts, rated(c.Rate, d, "of team revenue"))
		}
	}
	if c.Cap != nil {
		if d := c.value(a).Sub(c.value(b)).Sub(sumPay(parts)); !d.IsZero() {
			label := "over the cap of " + FormatMoney(*c.Cap, currency)
			if d.IsPositive() {
				label = "previously over the cap of " + FormatMoney(*c.Cap, currency)
			}
			parts = append(parts, Part{Label: label, Pay: d})
		}
	}
	return parts
}

func (c *Component) explainCommission(b, a State, currency string, notes bool) []Part {
	if c.grouped() {
		return c.explainGroups(b, a, currency, notes)
	}
	x, y := b.Credited, a.Credited
	k := newCurve(c, c.Tiers, a.Quota)
	if !b.Quota.Equal(a.Quota) {
		// Bands moved with the quota: there is no one band crossed to name.
		parts := []Part{{Label: fmt.Sprintf("earned on %s credited against a quota of %s", FormatMoney(y, currency), FormatMoney(a.Quota, currency)), Pay: k.h(y)}}
		if before := newCurve(c, c.Tiers, b.Quota).h(x); !before.IsZero() {
			parts = append(parts, Part{Label: "already earned against a quota of " + FormatMoney(b.Quota, currency), Pay: before.Neg()})
		}
		return parts
	}
	switch {
	case c.Mode == Retroactive:
		return k.retroParts(x, y)
	case x.LessThan(y):
		return k.marginalParts(x, y, false)
	case y.LessThan(x):
		return negate(k.marginalParts(y, x, true))
	}
	return nil
}

// tableName names the deals rate table g of a commission pays: "credit"
// for an ungrouped one.
func (c *Component) tableName(g int) string {
	switch {
	case g > 0:
		o := c.RateOverrides[g-1]
		return describe(o.Products, o.DealTypes) + " at their own rates"
	case !c.grouped():
		return "credit"
	case len(c.RateOverrides) > 0:
		return describe(c.Products, c.DealTypes) + " at the standard rates"
	}
	return describe(c.Products, c.DealTypes)
}

func (c *Component) explainGroups(b, a State, currency string, notes bool) []Part {
	basesB, paysB := c.groups(b)
	basesA, paysA := c.groups(a)
	var parts []Part
	for g := range paysA {
		if paysA[g].Equal(paysB[g]) && basesA[g].Equal(basesB[g]) {
			continue
		}
		detail := "none credited now"
		if basesA[g].IsPositive() {
			avg := paysA[g].Mul(hundred).DivRound(basesA[g], 2)
			detail = fmt.Sprintf("%s credited, %s %% on average", FormatMoney(basesA[g], currency), formatPct(avg))
			if a.Quota.IsPositive() {
				detail += " at " + formatPct(attainment(a)) + " % of quota"
			}
		}
		parts = append(parts, Part{Label: "on " + c.tableName(g) + " (" + detail + ")", Pay: paysA[g].Sub(paysB[g])})
	}
	if !notes {
		return parts
	}
	for _, ch := range changedDeals(b, a) {
		if c.groupOf(ch.now) < 0 && c.groupOf(ch.was) < 0 {
			parts = append(parts, Part{Label: fmt.Sprintf("deal %s counts toward quota, but this commission pays only %s", ch.id, describe(c.Products, c.DealTypes)), Pay: decimal.Zero})
		}
	}
	return parts
}

// dealChange is a deal an event added, removed or changed; was or now is
// the zero DealCredit when it was not there.
type dealChange struct {
	id       string
	was, now DealCredit
}

func sameDeal(x, y DealCredit) bool {
	return x.ID == y.ID && x.Amount.Equal(y.Amount) && x.Share.Equal(y.Share) && x.DealAmount.Equal(y.DealAmount) &&
		x.Product == y.Product && x.Type == y.Type && x.CloseDay == y.CloseDay
}

// changedDeals lists the deals that differ between b and a: in a's order,
// then those only in b.
func changedDeals(b, a State) []dealChange {
	was := make(map[string]DealCredit, len(b.Deals))
	for _, d := range b.Deals {
		was[d.ID] = d
	}
	var out []dealChange
	seen := make(map[string]bool, len(a.Deals))
	for _, d := range a.Deals {
		seen[d.ID] = true
		if w, ok := was[d.ID]; !ok || !sameDeal(w, d) {
			out = append(out, dealChange{id: d.ID, was: w, now: d})
		}
	}
	for _, d := range b.Deals {
		if !seen[d.ID] {
			out = append(out, dealChange{id: d.ID, was: d})
		}
	}
	return out
}

func (c *Component) explainSpiff(b, a State, currency string, notes bool) []Part {
	var parts []Part
	for _, ch := range changedDeals(b, a) {
		payWas, whyWas := c.spiffPay(ch.was)
		payNow, why := c.spiffPay(ch.now)
		wasPaid, nowPaid := ch.was.ID != "" && whyWas == "", ch.now.ID != "" && why == ""
		if !wasPaid {
			payWas = decimal.Zero
		}
		if !nowPaid {
			payNow = decimal.Zero
		}
		switch {
		case payNow.Equal(payWas) && notes && ch.now.ID != "" && !nowPaid:
			parts = append(parts, Part{Label: "deal " + ch.id + " does not qualify for this SPIFF: " + why, Pay: decimal.Zero})
		case payNow.Equal(payWas):
		case !c.Rate.IsZero():
			base := decimal.Zero
			if nowPaid {
				base = ch.now.Amount
			}
			if wasPaid {
				base = base.Sub(ch.was.Amount)
			}
			parts = append(parts, rated(c.Rate, base, "deal "+ch.id+" (SPIFF)"))
		default:
			label := "SPIFF for deal " + ch.id
			if sh := ch.now.share(); nowPaid && !sh.Equal(decimal.NewFromInt(1)) {
				label += fmt.Sprintf(" (your share %s of %s)", sh, FormatMoney(c.Amount, currency))
			}
			parts = append(parts, Part{Label: label, Pay: payNow.Sub(payWas)})
		}
	}
	return parts
}

// sentence says a line in one plain sentence: its parts, then its amount.
func sentence(parts []Part, amount, exact decimal.Decimal, currency, suffix string, r Rounding, exchanges []Exchange) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case p.Rate != nil && p.Base != nil:
			if p.Base.IsNegative() {
				b.WriteString("less ")
			}
			b.WriteString(formatPct(*p.Rate) + " % on " + FormatMoney(p.Base.Abs(), currency))
			if p.Label != "" {
				b.WriteString(" " + p.Label)
			}
		case p.Pay.IsZero():
			b.WriteString(p.Label)
		default:
			if p.Pay.IsNegative() {
				b.WriteString("less ")
			}
			b.WriteString(FormatMoney(p.Pay.Abs(), currency) + " " + p.Label)
		}
	}
	if len(parts) == 0 {
		b.WriteString("no change")
	}
	b.WriteString(": " + FormatMoney(amount, currency) + " " + suffix)
	var notes []string
	if !amount.Equal(exact) {
		notes = append(notes, formatExact(exact, currency)+" before rounding "+strings.ReplaceAll(string(r.Mode), "_", " "))
	}
	for _, e := range exchanges {
		notes = append(notes, fmt.Sprintf("converted from %s %s at %s %s per %s, the rate of %s", FormatMoney(e.Amount, e.From), e.From, formatPct(e.Rate), e.To, e.From, e.Day))
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, "; ") + ")")
	}
	return b.String()
}
