package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"podium/game"
	"podium/game/comp"
)

// Pay is computed as F(period state) − posted, per rep and plan period, by a
// worker that follows the ingest pipeline:
//
//  1. An ingest transaction that credits revenue to a rep on a plan marks
//     the rep's period (Tx.AddCompWork), in the same commit as the credit.
//  2. The pay worker claims marked periods (ClaimCompWork; several nodes
//     share the work), and in one transaction locks the rep's period, reads
//     the credits from the revenue ledger, the quota and what was posted,
//     and appends comp.Adjust's lines (each with its trace) to the pay
//     ledger, with the commission and attainment board rows and an outbox
//     effect that pushes the earnings to the rep's channel.
//  3. The effect is applied like an ingest's; a crash before apply is
//     redone by the outbox relay, and a crash before commit leaves the mark,
//     claimable again after a minute.
//
// Because each computation posts round(F(state)) − posted, running it twice
// posts nothing the second time, and corrections (an amount edited, a deal
// lost, a late deal, a corrected plan) need no special case.

// chanComp is the bus channel that tells every node to reload plans,
// assignments and exchange rates.
const chanComp = "_comp"

// compCache is what every node keeps of the comp configuration.
type compCache struct {
	plans       map[string][]comp.Plan // by id, versions in order, as stored
	effective   map[string][]comp.Plan // by id: EffectiveVersions of plans
	assignments []Assignment
	rates       comp.Rates
}

// UseComp turns pay computation on with cs as its store. Call it before
// Start.
func (e *Engine) UseComp(cs CompStore) {
	e.comp = cs
	e.compWake = make(chan struct{}, 1)
}

// Comp returns the comp store, nil when pay is not computed.
func (e *Engine) Comp() CompStore { return e.comp }

func (e *Engine) loadComp(ctx context.Context) error {
	if e.comp == nil {
		return nil
	}
	// Loads overlap (a change here, a notice from another node); one that
	// started later read newer data, so an earlier one finishing after it
	// must not overwrite it.
	gen := e.compGen.Add(1)
	plans, err := e.comp.Plans(ctx)
	if err != nil {
		return fmt.Errorf("load plans: %w", err)
	}
	as, err := e.comp.Assignments(ctx)
	if err != nil {
		return fmt.Errorf("load plan assignments: %w", err)
	}
	rs, err := e.comp.Rates(ctx)
	if err != nil {
		return fmt.Errorf("load exchange rates: %w", err)
	}
	rates, err := comp.NewRates(rs)
	if err != nil {
		return fmt.Errorf("exchange rates: %w", err)
	}
	c := &compCache{plans: map[string][]comp.Plan{}, effective: map[string][]comp.Plan{}, assignments: as, rates: rates}
	for _, p := range plans {
		c.plans[p.ID] = append(c.plans[p.ID], p)
	}
	for id, vs := range c.plans {
		slices.SortFunc(vs, func(a, b comp.Plan) int { return int(a.Version - b.Version) })
		c.effective[id] = EffectiveVersions(vs)
	}
	e.compMu.Lock()
	if gen > e.compLoaded {
		e.compCfg, e.compLoaded = c, gen
	}
	e.compMu.Unlock()
	return nil
}

// CompChanged reloads the comp configuration here and on every other node,
// after plans, assignments or rates changed.
func (e *Engine) CompChanged(ctx context.Context) error {
	if err := e.loadComp(ctx); err != nil {
		return err
	}
	if _, err := e.bus.Publish(ctx, chanComp, []byte(`{}`)); err != nil {
		e.log.Warn("publish comp change", "err", err)
	}
	return nil
}

// Plans returns every plan version the node knows, by id and version.
func (e *Engine) Plans() []comp.Plan {
	e.compMu.RLock()
	defer e.compMu.RUnlock()
	var out []comp.Plan
	if e.compCfg == nil {
		return nil
	}
	for _, vs := range e.compCfg.plans {
		out = append(out, vs...)
	}
	slices.SortFunc(out, func(a, b comp.Plan) int {
		if a.ID != b.ID {
			if a.ID < b.ID {
				return -1
			}
			return 1
		}
		return int(a.Version - b.Version)
	})
	return out
}

// PlanVersions returns the stored versions of one plan.
func (e *Engine) PlanVersions(id string) []comp.Plan {
	e.compMu.RLock()
	defer e.compMu.RUnlock()
	if e.compCfg == nil {
		return nil
	}
	return slices.Clone(e.compCfg.plans[id])
}

// PlanFor returns the plan version in effect for a rep on a day
// ("YYYY-MM-DD") and the assignment that puts them on it: the rep's own
// assignment covering the day, else their team's.
func (e *Engine) PlanFor(repID int64, day string) (comp.Plan, Assignment, bool) {
	e.compMu.RLock()
	c := e.compCfg
	e.compMu.RUnlock()
	if c == nil {
		return comp.Plan{}, Assignment{}, false
	}
	rep, _ := e.Rep(repID)
	covers := func(a Assignment) bool { return a.From <= day && (a.To == "" || day <= a.To) }
	var found *Assignment
	for i, a := range c.assignments {
		if a.RepID == repID && covers(a) {
			found = &c.assignments[i]
			break
		}
	}
	if found == nil && rep.TeamID != 0 {
		for i, a := range c.assignments {
			if a.TeamID == rep.TeamID && covers(a) {
				found = &c.assignments[i]
				break
			}
		}
	}
	if found == nil {
		return comp.Plan{}, Assignment{}, false
	}
	if p, err := comp.PlanFor(c.effective[found.PlanID], day); err == nil {
		return p, *found, true
	}
	return comp.Plan{}, Assignment{}, false
}

// EffectiveVersions returns what each version of a plan governs: versions
// apply in version order, each from its first day on, so a later version
// supersedes the earlier ones from that day (a correction with the same
// first day replaces a version outright; a new version from January ends
// the previous one on December 31). versions must be in version order.
func EffectiveVersions(versions []comp.Plan) []comp.Plan {
	var out []comp.Plan
	for _, v := range versions {
		kept := out[:0:0]
		for _, o := range out {
			if o.EffectiveFrom >= v.EffectiveFrom {
				continue // superseded from its first day
			}
			if o.EffectiveTo == "" || o.EffectiveTo >= v.EffectiveFrom {
				d, _ := time.Parse(game.DayLayout, v.EffectiveFrom)
				o.EffectiveTo = d.AddDate(0, 0, -1).Format(game.DayLayout)
			}
			kept = append(kept, o)
		}
		out = append(kept, v)
	}
	return out
}

// planForPeriod returns the plan of a rep for a plan period instance: the
// one in effect on the period's last day, or on its first.
func (e *Engine) planForPeriod(repID int64, period string) (comp.Plan, Assignment, bool) {
	for _, p := range []game.Period{game.PeriodMonth, game.PeriodQuarter, game.PeriodYear} {
		if !p.ValidInstance(period) {
			continue
		}
		first, last, err := comp.PeriodDays(p, period)
		if err != nil {
			continue
		}
		for _, day := range []string{last, first} {
			if plan, a, ok := e.PlanFor(repID, day); ok && plan.Period == p {
				return plan, a, true
			}
		}
	}
	return comp.Plan{}, Assignment{}, false
}

// markCompWork marks, in the ingest transaction, the plan periods of the
// reps (and overriding managers) that an event's revenue entries credit.
func (e *Engine) markCompWork(ctx context.Context, tx Tx, eventKey string, entries []game.LedgerEntry) (bool, error) {
	if e.comp == nil {
		return false, nil
	}
	type rp struct {
		rep    int64
		period string
	}
	seen := map[rp]bool{}
	mark := func(rep int64, day string) error {
		p, _, ok := e.PlanFor(rep, day)
		if !ok {
			return nil
		}
		inst, err := p.Period.Instance(day)
		if err != nil || seen[rp{rep, inst}] {
			return err
		}
		seen[rp{rep, inst}] = true
		return tx.AddCompWork(ctx, CompWork{RepID: rep, Period: inst, EventKey: eventKey})
	}
	e.compMu.RLock()
	c := e.compCfg
	e.compMu.RUnlock()
	// The teams each overriding manager is paid on, worked out once per
	// event rather than once per entry.
	var overrides []Assignment
	var under []map[int64]bool
	if c != nil {
		for _, a := range c.assignments {
			if a.RepID != 0 && len(a.OverrideTeams) > 0 {
				overrides = append(overrides, a)
				under = append(under, e.TeamsUnder(a.OverrideTeams))
			}
		}
	}
	for _, en := range entries {
		if en.Metric != game.MetricRevenue {
			continue
		}
		if err := mark(en.RepID, en.Day); err != nil {
			return false, err
		}
		for i, a := range overrides {
			if en.TeamID != 0 && under[i][en.TeamID] {
				if err := mark(a.RepID, en.Day); err != nil {
					return false, err
				}
			}
		}
	}
	return len(seen) > 0, nil
}

// wakeComp tells the pay worker there is work, without waiting.
func (e *Engine) wakeComp() {
	if e.compWake == nil {
		return
	}
	select {
	case e.compWake <- struct{}{}:
	default:
	}
}

// compLoop computes marked pay periods as soon as an ingest marks them,
// and every few seconds for work another node marked or a crashed node
// left claimed.
func (e *Engine) compLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.CompPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.compWake:
		case <-t.C:
		}
		if err := e.ComputePay(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("compute pay; will retry", "err", err)
		}
	}
}

// ComputePay computes every marked pay period, until none is left.
func (e *Engine) ComputePay(ctx context.Context) error {
	if e.comp == nil {
		return nil
	}
	for {
		work, err := e.comp.ClaimCompWork(ctx, 64)
		if err != nil {
			return err
		}
		if len(work) == 0 {
			return nil
		}
		// One rep's failure (the database hiccuped) does not hold up the
		// others: their work is done, theirs is claimable again in a minute.
		var first error
		for _, w := range work {
			if err := e.computeOne(ctx, w); err != nil && first == nil {
				first = fmt.Errorf("pay of rep %d for %s: %w", w.RepID, w.Period, err)
			}
		}
		if first != nil {
			return first
		}
	}
}

// Earnings is what the rep's channel receives when their pay moved.
type Earnings struct {
	Kind        string          `json:"kind"`      // "earnings"
	Period      string          `json:"period"`    // the pay period the change belongs to
	PostedIn    string          `json:"posted_in"` // the statement that shows it: Period, or the open period when Period is locked
	Currency    string          `json:"currency"`
	Earned      decimal.Decimal `json:"earned"`      // what this change added (negative: took back)
	Total       decimal.Decimal `json:"total"`       // the period's pay so far
	Provisional bool            `json:"provisional"` // true until the statement is locked
	Attainment  string          `json:"attainment,omitempty"`
	Lines       []EarningLine   `json:"lines"`
	Next        *comp.Next      `json:"next,omitempty"` // the next tier or bonus and the credit it takes
}

// EarningLine is one line of an earnings message.
type EarningLine struct {
	ID        int64           `json:"id"` // the pay line's id
	Component string          `json:"component"`
	Amount    decimal.Decimal `json:"amount"`
	Text      string          `json:"text"`
}

func (e *Engine) computeOne(ctx context.Context, w CompWork) error {
	e.ingestMu.RLock()
	defer e.ingestMu.RUnlock()
	plan, asg, ok := e.planForPeriod(w.RepID, w.Period)
	var eff *effect
	err := e.comp.InCompTx(ctx, func(tx CompTx) error {
		eff = nil
		if !ok {
			// Unassigned since the mark: nothing is owed by a plan.
			return tx.DoneCompWork(ctx, w.RepID, w.Period, w.ClaimedAt)
		}
		if err := tx.LockPay(ctx, w.RepID, w.Period); err != nil {
			return err
		}
		state, err := e.payState(ctx, tx, plan, asg, w.RepID, w.Period)
		if game.AsError(err) != nil {
			// Not computable yet (an exchange rate is missing): nothing is
			// posted; setting the rate marks the plan's periods again.
			e.log.Warn("pay not computed", "rep", w.RepID, "period", w.Period, "err", err)
			return tx.DoneCompWork(ctx, w.RepID, w.Period, w.ClaimedAt)
		}
		if err != nil {
			return err
		}
		posted, err := tx.Posted(ctx, w.RepID, w.Period)
		if err != nil {
			return err
		}
		lines, err := comp.Adjust(plan, posted, state)
		if err != nil {
			if game.AsError(err) != nil {
				// The plan cannot be computed for this state (no quota for a
				// plan that needs one): nothing is posted until it can be.
				e.log.Warn("pay not computed", "rep", w.RepID, "period", w.Period, "err", err)
				return tx.DoneCompWork(ctx, w.RepID, w.Period, w.ClaimedAt)
			}
			return err
		}
		last, hadLast, err := tx.LastState(ctx, w.RepID, w.Period)
		if err != nil {
			return err
		}
		explained := map[string]comp.Line{}
		from := last
		if !hadLast {
			from = comp.State{Quota: state.Quota}
		}
		// An ordinary event: Post tells which tiers the credit crossed.
		// Where Post and Adjust agree its line is used; otherwise (the plan
		// was corrected, rounding drifted, a quota changed) Adjust's
		// true-up is, as an adjustment.
		if post, err := comp.Post(plan, from, state); err == nil {
			for _, l := range post {
				explained[l.Component] = l
			}
		}
		status, err := tx.StatementStatus(ctx, w.RepID, w.Period)
		if err != nil {
			return err
		}
		now := e.cfg.Now().UTC()
		postedIn := w.Period
		if status == StatementLocked || status == StatementPaid {
			// A locked period takes no rows: the correction is shown in the
			// open period, labelled with the one it corrects.
			postedIn, err = plan.Period.Instance(game.Day(now, e.cfg.Location))
			if err != nil {
				return err
			}
		}
		var pay []PayLine
		earned := decimal.Zero
		for _, l := range lines {
			if l.Amount.IsZero() {
				continue
			}
			kind := "adjustment"
			if p, ok := explained[l.Component]; ok && p.Amount.Equal(l.Amount) {
				l, kind = p, "earned"
			}
			if postedIn != w.Period {
				kind = "adjustment"
				l.Trace.Text += " (correction of " + PeriodLabel(w.Period) + ", which is locked)"
			}
			trace, _ := json.Marshal(l.Trace)
			pay = append(pay, PayLine{
				RepID: w.RepID, Period: w.Period, PostedIn: postedIn, Component: l.Component, Kind: kind,
				Amount: l.Amount, Currency: l.Currency, PlanID: l.PlanID, PlanVersion: l.PlanVersion,
				EventKey: w.EventKey, Trace: trace, Text: l.Trace.Text, Actor: game.ActorSystem, At: now,
			})
			earned = earned.Add(l.Amount)
		}
		if len(pay) > 0 {
			if err := tx.AppendPay(ctx, pay); err != nil {
				return err
			}
		}
		eff, err = e.payEffect(ctx, tx, plan, w, state, last, hadLast, posted, pay, earned, status, now)
		if err != nil {
			return err
		}
		if err := tx.SaveState(ctx, w.RepID, w.Period, state); err != nil {
			return err
		}
		return tx.DoneCompWork(ctx, w.RepID, w.Period, w.ClaimedAt)
	})
	if err != nil {
		return err
	}
	if eff != nil {
		e.applyEffects(ctx, []*effect{eff})
	}
	return nil
}

// payState builds what F reads for a rep's period: their credited deals
// from the revenue ledger in the plan's currency, their quota, and for a
// plan with an override the credited revenue of the teams it pays on.
func (e *Engine) payState(ctx context.Context, tx CompTx, plan comp.Plan, asg Assignment, repID int64, period string) (comp.State, error) {
	first, last, err := comp.PeriodDays(plan.Period, period)
	if err != nil {
		return comp.State{}, err
	}
	credits, err := tx.Credits(ctx, repID, first, last)
	if err != nil {
		return comp.State{}, err
	}
	if plan.ClawbackDays != nil {
		// A deal lost after the clawback window keeps its credit for pay
		// (the revenue boards still lose it).
		rev, err := tx.Reversed(ctx, repID, first, last)
		if err != nil {
			return comp.State{}, err
		}
		for _, c := range rev {
			back := game.Day(c.LastChange, e.cfg.Location)
			if claws, err := plan.ClawsBack(c.CloseDay, back); err == nil && !claws {
				credits = append(credits, c)
			}
		}
	}
	q, _, err := tx.Quota(ctx, repID, plan.Period, period)
	if err != nil {
		return comp.State{}, err
	}
	e.compMu.RLock()
	rates := e.compCfg.rates
	e.compMu.RUnlock()
	digits, err := game.MinorDigits(e.cfg.Currency)
	if err != nil {
		return comp.State{}, err
	}
	deals := make([]comp.DealCredit, 0, len(credits))
	for _, c := range credits {
		d := comp.DealCredit{
			ID: c.Deal, Amount: decimal.New(c.Minor, -digits), DealAmount: decimal.New(c.DealMinor, -digits),
			Share: c.Share, Product: c.Product, CloseDay: c.CloseDay,
		}
		if plan.Currency != e.cfg.Currency {
			day := c.CloseDay
			if day == "" || day < first || day > last {
				day = last
			}
			amount, ex, err := rates.Convert(d.Amount, e.cfg.Currency, plan.Currency, day)
			if err != nil {
				return comp.State{}, err
			}
			whole, _, err := rates.Convert(d.DealAmount, e.cfg.Currency, plan.Currency, day)
			if err != nil {
				return comp.State{}, err
			}
			d.Amount, d.DealAmount, d.Exchange = amount, whole, &ex
		}
		deals = append(deals, d)
	}
	s := comp.StateOf(q.Amount, deals...)
	if len(asg.OverrideTeams) > 0 {
		var teams []int64
		for t := range e.TeamsUnder(asg.OverrideTeams) {
			teams = append(teams, t)
		}
		slices.Sort(teams)
		minor, err := tx.TeamCredits(ctx, teams, first, last)
		if err != nil {
			return comp.State{}, err
		}
		s.TeamCredited = decimal.New(minor, -digits)
		if plan.Currency != e.cfg.Currency {
			if s.TeamCredited, _, err = rates.Convert(s.TeamCredited, e.cfg.Currency, plan.Currency, last); err != nil {
				return comp.State{}, err
			}
		}
	}
	return s, nil
}

// payEffect posts the commission and attainment board rows of a computation
// and builds its effect: the board deltas and the earnings message for the
// rep's channel.
func (e *Engine) payEffect(ctx context.Context, tx CompTx, plan comp.Plan, w CompWork, state, last comp.State, hadLast bool,
	posted map[string]decimal.Decimal, pay []PayLine, earned decimal.Decimal, status StatementStatus, now time.Time) (*effect, error) {
	first, lastDay, err := comp.PeriodDays(plan.Period, w.Period)
	if err != nil {
		return nil, err
	}
	// Board rows land inside the period they belong to.
	day := game.Day(now, e.cfg.Location)
	day = max(first, min(day, lastDay))
	rep, _ := e.Rep(w.RepID)
	var entries []game.LedgerEntry
	reason := "pay " + w.Period
	if plan.Currency == e.cfg.Currency && !earned.IsZero() {
		digits, _ := game.MinorDigits(plan.Currency)
		entries = append(entries, game.LedgerEntry{RepID: w.RepID, TeamID: rep.TeamID, Metric: game.MetricCommission, Day: day, Delta: earned.Shift(digits).IntPart(), Reason: reason})
	}
	if plan.Period == game.PeriodMonth {
		if d := bps(state) - bps(last); d != 0 && (hadLast || bps(state) != 0) {
			entries = append(entries, game.LedgerEntry{RepID: w.RepID, TeamID: rep.TeamID, Metric: game.MetricAttainment, Day: day, Delta: d, Reason: reason})
		}
	}
	if len(pay) == 0 && len(entries) == 0 {
		return nil, nil
	}
	key := "pay:" + strconv.FormatInt(w.RepID, 10) + ":" + w.Period + ":" + strconv.FormatInt(now.UnixNano(), 36)
	if len(pay) > 0 {
		key = "pay:" + strconv.FormatInt(pay[0].ID, 10)
	}
	eff := &effect{Key: key}
	if len(entries) > 0 {
		if err := tx.AppendLedger(ctx, key, now, entries); err != nil {
			return nil, err
		}
		eff.Moves = movesOf(entries)
		if eff.Deltas, err = eff.deltas(); err != nil {
			return nil, err
		}
	}
	if len(pay) > 0 {
		total := earned
		for _, v := range posted {
			total = total.Add(v)
		}
		postedIn := w.Period
		if len(pay) > 0 {
			postedIn = pay[0].PostedIn
		}
		msg := Earnings{Kind: "earnings", Period: w.Period, PostedIn: postedIn, Currency: plan.Currency, Earned: Money(earned, plan.Currency), Total: Money(total, plan.Currency),
			Provisional: status != StatementLocked && status != StatementPaid}
		if state.Quota.IsPositive() {
			msg.Attainment = state.Credited.Mul(decimal.NewFromInt(100)).DivRound(state.Quota, 2).StringFixed(2) + " %"
		}
		for _, l := range pay {
			msg.Lines = append(msg.Lines, EarningLine{ID: l.ID, Component: l.Component, Amount: Money(l.Amount, l.Currency), Text: l.Text})
		}
		if next, err := comp.NextStep(plan, state); err == nil {
			msg.Next = next
		}
		data, _ := json.Marshal(msg)
		eff.Pubs = append(eff.Pubs, Publication{Channel: RepChannel(w.RepID), Data: data})
	}
	payload, _ := json.Marshal(eff)
	if err := tx.AddOutbox(ctx, key, payload, now); err != nil {
		return nil, err
	}
	return eff, nil
}

// Money returns d with exactly its currency's digits ("5280.00"), as every
// amount Podium prints.
func Money(d decimal.Decimal, currency string) decimal.Decimal {
	digits, err := game.MinorDigits(currency)
	if err != nil {
		return d
	}
	return d.Round(digits)
}

// PeriodLabel names a pay period for people: "October 2026", "2026-Q4",
// "2026".
func PeriodLabel(period string) string {
	if t, err := time.Parse("2006-01", period); err == nil {
		return t.Format("January 2006")
	}
	return period
}

// bps is attainment in basis points, rounded down; 0 without a quota.
func bps(s comp.State) int64 {
	if !s.Quota.IsPositive() {
		return 0
	}
	return s.Credited.Mul(decimal.NewFromInt(10000)).Div(s.Quota).Floor().IntPart()
}
