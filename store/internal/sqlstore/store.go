package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
)

// Store implements engine.Store, engine.Directory and engine.CompStore over
// a Driver and a Dialect.
type Store struct {
	db  Driver
	d   Dialect
	now func() time.Time
}

var (
	_ engine.Store     = (*Store)(nil)
	_ engine.Directory = (*Store)(nil)
)

// New returns a Store that runs the shared queries on db. now is the
// store's clock: it stamps the bookkeeping column deals.updated_at, audit
// entries and what is created without a time; nil means time.Now.
func New(db Driver, d Dialect, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, d: d, now: now}
}

// CreateTeam inserts a team and returns it with its new id, and appends
// its "team.create" audit entry in the same transaction. A name already
// taken is an EConflict error on field "name"; a parent that does not
// exist is EInvalid on "parent_id".
func (s *Store) CreateTeam(ctx context.Context, t game.Team, by game.Actor) (game.Team, error) {
	err := s.audited(ctx, func(q Querier) error {
		if t.ParentID != 0 {
			ok, err := exists(ctx, q, `SELECT 1 FROM teams WHERE id = $1`, t.ParentID)
			if err != nil {
				return fmt.Errorf("create team: %w", err)
			}
			if !ok {
				return noParent(t.ParentID)
			}
		}
		err := q.QueryRow(ctx,
			`INSERT INTO teams (name, active, parent_id) VALUES ($1, $2, $3) RETURNING id`,
			t.Name, t.Active, nullID(t.ParentID)).Scan(&t.ID)
		if err != nil {
			return s.teamError("create team", t, err)
		}
		return s.record(ctx, q, by, "team.create", object("team", t.ID), nil, t)
	})
	if err != nil {
		return game.Team{}, err
	}
	return t, nil
}

// UpdateTeam replaces a team's name, active flag and parent, and appends
// its "team.update" audit entry with the team before and after. An unknown
// id is an ENotFound error; a name already taken is an EConflict error; a
// parent that does not exist, or is the team itself or a team below it
// (which would make the hierarchy a loop), is EInvalid on "parent_id".
func (s *Store) UpdateTeam(ctx context.Context, t game.Team, by game.Actor) (game.Team, error) {
	err := s.audited(ctx, func(q Querier) error {
		// The whole hierarchy, read under the audit lock: no other team
		// update can commit meanwhile and close a loop with this one.
		teams, err := listTeams(ctx, q)
		if err != nil {
			return fmt.Errorf("update team %d: %w", t.ID, err)
		}
		old, ok := findTeam(teams, t.ID)
		if !ok {
			return game.Errorf(game.ENotFound, "id", "team %d does not exist", t.ID)
		}
		if t.ParentID != 0 {
			parent, ok := findTeam(teams, t.ParentID)
			switch {
			case !ok:
				return noParent(t.ParentID)
			case t.ParentID == t.ID:
				return game.Errorf(game.EInvalid, "parent_id", "a team cannot report into itself")
			case game.TeamsUnder(teams, []int64{t.ID})[t.ParentID]:
				return game.Errorf(game.EInvalid, "parent_id",
					"%q is below %q in the hierarchy, so it cannot be its parent: that would make a loop", parent.Name, old.Name)
			}
		}
		if _, err := q.Exec(ctx,
			`UPDATE teams SET name = $1, active = $2, parent_id = $3 WHERE id = $4`,
			t.Name, t.Active, nullID(t.ParentID), t.ID); err != nil {
			return s.teamError("update team", t, err)
		}
		return s.record(ctx, q, by, "team.update", object("team", t.ID), old, t)
	})
	if err != nil {
		return game.Team{}, err
	}
	return t, nil
}

func noParent(id int64) error {
	return game.Errorf(game.EInvalid, "parent_id", "parent team %d does not exist", id)
}

// queryAll runs query on q and returns its rows as scan reads them.
func queryAll[T any](ctx context.Context, q Querier, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// exists reports whether query, a SELECT of at most one row, finds a row.
func exists(ctx context.Context, q Querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRow(ctx, query, args...).Scan(&one)
	switch {
	case errors.Is(err, ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func findTeam(teams []game.Team, id int64) (game.Team, bool) {
	for _, t := range teams {
		if t.ID == id {
			return t, true
		}
	}
	return game.Team{}, false
}

func (s *Store) teamError(op string, t game.Team, err error) error {
	if s.d.IsUniqueViolation(err) {
		return game.Errorf(game.EConflict, "name", "a team named %q already exists", t.Name)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// ListTeams returns every team, by id.
func (s *Store) ListTeams(ctx context.Context) ([]game.Team, error) {
	out, err := listTeams(ctx, s.db.Reader())
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	return out, nil
}

func listTeams(ctx context.Context, q Querier) ([]game.Team, error) {
	return queryAll(ctx, q, func(row Row) (game.Team, error) {
		var t game.Team
		err := row.Scan(&t.ID, &t.Name, &t.Active, &t.ParentID)
		return t, err
	}, `SELECT id, name, active, COALESCE(parent_id, 0) FROM teams ORDER BY id`)
}

// CreateRep inserts a rep and returns it with its new id, and appends its
// "rep.create" audit entry in the same transaction. TeamID 0 means no team
// and an empty Email means none. An email already taken is an EConflict
// error on "email"; a team that does not exist is an EInvalid error on
// "team_id".
func (s *Store) CreateRep(ctx context.Context, r game.Rep, by game.Actor) (game.Rep, error) {
	err := s.audited(ctx, func(q Querier) error {
		err := q.QueryRow(ctx,
			`INSERT INTO reps (team_id, name, email, active) VALUES ($1, $2, $3, $4) RETURNING id`,
			nullID(r.TeamID), r.Name, nullText(r.Email), r.Active).Scan(&r.ID)
		if err != nil {
			return s.repError("create rep", r, err)
		}
		return s.record(ctx, q, by, "rep.create", object("rep", r.ID), nil, r)
	})
	if err != nil {
		return game.Rep{}, err
	}
	return r, nil
}

// UpdateRep replaces a rep's team, name, email and active flag, with the
// errors of CreateRep and ENotFound for an unknown id, and appends its
// "rep.update" audit entry with the rep before and after.
func (s *Store) UpdateRep(ctx context.Context, r game.Rep, by game.Actor) (game.Rep, error) {
	err := s.audited(ctx, func(q Querier) error {
		old, err := loadRep(ctx, q, r.ID)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx,
			`UPDATE reps SET team_id = $1, name = $2, email = $3, active = $4 WHERE id = $5`,
			nullID(r.TeamID), r.Name, nullText(r.Email), r.Active, r.ID); err != nil {
			return s.repError("update rep", r, err)
		}
		return s.record(ctx, q, by, "rep.update", object("rep", r.ID), old, r)
	})
	if err != nil {
		return game.Rep{}, err
	}
	return r, nil
}

func (s *Store) repError(op string, r game.Rep, err error) error {
	switch {
	case s.d.IsUniqueViolation(err):
		return game.Errorf(game.EConflict, "email", "a rep with email %q already exists", r.Email)
	case s.d.IsForeignKeyViolation(err):
		return game.Errorf(game.EInvalid, "team_id", "team %d does not exist", r.TeamID)
	}
	return fmt.Errorf("%s: %w", op, err)
}

const repColumns = `id, COALESCE(team_id, 0), name, COALESCE(email, ''), active`

func scanRep(row Row) (game.Rep, error) {
	var r game.Rep
	err := row.Scan(&r.ID, &r.TeamID, &r.Name, &r.Email, &r.Active)
	return r, err
}

// loadRep returns a rep; ENotFound on "id" when there is none.
func loadRep(ctx context.Context, q Querier, id int64) (game.Rep, error) {
	r, err := scanRep(q.QueryRow(ctx, `SELECT `+repColumns+` FROM reps WHERE id = $1`, id))
	switch {
	case errors.Is(err, ErrNoRows):
		return game.Rep{}, game.Errorf(game.ENotFound, "id", "rep %d does not exist", id)
	case err != nil:
		return game.Rep{}, fmt.Errorf("load rep %d: %w", id, err)
	}
	return r, nil
}

// ListReps returns every rep, by id.
func (s *Store) ListReps(ctx context.Context) ([]game.Rep, error) {
	out, err := queryAll(ctx, s.db.Reader(), scanRep, `SELECT `+repColumns+` FROM reps ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list reps: %w", err)
	}
	return out, nil
}

// InTx runs fn in one transaction, committing when fn returns nil and
// rolling back otherwise; fn's own error is returned unwrapped. The writes
// fn made through its Tx are sent when fn returns nil, before the commit,
// so a unique or foreign key violation they cause is InTx's error, with the
// code the write call would have reported (EConflict, EUnknownRep). When
// the dialect reports the failure retryable (Postgres serialization failure
// or deadlock), the whole transaction runs again, fn included, up to
// Dialect.MaxAttempts times: fn must not have effects outside the
// transaction. fn must not call the Store's writing methods either: on
// SQLite they wait for the one write connection, which fn's transaction
// holds.
func (s *Store) InTx(ctx context.Context, fn func(engine.Tx) error) error {
	return s.inTx(ctx, func(t *tx) error { return fn(t) })
}

// inTx runs fn on a new tx in one transaction, as InTx and InCompTx do,
// and flushes the tx's buffered writes when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*tx) error) error {
	return s.run(ctx, func(q Querier) error {
		t := newTx(s, q)
		if err := fn(t); err != nil {
			return err
		}
		return t.flush(ctx)
	})
}

const dealColumns = `source, external_id, version, name, splits, amount, currency, stage, close_time, product, credits, event_key`

func scanDeal(row Row) (*engine.DealState, error) {
	var (
		d              engine.DealState
		splits, credit []byte
		closeTime      int64
	)
	err := row.Scan(&d.Source, &d.ExternalID, &d.Version, &d.Name, &splits, &d.Amount,
		&d.Currency, &d.Stage, &closeTime, &d.Product, &credit, &d.EventKey)
	if errors.Is(err, ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := unmarshal(splits, &d.Splits); err != nil {
		return nil, fmt.Errorf("deal %s/%s splits: %w", d.Source, d.ExternalID, err)
	}
	if err := unmarshal(credit, &d.Credits); err != nil {
		return nil, fmt.Errorf("deal %s/%s credits: %w", d.Source, d.ExternalID, err)
	}
	d.CloseTime = fromMicros(closeTime)
	return &d, nil
}

// Deal returns a deal's current state, nil when unknown. It takes no lock;
// the ingest pipeline reads deals through Tx.Deal.
func (s *Store) Deal(ctx context.Context, source, externalID string) (*engine.DealState, error) {
	d, err := scanDeal(s.db.Reader().QueryRow(ctx,
		`SELECT `+dealColumns+` FROM deals WHERE source = $1 AND external_id = $2`,
		source, externalID))
	if err != nil {
		return nil, fmt.Errorf("load deal %s/%s: %w", source, externalID, err)
	}
	return d, nil
}

// Ledger returns a rep's ledger rows, newest (highest id) first, at most
// limit; a limit of zero or less returns none.
func (s *Store) Ledger(ctx context.Context, repID int64, limit int) ([]engine.LedgerRow, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := queryLedger(ctx, s.db.Reader(), `rep_id = $1 ORDER BY id DESC LIMIT $2`, repID, limit)
	if err != nil {
		return nil, fmt.Errorf("load ledger of rep %d: %w", repID, err)
	}
	return out, nil
}

// queryLedger returns the ledger rows that where (a condition, its order
// and limit) selects.
func queryLedger(ctx context.Context, q Querier, where string, args ...any) ([]engine.LedgerRow, error) {
	return queryAll(ctx, q, func(row Row) (engine.LedgerRow, error) {
		var (
			r  engine.LedgerRow
			at int64
		)
		err := row.Scan(&r.ID, &r.EventKey, &at, &r.RepID, &r.TeamID, &r.Metric, &r.Day,
			&r.Delta, &r.Amount, &r.Reason, &r.DealID, &r.Corrects)
		r.At = fromMicros(at)
		return r, err
	}, `SELECT id, event_key, at, rep_id, team_id, metric, day, delta, amount, reason,
	           COALESCE(deal, ''), COALESCE(corrects, '')
	      FROM ledger WHERE `+where, args...)
}

// LedgerTotals calls fn with SUM(delta) for each (rep, team, metric, day),
// in that order. It stops at the first error of fn and returns it as is.
// The rows are streamed from one read connection held until it returns.
func (s *Store) LedgerTotals(ctx context.Context, fn func(engine.LedgerTotal) error) error {
	rows, err := s.db.Reader().Query(ctx,
		`SELECT rep_id, team_id, metric, day, CAST(SUM(delta) AS BIGINT)
		   FROM ledger
		  GROUP BY rep_id, team_id, metric, day
		  ORDER BY rep_id, team_id, metric, day`)
	if err != nil {
		return fmt.Errorf("ledger totals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t engine.LedgerTotal
		if err := rows.Scan(&t.RepID, &t.TeamID, &t.Metric, &t.Day, &t.Total); err != nil {
			return fmt.Errorf("ledger totals: %w", err)
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger totals: %w", err)
	}
	return nil
}

// PendingOutbox returns up to limit outbox rows created before olderThan,
// oldest first. Every row in the outbox is unapplied: MarkApplied deletes.
func (s *Store) PendingOutbox(ctx context.Context, olderThan time.Time, limit int) ([]engine.OutboxRow, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := queryAll(ctx, s.db.Reader(), func(row Row) (engine.OutboxRow, error) {
		var (
			r  engine.OutboxRow
			at int64
		)
		err := row.Scan(&r.EventKey, &r.Payload, &at)
		r.CreatedAt = fromMicros(at)
		return r, err
	}, `SELECT event_key, payload, created_at FROM outbox
	     WHERE created_at < $1
	     ORDER BY created_at, id LIMIT $2`,
		micros(olderThan), limit)
	if err != nil {
		return nil, fmt.Errorf("pending outbox: %w", err)
	}
	return out, nil
}

// MarkApplied records that the outbox rows of eventKeys took effect by
// deleting them: an applied row has no further use (the ledger is the
// record), and a table that only ever holds what is in flight stays small
// and cheap to scan. Unknown keys are ignored, so a relay may mark the same
// rows twice. One statement on Postgres; one per maxInList keys on SQLite.
func (s *Store) MarkApplied(ctx context.Context, eventKeys []string) error {
	for _, c := range in(&s.d, "event_key", eventKeys) {
		if _, err := s.db.Writer().Exec(ctx, `DELETE FROM outbox WHERE `+c.sql, c.args...); err != nil {
			return fmt.Errorf("mark outbox applied: %w", err)
		}
	}
	return nil
}

// Ping reports whether the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.Ping(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.Name, err)
	}
	return nil
}

// Close releases every connection. The Store must not be used afterwards.
func (s *Store) Close() error {
	return s.db.Close()
}

// placeholders returns "$from, $from+1, …" for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	b.Grow(n * 5)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// micros is how every time is stored: unix microseconds, the precision of a
// Postgres timestamp. Finer digits are dropped.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros returns the UTC time of a stored value. The zero time.Time
// round-trips to itself.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// decimalText is how an amount is bound: a plain decimal string that keeps
// the scale ("0.10" stays "0.10"; decimal's own driver.Valuer would send
// "0.1"). Postgres parses it into NUMERIC, SQLite keeps it as TEXT; both read
// back into the same decimal.Decimal, exponent included.
func decimalText(d decimal.Decimal) string {
	if e := d.Exponent(); e < 0 {
		return d.StringFixed(-e)
	}
	return d.String()
}

// nullID binds an id where 0 means none as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullText binds "" as NULL.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}
