package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"podium/engine"
	"podium/game"
	"podium/game/comp"
)

// This file is engine.CompStore's configuration: plan versions, who is on
// which plan, quotas and exchange rates. pay.go has the pay ledger and
// statements, dispute.go the disputes, comptx.go the pay work and the pay
// computation's transaction. Every change goes through s.audited and
// appends its entry there, as the directory's do.

var _ engine.CompStore = (*Store)(nil)

// PutPlan stores a new plan version: the plan whole, as json.Marshal gives
// it, with its id, version and days as columns. The caller has validated
// it (comp.ValidateVersions); a version already stored is EConflict on
// "version". Audit: "plan.create" on "plan:<id>@<version>", the plan as
// after.
func (s *Store) PutPlan(ctx context.Context, p comp.Plan, by game.Actor) error {
	if p.ID == "" {
		return game.Errorf(game.EMissingField, "id", "a plan needs an id")
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("plan %s@%d: %w", p.ID, p.Version, err)
	}
	return s.audited(ctx, func(q Querier) error {
		_, err := q.Exec(ctx,
			`INSERT INTO comp_plans (id, version, effective_from, effective_to, body, created_at, created_by)
			 VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			p.ID, p.Version, p.EffectiveFrom, nullText(p.EffectiveTo), string(body), micros(s.now()), string(by))
		switch {
		case err != nil && s.d.IsUniqueViolation(err):
			return game.Errorf(game.EConflict, "version", "plan %q already has a version %d; a correction is a new version", p.ID, p.Version)
		case err != nil:
			return fmt.Errorf("store plan %s@%d: %w", p.ID, p.Version, err)
		}
		return s.record(ctx, q, by, "plan.create", planObject(p), nil, json.RawMessage(body))
	})
}

func planObject(p comp.Plan) string {
	return "plan:" + p.ID + "@" + strconv.FormatInt(p.Version, 10)
}

// Plans returns every version of every plan, by id (byte order, the same
// in both databases) then version.
func (s *Store) Plans(ctx context.Context) ([]comp.Plan, error) {
	out, err := queryAll(ctx, s.db.Reader(), func(row Row) (comp.Plan, error) {
		var (
			p    comp.Plan
			body []byte
		)
		if err := row.Scan(&body); err != nil {
			return p, err
		}
		err := json.Unmarshal(body, &p)
		return p, err
	}, `SELECT body FROM comp_plans`)
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	slices.SortFunc(out, func(a, b comp.Plan) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Version, b.Version))
	})
	return out, nil
}

// checkDay refuses a day that is not "YYYY-MM-DD": days are compared as
// text, which orders them only in that form.
func checkDay(day, field string) error {
	if t, err := time.Parse(time.DateOnly, day); err != nil || t.Format(time.DateOnly) != day {
		return game.Errorf(game.EInvalid, field, "%s %q is not a day such as 2026-11-01", field, day)
	}
	return nil
}

// PutAssignment stores who is on a plan from a day to a day and returns it
// with its id. It names a rep or a team, exactly one (EInvalid on
// "rep_id"); the plan (EInvalid "plan_id"), the rep, the team and the
// override teams must exist (EInvalid on their field); From is a day
// (EMissingField, EInvalid) and To, when set, a day not before it (EInvalid
// "to"). Days overlapping another assignment of the same rep or team are
// EConflict on "from". The checks run under the audit lock, so no other
// assignment can slip in before this one commits. Audit:
// "assignment.create" on "assignment:<id>".
func (s *Store) PutAssignment(ctx context.Context, a engine.Assignment, by game.Actor) (engine.Assignment, error) {
	a.ID = 0
	switch {
	case (a.RepID == 0) == (a.TeamID == 0):
		return engine.Assignment{}, game.Errorf(game.EInvalid, "rep_id", "an assignment names a rep or a team, exactly one")
	case a.PlanID == "":
		return engine.Assignment{}, game.Errorf(game.EMissingField, "plan_id", "an assignment needs a plan")
	case a.From == "":
		return engine.Assignment{}, game.Errorf(game.EMissingField, "from", "an assignment needs its first day")
	}
	if err := checkDay(a.From, "from"); err != nil {
		return engine.Assignment{}, err
	}
	if a.To != "" {
		if err := checkDay(a.To, "to"); err != nil {
			return engine.Assignment{}, err
		}
		if a.To < a.From {
			return engine.Assignment{}, game.Errorf(game.EInvalid, "to", "the last day %s is before the first day %s", a.To, a.From)
		}
	}
	overrides, err := json.Marshal(nonNil(a.OverrideTeams))
	if err != nil {
		return engine.Assignment{}, fmt.Errorf("assignment override teams: %w", err)
	}
	err = s.audited(ctx, func(q Querier) error {
		if err := checkAssignment(ctx, q, a); err != nil {
			return err
		}
		err := q.QueryRow(ctx,
			`INSERT INTO comp_assignments (plan_id, rep_id, team_id, from_day, to_day, override_teams, created_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			a.PlanID, nullID(a.RepID), nullID(a.TeamID), a.From, nullText(a.To), string(overrides),
			micros(s.now())).Scan(&a.ID)
		if err != nil {
			return fmt.Errorf("store assignment: %w", err)
		}
		return s.record(ctx, q, by, "assignment.create", object("assignment", a.ID), nil, a)
	})
	if err != nil {
		return engine.Assignment{}, err
	}
	return a, nil
}

// checkAssignment checks what an assignment names exists and that it
// overlaps no other of the same rep or team.
func checkAssignment(ctx context.Context, q Querier, a engine.Assignment) error {
	checks := []struct {
		field, what, query string
		arg                any
	}{
		{"plan_id", "plan " + strconv.Quote(a.PlanID), `SELECT 1 FROM comp_plans WHERE id = $1 LIMIT 1`, a.PlanID},
		{"rep_id", "rep " + strconv.FormatInt(a.RepID, 10), `SELECT 1 FROM reps WHERE id = $1`, a.RepID},
		{"team_id", "team " + strconv.FormatInt(a.TeamID, 10), `SELECT 1 FROM teams WHERE id = $1`, a.TeamID},
	}
	for _, id := range a.OverrideTeams {
		checks = append(checks, struct {
			field, what, query string
			arg                any
		}{"override_teams", "override team " + strconv.FormatInt(id, 10), `SELECT 1 FROM teams WHERE id = $1`, id})
	}
	for _, c := range checks {
		if c.arg == int64(0) {
			continue // the rep or the team the assignment does not name
		}
		ok, err := exists(ctx, q, c.query, c.arg)
		if err != nil {
			return fmt.Errorf("check assignment: %w", err)
		}
		if !ok {
			return game.Errorf(game.EInvalid, c.field, "%s does not exist", c.what)
		}
	}
	// Two ranges overlap when each starts on or before the other ends; an
	// open end is after every day.
	col, id, whose := "rep_id", a.RepID, "rep"
	if a.TeamID != 0 {
		col, id, whose = "team_id", a.TeamID, "team"
	}
	var other engine.Assignment
	var to *string
	err := q.QueryRow(ctx,
		`SELECT id, plan_id, from_day, to_day FROM comp_assignments
		  WHERE `+col+` = $1 AND (to_day IS NULL OR to_day >= $2) AND ($3 = '' OR from_day <= $3)
		  ORDER BY from_day LIMIT 1`,
		id, a.From, a.To).Scan(&other.ID, &other.PlanID, &other.From, &to)
	switch {
	case errors.Is(err, ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check assignment overlap: %w", err)
	}
	until := "on"
	if to != nil {
		until = "to " + *to
	}
	return game.Errorf(game.EConflict, "from", "the %s is already on plan %q from %s %s (assignment %d); end that one first",
		whose, other.PlanID, other.From, until, other.ID)
}

// Assignments returns every assignment, by id.
func (s *Store) Assignments(ctx context.Context) ([]engine.Assignment, error) {
	out, err := queryAssignments(ctx, s.db.Reader(), `ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list assignments: %w", err)
	}
	return out, nil
}

// EndAssignment sets the last day of an assignment (the rep leaves the plan,
// or the team moves to another). It only ends an assignment earlier: a
// longer one could overlap the next, so that is a new assignment.
// ENotFound for an unknown id; EInvalid on "to" for a day before the first
// or after the current last. Audit: "assignment.end".
func (s *Store) EndAssignment(ctx context.Context, id int64, to string, by game.Actor) (engine.Assignment, error) {
	if err := checkDay(to, "to"); err != nil {
		return engine.Assignment{}, err
	}
	var after engine.Assignment
	err := s.audited(ctx, func(q Querier) error {
		found, err := queryAssignments(ctx, q, `WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("read assignment %d: %w", id, err)
		}
		if len(found) == 0 {
			return game.Errorf(game.ENotFound, "id", "assignment %d does not exist", id)
		}
		before := found[0]
		switch {
		case to < before.From:
			return game.Errorf(game.EInvalid, "to", "the last day %s is before the first day %s", to, before.From)
		case before.To != "" && to > before.To:
			return game.Errorf(game.EInvalid, "to", "assignment %d already ends on %s; to extend it, create a new assignment from the next day", id, before.To)
		}
		if _, err := q.Exec(ctx, `UPDATE comp_assignments SET to_day = $1 WHERE id = $2`, to, id); err != nil {
			return fmt.Errorf("end assignment %d: %w", id, err)
		}
		after = before
		after.To = to
		return s.record(ctx, q, by, "assignment.end", object("assignment", id), before, after)
	})
	if err != nil {
		return engine.Assignment{}, err
	}
	return after, nil
}

// queryAssignments reads the assignments a clause (WHERE …, ORDER BY …)
// selects.
func queryAssignments(ctx context.Context, q Querier, clause string, args ...any) ([]engine.Assignment, error) {
	return queryAll(ctx, q, func(row Row) (engine.Assignment, error) {
		var (
			a         engine.Assignment
			to        *string
			overrides []byte
		)
		if err := row.Scan(&a.ID, &a.PlanID, &a.RepID, &a.TeamID, &a.From, &to, &overrides); err != nil {
			return a, err
		}
		if to != nil {
			a.To = *to
		}
		if err := unmarshal(overrides, &a.OverrideTeams); err != nil {
			return a, fmt.Errorf("assignment %d override teams: %w", a.ID, err)
		}
		if len(a.OverrideTeams) == 0 {
			a.OverrideTeams = nil
		}
		return a, nil
	}, `SELECT id, plan_id, COALESCE(rep_id, 0), COALESCE(team_id, 0), from_day, to_day, override_teams
	      FROM comp_assignments `+clause, args...)
}

const quotaColumns = `rep_id, period, instance, amount, currency`

func scanQuota(row Row) (comp.Quota, error) {
	var (
		q      comp.Quota
		period string
	)
	err := row.Scan(&q.RepID, &period, &q.Instance, &q.Amount, &q.Currency)
	q.Period = game.Period(period)
	return q, err
}

// loadQuota returns a rep's quota for a period instance; ok is false when
// none is set.
func loadQuota(ctx context.Context, q Querier, repID int64, period game.Period, instance string) (comp.Quota, bool, error) {
	quota, err := scanQuota(q.QueryRow(ctx,
		`SELECT `+quotaColumns+` FROM quotas WHERE rep_id = $1 AND period = $2 AND instance = $3`,
		repID, string(period), instance))
	switch {
	case errors.Is(err, ErrNoRows):
		return comp.Quota{}, false, nil
	case err != nil:
		return comp.Quota{}, false, fmt.Errorf("load quota of rep %d for %s: %w", repID, instance, err)
	}
	return quota, true, nil
}

// PutQuota sets (or replaces) a rep's quota for a period instance, after
// comp.Quota.Validate; an unknown rep is EInvalid "rep_id". Audit:
// "quota.set" on "quota:<rep>:<period>:<instance>", with the quota it
// replaced as before.
func (s *Store) PutQuota(ctx context.Context, quota comp.Quota, by game.Actor) error {
	if err := quota.Validate(); err != nil {
		return err
	}
	return s.audited(ctx, func(q Querier) error {
		ok, err := exists(ctx, q, `SELECT 1 FROM reps WHERE id = $1`, quota.RepID)
		if err != nil {
			return fmt.Errorf("check rep: %w", err)
		}
		if !ok {
			return game.Errorf(game.EInvalid, "rep_id", "rep %d does not exist", quota.RepID)
		}
		old, had, err := loadQuota(ctx, q, quota.RepID, quota.Period, quota.Instance)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx,
			`INSERT INTO quotas (`+quotaColumns+`) VALUES ($1, $2, $3, $4, $5)
			 ON CONFLICT (rep_id, period, instance) DO UPDATE SET amount = excluded.amount, currency = excluded.currency`,
			quota.RepID, string(quota.Period), quota.Instance, decimalText(quota.Amount), quota.Currency); err != nil {
			return fmt.Errorf("store quota of rep %d for %s: %w", quota.RepID, quota.Instance, err)
		}
		var before any
		if had {
			before = old
		}
		obj := object("quota", quota.RepID) + ":" + string(quota.Period) + ":" + quota.Instance
		return s.record(ctx, q, by, "quota.set", obj, before, quota)
	})
}

// Quotas returns a rep's quotas (repID 0: everyone's), by rep, period and
// instance.
func (s *Store) Quotas(ctx context.Context, repID int64) ([]comp.Quota, error) {
	query, args := `SELECT `+quotaColumns+` FROM quotas`, []any(nil)
	if repID != 0 {
		query, args = query+` WHERE rep_id = $1`, []any{repID}
	}
	out, err := queryAll(ctx, s.db.Reader(), scanQuota, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list quotas: %w", err)
	}
	slices.SortFunc(out, func(a, b comp.Quota) int {
		return cmp.Or(cmp.Compare(a.RepID, b.RepID), cmp.Compare(a.Period, b.Period), cmp.Compare(a.Instance, b.Instance))
	})
	return out, nil
}

// PutRate sets (or replaces) the exchange rate from one currency to another
// from a day on. Both currencies must be supported and differ, the day be
// a day and the rate positive (comp.NewRates' checks). Audit: "rate.set"
// on "rate:<from>/<to>@<day>", with the rate it replaced as before.
func (s *Store) PutRate(ctx context.Context, r comp.Rate, by game.Actor) error {
	if _, err := comp.NewRates([]comp.Rate{r}); err != nil {
		if e := game.AsError(err); e != nil {
			// One rate, so not "[0].rate" but "rate".
			return game.Errorf(e.Code, trimIndex(e.Field), "%s", e.Message)
		}
		return err
	}
	return s.audited(ctx, func(q Querier) error {
		var (
			old comp.Rate
			had = true
		)
		err := q.QueryRow(ctx,
			`SELECT from_ccy, to_ccy, day, rate FROM fx_rates WHERE from_ccy = $1 AND to_ccy = $2 AND day = $3`,
			r.From, r.To, r.Day).Scan(&old.From, &old.To, &old.Day, &old.Rate)
		switch {
		case errors.Is(err, ErrNoRows):
			had = false
		case err != nil:
			return fmt.Errorf("load rate %s/%s on %s: %w", r.From, r.To, r.Day, err)
		}
		if _, err := q.Exec(ctx,
			`INSERT INTO fx_rates (from_ccy, to_ccy, day, rate) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (from_ccy, to_ccy, day) DO UPDATE SET rate = excluded.rate`,
			r.From, r.To, r.Day, decimalText(r.Rate)); err != nil {
			return fmt.Errorf("store rate %s/%s on %s: %w", r.From, r.To, r.Day, err)
		}
		var before any
		if had {
			before = old
		}
		return s.record(ctx, q, by, "rate.set", "rate:"+r.From+"/"+r.To+"@"+r.Day, before, r)
	})
}

// trimIndex drops the "[0]." prefix comp.NewRates puts on its fields.
func trimIndex(field string) string {
	if rest, ok := strings.CutPrefix(field, "[0]."); ok {
		return rest
	}
	return field
}

// Rates returns every exchange rate, by pair then day.
func (s *Store) Rates(ctx context.Context) ([]comp.Rate, error) {
	out, err := queryAll(ctx, s.db.Reader(), func(row Row) (comp.Rate, error) {
		var r comp.Rate
		err := row.Scan(&r.From, &r.To, &r.Day, &r.Rate)
		return r, err
	}, `SELECT from_ccy, to_ccy, day, rate FROM fx_rates`)
	if err != nil {
		return nil, fmt.Errorf("list rates: %w", err)
	}
	slices.SortFunc(out, func(a, b comp.Rate) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Day, b.Day))
	})
	return out, nil
}
