package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"podium/engine"
	"podium/game"
)

// Kind is what authenticated a request.
type Kind string

// The kinds of principal.
const (
	KindAnonymous Kind = "anonymous"
	KindOperator  Kind = "operator" // the configured admin token (automation, break-glass)
	KindUser      Kind = "user"     // a person, by session cookie
	KindAPI       Kind = "api"      // an API token with scopes
	KindDisplay   Kind = "display"  // a TV's display token
)

// Principal is who made a request.
type Principal struct {
	Kind  Kind
	User  game.User  // KindUser
	Token game.Token // KindAPI, KindDisplay
	// Session is the hash of the session cookie, and CSRF the token a
	// cookie-authenticated write must echo, when signed in by cookie.
	Session string
	CSRF    string
}

// Actor names the principal in the audit log.
func (p Principal) Actor() game.Actor {
	switch p.Kind {
	case KindUser:
		return game.UserActor(p.User.ID)
	case KindAPI, KindDisplay:
		return game.TokenActor(p.Token.ID)
	case KindOperator:
		return game.ActorOperator
	}
	return "anonymous"
}

// owners are the credentials whose revocation ends the principal's
// connections.
func (p Principal) owners() []string {
	switch p.Kind {
	case KindUser:
		return []string{game.UserActor(p.User.ID).String(), sessionOwner(p.Session)}
	case KindAPI, KindDisplay:
		return []string{game.TokenActor(p.Token.ID).String()}
	}
	return nil
}

func sessionOwner(hash string) string { return "session:" + hash }

// roleGrants is who holds what: the one table of role permissions. An admin
// holds every permission. Object rules (objectAllowed) narrow pay:read to a
// rep's own pay and a manager's teams.
var roleGrants = map[game.Role][]Permission{
	game.RoleFinance: {PermSelf, PermBoardsRead, PermDirectoryRead, PermPayRead, PermPlansManage, PermQuotasManage, PermStatementsFinalize, PermPayAdjust, PermDisputes, PermPayrollExport},
	game.RoleManager: {PermSelf, PermBoardsRead, PermDirectoryRead, PermPayRead, PermQuotasManage, PermStatementsApprove, PermDisputes},
	game.RoleRep:     {PermSelf, PermBoardsRead, PermDirectoryRead, PermPayRead, PermDisputes},
}

// APIScopes are the permissions an API token may be given. Managing people,
// tokens and privacy requests takes a person.
var APIScopes = []Permission{PermBoardsRead, PermDirectoryRead, PermDirectoryWrite, PermIngest, PermPayRead, PermAuditRead, PermOps, PermPlansManage, PermQuotasManage, PermPayrollExport}

// has reports whether p holds perm, before object rules.
func (s *Server) has(p Principal, perm Permission) bool {
	if perm == PermPublic {
		return true
	}
	switch p.Kind {
	case KindOperator:
		return perm != PermSelf // a token, not a person: it has no account
	case KindUser:
		if p.User.Role == game.RoleAdmin {
			return true
		}
		return slices.Contains(roleGrants[p.User.Role], perm)
	case KindAPI:
		return slices.Contains(p.Token.Scopes, string(perm))
	case KindDisplay:
		return perm == PermBoardsRead
	case KindAnonymous:
		return perm == PermBoardsRead && s.cfg.PublicBoards
	}
	return false
}

// canSeePay reports whether p may read rep repID's pay: their own, their
// teams' (a manager, down the hierarchy), or everyone's (admin, finance,
// the operator, an API token with pay:read).
func (s *Server) canSeePay(p Principal, repID int64) bool {
	return s.has(p, PermPayRead) && s.repInReach(p, repID)
}

// repInReach reports whether rep repID is within p's reach: everyone for
// the operator, API tokens, admins and finance; a manager's teams down the
// hierarchy (and themselves); a rep themselves.
func (s *Server) repInReach(p Principal, repID int64) bool {
	switch p.Kind {
	case KindOperator, KindAPI:
		return true
	case KindUser:
		switch p.User.Role {
		case game.RoleAdmin, game.RoleFinance:
			return true
		case game.RoleRep:
			return p.User.RepID != 0 && p.User.RepID == repID
		case game.RoleManager:
			if p.User.RepID != 0 && p.User.RepID == repID {
				return true
			}
			r, ok := s.e.Rep(repID)
			return ok && r.TeamID != 0 && s.e.TeamsUnder(p.User.Teams)[r.TeamID]
		}
	}
	return false
}

// actsOnPay reports whether a permission changes or signs off pay.
func actsOnPay(perm Permission) bool {
	return perm == PermQuotasManage || perm == PermStatementsApprove || perm == PermStatementsFinalize || perm == PermPayAdjust
}

// teamInReach reports whether team teamID is within p's reach.
func (s *Server) teamInReach(p Principal, teamID int64) bool {
	switch p.Kind {
	case KindOperator, KindAPI:
		return true
	case KindUser:
		switch p.User.Role {
		case game.RoleAdmin, game.RoleFinance:
			return true
		case game.RoleManager:
			return s.e.TeamsUnder(p.User.Teams)[teamID]
		}
	}
	return false
}

// canRead reports whether p may read a live channel (or the board behind
// it): boards and the feed need boards:read, and a display token only reads
// the channels it was issued for; a rep's channel carries their pay.
func (s *Server) canRead(p Principal, channel string) bool {
	kind, repID, err := engine.ParseChannel(channel)
	if err != nil {
		return false
	}
	if kind == engine.ChannelRep {
		return s.canSeePay(p, repID)
	}
	if !s.has(p, PermBoardsRead) {
		return false
	}
	if p.Kind == KindDisplay && !slices.Contains(p.Token.Channels, channel) {
		return false
	}
	if strings.HasPrefix(channel, "board:"+string(game.MetricCommission)+":") && !s.cfg.PublicCommission {
		// Pay on a board: finance and admins see it, a manager their
		// teams' boards; never a public screen unless an admin allows it.
		switch {
		case p.Kind == KindOperator:
			return true
		case p.Kind == KindAPI:
			return slices.Contains(p.Token.Scopes, string(PermPayRead))
		case p.Kind == KindUser && (p.User.Role == game.RoleAdmin || p.User.Role == game.RoleFinance):
			return true
		case p.Kind == KindUser && p.User.Role == game.RoleManager:
			team, ok := strings.CutPrefix(channel[strings.LastIndexByte(channel, ':')+1:], "team-")
			id, err := strconv.ParseInt(team, 10, 64)
			return ok && err == nil && s.teamInReach(p, id)
		}
		return false
	}
	return true
}

// objectAllowed applies a route's object rule.
func (s *Server) objectAllowed(c *fiber.Ctx, p Principal, r route) bool {
	switch r.Object {
	case ObjRep:
		name := "id"
		if c.Params("rep_id") != "" {
			name = "rep_id"
		}
		id, err := strconv.ParseInt(c.Params(name), 10, 64)
		if err != nil || !s.repInReach(p, id) {
			return false
		}
		// Nobody but an admin sets their own quota, approves their own
		// statement or adjusts their own pay.
		if actsOnPay(r.Perm) && p.Kind == KindUser && p.User.Role != game.RoleAdmin && p.User.RepID == id {
			return false
		}
		return true
	case ObjTeam:
		id, err := strconv.ParseInt(c.Params("id"), 10, 64)
		return err == nil && s.teamInReach(p, id)
	case ObjBoard:
		ch := "board:" + c.Params("metric") + ":" + c.Params("period") + ":" + c.Params("scope")
		if _, _, err := engine.ParseChannel(ch); err != nil {
			// Not a board at all: the handler answers which part is wrong.
			return s.has(p, PermBoardsRead)
		}
		return s.canRead(p, ch)
	}
	return true
}

// authorize is the one place a route's permission is checked: it
// authenticates the request, checks the route's permission and object rule,
// and checks the CSRF token of a write made with a session cookie.
func (s *Server) authorize(r route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if r.Perm == PermPublic {
			return c.Next()
		}
		p, err := s.authenticate(c, false)
		if err != nil {
			s.authFailed(c)
			return err
		}
		if !s.has(p, r.Perm) || !s.objectAllowed(c, p, r) {
			if p.Kind == KindAnonymous {
				return game.Errorf(game.EUnauthorized, "", "sign in, or send Authorization: Bearer <token>")
			}
			return game.Errorf(game.EForbidden, "", "you may not %s", r.Summary)
		}
		if p.Session != "" && !safeMethod(c.Method()) {
			if subtle.ConstantTimeCompare([]byte(c.Get(HeaderCSRF)), []byte(p.CSRF)) != 1 {
				return game.Errorf(ECSRF, HeaderCSRF, "this page is out of date: reload it and try again")
			}
		}
		c.Locals(localPrincipal, p)
		return c.Next()
	}
}

// HeaderCSRF carries a signed-in browser's CSRF token on writes; the token
// is in the sign-in answer and in GET /api/v1/me.
const HeaderCSRF = "X-CSRF-Token"

// ECSRF is the code of a cookie-authenticated write without a valid CSRF token.
const ECSRF = "csrf_failed"

// CookieSession names the session cookie.
const CookieSession = "podium_session"

const localPrincipal = "principal"

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

// principalOf returns the principal authorize stored.
func principalOf(c *fiber.Ctx) Principal {
	p, _ := c.Locals(localPrincipal).(Principal)
	return p
}

// authenticate finds the request's credentials: a bearer token, then a
// session cookie, then (on a WebSocket upgrade, where browsers cannot set
// headers) a "bearer.<token>" subprotocol. None is anonymous; a credential
// that is wrong, expired or revoked is an error, not anonymous, so a
// mistake is noticed.
func (s *Server) authenticate(c *fiber.Ctx, upgrade bool) (Principal, error) {
	if s.tooManyFailures(c) {
		return Principal{}, game.Errorf(game.ERateLimited, "", "too many requests with wrong credentials from your address; wait a minute")
	}
	if auth := c.Get(fiber.HeaderAuthorization); auth != "" {
		scheme, tok, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, game.Errorf(game.EUnauthorized, "Authorization", "use the header Authorization: Bearer <token>")
		}
		return s.tokenPrincipal(c, strings.TrimSpace(tok))
	}
	if cookie := c.Cookies(CookieSession); cookie != "" {
		sess, u, err := s.dir.Session(c.UserContext(), hashSecret(cookie), s.now())
		if game.ErrorCode(err) == game.ENotFound {
			s.clearSessionCookie(c)
			return Principal{}, game.Errorf(game.EUnauthorized, "", "your session has ended; sign in again")
		}
		if err != nil {
			return Principal{}, err
		}
		return Principal{Kind: KindUser, User: u, Session: sess.Hash, CSRF: sess.CSRF}, nil
	}
	if upgrade {
		for _, proto := range strings.Split(c.Get(fiber.HeaderSecWebSocketProtocol), ",") {
			if tok, ok := strings.CutPrefix(strings.TrimSpace(proto), subprotocolBearer); ok {
				return s.tokenPrincipal(c, tok)
			}
		}
	}
	return Principal{Kind: KindAnonymous}, nil
}

// subprotocolBearer prefixes a token sent as a WebSocket subprotocol.
const subprotocolBearer = "bearer."

func (s *Server) tokenPrincipal(c *fiber.Ctx, tok string) (Principal, error) {
	if s.cfg.AdminToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) == 1 {
		return Principal{Kind: KindOperator}, nil
	}
	invalid := game.Errorf(game.EUnauthorized, "Authorization", "the token is not valid")
	if !strings.HasPrefix(tok, tokenPrefix) {
		return Principal{}, invalid
	}
	t, err := s.dir.TokenByHash(c.UserContext(), hashSecret(tok))
	switch {
	case game.ErrorCode(err) == game.ENotFound:
		return Principal{}, invalid
	case err != nil:
		return Principal{}, err
	case t.Revoked():
		return Principal{}, game.Errorf(game.EUnauthorized, "Authorization", "the token %s… was revoked", t.Prefix)
	}
	kind := KindAPI
	if t.Kind == game.TokenDisplay {
		kind = KindDisplay
	}
	return Principal{Kind: kind, Token: t}, nil
}

// Secrets: tokens, session cookies and reset links are 256 random bits,
// shown once; only their SHA-256 is stored (a fast hash suffices for
// random secrets; passwords get argon2id).
const (
	tokenPrefix   = "pod_"
	secretEntropy = 32
)

func newSecret(prefix string) string {
	b := make([]byte, secretEntropy)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
