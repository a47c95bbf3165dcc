package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"podium/engine"
	"podium/game"
)

// PersonData returns everything stored about a rep and the user linked to
// them: the rep, the user, the deals whose splits name the rep, the rep's
// activities and ledger rows (oldest first), the audit entries about the
// rep or the user or made by the user, and the number of the user's live
// sessions. ENotFound on "id" for an unknown rep. The lists are empty, not
// nil, when there is nothing, so the export shows [] rather than null.
func (s *Store) PersonData(ctx context.Context, repID int64) (engine.PersonData, error) {
	q := s.db.Reader()
	rep, err := loadRep(ctx, q, repID)
	if err != nil {
		return engine.PersonData{}, err
	}
	out := engine.PersonData{Rep: rep}
	users, err := queryUsers(ctx, q, `u.rep_id = $1`, repID)
	if err != nil {
		return engine.PersonData{}, fmt.Errorf("person %d: user: %w", repID, err)
	}
	var userObject string // none matches no entry: every entry has an object and an actor
	if len(users) > 0 {
		out.User = &users[0]
		userObject = object("user", users[0].ID)
	}
	if out.Deals, err = dealsOf(ctx, q, repID); err != nil {
		return engine.PersonData{}, fmt.Errorf("person %d: deals: %w", repID, err)
	}
	if out.Activities, err = activitiesOf(ctx, q, repID); err != nil {
		return engine.PersonData{}, fmt.Errorf("person %d: activities: %w", repID, err)
	}
	if out.Ledger, err = queryLedger(ctx, q, `rep_id = $1 ORDER BY id`, repID); err != nil {
		return engine.PersonData{}, fmt.Errorf("person %d: ledger: %w", repID, err)
	}
	if out.Audit, err = queryAudit(ctx, q,
		`SELECT `+auditColumns+` FROM audit_log WHERE object = $1 OR object = $2 OR actor = $2 ORDER BY seq`,
		object("rep", repID), userObject); err != nil {
		return engine.PersonData{}, fmt.Errorf("person %d: audit: %w", repID, err)
	}
	if out.User != nil {
		var n int64
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE user_id = $1 AND expires_at > $2`,
			out.User.ID, micros(s.now())).Scan(&n); err != nil {
			return engine.PersonData{}, fmt.Errorf("person %d: sessions: %w", repID, err)
		}
		out.Sessions = int(n)
	}
	out.Deals = nonNil(out.Deals)
	out.Activities = nonNil(out.Activities)
	out.Ledger = nonNil(out.Ledger)
	out.Audit = nonNil(out.Audit)
	return out, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// dealsOf returns the deals whose splits name repID, by source and
// external id. Splits are JSON (JSONB on Postgres, which the dialects
// query differently), so SQL narrows the deals down to those whose splits
// mention the id's digits at all and Go decides.
func dealsOf(ctx context.Context, q Querier, repID int64) ([]game.Deal, error) {
	deals, err := queryAll(ctx, q, scanDeal,
		`SELECT `+dealColumns+` FROM deals WHERE CAST(splits AS TEXT) LIKE $1 ORDER BY source, external_id`,
		"%"+strconv.FormatInt(repID, 10)+"%")
	if err != nil {
		return nil, err
	}
	var out []game.Deal
	for _, d := range deals {
		if slices.ContainsFunc(d.Splits, func(sp game.Split) bool { return sp.RepID == repID }) {
			out = append(out, d.Deal)
		}
	}
	return out, nil
}

func activitiesOf(ctx context.Context, q Querier, repID int64) ([]game.Activity, error) {
	return queryAll(ctx, q, func(row Row) (game.Activity, error) {
		var (
			a  game.Activity
			at int64
		)
		err := row.Scan(&a.Source, &a.ExternalID, &a.RepID, &a.Kind, &a.Count, &at)
		a.OccurredAt = fromMicros(at)
		return a, err
	}, `SELECT source, external_id, rep_id, kind, count, occurred_at FROM activities
	     WHERE rep_id = $1 ORDER BY occurred_at, source, external_id`, repID)
}

// The pseudonyms of an erased person.
func erasedRepName(repID int64) string { return fmt.Sprintf("Erased person %d", repID) }
func erasedUserEmail(userID int64) string {
	return fmt.Sprintf("erased-user-%d@erased.invalid", userID)
}

const (
	erasedUserName    = "Erased person"
	erasedEmailDomain = "@erased.invalid"
)

// scrubTargets are the columns besides reps, users and the audit log where
// a person's name or email may have been copied as free text: team, deal
// and token names an admin or a CRM chose ("Team Ann Lee"), the stored
// answers of events and the outbox payloads, which hold feed messages with
// rep names. The ledger holds ids, not names, and its triggers refuse any
// change; the audit log's reasons are covered by its hash chain.
var scrubTargets = []struct {
	table string
	keys  []string // primary key
	col   string
	json  bool // a JSON document, stored as bytes; else plain text
}{
	{"teams", []string{"id"}, "name", false},
	{"deals", []string{"source", "external_id"}, "name", false},
	{"tokens", []string{"id"}, "name", false},
	{"events", []string{"key"}, "response", true},
	{"outbox", []string{"event_key"}, "payload", true},
	// What people wrote about pay ("Ann's Acme deal was 20,500").
	{"dispute_comments", []string{"id"}, "body", false},
	{"disputes", []string{"id"}, "resolution", false},
}

// ErasePerson pseudonymises a rep and their user everywhere in the
// database, in one transaction, keeping the ledger (ids, not names) and
// the audit chain:
//
//   - the rep is named erasedRepName, loses their email and records when
//     and why it was erased;
//   - the linked user gets a pseudonymous email and name, no password, is
//     disabled, and loses their sessions and reset links;
//   - audit entries about the rep or the user, and those whose before or
//     after hold the person's name or email (the current ones, and earlier
//     ones found in the entries about the rep and the user), are redacted:
//     before and after become {"redacted":true}, the digest and hashes
//     stay, so the chain still verifies;
//   - the same strings are replaced by the pseudonyms in team, deal and
//     token names, stored event answers and outbox payloads (scrubTargets),
//     as substrings, those of at least minScrubLen characters (see
//     scrubber);
//   - a game.ActionErase entry with the reason and game.Erasure (the seqs
//     redacted) as after is appended.
//
// The reason is required (EMissingField); a name or email in it is replaced
// by the pseudonym too, since the entry it goes into cannot be redacted
// later. ENotFound on "id" for an unknown rep.
func (s *Store) ErasePerson(ctx context.Context, repID int64, reason string, by game.Actor) (game.Erasure, error) {
	if strings.TrimSpace(reason) == "" {
		return game.Erasure{}, game.Errorf(game.EMissingField, "reason", "say why the person is erased, such as \"their request of 28 November\"")
	}
	var er game.Erasure
	err := s.audited(ctx, func(q Querier) error {
		er = game.Erasure{Rep: repID, Redacted: []int64{}}
		rep, err := loadRep(ctx, q, repID)
		if err != nil {
			return err
		}
		users, err := queryUsers(ctx, q, `u.rep_id = $1`, repID)
		if err != nil {
			return fmt.Errorf("erase rep %d: load user: %w", repID, err)
		}
		var user *game.User
		if len(users) > 0 {
			user, er.User = &users[0], users[0].ID
		}
		p, err := identify(ctx, q, rep, user)
		if err != nil {
			return fmt.Errorf("erase rep %d: %w", repID, err)
		}
		sc := p.sc
		if er.Redacted, err = s.redact(ctx, q, p); err != nil {
			return fmt.Errorf("erase rep %d: %w", repID, err)
		}
		reason := sc.text(reason)
		if _, err := q.Exec(ctx,
			`UPDATE reps SET name = $1, email = NULL, erased_at = $2, erasure_reason = $3 WHERE id = $4`,
			erasedRepName(repID), micros(s.now()), reason, repID); err != nil {
			return fmt.Errorf("erase rep %d: %w", repID, err)
		}
		if user != nil {
			if err := eraseUser(ctx, q, user.ID); err != nil {
				return fmt.Errorf("erase rep %d: %w", repID, err)
			}
		}
		if !sc.empty() {
			for _, t := range scrubTargets {
				if err := s.scrubColumn(ctx, q, sc, t.table, t.keys, t.col, t.json); err != nil {
					return fmt.Errorf("erase rep %d: scrub %s.%s: %w", repID, t.table, t.col, err)
				}
			}
		}
		after, err := json.Marshal(er)
		if err != nil {
			return fmt.Errorf("erase rep %d: %w", repID, err)
		}
		_, err = s.audit(ctx, q, game.AuditEntry{
			Actor: by, Action: game.ActionErase, Object: object("rep", repID), After: after, Reason: reason,
		})
		return err
	})
	if err != nil {
		return game.Erasure{}, err
	}
	return er, nil
}

func eraseUser(ctx context.Context, q Querier, userID int64) error {
	if _, err := q.Exec(ctx,
		`UPDATE users SET email = $1, name = $2, password_hash = '', disabled = TRUE,
		        failed_logins = 0, locked_until = NULL
		  WHERE id = $3`,
		erasedUserEmail(userID), erasedUserName, userID); err != nil {
		return fmt.Errorf("erase user %d: %w", userID, err)
	}
	for _, table := range []string{"sessions", "password_resets"} {
		if _, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("erase user %d: %s: %w", userID, table, err)
		}
	}
	return nil
}

// person is what identifies someone being erased.
type person struct {
	// objects are the audit objects "rep:<id>" and "user:<id>" (the rep's
	// twice when there is no user).
	objects [2]string
	// sc replaces their names and emails.
	sc *scrubber
}

// identify returns what identifies a person. In the scrubber, their names
// become the rep's pseudonym and their emails the user's pseudonymous
// address (or, without a user, one made from the rep id). Besides the
// current names and emails of the rep and the user, it collects the
// earlier ones from the audit entries about them not yet redacted: a rep
// renamed from "Ann Smith" to "Ann Lee" left "Ann Smith" in the log.
// Pseudonyms from an earlier erasure are not personal data and are left
// out.
func identify(ctx context.Context, q Querier, rep game.Rep, user *game.User) (person, error) {
	name, email := erasedRepName(rep.ID), fmt.Sprintf("erased-rep-%d%s", rep.ID, erasedEmailDomain)
	objects := [2]string{object("rep", rep.ID), object("rep", rep.ID)}
	if user != nil {
		email = erasedUserEmail(user.ID)
		objects[1] = object("user", user.ID)
	}
	m := map[string]string{}
	add := func(n, e string) {
		if n != "" && !strings.HasPrefix(n, erasedUserName) {
			m[n] = name
		}
		if e != "" && !strings.HasSuffix(e, erasedEmailDomain) {
			m[e] = email
		}
	}
	add(rep.Name, rep.Email)
	if user != nil {
		add(user.Name, user.Email)
	}
	entries, err := queryAudit(ctx, q,
		`SELECT `+auditColumns+` FROM audit_log WHERE (object = $1 OR object = $2) AND NOT redacted ORDER BY seq`,
		objects[0], objects[1])
	if err != nil {
		return person{}, fmt.Errorf("earlier names: %w", err)
	}
	for _, e := range entries {
		for _, p := range []json.RawMessage{e.Before, e.After} {
			var v struct{ Name, Email string }
			if json.Unmarshal(p, &v) == nil { // a payload that is not a rep or a user has neither
				add(v.Name, v.Email)
			}
		}
	}
	return person{objects: objects, sc: newScrubber(m)}, nil
}

// redact blanks the before and after of every entry not yet redacted that
// is about p (its object) or holds one of p's strings, and returns their
// seqs. SQL finds the candidates (any needle, as text); Go confirms on the
// bytes. Erasure entries are left alone: they hold ids only, and the
// verifier reads them to know which redactions are legitimate.
func (s *Store) redact(ctx context.Context, q Querier, p person) ([]int64, error) {
	where := `object = $1 OR object = $2`
	conds, args := s.containsAny(p.sc, []string{"before", "after"}, false, 3)
	if conds != "" {
		where += ` OR ` + conds
	}
	entries, err := queryAudit(ctx, q,
		`SELECT `+auditColumns+` FROM audit_log
		  WHERE NOT redacted AND action <> $`+strconv.Itoa(3+len(args))+`
		    AND (before IS NOT NULL OR after IS NOT NULL) AND (`+where+`)
		  ORDER BY seq`,
		append(append([]any{p.objects[0], p.objects[1]}, args...), game.ActionErase)...)
	if err != nil {
		return nil, fmt.Errorf("find entries to redact: %w", err)
	}
	seqs := []int64{}
	for _, e := range entries {
		if e.Object == p.objects[0] || e.Object == p.objects[1] || p.sc.contains(e.Before) || p.sc.contains(e.After) {
			seqs = append(seqs, e.Seq)
		}
	}
	// The one UPDATE the audit log's triggers allow: the payloads (those
	// there are) replaced by the marker, redacted set, nothing else.
	const marker = `'` + redactedJSON + `'`
	for _, c := range in(&s.d, "seq", seqs) {
		if _, err := q.Exec(ctx,
			`UPDATE audit_log SET before = CASE WHEN before IS NULL THEN NULL ELSE `+marker+` END,
			        after = CASE WHEN after IS NULL THEN NULL ELSE `+marker+` END,
			        redacted = TRUE
			  WHERE `+c.sql, c.args...); err != nil {
			return nil, fmt.Errorf("redact audit entries: %w", err)
		}
	}
	return seqs, nil
}

// containsAny returns the condition that any of cols contains any of sc's
// needles, numbered from $first, with its arguments, bound as bytes when
// asBytes; "" when sc has no needles.
func (s *Store) containsAny(sc *scrubber, cols []string, asBytes bool, first int) (string, []any) {
	var (
		conds []string
		args  []any
	)
	for i, n := range sc.needles {
		p := "$" + strconv.Itoa(first+i)
		for _, col := range cols {
			conds = append(conds, s.d.Contains(col, p))
		}
		if asBytes {
			args = append(args, []byte(n))
		} else {
			args = append(args, n)
		}
	}
	return strings.Join(conds, " OR "), args
}

// scrubColumn replaces sc's strings in column col of table: as JSON when
// isJSON (bytes), else as text. keys are the table's primary key columns.
// Rows are read first and written afterwards: a connection cannot write
// while it streams rows.
func (s *Store) scrubColumn(ctx context.Context, q Querier, sc *scrubber, table string, keys []string, col string, isJSON bool) error {
	conds, args := s.containsAny(sc, []string{col}, isJSON, 1)
	rows, err := q.Query(ctx, `SELECT `+strings.Join(keys, ", ")+`, `+col+` FROM `+table+` WHERE `+conds, args...)
	if err != nil {
		return err
	}
	type change struct {
		key   []any
		value any
	}
	var changes []change
	for rows.Next() {
		key := make([]any, len(keys))
		var value []byte
		dest := make([]any, 0, len(keys)+1)
		for i := range key {
			dest = append(dest, &key[i])
		}
		if err := rows.Scan(append(dest, &value)...); err != nil {
			rows.Close()
			return err
		}
		if !sc.contains(value) {
			continue // a false candidate: SQLite's text and byte semantics differ on odd data
		}
		if isJSON {
			changes = append(changes, change{key, sc.json(value)})
		} else {
			changes = append(changes, change{key, sc.text(string(value))})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	where := make([]string, len(keys))
	for i, k := range keys {
		where[i] = k + " = $" + strconv.Itoa(i+2)
	}
	update := `UPDATE ` + table + ` SET ` + col + ` = $1 WHERE ` + strings.Join(where, " AND ")
	for _, c := range changes {
		if _, err := q.Exec(ctx, update, append([]any{c.value}, c.key...)...); err != nil {
			return err
		}
	}
	return nil
}
