package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"podium/engine"
	"podium/game"
)

// ---- users ----

type userInput struct {
	Email    *string  `json:"email"`
	Name     *string  `json:"name"`
	Role     *string  `json:"role"`
	RepID    *int64   `json:"rep_id"`
	Teams    *[]int64 `json:"teams"`
	Disabled *bool    `json:"disabled"`
}

func (in userInput) apply(u *game.User) error {
	if in.Email != nil {
		email, err := game.NormalizeEmail("email", *in.Email)
		if err != nil {
			return err
		}
		u.Email = email
	}
	if in.Name != nil {
		u.Name = strings.TrimSpace(*in.Name)
	}
	if in.Role != nil {
		u.Role = game.Role(*in.Role)
	}
	if in.RepID != nil {
		u.RepID = *in.RepID
	}
	if in.Teams != nil {
		u.Teams = slices.Clone(*in.Teams)
		slices.Sort(u.Teams)
		u.Teams = slices.Compact(u.Teams)
	}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
	return game.ValidateUser(*u)
}

func (s *Server) listUsers(c *fiber.Ctx) error {
	us, err := s.dir.ListUsers(c.UserContext())
	if err != nil {
		return err
	}
	if us == nil {
		us = []game.User{}
	}
	return c.JSON(us)
}

// linkAnswer is a one-time sign-in or reset link.
type linkAnswer struct {
	Link      string    `json:"link"`
	ExpiresAt time.Time `json:"expires_at"`
}

type createdUser struct {
	User game.User `json:"user"`
	// SignInLink sets the new user's password; it works once.
	SignInLink linkAnswer `json:"sign_in_link"`
}

func (s *Server) createUser(c *fiber.Ctx) error {
	var in userInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	if in.Email == nil {
		return game.Errorf(game.EMissingField, "email", "an email address is required")
	}
	var u game.User
	if err := in.apply(&u); err != nil {
		return err
	}
	if u.Disabled {
		return game.Errorf(game.EInvalid, "disabled", "create the user enabled, then disable them")
	}
	by := principalOf(c).Actor()
	u, err := s.dir.CreateUser(c.UserContext(), u, by)
	if err != nil {
		return err
	}
	link, err := IssueLink(c.UserContext(), s.dir, s.baseURL(c), u.ID, s.cfg.ResetTTL, s.now(), by)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(createdUser{User: u, SignInLink: link})
}

func (s *Server) updateUser(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in userInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	ctx := c.UserContext()
	before, err := s.dir.User(ctx, id)
	if err != nil {
		return err
	}
	u := before
	if err := in.apply(&u); err != nil {
		return err
	}
	if before.Role == game.RoleAdmin && !before.Disabled && (u.Role != game.RoleAdmin || u.Disabled) {
		if err := s.keepAnAdmin(ctx, id); err != nil {
			return err
		}
	}
	p := principalOf(c)
	u, err = s.dir.UpdateUser(ctx, u, p.Actor())
	if err != nil {
		return err
	}
	// What they may see changed: their open connections were authorized
	// under the old rules, so they end, and a disabled user's sessions too.
	if u.Disabled {
		if _, err := s.dir.DeleteSessions(ctx, id, p.Actor()); err != nil {
			return err
		}
	}
	if err := s.e.Revoke(ctx, game.UserActor(id).String()); err != nil {
		return err
	}
	return c.JSON(u)
}

// keepAnAdmin refuses to demote or disable the last enabled admin, which
// would leave nobody able to manage users.
func (s *Server) keepAnAdmin(ctx context.Context, except int64) error {
	us, err := s.dir.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range us {
		if u.ID != except && u.Role == game.RoleAdmin && !u.Disabled {
			return nil
		}
	}
	return game.Errorf(game.EConflict, "role", "this is the last admin: make someone else admin first")
}

func (s *Server) resetLink(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.dir.User(c.UserContext(), id); err != nil {
		return err
	}
	link, err := IssueLink(c.UserContext(), s.dir, s.baseURL(c), id, s.cfg.ResetTTL, s.now(), principalOf(c).Actor())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(link)
}

func (s *Server) logoutUser(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.dir.User(c.UserContext(), id); err != nil {
		return err
	}
	if err := s.signOutEverywhere(c.UserContext(), id, principalOf(c).Actor()); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// IssueLink stores a single-use password link for a user and returns it.
// The secret travels in the URL fragment, which browsers never send to a
// server, so it stays out of access logs.
func IssueLink(ctx context.Context, dir engine.Directory, baseURL string, userID int64, ttl time.Duration, now time.Time, by game.Actor) (linkAnswer, error) {
	secret := newSecret("")
	r := game.Reset{Hash: hashSecret(secret), UserID: userID, ExpiresAt: now.Add(ttl)}
	if err := dir.CreateReset(ctx, r, by); err != nil {
		return linkAnswer{}, err
	}
	return linkAnswer{Link: strings.TrimSuffix(baseURL, "/") + "/signin.html#reset=" + secret, ExpiresAt: r.ExpiresAt}, nil
}

func (s *Server) baseURL(c *fiber.Ctx) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	return c.BaseURL()
}

// ---- tokens ----

type tokenInput struct {
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Scopes   []string `json:"scopes"`
	Channels []string `json:"channels"`
}

type createdToken struct {
	Token game.Token `json:"token"`
	// Secret is the bearer token; it is shown only now.
	Secret string `json:"secret"`
	// DisplayURL opens the TV page with this token (display tokens).
	DisplayURL string `json:"display_url,omitempty"`
}

func (s *Server) listTokens(c *fiber.Ctx) error {
	ts, err := s.dir.ListTokens(c.UserContext())
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []game.Token{}
	}
	return c.JSON(ts)
}

func (s *Server) createToken(c *fiber.Ctx) error {
	var in tokenInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	t := game.Token{Kind: game.TokenKind(in.Kind), Name: strings.TrimSpace(in.Name), Scopes: in.Scopes, Channels: in.Channels}
	if err := game.ValidateToken(t); err != nil {
		return err
	}
	for i, sc := range t.Scopes {
		if !slices.Contains(APIScopes, Permission(sc)) {
			return game.Errorf(game.EInvalid, "scopes["+strconv.Itoa(i)+"]", "%q is not a scope an API token may hold: use %s", sc, joinPerms(APIScopes))
		}
	}
	for i, ch := range t.Channels {
		kind, _, err := engine.ParseChannel(ch)
		if err != nil || kind == engine.ChannelRep {
			return game.Errorf(game.EInvalid, "channels["+strconv.Itoa(i)+"]", "%q is not a public channel: use \"feed\" or \"board:<metric>:<period>:<scope>\"", ch)
		}
		if strings.HasPrefix(ch, "board:"+string(game.MetricCommission)+":") && !s.cfg.PublicCommission {
			return game.Errorf(game.EInvalid, "channels["+strconv.Itoa(i)+"]", "commission boards are private; an admin must turn on PODIUM_PUBLIC_COMMISSION before a screen may show them")
		}
	}
	prefix := tokenPrefix + "api_"
	if t.Kind == game.TokenDisplay {
		prefix = tokenPrefix + "tv_"
	}
	secret := newSecret(prefix)
	t.Hash, t.Prefix = hashSecret(secret), secret[:len(prefix)+6]
	p := principalOf(c)
	t.CreatedBy = p.Actor().String()
	t, err := s.dir.CreateToken(c.UserContext(), t, p.Actor())
	if err != nil {
		return err
	}
	out := createdToken{Token: t, Secret: secret}
	if t.Kind == game.TokenDisplay {
		out.DisplayURL = strings.TrimSuffix(s.baseURL(c), "/") + "/" + displayQuery(t.Channels) + "#token=" + secret
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

// displayQuery picks the TV page's board from a display token's first board
// channel.
func displayQuery(channels []string) string {
	for _, ch := range channels {
		if rest, ok := strings.CutPrefix(ch, "board:"); ok {
			if parts := strings.Split(rest, ":"); len(parts) == 3 {
				return "?board=" + parts[0] + "&period=" + parts[1] + "&scope=" + parts[2]
			}
		}
	}
	return ""
}

func joinPerms(ps []Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// revokeToken revokes a token at once: requests with it fail from now on,
// and its live connections on every node are closed.
func (s *Server) revokeToken(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	t, err := s.dir.RevokeToken(c.UserContext(), id, s.now(), principalOf(c).Actor())
	if err != nil {
		return err
	}
	if err := s.e.Revoke(c.UserContext(), game.TokenActor(id).String()); err != nil {
		return err
	}
	return c.JSON(t)
}

// ---- audit ----

type auditPage struct {
	Entries []game.AuditEntry `json:"entries"`
	// Next is the after= of the next page; absent on the last page.
	Next int64 `json:"next,omitempty"`
}

func (s *Server) auditLog(c *fiber.Ctx) error {
	after, err := intQuery(c, "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	es, err := s.dir.AuditLog(c.UserContext(), int64(after), limit)
	if err != nil {
		return err
	}
	page := auditPage{Entries: es}
	if es == nil {
		page.Entries = []game.AuditEntry{}
	}
	if len(es) == limit {
		page.Next = es[len(es)-1].Seq
	}
	return c.JSON(page)
}

// auditExport streams the whole log as NDJSON, one entry a line, oldest
// first, in pages so a long log never sits in memory.
func (s *Server) auditExport(c *fiber.Ctx) error {
	ctx := context.WithoutCancel(c.UserContext())
	c.Set(fiber.HeaderContentType, "application/x-ndjson")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="podium-audit.ndjson"`)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		enc := json.NewEncoder(w)
		err := EachAudit(ctx, s.dir, func(e game.AuditEntry) error { return enc.Encode(e) })
		if err != nil {
			s.log.Error("audit export", "err", err)
			_ = enc.Encode(errorBody{Code: game.EInternal, Message: "the export stopped early: " + err.Error()})
		}
		_ = w.Flush()
	})
	return nil
}

// EachAudit calls fn with every audit entry, oldest first.
func EachAudit(ctx context.Context, dir engine.Directory, fn func(game.AuditEntry) error) error {
	var after int64
	for {
		es, err := dir.AuditLog(ctx, after, 1000)
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(es) < 1000 {
			return nil
		}
		after = es[len(es)-1].Seq
	}
}

// VerifyAudit checks the whole chain. It returns the entries that verified
// and, when the chain is broken, what is wrong (broken); err is a failure to
// read the log, which says nothing about its integrity.
func VerifyAudit(ctx context.Context, dir engine.Directory) (checked int64, broken, err error) {
	var v game.AuditVerifier
	err = EachAudit(ctx, dir, func(e game.AuditEntry) error {
		if broken = v.Add(e); broken != nil {
			return errStop
		}
		checked++
		return nil
	})
	if broken != nil {
		return checked, broken, nil
	}
	if err != nil {
		return checked, nil, err
	}
	checked, broken = v.Done()
	return checked, broken, nil
}

var errStop = errors.New("stop")

type verifyAnswer struct {
	OK      bool   `json:"ok"`
	Entries int64  `json:"entries"`
	Problem string `json:"problem,omitempty"`
}

func (s *Server) auditVerify(c *fiber.Ctx) error {
	n, broken, err := VerifyAudit(c.UserContext(), s.dir)
	if err != nil {
		return err
	}
	if broken != nil {
		return c.JSON(verifyAnswer{OK: false, Entries: n, Problem: broken.Error()})
	}
	return c.JSON(verifyAnswer{OK: true, Entries: n})
}

// ---- privacy ----

func (s *Server) personExport(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	d, err := s.dir.PersonData(c.UserContext(), id)
	if err != nil {
		return err
	}
	out := personExport{PersonData: d}
	if cs := s.e.Comp(); cs != nil {
		pay, err := cs.RepPay(c.UserContext(), id)
		if err != nil {
			return err
		}
		out.Pay = &pay
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="podium-person-`+strconv.FormatInt(id, 10)+`.json"`)
	return c.JSON(out)
}

// personExport is everything Podium holds about a person.
type personExport struct {
	engine.PersonData
	Pay *engine.RepPay `json:"pay,omitempty"` // their pay lines, statements and disputes
}

type eraseInput struct {
	Reason string `json:"reason"`
}

// personErase pseudonymises a person in the database, drops the live
// history that named them and reloads every node's roster; the pay ledger
// stays, under the rep's id.
func (s *Server) personErase(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in eraseInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Reason) == "" {
		return game.Errorf(game.EMissingField, "reason", "say why the person is erased (for example \"erasure request of 2026-11-28\"); it is kept in the audit log")
	}
	ctx := c.UserContext()
	er, err := s.dir.ErasePerson(ctx, id, strings.TrimSpace(in.Reason), principalOf(c).Actor())
	if err != nil {
		return err
	}
	if err := s.e.Forgotten(ctx, id, er.User); err != nil {
		return err
	}
	return c.JSON(er)
}
