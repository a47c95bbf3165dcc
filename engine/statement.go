package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"podium/game"
	"podium/game/comp"
)

// StatementView is a rep's statement for a period as people read it: the
// lines it shows, their subtotals per component, the draw, adjustments and
// the total. Until the statement is locked every figure is provisional and
// computed from the pay ledger; from lock on it is the frozen snapshot,
// whose SHA-256 is Hash.
type StatementView struct {
	RepID       int64                      `json:"rep_id"`
	RepName     string                     `json:"rep_name"`
	Period      string                     `json:"period"`
	Status      StatementStatus            `json:"status"`
	Provisional bool                       `json:"provisional"`
	Currency    string                     `json:"currency"`
	PlanID      string                     `json:"plan_id,omitempty"`
	PlanVersion int64                      `json:"plan_version,omitempty"`
	Quota       decimal.Decimal            `json:"quota"`
	Credited    decimal.Decimal            `json:"credited"`
	Attainment  string                     `json:"attainment,omitempty"`
	Lines       []PayLine                  `json:"lines"`
	Subtotals   map[string]decimal.Decimal `json:"subtotals"`   // per component, adjustments included
	Adjustments decimal.Decimal            `json:"adjustments"` // lines of kind adjustment and manual
	Draw        *DrawLine                  `json:"draw,omitempty"`
	Total       decimal.Decimal            `json:"total"`
	Disputes    []Dispute                  `json:"disputes"`
	Next        *comp.Next                 `json:"next,omitempty"` // the next tier or bonus, while the period is open
	Hash        string                     `json:"hash,omitempty"`
	Stamps      map[string]StampInfo       `json:"stamps,omitempty"`
}

// DrawLine is a statement's draw settlement, made when it is locked.
type DrawLine struct {
	Payout     decimal.Decimal `json:"payout"`      // what the draw adds to the period's pay
	CarriedIn  decimal.Decimal `json:"carried_in"`  // recoverable balance owed from earlier periods
	CarriedOut decimal.Decimal `json:"carried_out"` // balance owed after this period
	Text       string          `json:"text"`
}

// PayState returns a rep's plan for a period and the state F reads now.
func (e *Engine) PayState(ctx context.Context, repID int64, period string) (comp.Plan, comp.State, error) {
	if e.comp == nil {
		return comp.Plan{}, comp.State{}, game.Errorf(game.ENotFound, "", "pay is not computed on this server")
	}
	plan, asg, ok := e.planForPeriod(repID, period)
	if !ok {
		return comp.Plan{}, comp.State{}, game.Errorf(game.ENotFound, "period", "rep %d is on no plan in %s", repID, period)
	}
	var s comp.State
	err := e.comp.InCompTx(ctx, func(tx CompTx) error {
		var err error
		s, err = e.payState(ctx, tx, plan, asg, repID, period)
		return err
	})
	return plan, s, err
}

// Statement builds a rep's statement for a period (see StatementView).
func (e *Engine) Statement(ctx context.Context, repID int64, period string) (StatementView, error) {
	if e.comp == nil {
		return StatementView{}, game.Errorf(game.ENotFound, "", "pay is not computed on this server")
	}
	rec, err := e.comp.Statement(ctx, repID, period)
	if err != nil {
		return StatementView{}, err
	}
	if rec.Status == StatementLocked || rec.Status == StatementPaid {
		var v StatementView
		if err := json.Unmarshal(rec.Snapshot, &v); err != nil {
			return StatementView{}, fmt.Errorf("statement snapshot: %w", err)
		}
		v.Status, v.Stamps, v.Hash, v.Provisional = rec.Status, rec.Stamps, rec.Hash, false
		rep, _ := e.Rep(repID)
		v.RepName = rep.Name
		// Disputes go on after lock; their resolutions land in an open period.
		if v.Disputes, err = e.comp.Disputes(ctx, repID, period); err != nil {
			return StatementView{}, err
		}
		if v.Disputes == nil {
			v.Disputes = []Dispute{}
		}
		return v, nil
	}
	v, err := e.liveStatement(ctx, repID, period)
	if err != nil {
		return StatementView{}, err
	}
	v.Status, v.Stamps = rec.Status, rec.Stamps
	return v, nil
}

func (e *Engine) liveStatement(ctx context.Context, repID int64, period string) (StatementView, error) {
	rep, _ := e.Rep(repID)
	v := StatementView{RepID: repID, RepName: rep.Name, Period: period, Provisional: true, Currency: e.cfg.Currency, Subtotals: map[string]decimal.Decimal{}}
	if plan, s, err := e.PayState(ctx, repID, period); err == nil {
		v.PlanID, v.PlanVersion, v.Currency = plan.ID, plan.Version, plan.Currency
		v.Quota, v.Credited = Money(s.Quota, plan.Currency), Money(s.Credited, plan.Currency)
		if s.Quota.IsPositive() {
			v.Attainment = s.Credited.Mul(decimal.NewFromInt(100)).DivRound(s.Quota, 2).StringFixed(2) + " %"
		}
		if next, err := comp.NextStep(plan, s); err == nil {
			v.Next = next
		}
	} else if game.AsError(err) == nil {
		return StatementView{}, err
	}
	lines, err := e.comp.PayLinesPostedIn(ctx, repID, period)
	if err != nil {
		return StatementView{}, err
	}
	v.Lines = lines
	if v.Lines == nil {
		v.Lines = []PayLine{}
	}
	for i := range v.Lines {
		v.Lines[i].Amount = Money(v.Lines[i].Amount, v.Lines[i].Currency)
	}
	for _, l := range v.Lines {
		v.Subtotals[l.Component] = v.Subtotals[l.Component].Add(l.Amount)
		if l.Kind == "adjustment" || l.Kind == "manual" {
			v.Adjustments = v.Adjustments.Add(l.Amount)
		}
		v.Total = v.Total.Add(l.Amount)
		if v.Currency == "" {
			v.Currency = l.Currency
		}
	}
	if v.Disputes, err = e.comp.Disputes(ctx, repID, period); err != nil {
		return StatementView{}, err
	}
	if v.Disputes == nil {
		v.Disputes = []Dispute{}
	}
	v.Total, v.Adjustments = Money(v.Total, v.Currency), Money(v.Adjustments, v.Currency)
	for k, a := range v.Subtotals {
		v.Subtotals[k] = Money(a, v.Currency)
	}
	return v, nil
}

// MoveStatement moves a rep's statement one step along draft → manager
// approved → finance approved → locked → paid. Locking settles the draw,
// freezes the statement as a snapshot and stores its SHA-256: its figures
// never change afterwards, and later corrections land in the open period.
func (e *Engine) MoveStatement(ctx context.Context, repID int64, period string, to StatementStatus, by game.Actor) (StatementView, error) {
	order := []StatementStatus{StatementDraft, StatementManagerApproved, StatementFinanceApproved, StatementLocked, StatementPaid}
	i := slices.Index(order, to)
	if i <= 0 {
		return StatementView{}, game.Errorf(game.EInvalid, "status", "a statement moves to manager_approved, finance_approved, locked or paid")
	}
	// Finish any pending computation first, so the statement is current.
	if err := e.ComputePay(ctx); err != nil {
		return StatementView{}, err
	}
	rec, err := e.comp.Statement(ctx, repID, period)
	if err != nil {
		return StatementView{}, err
	}
	from := order[i-1]
	if rec.Status != from {
		return StatementView{}, game.Errorf(game.EConflict, "status", "this statement is %s; it must be %s to become %s", rec.Status, from, to)
	}
	next := Statement{RepID: repID, Period: period, Status: to}
	if to == StatementLocked {
		v, err := e.liveStatement(ctx, repID, period)
		if err != nil {
			return StatementView{}, err
		}
		if err := e.settleDraw(ctx, &v, repID, period); err != nil {
			return StatementView{}, err
		}
		// The frozen record holds figures, not personal data: the name is
		// filled in when the statement is read, so an erasure reaches it.
		v.Status, v.Provisional, v.Stamps, v.RepName, v.Next = StatementLocked, false, nil, "", nil
		snap, err := json.Marshal(v)
		if err != nil {
			return StatementView{}, err
		}
		sum := sha256.Sum256(snap)
		next.Snapshot, next.Hash = snap, hex.EncodeToString(sum[:])
	}
	if _, err := e.comp.MoveStatement(ctx, next, from, by); err != nil {
		return StatementView{}, err
	}
	return e.Statement(ctx, repID, period)
}

// settleDraw applies the plan's draw, if any, to a statement being locked:
// the earned total is compared with the draw and the recoverable balance
// carried from the previous period's locked statement.
func (e *Engine) settleDraw(ctx context.Context, v *StatementView, repID int64, period string) error {
	plan, _, ok := e.planForPeriod(repID, period)
	if !ok || !slices.ContainsFunc(plan.Components, func(c comp.Component) bool { return c.Kind == comp.KindDraw }) {
		return nil
	}
	carriedIn := decimal.Zero
	if prev, err := previousInstance(plan.Period, period); err == nil {
		rec, err := e.comp.Statement(ctx, repID, prev)
		if err != nil {
			return err
		}
		if len(rec.Snapshot) > 0 {
			var pv StatementView
			if json.Unmarshal(rec.Snapshot, &pv) == nil && pv.Draw != nil {
				carriedIn = pv.Draw.CarriedOut
			}
		}
	}
	payout, carriedOut, line, err := comp.SettleDraw(plan, v.Total, carriedIn)
	if err != nil {
		return err
	}
	v.Draw = &DrawLine{Payout: Money(payout, plan.Currency), CarriedIn: Money(carriedIn, plan.Currency), CarriedOut: Money(carriedOut, plan.Currency), Text: line.Trace.Text}
	v.Total = Money(v.Total.Add(payout), plan.Currency)
	return nil
}

// previousInstance returns the period instance before instance.
func previousInstance(p game.Period, instance string) (string, error) {
	first, _, err := comp.PeriodDays(p, instance)
	if err != nil {
		return "", err
	}
	d, err := time.Parse(game.DayLayout, first)
	if err != nil {
		return "", err
	}
	return p.Instance(d.AddDate(0, 0, -1).Format(game.DayLayout))
}

// MarkPay marks a rep's plan period for computation and wakes the worker.
func (e *Engine) MarkPay(ctx context.Context, repID int64, period string) error {
	if err := e.comp.MarkCompWork(ctx, CompWork{RepID: repID, Period: period, EventKey: "recompute"}); err != nil {
		return err
	}
	e.wakeComp()
	return nil
}

// MarkPlan marks every period, from the version's first day to today, of
// every rep the plan pays, after a plan version or an assignment changed.
func (e *Engine) MarkPlan(ctx context.Context, planID string) error {
	e.compMu.RLock()
	c := e.compCfg
	e.compMu.RUnlock()
	if c == nil {
		return nil
	}
	today := game.Day(e.cfg.Now(), e.cfg.Location)
	reps, err := e.store.ListReps(ctx)
	if err != nil {
		return fmt.Errorf("mark plan %s: %w", planID, err)
	}
	for _, a := range c.assignments {
		if a.PlanID != planID {
			continue
		}
		for _, r := range reps {
			if a.RepID != r.ID && (a.RepID != 0 || a.TeamID != r.TeamID) {
				continue
			}
			from, to := a.From, today
			if a.To != "" && a.To < to {
				to = a.To
			}
			for _, p := range c.plans[planID] {
				if p.EffectiveFrom > to || (p.EffectiveTo != "" && p.EffectiveTo < from) {
					continue
				}
				for day := max(from, p.EffectiveFrom); day <= to; {
					inst, err := p.Period.Instance(day)
					if err != nil {
						return err
					}
					if err := e.comp.MarkCompWork(ctx, CompWork{RepID: r.ID, Period: inst, EventKey: "plan:" + planID}); err != nil {
						return err
					}
					_, last, err := comp.PeriodDays(p.Period, inst)
					if err != nil {
						return err
					}
					d, _ := time.Parse(game.DayLayout, last)
					day = d.AddDate(0, 0, 1).Format(game.DayLayout)
				}
			}
		}
	}
	e.wakeComp()
	return nil
}
