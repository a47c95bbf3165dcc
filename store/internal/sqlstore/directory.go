package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"podium/game"
)

// This file is engine.Directory's users, sessions, reset links and tokens;
// audit.go has the log and person.go the privacy requests. Every method
// that an admin's change goes through runs in s.audited and appends its
// entry there. Secrets (password, session, reset and token hashes) are
// stored, never put in an entry: the entries marshal game.User and
// game.Token, which tag them `json:"-"`.

// userColumns are the columns of a user, from "users u"; usersFrom joins
// its managed teams, one row per team (or one row with a NULL team), which
// collectUsers folds back into users.
const (
	userColumns = `u.id, u.email, u.name, u.role, COALESCE(u.rep_id, 0), u.disabled,
	               u.password_hash, u.failed_logins, u.locked_until, u.created_at, ut.team_id`
	usersFrom = ` FROM users u LEFT JOIN user_teams ut ON ut.user_id = u.id`
)

// collectUsers reads rows of extra columns followed by userColumns, ordered
// by user id, and returns the users with their teams in the order of the
// rows. The extra columns are scanned into extra on every row.
func collectUsers(rows Rows, extra ...any) ([]game.User, error) {
	var out []game.User
	for rows.Next() {
		var (
			u            game.User
			locked, team *int64
			created      int64
			dest         = slices.Clip(extra)
		)
		dest = append(dest, &u.ID, &u.Email, &u.Name, &u.Role, &u.RepID, &u.Disabled,
			&u.PasswordHash, &u.FailedLogins, &locked, &created, &team)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].ID == u.ID {
			if team != nil {
				out[n-1].Teams = append(out[n-1].Teams, *team)
			}
			continue
		}
		u.LockedUntil, u.CreatedAt = timeOf(locked), fromMicros(created)
		if team != nil {
			u.Teams = []int64{*team}
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// queryUsers returns the users that where selects, by id.
func queryUsers(ctx context.Context, q Querier, where string, args ...any) ([]game.User, error) {
	rows, err := q.Query(ctx, `SELECT `+userColumns+usersFrom+` WHERE `+where+` ORDER BY u.id, ut.team_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return collectUsers(rows)
}

// loadUser returns the one user that where selects; ENotFound on field
// when there is none.
func loadUser(ctx context.Context, q Querier, field, what string, where string, args ...any) (game.User, error) {
	users, err := queryUsers(ctx, q, where, args...)
	if err != nil {
		return game.User{}, fmt.Errorf("load user %s: %w", what, err)
	}
	if len(users) == 0 {
		return game.User{}, game.Errorf(game.ENotFound, field, "user %s does not exist", what)
	}
	return users[0], nil
}

func loadUserByID(ctx context.Context, q Querier, id int64) (game.User, error) {
	return loadUser(ctx, q, "id", fmt.Sprint(id), `u.id = $1`, id)
}

// checkUser refuses what a user may not be stored with: an email or a rep
// another user has, a rep or a team that does not exist. It runs under the
// audit lock, so what it finds stays true until the change commits; the
// unique keys would catch a race anyway, with a less precise error.
func checkUser(ctx context.Context, q Querier, u game.User) error {
	taken, err := exists(ctx, q, `SELECT 1 FROM users WHERE email = $1 AND id <> $2`, u.Email, u.ID)
	if err != nil {
		return fmt.Errorf("check email: %w", err)
	}
	if taken {
		return game.Errorf(game.EConflict, "email", "a user with email %q already exists", u.Email)
	}
	if u.RepID != 0 {
		ok, err := exists(ctx, q, `SELECT 1 FROM reps WHERE id = $1`, u.RepID)
		if err != nil {
			return fmt.Errorf("check rep: %w", err)
		}
		if !ok {
			return game.Errorf(game.EInvalid, "rep_id", "rep %d does not exist", u.RepID)
		}
		taken, err := exists(ctx, q, `SELECT 1 FROM users WHERE rep_id = $1 AND id <> $2`, u.RepID, u.ID)
		if err != nil {
			return fmt.Errorf("check rep: %w", err)
		}
		if taken {
			return game.Errorf(game.EConflict, "rep_id", "rep %d already signs in as another user", u.RepID)
		}
	}
	for _, id := range u.Teams {
		ok, err := exists(ctx, q, `SELECT 1 FROM teams WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("check teams: %w", err)
		}
		if !ok {
			return game.Errorf(game.EInvalid, "teams", "team %d does not exist", id)
		}
	}
	return nil
}

// setTeams replaces the teams a user manages.
func setTeams(ctx context.Context, q Querier, userID int64, teams []int64) error {
	if _, err := q.Exec(ctx, `DELETE FROM user_teams WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("set teams of user %d: %w", userID, err)
	}
	for _, id := range teams {
		if _, err := q.Exec(ctx, `INSERT INTO user_teams (user_id, team_id) VALUES ($1, $2)`, userID, id); err != nil {
			return fmt.Errorf("set teams of user %d: %w", userID, err)
		}
	}
	return nil
}

// sortedIDs returns ids sorted, without repeats; nil when empty.
func sortedIDs(ids []int64) []int64 {
	if len(ids) == 0 {
		return nil
	}
	return slices.Compact(slices.Sorted(slices.Values(ids)))
}

func (s *Store) userError(op string, u game.User, err error) error {
	if s.d.IsUniqueViolation(err) { // taken meanwhile by a write that bypassed checkUser
		return game.Errorf(game.EConflict, "email", "a user with email %q or rep %d already exists", u.Email, u.RepID)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// CreateUser stores a new user with its managed teams (sorted, without
// repeats) and returns it as stored, with its id; CreatedAt defaults to
// the store's clock. A taken email is EConflict on "email", a rep another
// user is linked to EConflict on "rep_id"; an unknown rep or team is
// EInvalid on "rep_id" or "teams". Audit: "user.create".
func (s *Store) CreateUser(ctx context.Context, u game.User, by game.Actor) (game.User, error) {
	u.ID, u.Teams = 0, sortedIDs(u.Teams)
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	var out game.User
	err := s.audited(ctx, func(q Querier) error {
		if err := checkUser(ctx, q, u); err != nil {
			return err
		}
		var id int64
		err := q.QueryRow(ctx,
			`INSERT INTO users (email, name, role, rep_id, disabled, password_hash, failed_logins, locked_until, created_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			u.Email, u.Name, string(u.Role), nullID(u.RepID), u.Disabled, u.PasswordHash, u.FailedLogins,
			nullTime(u.LockedUntil), micros(u.CreatedAt)).Scan(&id)
		if err != nil {
			return s.userError("create user", u, err)
		}
		if err := setTeams(ctx, q, id, u.Teams); err != nil {
			return err
		}
		if out, err = loadUserByID(ctx, q, id); err != nil {
			return err
		}
		return s.record(ctx, q, by, "user.create", object("user", id), nil, out)
	})
	if err != nil {
		return game.User{}, err
	}
	return out, nil
}

// UpdateUser replaces a user's email, name, role, rep, teams and disabled
// flag, not the password or sign-in state, and returns the user as stored.
// Errors are CreateUser's, and ENotFound on "id". Audit: "user.update",
// before and after.
func (s *Store) UpdateUser(ctx context.Context, u game.User, by game.Actor) (game.User, error) {
	u.Teams = sortedIDs(u.Teams)
	var out game.User
	err := s.audited(ctx, func(q Querier) error {
		old, err := loadUserByID(ctx, q, u.ID)
		if err != nil {
			return err
		}
		if err := checkUser(ctx, q, u); err != nil {
			return err
		}
		if _, err := q.Exec(ctx,
			`UPDATE users SET email = $1, name = $2, role = $3, rep_id = $4, disabled = $5 WHERE id = $6`,
			u.Email, u.Name, string(u.Role), nullID(u.RepID), u.Disabled, u.ID); err != nil {
			return s.userError(fmt.Sprintf("update user %d", u.ID), u, err)
		}
		if err := setTeams(ctx, q, u.ID, u.Teams); err != nil {
			return err
		}
		if out, err = loadUserByID(ctx, q, u.ID); err != nil {
			return err
		}
		return s.record(ctx, q, by, "user.update", object("user", u.ID), old, out)
	})
	if err != nil {
		return game.User{}, err
	}
	return out, nil
}

// User returns a user with sign-in state and managed teams; ENotFound on
// "id" when absent.
func (s *Store) User(ctx context.Context, id int64) (game.User, error) {
	return loadUserByID(ctx, s.db.Reader(), id)
}

// UserByEmail returns a user by email, as stored (the caller normalises
// it); ENotFound on "email" when absent.
func (s *Store) UserByEmail(ctx context.Context, email string) (game.User, error) {
	return loadUser(ctx, s.db.Reader(), "email", fmt.Sprintf("%q", email), `u.email = $1`, email)
}

// ListUsers returns every user, by id, with their managed teams.
func (s *Store) ListUsers(ctx context.Context) ([]game.User, error) {
	users, err := queryUsers(ctx, s.db.Reader(), `TRUE`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// CountUsers returns the number of users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int64
	if err := s.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return int(n), nil
}

// SetPassword stores a password hash and clears the failure count and the
// lock; ENotFound on "id" for an unknown user. Audit: "user.password",
// without before or after (there is nothing to show but the hash).
func (s *Store) SetPassword(ctx context.Context, userID int64, hash string, by game.Actor) error {
	return s.audited(ctx, func(q Querier) error {
		n, err := q.Exec(ctx,
			`UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL WHERE id = $2`,
			hash, userID)
		if err != nil {
			return fmt.Errorf("set password of user %d: %w", userID, err)
		}
		if n == 0 {
			return noUser("id", userID)
		}
		return s.record(ctx, q, by, "user.password", object("user", userID), nil, nil)
	})
}

func noUser(field string, id int64) error {
	return game.Errorf(game.ENotFound, field, "user %d does not exist", id)
}

// SetLoginState records failed sign-ins and a lock (zero for none);
// ENotFound on "id" for an unknown user. Not audited: the caller audits a
// lockout when it wants one.
func (s *Store) SetLoginState(ctx context.Context, userID int64, failed int, lockedUntil time.Time) error {
	n, err := s.db.Writer().Exec(ctx,
		`UPDATE users SET failed_logins = $1, locked_until = $2 WHERE id = $3`,
		failed, nullTime(lockedUntil), userID)
	if err != nil {
		return fmt.Errorf("set sign-in state of user %d: %w", userID, err)
	}
	if n == 0 {
		return noUser("id", userID)
	}
	return nil
}

// CreateSession stores a session. A hash already stored is EConflict on
// "hash"; an unknown user EInvalid on "user_id". The user's sessions that
// had expired when this one was created are deleted on the way, so that
// sessions do not pile up.
func (s *Store) CreateSession(ctx context.Context, sess game.Session) error {
	return s.run(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2`,
			sess.UserID, micros(sess.CreatedAt)); err != nil {
			return fmt.Errorf("delete expired sessions of user %d: %w", sess.UserID, err)
		}
		_, err := q.Exec(ctx,
			`INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			sess.Hash, sess.UserID, sess.CSRF, micros(sess.CreatedAt), micros(sess.ExpiresAt))
		switch {
		case err == nil:
			return nil
		case s.d.IsUniqueViolation(err):
			return game.Errorf(game.EConflict, "hash", "a session with this hash already exists")
		case s.d.IsForeignKeyViolation(err):
			return game.Errorf(game.EInvalid, "user_id", "user %d does not exist", sess.UserID)
		}
		return fmt.Errorf("create session of user %d: %w", sess.UserID, err)
	})
}

// Session returns a live session and its user in one query: it runs on
// every request a browser makes. ENotFound when the session is absent or
// expired at now, or its user is disabled.
func (s *Store) Session(ctx context.Context, hash string, now time.Time) (game.Session, game.User, error) {
	sess := game.Session{Hash: hash}
	var created, expires int64
	rows, err := s.db.Reader().Query(ctx,
		`SELECT s.user_id, s.csrf, s.created_at, s.expires_at, `+userColumns+`
		   FROM sessions s JOIN users u ON u.id = s.user_id
		   LEFT JOIN user_teams ut ON ut.user_id = u.id
		  WHERE s.hash = $1 AND s.expires_at > $2 AND NOT u.disabled
		  ORDER BY ut.team_id`,
		hash, micros(now))
	if err != nil {
		return game.Session{}, game.User{}, fmt.Errorf("load session: %w", err)
	}
	defer rows.Close()
	users, err := collectUsers(rows, &sess.UserID, &sess.CSRF, &created, &expires)
	if err != nil {
		return game.Session{}, game.User{}, fmt.Errorf("load session: %w", err)
	}
	if len(users) == 0 {
		return game.Session{}, game.User{}, game.Errorf(game.ENotFound, "", "the session does not exist or has ended; sign in again")
	}
	sess.CreatedAt, sess.ExpiresAt = fromMicros(created), fromMicros(expires)
	return sess, users[0], nil
}

// DeleteSession ends one session; an unknown hash is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.db.Writer().Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessions ends every session of a user and returns how many there
// were; ENotFound on "id" for an unknown user. Audit: "user.signout_all",
// with the number of sessions ended as after.
func (s *Store) DeleteSessions(ctx context.Context, userID int64, by game.Actor) (int, error) {
	var n int64
	err := s.audited(ctx, func(q Querier) error {
		ok, err := exists(ctx, q, `SELECT 1 FROM users WHERE id = $1`, userID)
		if err != nil {
			return fmt.Errorf("delete sessions of user %d: %w", userID, err)
		}
		if !ok {
			return noUser("id", userID)
		}
		if n, err = q.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("delete sessions of user %d: %w", userID, err)
		}
		return s.record(ctx, q, by, "user.signout_all", object("user", userID), nil,
			struct {
				Sessions int64 `json:"sessions"`
			}{n})
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// CreateReset stores a password-reset link. An unknown user is ENotFound
// on "user_id", a hash already stored EConflict on "hash". Links that have
// expired are deleted on the way. Audit: "user.reset_issued", with the
// expiry as after.
func (s *Store) CreateReset(ctx context.Context, r game.Reset, by game.Actor) error {
	return s.audited(ctx, func(q Querier) error {
		ok, err := exists(ctx, q, `SELECT 1 FROM users WHERE id = $1`, r.UserID)
		if err != nil {
			return fmt.Errorf("create reset for user %d: %w", r.UserID, err)
		}
		if !ok {
			return noUser("user_id", r.UserID)
		}
		if _, err := q.Exec(ctx, `DELETE FROM password_resets WHERE expires_at <= $1`, micros(s.now())); err != nil {
			return fmt.Errorf("delete expired resets: %w", err)
		}
		_, err = q.Exec(ctx, `INSERT INTO password_resets (hash, user_id, expires_at) VALUES ($1, $2, $3)`,
			r.Hash, r.UserID, micros(r.ExpiresAt))
		switch {
		case s.d.IsUniqueViolation(err):
			return game.Errorf(game.EConflict, "hash", "a reset link with this hash already exists")
		case err != nil:
			return fmt.Errorf("create reset for user %d: %w", r.UserID, err)
		}
		return s.record(ctx, q, by, "user.reset_issued", object("user", r.UserID), nil,
			struct {
				ExpiresAt time.Time `json:"expires_at"`
			}{fromMicros(micros(r.ExpiresAt))})
	})
}

// UseReset consumes a reset link and returns its user. The link is deleted
// by the statement that reads it (DELETE … RETURNING), so of several
// concurrent uses exactly one gets it. ENotFound when absent, or expired
// at now (and then deleted too).
func (s *Store) UseReset(ctx context.Context, hash string, now time.Time) (int64, error) {
	var userID, expires int64
	err := s.db.Writer().QueryRow(ctx,
		`DELETE FROM password_resets WHERE hash = $1 RETURNING user_id, expires_at`, hash).Scan(&userID, &expires)
	switch {
	case errors.Is(err, ErrNoRows):
		return 0, game.Errorf(game.ENotFound, "", "this reset link was already used or does not exist; ask an admin for a new one")
	case err != nil:
		return 0, fmt.Errorf("use reset link: %w", err)
	case expires <= micros(now):
		return 0, game.Errorf(game.ENotFound, "", "this reset link has expired; ask an admin for a new one")
	}
	return userID, nil
}

const tokenColumns = `id, kind, name, scopes, channels, prefix, hash, created_by, created_at, revoked_at`

func scanToken(row Row) (game.Token, error) {
	var (
		t                game.Token
		scopes, channels []byte
		created          int64
		revoked          *int64
	)
	if err := row.Scan(&t.ID, &t.Kind, &t.Name, &scopes, &channels, &t.Prefix, &t.Hash, &t.CreatedBy,
		&created, &revoked); err != nil {
		return game.Token{}, err
	}
	if err := unmarshal(scopes, &t.Scopes); err != nil {
		return game.Token{}, fmt.Errorf("token %d scopes: %w", t.ID, err)
	}
	if err := unmarshal(channels, &t.Channels); err != nil {
		return game.Token{}, fmt.Errorf("token %d channels: %w", t.ID, err)
	}
	if len(t.Scopes) == 0 {
		t.Scopes = nil
	}
	if len(t.Channels) == 0 {
		t.Channels = nil
	}
	t.CreatedAt, t.RevokedAt = fromMicros(created), timeOf(revoked)
	return t, nil
}

// loadToken returns one token; ENotFound on field when there is none.
func loadToken(ctx context.Context, q Querier, field, where string, arg any) (game.Token, error) {
	t, err := scanToken(q.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE `+where, arg))
	switch {
	case errors.Is(err, ErrNoRows):
		if field == "id" {
			return game.Token{}, game.Errorf(game.ENotFound, field, "token %v does not exist", arg)
		}
		return game.Token{}, game.Errorf(game.ENotFound, field, "the token does not exist")
	case err != nil:
		return game.Token{}, fmt.Errorf("load token: %w", err)
	}
	return t, nil
}

// stringsJSON is how scopes and channels are stored: a JSON array, "[]"
// for none.
func stringsJSON(ss []string) (string, error) {
	if len(ss) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(ss)
	return string(b), err
}

// CreateToken stores a token (Hash set) and returns it with its id;
// CreatedAt defaults to the store's clock. A hash already stored is
// EConflict on "hash". Audit: "token.create", the token without its hash.
func (s *Store) CreateToken(ctx context.Context, t game.Token, by game.Actor) (game.Token, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	t.ID, t.CreatedAt = 0, fromMicros(micros(t.CreatedAt))
	if !t.RevokedAt.IsZero() {
		t.RevokedAt = fromMicros(micros(t.RevokedAt))
	}
	scopes, err := stringsJSON(t.Scopes)
	if err != nil {
		return game.Token{}, fmt.Errorf("token scopes: %w", err)
	}
	channels, err := stringsJSON(t.Channels)
	if err != nil {
		return game.Token{}, fmt.Errorf("token channels: %w", err)
	}
	err = s.audited(ctx, func(q Querier) error {
		err := q.QueryRow(ctx,
			`INSERT INTO tokens (kind, name, scopes, channels, prefix, hash, created_by, created_at, revoked_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			string(t.Kind), t.Name, scopes, channels, t.Prefix, t.Hash, t.CreatedBy, micros(t.CreatedAt),
			nullTime(t.RevokedAt)).Scan(&t.ID)
		switch {
		case s.d.IsUniqueViolation(err):
			return game.Errorf(game.EConflict, "hash", "a token with this secret already exists")
		case err != nil:
			return fmt.Errorf("create token %q: %w", t.Name, err)
		}
		return s.record(ctx, q, by, "token.create", object("token", t.ID), nil, t)
	})
	if err != nil {
		return game.Token{}, err
	}
	return t, nil
}

// TokenByHash returns a token, revoked or not; ENotFound when absent.
func (s *Store) TokenByHash(ctx context.Context, hash string) (game.Token, error) {
	return loadToken(ctx, s.db.Reader(), "", `hash = $1`, hash)
}

// ListTokens returns every token, by id.
func (s *Store) ListTokens(ctx context.Context) ([]game.Token, error) {
	out, err := queryAll(ctx, s.db.Reader(), scanToken, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken marks a token revoked at at and returns it; a token already
// revoked keeps its first revocation time. ENotFound on "id" when absent.
// Audit: "token.revoke", before and after (every call, a repeated one
// included: it is still an admin's action).
func (s *Store) RevokeToken(ctx context.Context, id int64, at time.Time, by game.Actor) (game.Token, error) {
	var out game.Token
	err := s.audited(ctx, func(q Querier) error {
		old, err := loadToken(ctx, q, "id", `id = $1`, id)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`,
			micros(at), id); err != nil {
			return fmt.Errorf("revoke token %d: %w", id, err)
		}
		if out, err = loadToken(ctx, q, "id", `id = $1`, id); err != nil {
			return err
		}
		return s.record(ctx, q, by, "token.revoke", object("token", id), old, out)
	})
	if err != nil {
		return game.Token{}, err
	}
	return out, nil
}

// nullTime binds a time where the zero time means none as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

// timeOf returns the time of a nullable column, the zero time for NULL.
func timeOf(us *int64) time.Time {
	if us == nil {
		return time.Time{}
	}
	return fromMicros(*us)
}
