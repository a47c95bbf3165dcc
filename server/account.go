package server

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gofiber/fiber/v2"

	"podium/game"
)

// OWASPParams are the argon2id parameters the OWASP Password Storage Cheat
// Sheet recommends (19 MiB, 2 iterations, 1 lane).
var OWASPParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// hasher hashes and checks passwords with a cap on how many run at once:
// each takes ~19 MiB and tens of milliseconds, so a burst of sign-ins
// queues instead of exhausting memory.
type hasher struct {
	params *argon2id.Params
	slots  chan struct{}
	dummy  string // checked for unknown users, so they take as long as known ones
	checks atomic.Int64
}

func newHasher(params *argon2id.Params, concurrency int) (*hasher, error) {
	if concurrency <= 0 {
		concurrency = max(1, runtime.GOMAXPROCS(0))
	}
	h := &hasher{params: params, slots: make(chan struct{}, concurrency)}
	d, err := argon2id.CreateHash("not a password anyone has", params)
	if err != nil {
		return nil, err
	}
	h.dummy = d
	return h, nil
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return game.Errorf(game.EUnavailable, "", "the server is busy signing people in; try again in a moment")
	}
}

func (h *hasher) hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-h.slots }()
	return argon2id.CreateHash(pw, h.params)
}

// verify reports whether pw matches hash; an empty hash (no password set)
// is checked against the dummy so it takes the same time, and never matches.
func (h *hasher) verify(ctx context.Context, pw, hash string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-h.slots }()
	h.checks.Add(1)
	if hash == "" {
		_, _ = argon2id.ComparePasswordAndHash(pw, h.dummy)
		return false, nil
	}
	return argon2id.ComparePasswordAndHash(pw, hash)
}

type loginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// sessionAnswer is what sign-in and /me return to a browser.
type sessionAnswer struct {
	Kind        Kind         `json:"kind"`
	User        *game.User   `json:"user,omitempty"`
	CSRFToken   string       `json:"csrf_token,omitempty"`
	Permissions []Permission `json:"permissions"`
}

func (s *Server) answer(p Principal) sessionAnswer {
	a := sessionAnswer{Kind: p.Kind, CSRFToken: p.CSRF, Permissions: []Permission{}}
	if p.Kind == KindUser {
		a.User = &p.User
	}
	for _, perm := range allPermissions {
		if perm != PermPublic && s.has(p, perm) {
			a.Permissions = append(a.Permissions, perm)
		}
	}
	return a
}

var allPermissions = []Permission{PermPublic, PermSelf, PermBoardsRead, PermDirectoryRead, PermDirectoryWrite, PermIngest, PermPayRead, PermUsersManage, PermTokensManage, PermAuditRead, PermPrivacy, PermOps,
	PermPlansManage, PermQuotasManage, PermStatementsApprove, PermStatementsFinalize, PermPayAdjust, PermDisputes, PermPayrollExport}

// requireJSON refuses a sign-in body that is not JSON: a cross-site form
// cannot send application/json without the browser asking first, so this
// keeps other sites from signing a browser in or out (login CSRF).
func requireJSON(c *fiber.Ctx) error {
	if !c.Is("json") {
		return game.Errorf(game.EInvalid, "Content-Type", "send the body as Content-Type: application/json")
	}
	return nil
}

var errBadLogin = game.Errorf(game.EUnauthorized, "", "the email or password is wrong")

func (s *Server) login(c *fiber.Ctx) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	var in loginInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	ctx, now := c.UserContext(), s.now()
	email, err := game.NormalizeEmail("email", in.Email)
	if err != nil {
		email = ""
	}
	u, err := s.dir.UserByEmail(ctx, email)
	if game.ErrorCode(err) == game.ENotFound || email == "" || u.Disabled {
		// Unknown, disabled and erased accounts cost one hash check too,
		// so timing does not tell which emails have accounts.
		if _, err := s.hasher.verify(ctx, in.Password, ""); err != nil {
			return err
		}
		return errBadLogin
	}
	if err != nil {
		return err
	}
	if s.cfg.Lockout.Locked(u, now) {
		wait := u.LockedUntil.Sub(now)
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Seconds())+1))
		return game.Errorf(game.ERateLimited, "", "too many wrong passwords: this account is locked for %d more minutes", int(wait.Minutes())+1)
	}
	ok, err := s.hasher.verify(ctx, in.Password, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		failed, until := s.cfg.Lockout.Failed(u, now)
		if err := s.dir.SetLoginState(ctx, u.ID, failed, until); err != nil {
			return err
		}
		if until.After(now) && !until.Equal(u.LockedUntil) {
			after, _ := json.Marshal(map[string]any{"locked_until": until.UTC()})
			if _, err := s.dir.Audit(ctx, game.AuditEntry{Actor: game.ActorSystem, Action: "user.locked", Object: "user:" + strconv.FormatInt(u.ID, 10), After: after, Reason: "too many wrong passwords"}); err != nil {
				return err
			}
		}
		return errBadLogin
	}
	if u.FailedLogins != 0 || !u.LockedUntil.IsZero() {
		if err := s.dir.SetLoginState(ctx, u.ID, 0, time.Time{}); err != nil {
			return err
		}
	}
	p, err := s.startSession(c, u)
	if err != nil {
		return err
	}
	return c.JSON(s.answer(p))
}

// startSession stores a new session for u and sets its cookie.
func (s *Server) startSession(c *fiber.Ctx, u game.User) (Principal, error) {
	secret := newSecret("")
	now := s.now()
	sess := game.Session{Hash: hashSecret(secret), UserID: u.ID, CSRF: newSecret(""), CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	if err := s.dir.CreateSession(c.UserContext(), sess); err != nil {
		return Principal{}, err
	}
	c.Cookie(&fiber.Cookie{
		Name: CookieSession, Value: secret, Path: "/", Expires: sess.ExpiresAt,
		HTTPOnly: true, Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode,
	})
	return Principal{Kind: KindUser, User: u, Session: sess.Hash, CSRF: sess.CSRF}, nil
}

func (s *Server) clearSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: CookieSession, Value: "", Path: "/", Expires: time.Unix(1, 0), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
}

func (s *Server) logout(c *fiber.Ctx) error {
	p := principalOf(c)
	if p.Session == "" {
		return game.Errorf(game.EInvalid, "", "only a signed-in browser signs out; revoke a token instead")
	}
	if err := s.dir.DeleteSession(c.UserContext(), p.Session); err != nil {
		return err
	}
	s.clearSessionCookie(c)
	if err := s.e.Revoke(c.UserContext(), sessionOwner(p.Session)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) logoutAll(c *fiber.Ctx) error {
	p := principalOf(c)
	if err := s.signOutEverywhere(c.UserContext(), p.User.ID, p.Actor()); err != nil {
		return err
	}
	s.clearSessionCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

// signOutEverywhere ends every session of a user and closes their live
// connections on every node.
func (s *Server) signOutEverywhere(ctx context.Context, userID int64, by game.Actor) error {
	if _, err := s.dir.DeleteSessions(ctx, userID, by); err != nil {
		return err
	}
	return s.e.Revoke(ctx, game.UserActor(userID).String())
}

func (s *Server) me(c *fiber.Ctx) error { return c.JSON(s.answer(principalOf(c))) }

// updateMe lets a person change their display name. Every other field of
// their account is an admin's: sending one is refused, never ignored.
func (s *Server) updateMe(c *fiber.Ctx) error {
	p := principalOf(c)
	var in map[string]json.RawMessage
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	for k := range in {
		switch k {
		case "name":
		case "email", "role", "rep_id", "teams", "disabled", "id":
			return game.Errorf(game.EForbidden, k, "you may not change your own %s; ask an admin", k)
		default:
			return game.Errorf(codeBadJSON, k, "unknown field %q; check its spelling against the API document", k)
		}
	}
	u := p.User
	if raw, ok := in["name"]; ok {
		if err := json.Unmarshal(raw, &u.Name); err != nil {
			return game.Errorf(codeBadJSON, "name", "name must be a string")
		}
	}
	if err := game.ValidateUser(u); err != nil {
		return err
	}
	u, err := s.dir.UpdateUser(c.UserContext(), u, p.Actor())
	if err != nil {
		return err
	}
	return c.JSON(u)
}

type passwordInput struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword checks the current password (a wrong one counts towards
// the lockout), sets the new one, ends every other session and starts a
// fresh one for this browser.
func (s *Server) changePassword(c *fiber.Ctx) error {
	p := principalOf(c)
	var in passwordInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	if err := game.ValidatePassword("new_password", in.NewPassword); err != nil {
		return err
	}
	ctx := c.UserContext()
	u, err := s.dir.User(ctx, p.User.ID)
	if err != nil {
		return err
	}
	if s.cfg.Lockout.Locked(u, s.now()) {
		return game.Errorf(game.ERateLimited, "", "too many wrong passwords: try again in %d minutes", int(u.LockedUntil.Sub(s.now()).Minutes())+1)
	}
	ok, err := s.hasher.verify(ctx, in.CurrentPassword, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		failed, until := s.cfg.Lockout.Failed(u, s.now())
		if err := s.dir.SetLoginState(ctx, u.ID, failed, until); err != nil {
			return err
		}
		return game.Errorf(game.EForbidden, "current_password", "the current password is wrong")
	}
	hash, err := s.hasher.hash(ctx, in.NewPassword)
	if err != nil {
		return err
	}
	if err := s.dir.SetPassword(ctx, u.ID, hash, p.Actor()); err != nil {
		return err
	}
	if err := s.signOutEverywhere(ctx, u.ID, p.Actor()); err != nil {
		return err
	}
	np, err := s.startSession(c, u)
	if err != nil {
		return err
	}
	return c.JSON(s.answer(np))
}

type resetInput struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// resetPassword sets a password from an admin-issued link. The link works
// once; every session of the user ends.
func (s *Server) resetPassword(c *fiber.Ctx) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	var in resetInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	if err := game.ValidatePassword("password", in.Password); err != nil {
		return err
	}
	ctx := c.UserContext()
	hash, err := s.hasher.hash(ctx, in.Password)
	if err != nil {
		return err
	}
	uid, err := s.dir.UseReset(ctx, hashSecret(in.Token), s.now())
	if game.ErrorCode(err) == game.ENotFound {
		return game.Errorf(game.ENotFound, "token", "this link has expired or was already used; ask an admin for a new one")
	}
	if err != nil {
		return err
	}
	if err := s.dir.SetPassword(ctx, uid, hash, game.UserActor(uid)); err != nil {
		return err
	}
	if err := s.signOutEverywhere(ctx, uid, game.UserActor(uid)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
