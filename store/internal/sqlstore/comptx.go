package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
	"podium/game/comp"
)

// This file is the pay work queue (Tx.AddCompWork marks, ClaimCompWork
// claims, CompTx.DoneCompWork clears) and the transaction of one pay
// computation.

// claimTimeout is how long a claim keeps other nodes off a rep's period:
// a node that crashed mid-computation leaves a claim that expires, and its
// work is claimed again.
const claimTimeout = time.Minute

// ClaimCompWork returns up to limit marked rep periods, oldest mark first,
// and claims them with the store's clock (CompWork.ClaimedAt): a period
// claimed less than claimTimeout ago is left out, so that concurrent
// claimers, on any node, never take the same period. On Postgres the
// SELECT locks the rows it takes and skips those another claimer has
// locked (FOR UPDATE SKIP LOCKED); on SQLite the one writer claims alone.
// The claim is one short transaction, committed before the work is done.
func (s *Store) ClaimCompWork(ctx context.Context, limit int) ([]engine.CompWork, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := fromMicros(micros(s.now()))
	var out []engine.CompWork
	err := s.run(ctx, func(q Querier) error {
		var err error
		out, err = queryAll(ctx, q, func(row Row) (engine.CompWork, error) {
			w := engine.CompWork{ClaimedAt: now}
			err := row.Scan(&w.RepID, &w.Period, &w.EventKey)
			return w, err
		}, `SELECT rep_id, period, event_key FROM comp_work
		     WHERE claimed_at IS NULL OR claimed_at < $1
		     ORDER BY marked_at, rep_id, period LIMIT $2`+s.d.SkipLocked,
			micros(now.Add(-claimTimeout)), limit)
		if err != nil {
			return fmt.Errorf("claim pay work: %w", err)
		}
		stmts := make([]Stmt, len(out))
		for i, w := range out {
			stmts[i] = Stmt{
				SQL:  `UPDATE comp_work SET claimed_at = $1 WHERE rep_id = $2 AND period = $3`,
				Args: []any{micros(now), w.RepID, w.Period},
			}
		}
		if _, err := runBatch(ctx, q, stmts); err != nil {
			return fmt.Errorf("claim pay work: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MarkCompWork marks a rep's plan period for a pay computation outside an
// ingest (a quota, plan or assignment changed): Tx.AddCompWork in a
// transaction of its own. An unknown rep is EUnknownRep.
func (s *Store) MarkCompWork(ctx context.Context, w engine.CompWork) error {
	return s.InTx(ctx, func(t engine.Tx) error { return t.AddCompWork(ctx, w) })
}

// kindManual is the kind of the pay lines people post by hand.
const kindManual = "manual"

// compTx implements engine.CompTx. It is a tx, so that the board rows and
// the outbox effect a computation posts (AppendLedger, AddOutbox) are
// buffered and flushed exactly as an ingest's; the pay reads and writes of
// its own run at once, so that what it appends it reads back.
type compTx struct{ *tx }

var _ engine.CompTx = compTx{}

// InCompTx runs fn in one transaction, as InTx does (retries included),
// with a CompTx.
func (s *Store) InCompTx(ctx context.Context, fn func(engine.CompTx) error) error {
	return s.inTx(ctx, func(t *tx) error { return fn(compTx{t}) })
}

// LockPay takes the rep's pay lock for the period until the transaction
// ends (Dialect.LockPay; nothing on SQLite, whose one writer runs alone).
func (t compTx) LockPay(ctx context.Context, repID int64, period string) error {
	return t.s.lockPay(ctx, t.q, repID, period)
}

// The revenue metric ('revenue', game.MetricRevenue) is written into the
// queries below rather than bound, so that both databases use the partial
// index ledger_revenue_rep_day_idx: a planner cannot match an index
// predicate against a parameter.

// Credits returns what the revenue ledger credits the rep with on the days
// from first to last, per deal (byte order of "source/external_id"), deals
// summing to zero left out. The deal's amount, currency, splits, product
// and current credits fill the rest:
//
//   - DealMinor is the deal's amount in minor units of its currency (the
//     company currency, which the ledger is in);
//   - Share is the sum of the rep's shares in the deal's splits; zero when
//     the deal no longer splits to the rep (a correction moved the credit
//     away), and comp reads zero as the whole deal, so the caller should
//     not pay a fixed amount per deal on such a credit;
//   - CloseDay is the day of the deal's current credits: the close day in
//     the company's time zone, as ingest computed it (game.Credits). A deal
//     that is no longer won has no credits, and then no CloseDay ("");
//     the store has no time zone to turn close_time into a local day;
//   - a deal the ledger names but the deals table lacks comes with its
//     credit only.
//
// The deals are read without a lock: a pay computation must not wait for,
// nor hold up, an ingest.
func (t compTx) Credits(ctx context.Context, repID int64, first, last string) ([]engine.Credited, error) {
	out, err := queryAll(ctx, t.q, func(row Row) (engine.Credited, error) {
		var (
			c  engine.Credited
			at int64
		)
		err := row.Scan(&c.Deal, &c.Minor, &at)
		c.LastChange = fromMicros(at)
		return c, err
	}, `SELECT deal, CAST(SUM(delta) AS BIGINT), MAX(at) FROM ledger
	     WHERE rep_id = $1 AND metric = 'revenue' AND day >= $2 AND day <= $3 AND deal IS NOT NULL
	     GROUP BY deal HAVING SUM(delta) <> 0`,
		repID, first, last)
	if err != nil {
		return nil, fmt.Errorf("credits of rep %d from %s to %s: %w", repID, first, last, err)
	}
	slices.SortFunc(out, func(a, b engine.Credited) int { return cmp.Compare(a.Deal, b.Deal) })
	deals, err := t.creditedDeals(ctx, out)
	if err != nil {
		return nil, fmt.Errorf("credits of rep %d: %w", repID, err)
	}
	for i := range out {
		c := &out[i]
		d, ok := deals[c.Deal]
		if !ok {
			continue
		}
		digits, err := game.MinorDigits(d.Currency)
		if err != nil {
			return nil, fmt.Errorf("deal %s: %w", c.Deal, err)
		}
		c.DealMinor = d.Amount.Shift(digits).IntPart()
		c.Product = d.Product
		for _, s := range d.Splits {
			if s.RepID == repID {
				c.Share = c.Share.Add(s.Share)
			}
		}
		if len(d.Credits) > 0 {
			c.CloseDay = d.Credits[0].Day
		}
	}
	return out, nil
}

// Reversed returns the deals credited to the rep on the days from first to
// last and then taken back in full: the positive rows' sum, the first day
// credited and when the last row (the reversal) was posted. The engine keeps
// paying such a deal when the plan's clawback window had passed.
func (t compTx) Reversed(ctx context.Context, repID int64, first, last string) ([]engine.Credited, error) {
	out, err := queryAll(ctx, t.q, func(row Row) (engine.Credited, error) {
		var (
			c  engine.Credited
			at int64
		)
		err := row.Scan(&c.Deal, &c.Minor, &c.CloseDay, &at)
		c.LastChange = fromMicros(at)
		return c, err
	}, `SELECT deal, CAST(SUM(CASE WHEN delta > 0 THEN delta ELSE 0 END) AS BIGINT), MIN(day), MAX(at) FROM ledger
	     WHERE rep_id = $1 AND metric = 'revenue' AND day >= $2 AND day <= $3 AND deal IS NOT NULL
	     GROUP BY deal HAVING SUM(delta) = 0 AND SUM(CASE WHEN delta > 0 THEN delta ELSE 0 END) > 0`,
		repID, first, last)
	if err != nil {
		return nil, fmt.Errorf("reversed credits of rep %d from %s to %s: %w", repID, first, last, err)
	}
	slices.SortFunc(out, func(a, b engine.Credited) int { return cmp.Compare(a.Deal, b.Deal) })
	deals, err := t.creditedDeals(ctx, out)
	if err != nil {
		return nil, fmt.Errorf("reversed credits of rep %d: %w", repID, err)
	}
	for i := range out {
		c := &out[i]
		if d, ok := deals[c.Deal]; ok {
			if digits, err := game.MinorDigits(d.Currency); err == nil {
				c.DealMinor = d.Amount.Shift(digits).IntPart()
			}
			c.Product = d.Product
			for _, s := range d.Splits {
				if s.RepID == repID {
					c.Share = c.Share.Add(s.Share)
				}
			}
		}
	}
	return out, nil
}

// creditedDeal is what Credits reads of a deal.
type creditedDeal struct {
	Amount   decimal.Decimal
	Currency string
	Product  string
	Splits   []game.Split
	Credits  []game.Credit
}

// creditedDeals reads the deals the credits name, by "source/external_id".
// A ledger row names a deal by that string alone, and a source may contain
// a slash, so every split of the name at a slash is looked up, in one
// batch, by primary key.
func (t compTx) creditedDeals(ctx context.Context, credits []engine.Credited) (map[string]creditedDeal, error) {
	var refs []engine.DealRef
	for _, c := range credits {
		for i := range len(c.Deal) {
			if c.Deal[i] == '/' {
				refs = append(refs, engine.DealRef{Source: c.Deal[:i], ExternalID: c.Deal[i+1:]})
			}
		}
	}
	out := make(map[string]creditedDeal, len(credits))
	var stmts []Stmt
	for _, c := range dealsIn(&t.s.d, refs) {
		stmts = append(stmts, Stmt{
			SQL:  `SELECT source, external_id, amount, currency, product, splits, credits FROM deals WHERE ` + c.sql,
			Args: c.args,
			Scan: func(rows Rows) error {
				for rows.Next() {
					var (
						d                   creditedDeal
						source, ext         string
						splits, dealCredits []byte
					)
					if err := rows.Scan(&source, &ext, &d.Amount, &d.Currency, &d.Product, &splits, &dealCredits); err != nil {
						return err
					}
					if err := unmarshal(splits, &d.Splits); err != nil {
						return fmt.Errorf("deal %s/%s splits: %w", source, ext, err)
					}
					if err := unmarshal(dealCredits, &d.Credits); err != nil {
						return fmt.Errorf("deal %s/%s credits: %w", source, ext, err)
					}
					out[source+"/"+ext] = d
				}
				return nil
			},
		})
	}
	if _, err := runBatch(ctx, t.q, stmts); err != nil {
		return nil, fmt.Errorf("load %d deals: %w", len(credits), err)
	}
	return out, nil
}

// TeamCredits returns the sum of the revenue ledger rows of the teams on
// the days from first to last, in minor units.
func (t compTx) TeamCredits(ctx context.Context, teams []int64, first, last string) (int64, error) {
	if len(teams) == 0 {
		return 0, nil
	}
	query := `SELECT CAST(COALESCE(SUM(delta), 0) AS BIGINT) FROM ledger
	           WHERE metric = $1 AND day >= $2 AND day <= $3 AND `
	args := []any{string(game.MetricRevenue), first, last}
	if t.s.d.Arrays {
		query, args = query+`team_id = ANY($4)`, append(args, teams)
	} else {
		query = query + `team_id IN (` + placeholders(4, len(teams)) + `)`
		for _, id := range teams {
			args = append(args, id)
		}
	}
	var sum int64
	if err := t.q.QueryRow(ctx, query, args...).Scan(&sum); err != nil {
		return 0, fmt.Errorf("credits of %d teams from %s to %s: %w", len(teams), first, last, err)
	}
	return sum, nil
}

// Quota returns a rep's quota for a period instance; ok is false when none
// is set.
func (t compTx) Quota(ctx context.Context, repID int64, period game.Period, instance string) (comp.Quota, bool, error) {
	return loadQuota(ctx, t.q, repID, period, instance)
}

// Posted returns the sum of the rep's pay lines of period per component,
// leaving out lines of kind "manual" (people's adjustments, which F does
// not know about and must not take back). The amounts are summed exactly,
// in Go: SQLite would sum TEXT amounts as floats.
func (t compTx) Posted(ctx context.Context, repID int64, period string) (map[string]decimal.Decimal, error) {
	rows, err := t.q.Query(ctx,
		`SELECT component, amount FROM pay_ledger WHERE rep_id = $1 AND period = $2 AND kind <> $3`,
		repID, period, kindManual)
	if err != nil {
		return nil, fmt.Errorf("posted pay of rep %d for %s: %w", repID, period, err)
	}
	defer rows.Close()
	out := make(map[string]decimal.Decimal)
	for rows.Next() {
		var (
			component string
			amount    decimal.Decimal
		)
		if err := rows.Scan(&component, &amount); err != nil {
			return nil, fmt.Errorf("posted pay of rep %d for %s: %w", repID, period, err)
		}
		out[component] = out[component].Add(amount)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("posted pay of rep %d for %s: %w", repID, period, err)
	}
	return out, nil
}

// LastState returns the state the last computation of the rep's period
// saved; ok is false before the first.
func (t compTx) LastState(ctx context.Context, repID int64, period string) (comp.State, bool, error) {
	var b []byte
	err := t.q.QueryRow(ctx, `SELECT state FROM comp_state WHERE rep_id = $1 AND period = $2`, repID, period).Scan(&b)
	switch {
	case errors.Is(err, ErrNoRows):
		return comp.State{}, false, nil
	case err != nil:
		return comp.State{}, false, fmt.Errorf("pay state of rep %d for %s: %w", repID, period, err)
	}
	var s comp.State
	if err := json.Unmarshal(b, &s); err != nil {
		return comp.State{}, false, fmt.Errorf("pay state of rep %d for %s: %w", repID, period, err)
	}
	return s, true, nil
}

// SaveState stores the state a computation saw, replacing the last.
func (t compTx) SaveState(ctx context.Context, repID int64, period string, s comp.State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("pay state of rep %d for %s: %w", repID, period, err)
	}
	if _, err := t.q.Exec(ctx,
		`INSERT INTO comp_state (rep_id, period, state) VALUES ($1, $2, $3)
		 ON CONFLICT (rep_id, period) DO UPDATE SET state = excluded.state`,
		repID, period, string(b)); err != nil {
		if t.s.d.IsForeignKeyViolation(err) {
			return game.Errorf(game.EInvalid, "rep_id", "rep %d does not exist", repID)
		}
		return fmt.Errorf("save pay state of rep %d for %s: %w", repID, period, err)
	}
	return nil
}

// StatementStatus returns the status of the rep's statement for period,
// "draft" when none is stored.
func (t compTx) StatementStatus(ctx context.Context, repID int64, period string) (engine.StatementStatus, error) {
	st, _, err := loadStatement(ctx, t.q, repID, period)
	return st.Status, err
}

// AppendPay appends pay lines at once, in one statement (a few on
// SQLite), and sets their IDs (and At, where zero, to the store's clock).
func (t compTx) AppendPay(ctx context.Context, lines []engine.PayLine) error {
	return t.s.appendPay(ctx, t.q, lines, "")
}

// DoneCompWork clears a claimed rep period, unless it was marked again
// since the claim. A mark clears the claim (Tx.AddCompWork's upsert), so
// the row is deleted only while it still carries this claim: compared
// with the claim itself rather than with marked_at, an ingest that stamped
// its mark before the claim but committed after it is not lost either.
func (t compTx) DoneCompWork(ctx context.Context, repID int64, period string, claimedAt time.Time) error {
	if _, err := t.q.Exec(ctx,
		`DELETE FROM comp_work WHERE rep_id = $1 AND period = $2 AND claimed_at = $3`,
		repID, period, micros(claimedAt)); err != nil {
		return fmt.Errorf("clear pay work of rep %d for %s: %w", repID, period, err)
	}
	return nil
}
