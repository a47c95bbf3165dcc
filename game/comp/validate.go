package comp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"podium/game"
)

// Limits on a plan. They keep a plan small enough for a person to reason
// about and cheap enough to evaluate on every credited event.
const (
	MaxComponents   = 50
	MaxTiers        = 50
	MaxOverrides    = 20
	MaxSteps        = 20
	MaxListItems    = 200    // products or deal types of one filter
	MaxNameLength   = 100    // plan and component names
	MaxClawbackDays = 3650   // ten years
	maxPercentPlace = 10     // decimal places of a percentage or factor
	maxRate         = 100    // percent: a rate above all of the credit is a typo for a smaller one
	maxAttainment   = 10_000 // percent of quota a threshold may name
)

var maxRateDec, maxAttainmentDec = decimal.NewFromInt(maxRate), decimal.NewFromInt(maxAttainment)

// ParsePlan decodes a plan from JSON strictly (an unknown field, a second
// value or trailing data is an error: a misspelt "cap" must not silently pay
// uncapped) and validates it.
func ParsePlan(data []byte) (Plan, error) {
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Plan{}, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Plan{}, game.Errorf(game.EInvalid, "", "plan JSON has data after the plan object")
	}
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	return p, nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return game.Errorf(game.EInvalid, te.Field, "plan JSON: %s has the wrong type (want %s)", te.Field, te.Type)
	}
	return game.Errorf(game.EInvalid, "", "plan JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// Validate checks a plan and returns the first problem as a *game.Error whose
// Field is the JSON path at fault, such as "components[0].tiers[2].from".
// Everything the math relies on is checked here, so that evaluation of a
// valid plan never fails for a reason of the plan.
func (p Plan) Validate() error {
	if err := checkName(p.ID, "id", game.MaxIDLength); err != nil {
		return err
	}
	if err := checkName(p.Name, "name", MaxNameLength); err != nil {
		return err
	}
	if p.Version < 1 {
		return game.Errorf(game.EInvalid, "version", "version must be 1 or more; a correction of a plan is a new version")
	}
	digits, err := game.MinorDigits(p.Currency)
	if err != nil {
		return err
	}
	if err := checkPeriodRange(p); err != nil {
		return err
	}
	switch p.Rounding.Mode {
	case HalfUp, HalfEven, Down, Up:
	case "":
		return game.Errorf(game.EMissingField, "rounding.mode", "rounding.mode is required: half_up, half_even, down or up")
	default:
		return game.Errorf(game.EInvalid, "rounding.mode", "unknown rounding mode %q: use half_up, half_even, down or up", p.Rounding.Mode)
	}
	switch p.Rounding.Where {
	case PerLine, OnTotal:
	case "":
		return game.Errorf(game.EMissingField, "rounding.where", "rounding.where is required: line (each posted amount rounded) or total (the period total rounded)")
	default:
		return game.Errorf(game.EInvalid, "rounding.where", "unknown rounding.where %q: use line or total", p.Rounding.Where)
	}
	if p.ClawbackDays != nil && (*p.ClawbackDays < 0 || *p.ClawbackDays > MaxClawbackDays) {
		return game.Errorf(game.EInvalid, "clawback_days", "clawback_days must be between 0 and %d", MaxClawbackDays)
	}
	if len(p.Components) == 0 {
		return game.Errorf(game.EMissingField, "components", "a plan needs at least one component")
	}
	if len(p.Components) > MaxComponents {
		return game.Errorf(game.EInvalid, "components", "a plan has at most %d components", MaxComponents)
	}
	names := make(map[string]int, len(p.Components))
	draws := 0
	for i := range p.Components {
		c := &p.Components[i]
		f := fmt.Sprintf("components[%d]", i)
		if err := checkName(c.Name, f+".name", MaxNameLength); err != nil {
			return err
		}
		if j, dup := names[c.Name]; dup {
			return game.Errorf(game.EInvalid, f+".name", "component name %q is already used by components[%d]; names identify posted lines", c.Name, j)
		}
		names[c.Name] = i
		if c.Kind == KindDraw {
			if draws++; draws > 1 {
				return game.Errorf(game.EInvalid, f+".kind", "a plan has at most one draw")
			}
		}
		if err := c.validate(f, digits, p.Currency); err != nil {
			return err
		}
	}
	return nil
}

// checkPeriodRange checks the period and that the effective range covers
// whole periods: F is per period, so one version must govern a whole period.
func checkPeriodRange(p Plan) error {
	if p.Period == "" {
		return game.Errorf(game.EMissingField, "period", "period is required: month, quarter or year")
	}
	if !planPeriod(p.Period) {
		return game.Errorf(game.EInvalid, "period", "a plan's period is month, quarter or year, not %q", string(p.Period))
	}
	from, err := parseDay(p.EffectiveFrom, "effective_from")
	if err != nil {
		return err
	}
	if first, _ := instanceOf(p.Period, from); !first.Equal(from) {
		return game.Errorf(game.EInvalid, "effective_from", "effective_from %s is not the first day of a %s (%s would be): a plan version governs whole periods", p.EffectiveFrom, p.Period, formatDay(first))
	}
	if p.EffectiveTo == "" {
		return nil
	}
	to, err := parseDay(p.EffectiveTo, "effective_to")
	if err != nil {
		return err
	}
	if to.Before(from) {
		return game.Errorf(game.EInvalid, "effective_to", "effective_to %s is before effective_from %s", p.EffectiveTo, p.EffectiveFrom)
	}
	if _, last := instanceOf(p.Period, to); !last.Equal(to) {
		return game.Errorf(game.EInvalid, "effective_to", "effective_to %s is not the last day of a %s (%s would be): a plan version governs whole periods", p.EffectiveTo, p.Period, formatDay(last))
	}
	return nil
}

// fieldsOf lists the JSON fields a kind reads besides kind and name.
func fieldsOf(k Kind) []string {
	switch k {
	case KindCommission:
		return []string{"mode", "tiers", "gate", "soft_cap", "rate_overrides", "cap", "products", "deal_types"}
	case KindSpiff:
		return []string{"amount", "rate", "min_amount", "window", "products", "deal_types", "cap"}
	case KindBonus:
		return []string{"steps"}
	case KindDraw:
		return []string{"amount", "recoverable"}
	case KindOverride:
		return []string{"rate", "cap"}
	}
	return nil
}

// setFields lists the kind-specific fields that are set, in JSON order.
func (c *Component) setFields() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(c.Mode != "", "mode")
	add(len(c.Tiers) > 0, "tiers")
	add(c.Gate != nil, "gate")
	add(c.SoftCap != nil, "soft_cap")
	add(len(c.RateOverrides) > 0, "rate_overrides")
	add(c.Cap != nil, "cap")
	add(len(c.Products) > 0, "products")
	add(len(c.DealTypes) > 0, "deal_types")
	add(!c.Amount.IsZero(), "amount")
	add(!c.Rate.IsZero(), "rate")
	add(!c.MinAmount.IsZero(), "min_amount")
	add(c.Window != nil, "window")
	add(len(c.Steps) > 0, "steps")
	add(c.Recoverable, "recoverable")
	return out
}

func (c *Component) validate(f string, digits int32, currency string) error {
	switch c.Kind {
	case KindCommission, KindSpiff, KindBonus, KindDraw, KindOverride:
	case "":
		return game.Errorf(game.EMissingField, f+".kind", "kind is required: commission, spiff, bonus, draw or override")
	default:
		return game.Errorf(game.EInvalid, f+".kind", "unknown component kind %q: use commission, spiff, bonus, draw or override", c.Kind)
	}
	allowed := fieldsOf(c.Kind)
	for _, name := range c.setFields() {
		if !slices.Contains(allowed, name) {
			return game.Errorf(game.EInvalid, f+"."+name, "a %s component has no %s (it reads %s)", c.Kind, name, strings.Join(allowed, ", "))
		}
	}
	if c.Cap != nil {
		if err := checkAmount(*c.Cap, f+".cap", digits, currency); err != nil {
			return err
		}
	}
	if err := checkList(c.Products, f+".products"); err != nil {
		return err
	}
	if err := checkList(c.DealTypes, f+".deal_types"); err != nil {
		return err
	}
	switch c.Kind {
	case KindCommission:
		return c.validateCommission(f)
	case KindSpiff:
		return c.validateSpiff(f, digits, currency)
	case KindBonus:
		if len(c.Steps) == 0 {
			return game.Errorf(game.EMissingField, f+".steps", "a bonus needs at least one step")
		}
		if len(c.Steps) > MaxSteps {
			return game.Errorf(game.EInvalid, f+".steps", "a bonus has at most %d steps", MaxSteps)
		}
		for i, s := range c.Steps {
			sf := fmt.Sprintf("%s.steps[%d]", f, i)
			if err := checkPercent(s.At, sf+".at", maxAttainmentDec, true); err != nil {
				return err
			}
			if i > 0 && !s.At.GreaterThan(c.Steps[i-1].At) {
				return game.Errorf(game.EInvalid, sf+".at", "step at %s %% is not above the previous step at %s %%: steps are sorted by attainment", s.At, c.Steps[i-1].At)
			}
			if err := checkPositiveAmount(s.Amount, sf+".amount", digits, currency); err != nil {
				return err
			}
		}
	case KindDraw:
		return checkPositiveAmount(c.Amount, f+".amount", digits, currency)
	case KindOverride:
		return checkPercent(c.Rate, f+".rate", maxRateDec, true)
	}
	return nil
}

func (c *Component) validateCommission(f string) error {
	switch c.Mode {
	case Marginal, Retroactive:
	case "":
		return game.Errorf(game.EMissingField, f+".mode", "mode is required: marginal (each band at its rate) or retroactive (one rate on everything)")
	default:
		return game.Errorf(game.EInvalid, f+".mode", "unknown mode %q: use marginal or retroactive", c.Mode)
	}
	grouped := c.grouped()
	minRate, err := checkTiers(c.Tiers, f+".tiers", c.Mode, grouped)
	if err != nil {
		return err
	}
	if len(c.RateOverrides) > MaxOverrides {
		return game.Errorf(game.EInvalid, f+".rate_overrides", "a commission has at most %d rate overrides", MaxOverrides)
	}
	for i, o := range c.RateOverrides {
		of := fmt.Sprintf("%s.rate_overrides[%d]", f, i)
		if len(o.Products) == 0 && len(o.DealTypes) == 0 {
			return game.Errorf(game.EMissingField, of+".products", "a rate override names the products or deal types it applies to")
		}
		if err := checkList(o.Products, of+".products"); err != nil {
			return err
		}
		if err := checkList(o.DealTypes, of+".deal_types"); err != nil {
			return err
		}
		m, err := checkTiers(o.Tiers, of+".tiers", c.Mode, grouped)
		if err != nil {
			return err
		}
		minRate = decimal.Min(minRate, m)
	}
	if g := c.Gate; g != nil {
		if err := checkPercent(g.At, f+".gate.at", maxAttainmentDec, true); err != nil {
			return err
		}
		if err := checkPercent(g.Rate, f+".gate.rate", maxRateDec, false); err != nil {
			return err
		}
		if g.Rate.GreaterThan(minRate) {
			return game.Errorf(game.EInvalid, f+".gate.rate", "gate rate %s %% is above the lowest tier rate %s %%: reaching the gate would lower pay", g.Rate, minRate)
		}
	}
	if s := c.SoftCap; s != nil {
		sf := f + ".soft_cap"
		if grouped {
			return game.Errorf(game.EInvalid, sf, "a soft cap cannot be combined with products, deal_types or rate_overrides: a deal outside them still raises attainment, so it would lower what the deals inside them earn; use a hard cap or a separate component")
		}
		if err := checkPercent(s.At, sf+".at", maxAttainmentDec, true); err != nil {
			return err
		}
		switch {
		case s.Factor == nil && s.Rate == nil:
			return game.Errorf(game.EMissingField, sf+".factor", "a soft cap needs a factor (pay above it multiplied, 0 to 1) or a rate (the percentage above it)")
		case s.Factor != nil && s.Rate != nil:
			return game.Errorf(game.EInvalid, sf+".rate", "a soft cap has a factor or a rate, not both")
		case s.Factor != nil:
			if err := checkPercent(*s.Factor, sf+".factor", decimal.NewFromInt(1), false); err != nil {
				return err
			}
		default:
			if err := checkPercent(*s.Rate, sf+".rate", maxRateDec, false); err != nil {
				return err
			}
		}
		if c.Gate != nil && c.Gate.At.GreaterThan(s.At) {
			return game.Errorf(game.EInvalid, f+".gate.at", "the gate at %s %% is above the soft cap at %s %%; a gate comes before a soft cap", c.Gate.At, s.At)
		}
	}
	return nil
}

// checkTiers checks a rate table and returns its lowest rate.
func checkTiers(tiers []Tier, f string, mode TierMode, grouped bool) (decimal.Decimal, error) {
	if len(tiers) == 0 {
		return decimal.Zero, game.Errorf(game.EMissingField, f, "a rate table needs at least one tier, starting at 0 %% of quota")
	}
	if len(tiers) > MaxTiers {
		return decimal.Zero, game.Errorf(game.EInvalid, f, "a rate table has at most %d tiers", MaxTiers)
	}
	minRate := tiers[0].Rate
	for i, t := range tiers {
		tf := fmt.Sprintf("%s[%d]", f, i)
		if err := checkPercent(t.From, tf+".from", maxAttainmentDec, false); err != nil {
			return decimal.Zero, err
		}
		if i == 0 && !t.From.IsZero() {
			return decimal.Zero, game.Errorf(game.EInvalid, tf+".from", "the first tier starts at 0 %% of quota, not %s %%: otherwise the first credit would have no rate (use a 0 %% tier or a gate to pay nothing at first)", t.From)
		}
		if i > 0 && !t.From.GreaterThan(tiers[i-1].From) {
			return decimal.Zero, game.Errorf(game.EInvalid, tf+".from", "tier from %s %% is not above the previous tier's %s %%: tiers are sorted by from, without overlaps", t.From, tiers[i-1].From)
		}
		if err := checkPercent(t.Rate, tf+".rate", maxRateDec, false); err != nil {
			return decimal.Zero, err
		}
		if i > 0 && t.Rate.LessThan(tiers[i-1].Rate) {
			// A lower rate on everything (retroactive), or a lower rate that
			// shifts group shares (grouped), would make closing a deal lower
			// a rep's pay: F must never decrease when credit grows.
			if mode == Retroactive {
				return decimal.Zero, game.Errorf(game.EInvalid, tf+".rate", "rate %s %% is below the previous tier's %s %%: in retroactive mode that would lower the pay on all credit when a deal crosses the tier; use marginal mode or a soft cap for a decelerator", t.Rate, tiers[i-1].Rate)
			}
			if grouped {
				return decimal.Zero, game.Errorf(game.EInvalid, tf+".rate", "rate %s %% is below the previous tier's %s %%: with products, deal_types or rate_overrides, a decelerator would let a deal lower what other deals earn; use a separate component", t.Rate, tiers[i-1].Rate)
			}
		}
		minRate = decimal.Min(minRate, t.Rate)
	}
	return minRate, nil
}

func checkName(s, field string, max int) error {
	if strings.TrimSpace(s) == "" {
		return game.Errorf(game.EMissingField, field, "%s is required", field)
	}
	if len(s) > max {
		return game.Errorf(game.EInvalid, field, "%s is longer than %d characters", field, max)
	}
	return nil
}

func checkList(items []string, field string) error {
	if len(items) > MaxListItems {
		return game.Errorf(game.EInvalid, field, "at most %d entries", MaxListItems)
	}
	for i, s := range items {
		if err := checkName(s, fmt.Sprintf("%s[%d]", field, i), game.MaxIDLength); err != nil {
			return err
		}
		if j := slices.Index(items[:i], s); j >= 0 {
			return game.Errorf(game.EInvalid, fmt.Sprintf("%s[%d]", field, i), "%q is already listed at %s[%d]", s, field, j)
		}
	}
	return nil
}

// checkShape refuses decimals whose exponent or length would make arithmetic
// on them allocate without bound (JSON admits "1e1000000000"); it must run
// before any comparison, which rescales.
func checkShape(d decimal.Decimal, field string) error {
	if d.Exponent() > 15 || d.Exponent() < -30 || d.NumDigits() > 40 {
		return game.Errorf(game.EInvalid, field, "%s is not a plain decimal of reasonable size", field)
	}
	return nil
}

// checkPercent checks a percentage (or a factor) in [0, max], above 0 when
// positive is set.
func checkPercent(d decimal.Decimal, field string, max decimal.Decimal, positive bool) error {
	if err := checkShape(d, field); err != nil {
		return err
	}
	if d.IsNegative() {
		return game.Errorf(game.EInvalid, field, "%s %s is negative", field, d)
	}
	if positive && d.IsZero() {
		return game.Errorf(game.EInvalid, field, "%s must be above 0", field)
	}
	if d.GreaterThan(max) {
		return game.Errorf(game.EInvalid, field, "%s %s is above %s; percentages are written as 5 for 5 %%", field, d, max)
	}
	if d.Exponent() < -maxPercentPlace {
		return game.Errorf(game.EInvalid, field, "%s %s has more than %d decimal places", field, d, maxPercentPlace)
	}
	return nil
}

// checkAmount checks a non-negative amount in the plan's currency.
func checkAmount(d decimal.Decimal, field string, digits int32, currency string) error {
	if err := checkShape(d, field); err != nil {
		return err
	}
	if d.IsNegative() {
		return game.Errorf(game.EInvalid, field, "%s %s is negative", field, d)
	}
	if d.GreaterThan(game.MaxAmount) {
		return game.Errorf(game.EInvalid, field, "%s %s is larger than %s", field, d, game.MaxAmount)
	}
	if !d.Equal(d.Truncate(digits)) {
		return game.Errorf(game.EInvalid, field, "%s %s has more than %d decimal places, which %s does not allow", field, d, digits, currency)
	}
	return nil
}

func checkPositiveAmount(d decimal.Decimal, field string, digits int32, currency string) error {
	if d.IsZero() {
		return game.Errorf(game.EMissingField, field, "%s is required and above 0", field)
	}
	return checkAmount(d, field, digits, currency)
}

func (c *Component) validateSpiff(f string, digits int32, currency string) error {
	switch {
	case c.Amount.IsZero() && c.Rate.IsZero():
		return game.Errorf(game.EMissingField, f+".amount", "a spiff pays an amount per deal or a rate (percent of the deal); give one")
	case !c.Amount.IsZero() && !c.Rate.IsZero():
		return game.Errorf(game.EInvalid, f+".rate", "a spiff pays an amount or a rate, not both")
	case !c.Amount.IsZero():
		if err := checkAmount(c.Amount, f+".amount", digits, currency); err != nil {
			return err
		}
	default:
		if err := checkPercent(c.Rate, f+".rate", maxRateDec, true); err != nil {
			return err
		}
	}
	if err := checkAmount(c.MinAmount, f+".min_amount", digits, currency); err != nil {
		return err
	}
	if w := c.Window; w != nil {
		from, err := parseDay(w.From, f+".window.from")
		if err != nil {
			return err
		}
		to, err := parseDay(w.To, f+".window.to")
		if err != nil {
			return err
		}
		if to.Before(from) {
			return game.Errorf(game.EInvalid, f+".window.to", "window ends on %s, before it starts on %s", w.To, w.From)
		}
	}
	return nil
}

// ValidateVersions checks the versions of one plan that are in effect, in any
// order: each valid, one id and currency, and their effective ranges tiling
// time without gaps or overlaps, later ranges with higher version numbers.
// Only the last may be open-ended. A corrected version replaces the one it
// corrects in this list (the store keeps the superseded one for audit).
// Fields are prefixed with the version's index in the list: "[1].effective_from".
func ValidateVersions(versions []Plan) error {
	if len(versions) == 0 {
		return game.Errorf(game.EMissingField, "", "at least one plan version is required")
	}
	for i, p := range versions {
		if err := p.Validate(); err != nil {
			e := game.AsError(err)
			field := fmt.Sprintf("[%d]", i)
			if e.Field != "" {
				field += "." + e.Field
			}
			return game.Errorf(e.Code, field, "version %d: %s", p.Version, e.Message)
		}
		if p.ID != versions[0].ID {
			return game.Errorf(game.EInvalid, fmt.Sprintf("[%d].id", i), "version %d is of plan %q, not %q", p.Version, p.ID, versions[0].ID)
		}
		if p.Currency != versions[0].Currency {
			return game.Errorf(game.EInvalid, fmt.Sprintf("[%d].currency", i), "version %d pays in %s, the plan's earlier versions in %s: a new currency is a new plan", p.Version, p.Currency, versions[0].Currency)
		}
	}
	order := make([]int, len(versions))
	for i := range order {
		order[i] = i
	}
	// Days as YYYY-MM-DD sort as strings.
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(versions[a].EffectiveFrom, versions[b].EffectiveFrom) })
	for k := 1; k < len(order); k++ {
		prev, cur := versions[order[k-1]], versions[order[k]]
		field := fmt.Sprintf("[%d].effective_from", order[k])
		if prev.EffectiveTo == "" {
			return game.Errorf(game.EInvalid, field, "version %d starts on %s while version %d, which starts earlier, never ends: the two overlap", cur.Version, cur.EffectiveFrom, prev.Version)
		}
		prevTo, _ := parseDay(prev.EffectiveTo, "")
		next := formatDay(prevTo.AddDate(0, 0, 1))
		switch {
		case cur.EffectiveFrom < next:
			return game.Errorf(game.EInvalid, field, "version %d starts on %s, before version %d ends on %s: the two overlap", cur.Version, cur.EffectiveFrom, prev.Version, prev.EffectiveTo)
		case cur.EffectiveFrom > next:
			return game.Errorf(game.EInvalid, field, "version %d starts on %s but version %d ends on %s: no version is in effect from %s", cur.Version, cur.EffectiveFrom, prev.Version, prev.EffectiveTo, next)
		}
		if cur.Version <= prev.Version {
			return game.Errorf(game.EInvalid, fmt.Sprintf("[%d].version", order[k]), "version %d is in effect after version %d; later ranges take higher version numbers", cur.Version, prev.Version)
		}
	}
	return nil
}

// PlanFor returns the version in effect on day among versions (as accepted
// by ValidateVersions), or a not_found error when none is.
func PlanFor(versions []Plan, day string) (Plan, error) {
	if _, err := parseDay(day, "day"); err != nil {
		return Plan{}, err
	}
	for _, p := range versions {
		if p.EffectiveFrom <= day && (p.EffectiveTo == "" || day <= p.EffectiveTo) {
			return p, nil
		}
	}
	return Plan{}, game.Errorf(game.ENotFound, "day", "no version of the plan is in effect on %s", day)
}
