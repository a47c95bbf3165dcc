package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
	"podium/game/comp"
)

// compStore returns the comp store, or an error when pay is off.
func (s *Server) compStore() (engine.CompStore, error) {
	cs := s.e.Comp()
	if cs == nil {
		return nil, game.Errorf(game.ENotFound, "", "pay is not computed on this server")
	}
	return cs, nil
}

// ---- plans, assignments, exchange rates ----

func (s *Server) listPlans(c *fiber.Ctx) error {
	ps := s.e.Plans()
	if ps == nil {
		ps = []comp.Plan{}
	}
	return c.JSON(fiber.Map{"plans": ps})
}

func (s *Server) getPlan(c *fiber.Ctx) error {
	vs := s.e.PlanVersions(c.Params("id"))
	if len(vs) == 0 {
		return game.Errorf(game.ENotFound, "id", "no plan %q", c.Params("id"))
	}
	return c.JSON(fiber.Map{"id": vs[0].ID, "versions": vs})
}

// createPlan stores a new plan version, after checking it and how it tiles
// with the plan's earlier versions, then recomputes the pay of everyone on
// the plan: a corrected plan posts F(new) − posted as adjustments.
func (s *Server) createPlan(c *fiber.Ctx) error {
	cs, err := s.compStore()
	if err != nil {
		return err
	}
	p, err := parsePlan(c.Body())
	if err != nil {
		return err
	}
	if err := s.checkVersion(p); err != nil {
		return err
	}
	ctx := c.UserContext()
	if err := cs.PutPlan(ctx, p, principalOf(c).Actor()); err != nil {
		return err
	}
	if err := s.e.CompChanged(ctx); err != nil {
		return err
	}
	if err := s.e.MarkPlan(ctx, p.ID); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(p)
}

// parsePlan decodes a plan body strictly: bounded nesting, money as
// strings, no unknown fields, every rule of comp.Plan.Validate.
func parsePlan(body []byte) (comp.Plan, error) {
	if err := checkDepth(body, maxJSONDepth); err != nil {
		return comp.Plan{}, err
	}
	if err := refuseNumbers(body, "version", "clawback_days"); err != nil {
		return comp.Plan{}, err
	}
	p, err := comp.ParsePlan(body)
	if err != nil && game.AsError(err) == nil {
		return comp.Plan{}, jsonError(err)
	}
	return p, err
}

// validatePlan checks a plan without storing it.
func (s *Server) validatePlan(c *fiber.Ctx) error {
	p, err := parsePlan(c.Body())
	if err != nil {
		return err
	}
	if err := s.checkVersion(p); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"valid": true, "plan": p})
}

// checkVersion checks a new version against the stored ones: its number
// comes after theirs, and with it the plan's versions still cover time
// without gaps (a version supersedes earlier ones from its first day; see
// engine.EffectiveVersions).
func (s *Server) checkVersion(p comp.Plan) error {
	stored := s.e.PlanVersions(p.ID)
	if n := len(stored); n > 0 && p.Version <= stored[n-1].Version {
		return game.Errorf(game.EConflict, "version", "plan %q already has version %d: send version %d", p.ID, stored[n-1].Version, stored[n-1].Version+1)
	}
	return comp.ValidateVersions(engine.EffectiveVersions(append(stored, p)))
}

// listOf answers {key: [...]} with what get returns, [] rather than null.
func listOf[T any](c *fiber.Ctx, key string, get func(context.Context) ([]T, error)) error {
	items, err := get(c.UserContext())
	if err != nil {
		return err
	}
	if items == nil {
		items = []T{}
	}
	return c.JSON(fiber.Map{key: items})
}

func (s *Server) listAssignments(c *fiber.Ctx) error {
	cs, err := s.compStore()
	if err != nil {
		return err
	}
	return listOf(c, "assignments", cs.Assignments)
}

func (s *Server) createAssignment(c *fiber.Ctx) error {
	cs, err := s.compStore()
	if err != nil {
		return err
	}
	var a engine.Assignment
	if err := decodeMoney(c.Body(), &a, "id", "rep_id", "team_id", "override_teams"); err != nil {
		return err
	}
	if a.ID != 0 {
		return game.Errorf(game.EInvalid, "id", "the server assigns ids")
	}
	for _, f := range []struct{ v, name string }{{a.From, "from"}, {a.To, "to"}} {
		if f.v != "" {
			if _, err := game.ParseDay(f.name, f.v); err != nil {
				return err
			}
		}
	}
	if a.From == "" {
		return game.Errorf(game.EMissingField, "from", "from is the first day on the plan (YYYY-MM-DD)")
	}
	if a.To != "" && a.To < a.From {
		return game.Errorf(game.EInvalid, "to", "to (%s) is before from (%s)", a.To, a.From)
	}
	if len(s.e.PlanVersions(a.PlanID)) == 0 {
		return game.Errorf(game.EInvalid, "plan_id", "no plan %q; create it first", a.PlanID)
	}
	ctx := c.UserContext()
	a, err = cs.PutAssignment(ctx, a, principalOf(c).Actor())
	if err != nil {
		return err
	}
	if err := s.e.CompChanged(ctx); err != nil {
		return err
	}
	if err := s.e.MarkPlan(ctx, a.PlanID); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(a)
}

type endInput struct {
	To string `json:"to"`
}

// endAssignment ends an assignment on a day (a rep leaves the plan); the
// periods it no longer covers are recomputed.
func (s *Server) endAssignment(c *fiber.Ctx) error {
	cs, err := s.compStore()
	if err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in endInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	if in.To == "" {
		return game.Errorf(game.EMissingField, "to", "to is the last day on the plan (YYYY-MM-DD)")
	}
	ctx := c.UserContext()
	a, err := cs.EndAssignment(ctx, id, in.To, principalOf(c).Actor())
	if err != nil {
		return err
	}
	if err := s.e.CompChanged(ctx); err != nil {
		return err
	}
	if err := s.e.MarkPlan(ctx, a.PlanID); err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) listRates(c *fiber.Ctx) error {
	cs, err := s.compStore()
	if err != nil {
		return err
	}
	return listOf(c, "rates", cs.Rates)
}

func (s *Server) putRate(c *fiber.Ctx) error {
	cs, err := s.compStore()
	if err != nil {
		return err
	}
	var r comp.Rate
	if err := decodeMoney(c.Body(), &r); err != nil {
		return err
	}
	for _, f := range []struct{ code, name string }{{r.From, "from"}, {r.To, "to"}} {
		if _, err := game.MinorDigits(f.code); err != nil {
			return game.Errorf(game.ECurrency, f.name, "%q is not an ISO 4217 currency code Podium knows", f.code)
		}
	}
	if _, err := game.ParseDay("day", r.Day); err != nil {
		return err
	}
	if !r.Rate.IsPositive() {
		return game.Errorf(game.EInvalid, "rate", "a rate is a positive decimal string such as \"1.0842\"")
	}
	if _, err := comp.NewRates([]comp.Rate{r}); err != nil {
		return err
	}
	ctx := c.UserContext()
	if err := cs.PutRate(ctx, r, principalOf(c).Actor()); err != nil {
		return err
	}
	if err := s.e.CompChanged(ctx); err != nil {
		return err
	}
	// Pay that waited for this rate can be computed now.
	for _, p := range s.e.Plans() {
		if p.Currency == r.To {
			if err := s.e.MarkPlan(ctx, p.ID); err != nil {
				return err
			}
		}
	}
	return c.Status(fiber.StatusCreated).JSON(r)
}

// ---- quotas ----

type quotaInput struct {
	Period   game.Period     `json:"period"`
	Instance string          `json:"instance"`
	Amount   decimal.Decimal `json:"amount"`
	Currency string          `json:"currency"`
	// Proration, when given, prorates Amount for a rep who starts or leaves
	// within the period.
	Proration *struct {
		Rule       comp.ProrationRule `json:"rule"`
		ActiveFrom string             `json:"active_from"`
		ActiveTo   string             `json:"active_to"`
		Weights    []decimal.Decimal  `json:"weights"`
	} `json:"proration"`
}

func (s *Server) repQuotas(c *fiber.Ctx) error {
	cs, id, err := s.repComp(c)
	if err != nil {
		return err
	}
	qs, err := cs.Quotas(c.UserContext(), id)
	if err != nil {
		return err
	}
	if qs == nil {
		qs = []comp.Quota{}
	}
	return c.JSON(fiber.Map{"rep_id": id, "quotas": qs})
}

func (s *Server) putQuota(c *fiber.Ctx) error {
	cs, id, err := s.repComp(c)
	if err != nil {
		return err
	}
	var in quotaInput
	if err := decodeMoney(c.Body(), &in); err != nil {
		return err
	}
	first, _, err := comp.PeriodDays(in.Period, in.Instance)
	if err != nil {
		return err
	}
	plan, _, onPlan := s.e.PlanFor(id, first)
	switch {
	case in.Currency == "" && onPlan:
		in.Currency = plan.Currency
	case in.Currency == "":
		in.Currency = s.e.Config().Currency
	case onPlan && in.Currency != plan.Currency:
		return game.Errorf(game.ECurrency, "currency", "rep %d's plan pays in %s; set the quota in %s", id, plan.Currency, plan.Currency)
	}
	q := comp.Quota{RepID: id, Period: in.Period, Instance: in.Instance, Currency: in.Currency, Amount: in.Amount}
	if in.Proration != nil {
		first, last, err := comp.PeriodDays(in.Period, in.Instance)
		if err != nil {
			return err
		}
		pr := comp.Proration{Rule: in.Proration.Rule, Weights: in.Proration.Weights}
		if q.Amount, err = comp.Prorate(in.Amount, in.Currency, first, last, in.Proration.ActiveFrom, in.Proration.ActiveTo, pr); err != nil {
			return game.PrefixField(err, "proration")
		}
	}
	if err := q.Validate(); err != nil {
		return err
	}
	ctx := c.UserContext()
	if err := cs.PutQuota(ctx, q, principalOf(c).Actor()); err != nil {
		return err
	}
	if err := s.e.MarkPay(ctx, id, q.Instance); err != nil {
		return err
	}
	return c.JSON(q)
}

// teamQuota rolls a manager's quota up from their team's (and the teams
// below it).
func (s *Server) teamQuota(c *fiber.Ctx) error {
	cs, err := s.compStore()
	if err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, ok := s.e.Team(id); !ok {
		return game.Errorf(game.ENotFound, "id", "no team %d", id)
	}
	teams := s.e.TeamsUnder([]int64{id})
	all, err := cs.Quotas(c.UserContext(), 0)
	if err != nil {
		return err
	}
	var members []comp.Quota
	for _, q := range all {
		r, ok := s.e.Rep(q.RepID)
		if ok && teams[r.TeamID] && string(q.Period) == c.Params("period") && q.Instance == c.Params("instance") {
			members = append(members, q)
		}
	}
	// RollUp names the manager who holds the rolled-up quota; a team has
	// none, so the team id stands in (it is not returned).
	q, err := comp.RollUp(id, members)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"team_id": id, "period": q.Period, "instance": q.Instance, "currency": q.Currency, "amount": q.Amount, "members": members})
}

// ---- statements, what-if, adjustments ----

func (s *Server) knownRep(c *fiber.Ctx, param string) (int64, error) {
	id, err := idParam(c, param)
	if err != nil {
		return 0, err
	}
	if _, ok := s.e.Rep(id); !ok {
		return 0, game.Errorf(game.ENotFound, param, "no rep %d", id)
	}
	return id, nil
}

// validPeriod checks a plan period instance: "2026-11", "2026-Q4" or "2026".
func validPeriod(field, s string) error {
	for _, p := range []game.Period{game.PeriodMonth, game.PeriodQuarter, game.PeriodYear} {
		if p.ValidInstance(s) {
			return nil
		}
	}
	return game.Errorf(game.EInvalid, field, "%q is not a pay period: use a month (2026-11), a quarter (2026-Q4) or a year (2026)", s)
}

func (s *Server) getStatement(c *fiber.Ctx) error {
	id, err := s.knownRep(c, "id")
	if err != nil {
		return err
	}
	if err := validPeriod("period", c.Params("period")); err != nil {
		return err
	}
	if _, err := s.compStore(); err != nil {
		return err
	}
	v, err := s.e.Statement(c.UserContext(), id, c.Params("period"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// statementSnapshot serves the frozen bytes of a locked statement, exactly
// those whose SHA-256 is its hash, so anyone can check it
// (sha256sum of this body equals the statement's "hash").
func (s *Server) statementSnapshot(c *fiber.Ctx) error {
	cs, id, err := s.repComp(c)
	if err != nil {
		return err
	}
	if err := validPeriod("period", c.Params("period")); err != nil {
		return err
	}
	st, err := cs.Statement(c.UserContext(), id, c.Params("period"))
	if err != nil {
		return err
	}
	if len(st.Snapshot) == 0 {
		return game.Errorf(game.ENotFound, "period", "the statement of %s is %s: it has a snapshot once locked", c.Params("period"), st.Status)
	}
	c.Set("X-Statement-Hash", st.Hash)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(st.Snapshot)
}

// moveStatement moves a statement one step. Who may take which step is in
// the route table: a manager (of the rep's team) approves for the manager;
// finance approves for finance, locks and marks paid; admins do all.
func (s *Server) moveStatement(to engine.StatementStatus) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := s.knownRep(c, "id")
		if err != nil {
			return err
		}
		if err := validPeriod("period", c.Params("period")); err != nil {
			return err
		}
		if _, err := s.compStore(); err != nil {
			return err
		}
		p := principalOf(c)
		v, err := s.e.MoveStatement(c.UserContext(), id, c.Params("period"), to, p.Actor())
		if err != nil {
			return err
		}
		return c.JSON(v)
	}
}

func (s *Server) whatIf(c *fiber.Ctx) error {
	id, err := s.knownRep(c, "id")
	if err != nil {
		return err
	}
	period := c.Query("period")
	if period == "" {
		today := game.Day(s.now(), s.e.Config().Location)
		p, _, ok := s.e.PlanFor(id, today)
		if !ok {
			return game.Errorf(game.ENotFound, "", "rep %d is on no plan today", id)
		}
		period, _ = p.Period.Instance(today)
	} else if err := validPeriod("period", period); err != nil {
		return err
	}
	plan, state, err := s.e.PayState(c.UserContext(), id, period)
	if err != nil {
		return err
	}
	// The amount is credit in the plan's currency, with its digits.
	extra, _, err := game.ParseAmount(c.Query("amount"), plan.Currency, "amount")
	if err != nil {
		return err
	}
	proj, err := comp.WhatIf(plan, state, extra)
	if err != nil {
		return err
	}
	next, _ := comp.NextStep(plan, state)
	return c.JSON(fiber.Map{"rep_id": id, "period": period, "amount": extra, "projection": proj, "next": next})
}

type adjustmentInput struct {
	Period    string          `json:"period"`
	Component string          `json:"component"`
	Amount    decimal.Decimal `json:"amount"`
	Reason    string          `json:"reason"`
}

func (in adjustmentInput) line(repID int64, currency string, by game.Actor, s *Server) (engine.PayLine, error) {
	if strings.TrimSpace(in.Reason) == "" {
		return engine.PayLine{}, game.Errorf(game.EMissingField, "reason", "say why the pay is adjusted; the rep sees it on their statement")
	}
	if in.Component == "" {
		in.Component = "adjustment"
	}
	if in.Amount.IsZero() {
		return engine.PayLine{}, game.Errorf(game.EInvalid, "amount", "an adjustment is a non-zero decimal string such as \"-120.00\"")
	}
	digits, err := game.MinorDigits(currency)
	if err != nil {
		return engine.PayLine{}, err
	}
	if in.Amount.Exponent() < -digits {
		return engine.PayLine{}, game.Errorf(game.EInvalid, "amount", "%s has more decimals than %s has", in.Amount, currency)
	}
	return engine.PayLine{
		RepID: repID, Period: in.Period, PostedIn: in.Period, Component: in.Component, Kind: "manual",
		Amount: in.Amount, Currency: currency, Text: in.Reason, Actor: by, Reason: in.Reason, At: s.now().UTC(),
	}, nil
}

// ---- disputes ----

type disputeInput struct {
	LineID  int64  `json:"line_id"`
	Comment string `json:"comment"`
}

func (s *Server) openDispute(c *fiber.Ctx) error {
	cs, id, err := s.repComp(c)
	if err != nil {
		return err
	}
	var in disputeInput
	if err := decodeMoney(c.Body(), &in, "line_id"); err != nil {
		return err
	}
	line, err := cs.PayLine(c.UserContext(), in.LineID)
	if game.ErrorCode(err) == game.ENotFound || err == nil && line.RepID != id {
		return game.Errorf(game.EInvalid, "line_id", "line %d is not on this rep's statements", in.LineID)
	}
	if err != nil {
		return err
	}
	p := principalOf(c)
	d, err := cs.OpenDispute(c.UserContext(), engine.Dispute{RepID: id, Period: line.PostedIn, LineID: in.LineID,
		Comments: []engine.DisputeComment{{By: p.Actor(), At: s.now().UTC(), Body: strings.TrimSpace(in.Comment)}}}, p.Actor())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(d)
}

// dispute loads a dispute and applies the pay object rule to its rep.
func (s *Server) dispute(c *fiber.Ctx) (engine.CompStore, engine.Dispute, error) {
	cs, err := s.compStore()
	if err != nil {
		return nil, engine.Dispute{}, err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return nil, engine.Dispute{}, err
	}
	d, err := cs.Dispute(c.UserContext(), id)
	if err != nil {
		return nil, engine.Dispute{}, err
	}
	if !s.canSeePay(principalOf(c), d.RepID) {
		return nil, engine.Dispute{}, game.Errorf(game.EForbidden, "", "you may not read this dispute")
	}
	return cs, d, nil
}

func (s *Server) getDispute(c *fiber.Ctx) error {
	_, d, err := s.dispute(c)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

type commentInput struct {
	Body string `json:"body"`
}

func (s *Server) commentDispute(c *fiber.Ctx) error {
	cs, d, err := s.dispute(c)
	if err != nil {
		return err
	}
	var in commentInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Body) == "" {
		return game.Errorf(game.EMissingField, "body", "write a comment")
	}
	p := principalOf(c)
	d, err = cs.CommentDispute(c.UserContext(), d.ID, engine.DisputeComment{By: p.Actor(), At: s.now().UTC(), Body: strings.TrimSpace(in.Body)}, p.Actor())
	if err != nil {
		return err
	}
	return c.JSON(d)
}

type resolveInput struct {
	Resolution string           `json:"resolution"`
	Adjustment *adjustmentInput `json:"adjustment"`
}

// resolveDispute closes a dispute; an adjustment, when given, is posted in
// the dispute's period, or in the open period when that one is locked.
func (s *Server) resolveDispute(c *fiber.Ctx) error {
	cs, d, err := s.dispute(c)
	if err != nil {
		return err
	}
	var in resolveInput
	if err := decodeMoney(c.Body(), &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Resolution) == "" {
		return game.Errorf(game.EMissingField, "resolution", "say how the dispute was resolved; the rep reads it")
	}
	p := principalOf(c)
	var adj *engine.PayLine
	if in.Adjustment != nil {
		in.Adjustment.Period = d.Period
		if in.Adjustment.Reason == "" {
			in.Adjustment.Reason = in.Resolution
		}
		line, err := cs.PayLine(c.UserContext(), d.LineID)
		if err != nil {
			return err
		}
		l, err := in.Adjustment.line(d.RepID, line.Currency, p.Actor(), s)
		if err != nil {
			return game.PrefixField(err, "adjustment")
		}
		if l.PostedIn, err = s.openPeriod(c, d.RepID, d.Period); err != nil {
			return err
		}
		adj = &l
	}
	d, err = cs.ResolveDispute(c.UserContext(), d.ID, strings.TrimSpace(in.Resolution), adj, p.Actor())
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// openPeriod is where a line for period lands: the period itself, or the
// current one when period's statement is locked.
func (s *Server) openPeriod(c *fiber.Ctx, repID int64, period string) (string, error) {
	cs, err := s.compStore()
	if err != nil {
		return "", err
	}
	st, err := cs.Statement(c.UserContext(), repID, period)
	if err != nil {
		return "", err
	}
	if st.Status != engine.StatementLocked && st.Status != engine.StatementPaid {
		return period, nil
	}
	pp := game.PeriodMonth
	if plan, _, ok := s.e.PlanFor(repID, game.Day(s.now(), s.e.Config().Location)); ok {
		pp = plan.Period
	}
	return pp.Instance(game.Day(s.now(), s.e.Config().Location))
}

func (s *Server) postAdjustment(c *fiber.Ctx) error {
	cs, id, err := s.repComp(c)
	if err != nil {
		return err
	}
	var in adjustmentInput
	if err := decodeMoney(c.Body(), &in); err != nil {
		return err
	}
	if in.Period == "" {
		return game.Errorf(game.EMissingField, "period", "name the period the adjustment is for, such as \"2026-11\"")
	}
	if err := validPeriod("period", in.Period); err != nil {
		return err
	}
	currency := s.e.Config().Currency
	if plan, _, ok := s.e.PlanFor(id, game.Day(s.now(), s.e.Config().Location)); ok {
		currency = plan.Currency
	}
	l, err := in.line(id, currency, principalOf(c).Actor(), s)
	if err != nil {
		return err
	}
	if l.PostedIn, err = s.openPeriod(c, id, in.Period); err != nil {
		return err
	}
	if l, err = cs.AdjustPay(c.UserContext(), l, l.Actor); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(l)
}

// ---- payroll export ----

// payrollRow is one rep and component of a period's payroll.
type payrollRow struct {
	RepID     int64           `json:"rep_id"`
	RepName   string          `json:"rep_name"`
	Component string          `json:"component"`
	Amount    decimal.Decimal `json:"amount"`
	Currency  string          `json:"currency"`
	Status    string          `json:"status"`
	Hash      string          `json:"statement_hash,omitempty"`
}

// payroll exports a period for payroll: one row per rep and component,
// from each rep's statement (its snapshot once locked), so the export and
// the statements agree to the cent. ?format=csv gives CSV.
func (s *Server) payroll(c *fiber.Ctx) error {
	cs, err := s.compStore()
	if err != nil {
		return err
	}
	period := c.Params("period")
	if err := validPeriod("period", period); err != nil {
		return err
	}
	ctx := c.UserContext()
	if err := s.e.ComputePay(ctx); err != nil {
		return err
	}
	lines, err := cs.PayLinesPostedIn(ctx, 0, period)
	if err != nil {
		return err
	}
	var reps []int64
	for _, l := range lines {
		if !slices.Contains(reps, l.RepID) {
			reps = append(reps, l.RepID)
		}
	}
	recs, err := cs.Statements(ctx, period)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if !slices.Contains(reps, r.RepID) {
			reps = append(reps, r.RepID)
		}
	}
	slices.Sort(reps)
	rows := []payrollRow{}
	totals := map[string]decimal.Decimal{}
	for _, id := range reps {
		v, err := s.e.Statement(ctx, id, period)
		if err != nil {
			return err
		}
		comps := make([]string, 0, len(v.Subtotals))
		for name := range v.Subtotals {
			comps = append(comps, name)
		}
		slices.Sort(comps)
		add := func(name string, amount decimal.Decimal) {
			rows = append(rows, payrollRow{RepID: id, RepName: v.RepName, Component: name, Amount: amount, Currency: v.Currency, Status: string(v.Status), Hash: v.Hash})
			totals[v.Currency] = totals[v.Currency].Add(amount)
		}
		for _, name := range comps {
			add(name, v.Subtotals[name])
		}
		if v.Draw != nil && !v.Draw.Payout.IsZero() {
			add("draw", v.Draw.Payout)
		}
	}
	if c.Query("format") == "csv" {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		_ = w.Write([]string{"period", "rep_id", "rep_name", "component", "amount", "currency", "statement_status", "statement_hash"})
		for _, r := range rows {
			_ = w.Write([]string{period, strconv.FormatInt(r.RepID, 10), r.RepName, r.Component, engine.Money(r.Amount, r.Currency).String(), r.Currency, r.Status, r.Hash})
		}
		w.Flush()
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="podium-payroll-`+period+`.csv"`)
		return c.Send(buf.Bytes())
	}
	return c.JSON(fiber.Map{"period": period, "rows": rows, "totals": totals})
}

// decodeMoney decodes a body that carries money: refuseNumbers (numbers
// only under the keys allowed), then decode.
func decodeMoney(body []byte, v any, allowed ...string) error {
	if err := refuseNumbers(body, allowed...); err != nil {
		return err
	}
	return decode(body, v)
}

// repComp returns the comp store and the known rep of the route's :id.
func (s *Server) repComp(c *fiber.Ctx) (engine.CompStore, int64, error) {
	cs, err := s.compStore()
	if err != nil {
		return nil, 0, err
	}
	id, err := s.knownRep(c, "id")
	return cs, id, err
}

// refuseNumbers refuses a JSON number anywhere in body except under the
// keys allowed (ids, counts): money and percentages are decimal strings, so
// that no float ever touches them on the way in.
func refuseNumbers(body []byte, allowed ...string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return jsonError(err)
	}
	var walk func(v any, key, path string) error
	walk = func(v any, key, path string) error {
		switch x := v.(type) {
		case json.Number:
			if !slices.Contains(allowed, key) {
				return game.Errorf(codeBadJSON, path, "%s must be a decimal string such as \"33000.00\" or \"12.5\", not a JSON number", path)
			}
		case map[string]any:
			for k, e := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if err := walk(e, k, p); err != nil {
					return err
				}
			}
		case []any:
			for i, e := range x {
				if err := walk(e, key, path+"["+strconv.Itoa(i)+"]"); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v, "", "")
}
