package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"podium/engine"
	"podium/game"
)

// This file is the pay ledger and the statements of engine.CompStore.

// insertPay appends pay lines and returns their ids. Identity (Postgres)
// and AUTOINCREMENT (SQLite) ids grow in the order rows are inserted, which
// is the order of the lines (unnest's ORDER BY ord, VALUES' order); neither
// database promises RETURNING's order, so the ids of each statement are
// sorted before they are handed out.
var insertPay = newBulk("pay_ledger", "RETURNING id",
	column{"rep_id", "bigint", ""}, column{"period", "text", ""}, column{"posted_in", "text", ""},
	column{"component", "text", ""}, column{"kind", "text", ""}, column{"amount", "text", "NUMERIC"},
	column{"currency", "text", ""}, column{"plan_id", "text", ""}, column{"plan_version", "bigint", ""},
	column{"event_key", "text", ""}, column{"trace", "text", ""}, column{"text", "text", ""},
	column{"actor", "text", ""}, column{"reason", "text", ""}, column{"dispute", "bigint", ""},
	column{"at", "bigint", ""})

// checkPayLine refuses a line without what every line needs; prefix is
// put before the field names ("adjustment.").
func checkPayLine(l engine.PayLine, prefix string) error {
	if l.RepID <= 0 {
		return game.Errorf(game.EMissingField, prefix+"rep_id", "a pay line needs a rep")
	}
	for _, f := range []struct{ name, value string }{
		{"period", l.Period}, {"posted_in", l.PostedIn}, {"component", l.Component},
		{"kind", l.Kind}, {"actor", string(l.Actor)},
	} {
		if f.value == "" {
			return game.Errorf(game.EMissingField, prefix+f.name, "a pay line needs its %s", f.name)
		}
	}
	if _, err := game.MinorDigits(l.Currency); err != nil {
		return game.Errorf(game.ECurrency, prefix+"currency", "%s", game.AsError(err).Message)
	}
	if len(l.Trace) > 0 && !json.Valid(l.Trace) {
		return game.Errorf(game.EInvalid, prefix+"trace", "a pay line's trace must be JSON")
	}
	return nil
}

// appendPay checks and appends lines on q, setting their IDs, and At to
// the store's clock where it is zero. A rep that does not exist is
// EInvalid on prefix+"rep_id".
func (s *Store) appendPay(ctx context.Context, q Querier, lines []engine.PayLine, prefix string) error {
	if len(lines) == 0 {
		return nil
	}
	now := fromMicros(micros(s.now()))
	rows := make([]any, 0, len(lines)*insertPay.cols)
	for i := range lines {
		l := &lines[i]
		if err := checkPayLine(*l, prefix); err != nil {
			return err
		}
		if l.At.IsZero() {
			l.At = now
		}
		var trace any
		if len(l.Trace) > 0 {
			trace = string(l.Trace)
		}
		rows = append(rows, l.RepID, l.Period, l.PostedIn, l.Component, l.Kind, decimalText(l.Amount),
			l.Currency, l.PlanID, l.PlanVersion, l.EventKey, trace, l.Text, string(l.Actor), l.Reason,
			nullID(l.Dispute), micros(l.At))
	}
	stmts := insertPay.stmts(&s.d, rows)
	ids := make([][]int64, len(stmts))
	for i := range stmts {
		stmts[i].Scan = func(rows Rows) error {
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					return err
				}
				ids[i] = append(ids[i], id)
			}
			return nil
		}
	}
	if _, err := runBatch(ctx, q, stmts); err != nil {
		if s.d.IsForeignKeyViolation(err) {
			return game.Errorf(game.EInvalid, prefix+"rep_id", "a pay line names a rep that does not exist")
		}
		return fmt.Errorf("append %d pay lines: %w", len(lines), err)
	}
	all := make([]int64, 0, len(lines))
	for _, part := range ids {
		slices.Sort(part)
		all = append(all, part...)
	}
	if len(all) != len(lines) {
		return fmt.Errorf("append %d pay lines: %d ids returned", len(lines), len(all))
	}
	for i := range lines {
		lines[i].ID = all[i]
	}
	return nil
}

const payColumns = `id, rep_id, period, posted_in, component, kind, amount, currency, plan_id, plan_version,
                    event_key, trace, text, actor, reason, COALESCE(dispute, 0), at`

func scanPayLine(row Row) (engine.PayLine, error) {
	var (
		l     engine.PayLine
		trace []byte
		actor string
		at    int64
	)
	err := row.Scan(&l.ID, &l.RepID, &l.Period, &l.PostedIn, &l.Component, &l.Kind, &l.Amount, &l.Currency,
		&l.PlanID, &l.PlanVersion, &l.EventKey, &trace, &l.Text, &actor, &l.Reason, &l.Dispute, &at)
	if len(trace) > 0 {
		l.Trace = json.RawMessage(trace)
	}
	l.Actor, l.At = game.Actor(actor), fromMicros(at)
	return l, err
}

// loadPayLine returns one line; ENotFound on "id" when absent.
func loadPayLine(ctx context.Context, q Querier, id int64) (engine.PayLine, error) {
	l, err := scanPayLine(q.QueryRow(ctx, `SELECT `+payColumns+` FROM pay_ledger WHERE id = $1`, id))
	switch {
	case errors.Is(err, ErrNoRows):
		return engine.PayLine{}, game.Errorf(game.ENotFound, "id", "pay line %d does not exist", id)
	case err != nil:
		return engine.PayLine{}, fmt.Errorf("load pay line %d: %w", id, err)
	}
	return l, nil
}

// PayLines returns a rep's pay lines of period (PayLine.Period), oldest
// first; repID 0 means every rep's.
func (s *Store) PayLines(ctx context.Context, repID int64, period string) ([]engine.PayLine, error) {
	return s.payLines(ctx, "period", repID, period)
}

// PayLinesPostedIn returns the lines the statement of period shows: those
// posted in it (PayLine.PostedIn), corrections of locked periods included,
// oldest first; repID 0 means every rep's.
func (s *Store) PayLinesPostedIn(ctx context.Context, repID int64, period string) ([]engine.PayLine, error) {
	return s.payLines(ctx, "posted_in", repID, period)
}

// payLines returns the lines whose column col (period or posted_in) is
// period, of one rep or (repID 0) all, by id.
func (s *Store) payLines(ctx context.Context, col string, repID int64, period string) ([]engine.PayLine, error) {
	query, args := `SELECT `+payColumns+` FROM pay_ledger WHERE `+col+` = $1`, []any{period}
	if repID != 0 {
		query, args = query+` AND rep_id = $2`, append(args, repID)
	}
	out, err := queryAll(ctx, s.db.Reader(), scanPayLine, query+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("pay lines of %s %s: %w", col, period, err)
	}
	return out, nil
}

// RepPay returns everything of a rep's pay, for their data export: every
// pay line, every statement record and every dispute, oldest first.
func (s *Store) RepPay(ctx context.Context, repID int64) (engine.RepPay, error) {
	var out engine.RepPay
	var err error
	q := s.db.Reader()
	if out.Lines, err = queryAll(ctx, q, scanPayLine, `SELECT `+payColumns+` FROM pay_ledger WHERE rep_id = $1 ORDER BY id`, repID); err != nil {
		return out, fmt.Errorf("pay lines of rep %d: %w", repID, err)
	}
	if out.Disputes, err = queryDisputes(ctx, q, `rep_id = $1`, repID); err != nil {
		return out, fmt.Errorf("disputes of rep %d: %w", repID, err)
	}
	periods, err := queryAll(ctx, q, func(row Row) (string, error) {
		var p string
		return p, row.Scan(&p)
	}, `SELECT period FROM statements WHERE rep_id = $1 ORDER BY period`, repID)
	if err != nil {
		return out, fmt.Errorf("statements of rep %d: %w", repID, err)
	}
	for _, p := range periods {
		st, err := s.Statement(ctx, repID, p)
		if err != nil {
			return out, err
		}
		out.Statements = append(out.Statements, st)
	}
	out.Lines, out.Disputes, out.Statements = nonNil(out.Lines), nonNil(out.Disputes), nonNil(out.Statements)
	return out, nil
}

// PayLine returns one line; ENotFound on "id" when absent.
func (s *Store) PayLine(ctx context.Context, id int64) (engine.PayLine, error) {
	return loadPayLine(ctx, s.db.Reader(), id)
}

// lockPay takes the lock of a rep's pay for a period (Dialect.LockPay).
func (s *Store) lockPay(ctx context.Context, q Querier, repID int64, period string) error {
	if s.d.LockPay == "" {
		return nil
	}
	if _, err := q.Exec(ctx, s.d.LockPay, repID, period); err != nil {
		return fmt.Errorf("lock pay of rep %d for %s: %w", repID, period, err)
	}
	return nil
}

// statementStatuses are the statuses a statement may have.
var statementStatuses = []engine.StatementStatus{
	engine.StatementDraft, engine.StatementManagerApproved, engine.StatementFinanceApproved,
	engine.StatementLocked, engine.StatementPaid,
}

// final reports whether a statement in status st is frozen: its snapshot
// and hash can no longer change.
func final(st engine.StatementStatus) bool {
	return st == engine.StatementLocked || st == engine.StatementPaid
}

// loadStatement returns a rep's statement of a period, and whether a row
// is stored: a statement never acted on is a draft with no snapshot.
func loadStatement(ctx context.Context, q Querier, repID int64, period string) (engine.Statement, bool, error) {
	st, err := scanStatement(q.QueryRow(ctx,
		`SELECT `+statementColumns+` FROM statements WHERE rep_id = $1 AND period = $2`, repID, period))
	switch {
	case errors.Is(err, ErrNoRows):
		return engine.Statement{RepID: repID, Period: period, Status: engine.StatementDraft}, false, nil
	case err != nil:
		return engine.Statement{}, false, fmt.Errorf("load statement of rep %d for %s: %w", repID, period, err)
	}
	return st, true, nil
}

const statementColumns = `rep_id, period, status, snapshot, hash, stamps`

func scanStatement(row Row) (engine.Statement, error) {
	var (
		st               engine.Statement
		status           string
		snapshot, stamps []byte
	)
	if err := row.Scan(&st.RepID, &st.Period, &status, &snapshot, &st.Hash, &stamps); err != nil {
		return st, err
	}
	st.Status = engine.StatementStatus(status)
	if len(snapshot) > 0 {
		st.Snapshot = json.RawMessage(snapshot)
	}
	if err := unmarshal(stamps, &st.Stamps); err != nil {
		return st, fmt.Errorf("statement of rep %d for %s stamps: %w", st.RepID, st.Period, err)
	}
	if len(st.Stamps) == 0 {
		st.Stamps = nil
	}
	return st, nil
}

// Statement returns a rep's statement record for a period; one never acted
// on is a draft without snapshot or hash.
func (s *Store) Statement(ctx context.Context, repID int64, period string) (engine.Statement, error) {
	st, _, err := loadStatement(ctx, s.db.Reader(), repID, period)
	return st, err
}

// Statements returns every stored statement record of a period, by rep.
func (s *Store) Statements(ctx context.Context, period string) ([]engine.Statement, error) {
	out, err := queryAll(ctx, s.db.Reader(), scanStatement,
		`SELECT `+statementColumns+` FROM statements WHERE period = $1 ORDER BY rep_id`, period)
	if err != nil {
		return nil, fmt.Errorf("statements of %s: %w", period, err)
	}
	return out, nil
}

// MoveStatement moves a rep's statement from status `from` to st.Status,
// compare and set: a statement whose status is not `from` (one never acted
// on counts as a draft) is EConflict on "status", and nothing changes. It
// stores st's snapshot and hash, until the statement is locked: a locked
// statement can only be paid, keeping its snapshot and hash (a different
// one given is EConflict on "snapshot"), and a paid one no longer moves.
// Locking requires a snapshot (JSON) and its hash (EMissingField).
//
// The stamps are the store's, not st's: the stored ones, with the new
// status's stamped by `by` at the store's clock. A caller cannot rewrite who
// approved what.
//
// The move takes the rep's pay lock for the period (Dialect.LockPay), so a
// pay computation running meanwhile finishes first, and one after it sees
// the new status: no line is posted into a statement after it is locked.
// Audit: "statement.<status>" on "statement:<rep>:<period>", the statement
// before (none when it was never stored) and after.
func (s *Store) MoveStatement(ctx context.Context, st engine.Statement, from engine.StatementStatus, by game.Actor) (engine.Statement, error) {
	switch {
	case !slices.Contains(statementStatuses, st.Status):
		return engine.Statement{}, game.Errorf(game.EInvalid, "status", "%q is not a statement status", string(st.Status))
	case !slices.Contains(statementStatuses, from):
		return engine.Statement{}, game.Errorf(game.EInvalid, "from", "%q is not a statement status", string(from))
	case len(st.Snapshot) > 0 && !json.Valid(st.Snapshot):
		return engine.Statement{}, game.Errorf(game.EInvalid, "snapshot", "a statement's snapshot must be JSON")
	}
	var out engine.Statement
	err := s.audited(ctx, func(q Querier) error {
		if err := s.lockPay(ctx, q, st.RepID, st.Period); err != nil {
			return err
		}
		cur, stored, err := loadStatement(ctx, q, st.RepID, st.Period)
		if err != nil {
			return err
		}
		next, err := moved(cur, st, from)
		if err != nil {
			return err
		}
		next.Stamps = maps.Clone(cur.Stamps)
		if next.Stamps == nil {
			next.Stamps = make(map[string]engine.StampInfo, 1)
		}
		next.Stamps[string(next.Status)] = engine.StampInfo{By: by, At: fromMicros(micros(s.now()))}
		stamps, err := json.Marshal(next.Stamps)
		if err != nil {
			return fmt.Errorf("statement stamps: %w", err)
		}
		var snapshot any
		if len(next.Snapshot) > 0 {
			snapshot = string(next.Snapshot)
		}
		if stored {
			n, err := q.Exec(ctx,
				`UPDATE statements SET status = $1, snapshot = $2, hash = $3, stamps = $4
				  WHERE rep_id = $5 AND period = $6 AND status = $7`,
				string(next.Status), snapshot, next.Hash, string(stamps), next.RepID, next.Period, string(from))
			if err != nil {
				return fmt.Errorf("move statement of rep %d for %s: %w", next.RepID, next.Period, err)
			}
			if n != 1 { // cannot happen under the audit lock; the status is the guard all the same
				return statusConflict(cur.Status, from)
			}
		} else {
			_, err := q.Exec(ctx,
				`INSERT INTO statements (`+statementColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
				next.RepID, next.Period, string(next.Status), snapshot, next.Hash, string(stamps))
			switch {
			case err != nil && s.d.IsForeignKeyViolation(err):
				return game.Errorf(game.EInvalid, "rep_id", "rep %d does not exist", next.RepID)
			case err != nil && s.d.IsUniqueViolation(err):
				return statusConflict("", from)
			case err != nil:
				return fmt.Errorf("store statement of rep %d for %s: %w", next.RepID, next.Period, err)
			}
		}
		var before any
		if stored {
			before = cur
		}
		out = next
		return s.record(ctx, q, by, "statement."+string(next.Status), statementObject(next.RepID, next.Period), before, next)
	})
	if err != nil {
		return engine.Statement{}, err
	}
	return out, nil
}

// moved returns the statement cur becomes when moved to st.Status from
// `from`, or why it cannot move.
func moved(cur, st engine.Statement, from engine.StatementStatus) (engine.Statement, error) {
	if cur.Status != from {
		return engine.Statement{}, statusConflict(cur.Status, from)
	}
	next := engine.Statement{RepID: cur.RepID, Period: cur.Period, Status: st.Status, Snapshot: st.Snapshot, Hash: st.Hash}
	switch cur.Status {
	case engine.StatementPaid:
		return engine.Statement{}, game.Errorf(game.EConflict, "status", "this statement is paid: it can no longer change")
	case engine.StatementLocked:
		if st.Status != engine.StatementPaid {
			return engine.Statement{}, game.Errorf(game.EConflict, "status",
				"this statement is locked: it can only be marked paid, not %s", st.Status)
		}
		if (len(st.Snapshot) > 0 && !bytes.Equal(st.Snapshot, cur.Snapshot)) || (st.Hash != "" && st.Hash != cur.Hash) {
			return engine.Statement{}, game.Errorf(game.EConflict, "snapshot",
				"this statement is locked: its snapshot and hash are final")
		}
		next.Snapshot, next.Hash = cur.Snapshot, cur.Hash
	}
	if next.Status == engine.StatementLocked {
		if len(next.Snapshot) == 0 {
			return engine.Statement{}, game.Errorf(game.EMissingField, "snapshot", "a statement is locked with its snapshot")
		}
		if next.Hash == "" {
			return engine.Statement{}, game.Errorf(game.EMissingField, "hash", "a statement is locked with its snapshot's hash")
		}
	}
	return next, nil
}

func statusConflict(status, from engine.StatementStatus) error {
	if status == "" {
		return game.Errorf(game.EConflict, "status", "this statement changed meanwhile, it is no longer %s", from)
	}
	return game.Errorf(game.EConflict, "status", "this statement is %s, not %s", status, from)
}

func statementObject(repID int64, period string) string {
	return "statement:" + strconv.FormatInt(repID, 10) + ":" + period
}
