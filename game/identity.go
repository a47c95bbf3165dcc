package game

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Role is what a signed-in person is to the company. Each role's
// permissions are declared in one table in the server.
type Role string

// The roles.
const (
	RoleAdmin   Role = "admin"   // everything: users, tokens, plans, audit
	RoleFinance Role = "finance" // everyone's pay, statements, exports
	RoleManager Role = "manager" // the teams they manage, and the teams under those
	RoleRep     Role = "rep"     // their own pay and personal channel
)

// Roles lists the roles in order of reach.
var Roles = []Role{RoleAdmin, RoleFinance, RoleManager, RoleRep}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// A User is a person who signs in. A rep who signs in is a user with RepID
// set; a manager manages Teams (and every team under them).
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	RepID     int64     `json:"rep_id,omitempty"`
	Teams     []int64   `json:"teams,omitempty"` // managed teams
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`

	// Sign-in state; never leaves the server.
	PasswordHash string    `json:"-"` // argon2id PHC string; "" until a password is set
	FailedLogins int       `json:"-"`
	LockedUntil  time.Time `json:"-"`
}

// NormalizeEmail lower-cases and trims an address and checks that it is one.
func NormalizeEmail(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", Errorf(EMissingField, field, "an email address is required")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", Errorf(EInvalid, field, "%q is not an email address", s)
	}
	return s, nil
}

// ValidateUser checks a user's fields as an admin sets them.
func ValidateUser(u User) error {
	if _, err := NormalizeEmail("email", u.Email); err != nil {
		return err
	}
	if strings.TrimSpace(u.Name) == "" {
		return Errorf(EMissingField, "name", "a name is required")
	}
	if len(u.Name) > 200 {
		return Errorf(EInvalid, "name", "a name is at most 200 characters")
	}
	if !u.Role.Valid() {
		return Errorf(EInvalid, "role", "role %q is not one of admin, finance, manager, rep", u.Role)
	}
	if u.Role == RoleRep && u.RepID == 0 {
		return Errorf(EMissingField, "rep_id", "a user with role rep must be linked to a rep")
	}
	if u.Role != RoleManager && len(u.Teams) > 0 {
		return Errorf(EInvalid, "teams", "only managers manage teams")
	}
	if u.Role == RoleManager && len(u.Teams) == 0 {
		return Errorf(EMissingField, "teams", "a manager manages at least one team")
	}
	return nil
}

// MinPasswordLength is the shortest password accepted (OWASP ASVS 2.1.1).
const MinPasswordLength = 12

// ValidatePassword checks a new password's length; length is what makes a
// password strong, so there are no composition rules.
func ValidatePassword(field, pw string) error {
	n := len([]rune(pw))
	if n < MinPasswordLength {
		return Errorf(EInvalid, field, "a password is at least %d characters; a few words make a good one", MinPasswordLength)
	}
	if len(pw) > 256 {
		return Errorf(EInvalid, field, "a password is at most 256 bytes")
	}
	return nil
}

// Lockout is the rule for repeated failed sign-ins.
type Lockout struct {
	MaxFailures int           // failures in a row that lock the account
	LockFor     time.Duration // how long it stays locked
}

// DefaultLockout locks an account for 15 minutes after 5 failures in a row.
var DefaultLockout = Lockout{MaxFailures: 5, LockFor: 15 * time.Minute}

// Locked reports whether u may not sign in at now.
func (l Lockout) Locked(u User, now time.Time) bool { return now.Before(u.LockedUntil) }

// Failed returns u's sign-in state after a failed attempt at now.
func (l Lockout) Failed(u User, now time.Time) (failed int, lockedUntil time.Time) {
	failed = u.FailedLogins + 1
	if failed >= l.MaxFailures {
		return 0, now.Add(l.LockFor)
	}
	return failed, u.LockedUntil
}

// TokenKind tells integration tokens from TV tokens.
type TokenKind string

// The token kinds.
const (
	TokenAPI     TokenKind = "api"     // integrations: the scopes it was given
	TokenDisplay TokenKind = "display" // a TV: reads only the channels it was given
)

// A Token is a bearer credential that is not a person. Only its hash is
// stored; the secret is shown once, when it is created.
type Token struct {
	ID        int64     `json:"id"`
	Kind      TokenKind `json:"kind"`
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes,omitempty"`   // api: permissions it holds
	Channels  []string  `json:"channels,omitempty"` // display: channels it may read
	Prefix    string    `json:"prefix"`             // the secret's first characters, to recognise it
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Hash      string    `json:"-"`
}

// Revoked reports whether the token was revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// ValidateToken checks a token's fields; scopes are checked against the
// known permissions by the caller, which owns them.
func ValidateToken(t Token) error {
	if strings.TrimSpace(t.Name) == "" {
		return Errorf(EMissingField, "name", "name the token after what uses it (\"Salesforce sync\", \"TV by the door\")")
	}
	if len(t.Name) > 200 {
		return Errorf(EInvalid, "name", "a name is at most 200 characters")
	}
	switch t.Kind {
	case TokenAPI:
		if len(t.Scopes) == 0 {
			return Errorf(EMissingField, "scopes", "an API token needs at least one scope")
		}
		if len(t.Channels) > 0 {
			return Errorf(EInvalid, "channels", "an API token has scopes, not channels")
		}
	case TokenDisplay:
		if len(t.Channels) == 0 {
			return Errorf(EMissingField, "channels", "a display token needs the channels it shows, such as \"board:revenue:month:company\" or \"feed\"")
		}
		if len(t.Scopes) > 0 {
			return Errorf(EInvalid, "scopes", "a display token only reads its channels; it has no scopes")
		}
	default:
		return Errorf(EInvalid, "kind", "kind %q is not api or display", t.Kind)
	}
	return nil
}

// A Session is a signed-in browser. Only the hash of its cookie is stored.
type Session struct {
	Hash      string
	UserID    int64
	CSRF      string // the token cookie-authenticated writes must echo
	CreatedAt time.Time
	ExpiresAt time.Time
}

// A Reset is an admin-issued, single-use link that sets a password. Only
// its hash is stored.
type Reset struct {
	Hash      string
	UserID    int64
	ExpiresAt time.Time
}

// Actor names who made a change, in the audit log: "user:12", "token:3",
// "operator" (the configured admin token), "cli", "system".
type Actor string

// UserActor and TokenActor name a user and a token.
func UserActor(id int64) Actor  { return Actor(fmt.Sprintf("user:%d", id)) }
func TokenActor(id int64) Actor { return Actor(fmt.Sprintf("token:%d", id)) }

// The actors that are not a stored user or token.
const (
	ActorOperator Actor = "operator"
	ActorCLI      Actor = "cli"
	ActorSystem   Actor = "system"
)

// String returns the actor's name.
func (a Actor) String() string { return string(a) }
