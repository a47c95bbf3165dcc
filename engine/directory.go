package engine

import (
	"context"
	"time"

	"podium/game"
)

// Directory is who may sign in and what everyone changed: users, sessions,
// API and display tokens, password resets, the audit log and privacy
// requests. store/sqlite and store/postgres implement it and pass the
// contract suite in store/storetest.
//
// Every method that changes something an admin cares about takes the actor
// and appends its audit entry in the same transaction as the change, so a
// change without its record (or a record without its change) cannot exist.
// Secrets (password hashes, token and session hashes) never appear in an
// audit entry.
type Directory interface {
	// CreateUser stores a new user (email normalised by the caller). A taken
	// email is EConflict on "email"; an unknown rep or team is EInvalid on
	// "rep_id" or "teams". Audit: "user.create".
	CreateUser(ctx context.Context, u game.User, by game.Actor) (game.User, error)
	// UpdateUser replaces a user's email, name, role, rep, teams and
	// disabled flag (not the password or sign-in state), with CreateUser's
	// errors and ENotFound. Audit: "user.update", before and after.
	UpdateUser(ctx context.Context, u game.User, by game.Actor) (game.User, error)
	// User returns a user with sign-in state; ENotFound when absent.
	User(ctx context.Context, id int64) (game.User, error)
	// UserByEmail returns a user by normalised email; ENotFound when absent.
	UserByEmail(ctx context.Context, email string) (game.User, error)
	// ListUsers returns every user, by id.
	ListUsers(ctx context.Context) ([]game.User, error)
	// CountUsers returns the number of users.
	CountUsers(ctx context.Context) (int, error)
	// SetPassword stores a password hash and clears the failure count and
	// lock. Audit: "user.password" (without the hash).
	SetPassword(ctx context.Context, userID int64, hash string, by game.Actor) error
	// SetLoginState records failed sign-ins and a lock; not audited.
	SetLoginState(ctx context.Context, userID int64, failed int, lockedUntil time.Time) error

	// CreateSession stores a session; its hash is unique.
	CreateSession(ctx context.Context, s game.Session) error
	// Session returns a live session and its user; ENotFound when the
	// session is absent or expired at now, or its user is disabled.
	Session(ctx context.Context, hash string, now time.Time) (game.Session, game.User, error)
	// DeleteSession ends one session; an unknown hash is not an error.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteSessions ends every session of a user and returns how many
	// there were. Audit: "user.signout_all".
	DeleteSessions(ctx context.Context, userID int64, by game.Actor) (int, error)

	// CreateReset stores a password-reset link. Audit: "user.reset_issued".
	CreateReset(ctx context.Context, r game.Reset, by game.Actor) error
	// UseReset consumes a reset link: it returns its user and deletes it,
	// atomically, so it works once. ENotFound when absent or expired at now.
	UseReset(ctx context.Context, hash string, now time.Time) (userID int64, err error)

	// CreateToken stores a token (Hash set, ID assigned). Audit:
	// "token.create".
	CreateToken(ctx context.Context, t game.Token, by game.Actor) (game.Token, error)
	// TokenByHash returns a token, revoked or not; ENotFound when absent.
	TokenByHash(ctx context.Context, hash string) (game.Token, error)
	// ListTokens returns every token, by id.
	ListTokens(ctx context.Context) ([]game.Token, error)
	// RevokeToken marks a token revoked at at (a second revoke keeps the
	// first time); ENotFound when absent. Audit: "token.revoke".
	RevokeToken(ctx context.Context, id int64, at time.Time, by game.Actor) (game.Token, error)

	// Audit appends an entry for a change made elsewhere (a rebuild, a
	// sign-in lockout). Seq, At and the hashes are assigned by the store.
	Audit(ctx context.Context, e game.AuditEntry) (game.AuditEntry, error)
	// AuditLog returns up to limit entries with Seq above afterSeq, oldest
	// first.
	AuditLog(ctx context.Context, afterSeq int64, limit int) ([]game.AuditEntry, error)

	// PersonData returns everything stored about a rep and the user linked
	// to them. ENotFound for an unknown rep.
	PersonData(ctx context.Context, repID int64) (PersonData, error)
	// ErasePerson pseudonymises a rep and their user everywhere in the
	// database, keeping the pay ledger (which holds ids, not names): the
	// rep's name becomes "Erased person <id>" and their email is removed;
	// the user's email and name are replaced, the password cleared, the user
	// disabled, their sessions and reset links deleted; audit entries whose
	// before or after held the name or email are redacted. Audit:
	// game.ActionErase with the reason and game.Erasure as after.
	ErasePerson(ctx context.Context, repID int64, reason string, by game.Actor) (game.Erasure, error)
}

// PersonData is a person's data export.
type PersonData struct {
	Rep        game.Rep          `json:"rep"`
	User       *game.User        `json:"user,omitempty"`
	Deals      []game.Deal       `json:"deals"`      // deals that credit or split with them
	Activities []game.Activity   `json:"activities"` // their activities
	Ledger     []LedgerRow       `json:"ledger"`     // every ledger row of theirs
	Audit      []game.AuditEntry `json:"audit"`      // entries about them or by their user
	Sessions   int               `json:"sessions"`   // signed-in browsers
}
