package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"podium/engine"
	"podium/game"
)

// This file is engine.CompStore's disputes: a rep's challenge of a pay
// line, its thread, and its resolution with an optional adjustment.

// The statuses of a dispute.
const (
	disputeOpen     = "open"
	disputeResolved = "resolved"
)

const disputeColumns = `id, rep_id, period, line_id, status, resolution, opened_by, opened_at`

func scanDispute(row Row) (engine.Dispute, error) {
	var (
		d      engine.Dispute
		opener string
		at     int64
	)
	err := row.Scan(&d.ID, &d.RepID, &d.Period, &d.LineID, &d.Status, &d.Resolution, &opener, &at)
	d.OpenedBy, d.OpenedAt = game.Actor(opener), fromMicros(at)
	return d, err
}

// queryDisputes returns the disputes where selects (a condition on the
// disputes table), by id, with their comments in order.
func queryDisputes(ctx context.Context, q Querier, where string, args ...any) ([]engine.Dispute, error) {
	out, err := queryAll(ctx, q, scanDispute, `SELECT `+disputeColumns+` FROM disputes WHERE `+where+` ORDER BY id`, args...)
	if err != nil || len(out) == 0 {
		return out, err
	}
	at := make(map[int64]int, len(out))
	for i, d := range out {
		at[d.ID] = i
	}
	rows, err := q.Query(ctx,
		`SELECT dispute_id, by_actor, at, body FROM dispute_comments
		  WHERE dispute_id IN (SELECT id FROM disputes WHERE `+where+`)
		  ORDER BY dispute_id, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, us int64
			by     string
			c      engine.DisputeComment
		)
		if err := rows.Scan(&id, &by, &us, &c.Body); err != nil {
			return nil, err
		}
		c.By, c.At = game.Actor(by), fromMicros(us)
		if i, ok := at[id]; ok { // a dispute opened since the first query is left out
			out[i].Comments = append(out[i].Comments, c)
		}
	}
	return out, rows.Err()
}

// loadDispute returns one dispute with its comments; ENotFound on "id".
func loadDispute(ctx context.Context, q Querier, id int64) (engine.Dispute, error) {
	ds, err := queryDisputes(ctx, q, `id = $1`, id)
	switch {
	case err != nil:
		return engine.Dispute{}, fmt.Errorf("load dispute %d: %w", id, err)
	case len(ds) == 0:
		return engine.Dispute{}, game.Errorf(game.ENotFound, "id", "dispute %d does not exist", id)
	}
	return ds[0], nil
}

// addComment appends a comment to a dispute's thread.
func addComment(ctx context.Context, q Querier, id int64, c engine.DisputeComment) error {
	if _, err := q.Exec(ctx,
		`INSERT INTO dispute_comments (dispute_id, by_actor, at, body) VALUES ($1, $2, $3, $4)`,
		id, string(c.By), micros(c.At), c.Body); err != nil {
		return fmt.Errorf("comment on dispute %d: %w", id, err)
	}
	return nil
}

// comment returns c as stored: written by `by` now, whatever c says.
func (s *Store) comment(c engine.DisputeComment, by game.Actor) (engine.DisputeComment, error) {
	if strings.TrimSpace(c.Body) == "" {
		return c, game.Errorf(game.EMissingField, "comment", "a comment needs a text")
	}
	c.By, c.At = by, fromMicros(micros(s.now()))
	return c, nil
}

// OpenDispute starts a dispute of a pay line with its first comments (at
// least one, EMissingField "comment"), each written by `by` at the store's
// clock. The line must exist and be d.RepID's (EInvalid "line_id"), with
// no open dispute yet (EConflict "line_id"). Period defaults to the
// line's; another than the line's period or the one it was posted in is
// EInvalid. Audit: "dispute.open" on "dispute:<id>".
func (s *Store) OpenDispute(ctx context.Context, d engine.Dispute, by game.Actor) (engine.Dispute, error) {
	if len(d.Comments) == 0 {
		return engine.Dispute{}, game.Errorf(game.EMissingField, "comment", "a dispute starts with a comment saying what is wrong")
	}
	comments := make([]engine.DisputeComment, len(d.Comments))
	for i, c := range d.Comments {
		var err error
		if comments[i], err = s.comment(c, by); err != nil {
			return engine.Dispute{}, err
		}
	}
	d.ID, d.Status, d.Resolution, d.OpenedBy, d.Comments = 0, disputeOpen, "", by, comments
	d.OpenedAt = comments[0].At
	err := s.audited(ctx, func(q Querier) error {
		line, err := loadPayLine(ctx, q, d.LineID)
		switch {
		case game.ErrorCode(err) == game.ENotFound:
			return game.Errorf(game.EInvalid, "line_id", "pay line %d does not exist", d.LineID)
		case err != nil:
			return err
		case line.RepID != d.RepID:
			return game.Errorf(game.EInvalid, "line_id", "pay line %d is not rep %d's", d.LineID, d.RepID)
		}
		switch d.Period {
		case "":
			d.Period = line.Period
		case line.Period, line.PostedIn:
		default:
			return game.Errorf(game.EInvalid, "period", "pay line %d is of %s, not %s", line.ID, line.Period, d.Period)
		}
		var open int64
		err = q.QueryRow(ctx, `SELECT id FROM disputes WHERE line_id = $1 AND status = $2`, d.LineID, disputeOpen).Scan(&open)
		switch {
		case err == nil:
			return game.Errorf(game.EConflict, "line_id", "pay line %d is already disputed (dispute %d is open)", d.LineID, open)
		case !errors.Is(err, ErrNoRows):
			return fmt.Errorf("check disputes of line %d: %w", d.LineID, err)
		}
		if err := q.QueryRow(ctx,
			`INSERT INTO disputes (rep_id, period, line_id, status, resolution, opened_by, opened_at)
			 VALUES ($1, $2, $3, $4, '', $5, $6) RETURNING id`,
			d.RepID, d.Period, d.LineID, d.Status, string(d.OpenedBy), micros(d.OpenedAt)).Scan(&d.ID); err != nil {
			return fmt.Errorf("open dispute: %w", err)
		}
		for _, c := range d.Comments {
			if err := addComment(ctx, q, d.ID, c); err != nil {
				return err
			}
		}
		return s.record(ctx, q, by, "dispute.open", object("dispute", d.ID), nil, d)
	})
	if err != nil {
		return engine.Dispute{}, err
	}
	return d, nil
}

// openDispute loads a dispute that must still be open: ENotFound on "id",
// EConflict on "status" when it is resolved.
func openDispute(ctx context.Context, q Querier, id int64) (engine.Dispute, error) {
	d, err := loadDispute(ctx, q, id)
	if err != nil {
		return engine.Dispute{}, err
	}
	if d.Status != disputeOpen {
		return engine.Dispute{}, game.Errorf(game.EConflict, "status", "dispute %d is resolved (%s); open a new one", id, d.Resolution)
	}
	return d, nil
}

// CommentDispute appends a comment, written by `by` at the store's clock,
// and returns the dispute with it. An empty comment is EMissingField
// "comment", an unknown dispute ENotFound, a resolved one EConflict.
// Audit: "dispute.comment" on "dispute:<id>", the comment as after.
func (s *Store) CommentDispute(ctx context.Context, id int64, c engine.DisputeComment, by game.Actor) (engine.Dispute, error) {
	c, err := s.comment(c, by)
	if err != nil {
		return engine.Dispute{}, err
	}
	var d engine.Dispute
	err = s.audited(ctx, func(q Querier) error {
		var err error
		if d, err = openDispute(ctx, q, id); err != nil {
			return err
		}
		if err := addComment(ctx, q, id, c); err != nil {
			return err
		}
		d.Comments = append(d.Comments, c)
		return s.record(ctx, q, by, "dispute.comment", object("dispute", id), nil, c)
	})
	if err != nil {
		return engine.Dispute{}, err
	}
	return d, nil
}

// resolved is the after of a "dispute.resolve" audit entry: the dispute as
// resolved, and the pay line its resolution appended, if any.
type resolved struct {
	Dispute    engine.Dispute  `json:"dispute"`
	Adjustment *engine.PayLine `json:"adjustment,omitempty"`
}

// ResolveDispute closes an open dispute with a resolution (EMissingField
// "resolution" when empty; ENotFound, or EConflict when already resolved)
// and, when adjustment is not nil, appends it to the pay ledger in the same
// transaction, with Dispute set to the dispute's id, the rep defaulting to
// the dispute's (another is EInvalid "adjustment.rep_id"), the kind to
// "adjustment" and the actor to `by`. An adjustment posted into a locked
// or paid statement is EConflict on "adjustment.posted_in": post it in the
// open period, labelled with the period it corrects. Audit:
// "dispute.resolve" on "dispute:<id>", the dispute before and after
// {"dispute": the dispute resolved, "adjustment": the line appended}.
func (s *Store) ResolveDispute(ctx context.Context, id int64, resolution string, adjustment *engine.PayLine, by game.Actor) (engine.Dispute, error) {
	if strings.TrimSpace(resolution) == "" {
		return engine.Dispute{}, game.Errorf(game.EMissingField, "resolution", "say how the dispute is resolved")
	}
	var out engine.Dispute
	err := s.audited(ctx, func(q Querier) error {
		d, err := openDispute(ctx, q, id)
		if err != nil {
			return err
		}
		before := d
		d.Status, d.Resolution = disputeResolved, resolution
		if _, err := q.Exec(ctx, `UPDATE disputes SET status = $1, resolution = $2 WHERE id = $3`,
			d.Status, d.Resolution, id); err != nil {
			return fmt.Errorf("resolve dispute %d: %w", id, err)
		}
		var adj *engine.PayLine
		if adjustment != nil {
			if adj, err = s.adjust(ctx, q, d, *adjustment, by); err != nil {
				return err
			}
		}
		out = d
		return s.record(ctx, q, by, "dispute.resolve", object("dispute", id), before, resolved{d, adj})
	})
	if err != nil {
		return engine.Dispute{}, err
	}
	return out, nil
}

// AdjustPay appends a manual adjustment line and its audit entry
// ("pay.adjust") in one transaction, under the rep's pay lock; EConflict on
// "period" when the statement it would show in is locked or paid.
func (s *Store) AdjustPay(ctx context.Context, l engine.PayLine, by game.Actor) (engine.PayLine, error) {
	var out engine.PayLine
	err := s.audited(ctx, func(q Querier) error {
		if err := s.lockPay(ctx, q, l.RepID, l.PostedIn); err != nil {
			return err
		}
		st, _, err := loadStatement(ctx, q, l.RepID, l.PostedIn)
		if err != nil {
			return err
		}
		if final(st.Status) {
			return game.Errorf(game.EConflict, "period", "the statement of %s is %s: post the adjustment in the open period", l.PostedIn, st.Status)
		}
		l.ID = 0
		lines := []engine.PayLine{l}
		if err := s.appendPay(ctx, q, lines, ""); err != nil {
			return err
		}
		out = lines[0]
		return s.record(ctx, q, by, "pay.adjust", object("rep", l.RepID), nil, out)
	})
	if err != nil {
		return engine.PayLine{}, err
	}
	return out, nil
}

// adjust appends the adjustment line of dispute d's resolution.
func (s *Store) adjust(ctx context.Context, q Querier, d engine.Dispute, l engine.PayLine, by game.Actor) (*engine.PayLine, error) {
	l.ID, l.Dispute = 0, d.ID
	if l.RepID == 0 {
		l.RepID = d.RepID
	}
	if l.RepID != d.RepID {
		return nil, game.Errorf(game.EInvalid, "adjustment.rep_id", "dispute %d is rep %d's, not rep %d's", d.ID, d.RepID, l.RepID)
	}
	if l.Kind == "" {
		l.Kind = "adjustment"
	}
	if l.Actor == "" {
		l.Actor = by
	}
	if l.PostedIn != "" {
		// Like a statement move, under the pay lock: no statement is
		// locked between this check and the commit.
		if err := s.lockPay(ctx, q, l.RepID, l.PostedIn); err != nil {
			return nil, err
		}
		st, _, err := loadStatement(ctx, q, l.RepID, l.PostedIn)
		if err != nil {
			return nil, err
		}
		if final(st.Status) {
			return nil, game.Errorf(game.EConflict, "adjustment.posted_in",
				"the statement of %s is %s: post the adjustment in the open period", l.PostedIn, st.Status)
		}
	}
	lines := []engine.PayLine{l}
	if err := s.appendPay(ctx, q, lines, "adjustment."); err != nil {
		return nil, err
	}
	return &lines[0], nil
}

// Disputes returns the disputes of a rep's period (repID 0: every rep's),
// oldest first, with their comments.
func (s *Store) Disputes(ctx context.Context, repID int64, period string) ([]engine.Dispute, error) {
	where, args := `period = $1`, []any{period}
	if repID != 0 {
		where, args = where+` AND rep_id = $2`, append(args, repID)
	}
	out, err := queryDisputes(ctx, s.db.Reader(), where, args...)
	if err != nil {
		return nil, fmt.Errorf("disputes of %s: %w", period, err)
	}
	return out, nil
}

// Dispute returns one dispute with its comments; ENotFound when absent.
func (s *Store) Dispute(ctx context.Context, id int64) (engine.Dispute, error) {
	return loadDispute(ctx, s.db.Reader(), id)
}
