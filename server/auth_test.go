package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"podium/game"
)

// browser is a cookie-keeping client of the harness's app.
type browser struct {
	h       *harness
	cookies map[string]string
	csrf    string
}

func (h *harness) browser() *browser { return &browser{h: h, cookies: map[string]string{}} }

func (b *browser) do(method, path, body string, hdr map[string]string) (int, map[string]any, http.Header) {
	b.h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.h.s.App().Test(req, 10000)
	if err != nil {
		b.h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Value == "" || c.Expires.Before(time.Now()) && !c.Expires.IsZero() {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, resp.Header
}

func (b *browser) login(email, password string) (int, map[string]any) {
	status, m, _ := b.do("POST", "/api/v1/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password), nil)
	if status == 200 {
		b.csrf, _ = m["csrf_token"].(string)
	}
	return status, m
}

// newUser creates a user through the API and sets their password through
// the sign-in link, as a person would.
func (h *harness) newUser(body, password string) (id int64) {
	h.t.Helper()
	m := h.call("POST", "/api/v1/users", testToken, body, 201)
	link := m["sign_in_link"].(map[string]any)["link"].(string)
	_, secret, ok := strings.Cut(link, "#reset=")
	if !ok || !strings.Contains(link, "/signin.html") {
		h.t.Fatalf("sign-in link %q", link)
	}
	status, b, _ := h.do("POST", "/api/v1/auth/reset", "", fmt.Sprintf(`{"token":%q,"password":%q}`, secret, password), nil)
	if status != 204 {
		h.t.Fatalf("set password: %d %s", status, b)
	}
	return int64(m["user"].(map[string]any)["id"].(float64))
}

const goodPassword = "correct horse battery staple"

func TestSignInAndOut(t *testing.T) {
	h := newHarness(t, nil)
	h.newUser(`{"email":"Boss@Example.com","name":"Boss","role":"admin"}`, goodPassword)
	b := h.browser()
	if status, m := b.login("boss@example.com", goodPassword); status != 200 || m["csrf_token"] == "" {
		t.Fatalf("login: %d %v", status, m)
	}
	if b.cookies[CookieSession] == "" {
		t.Fatal("no session cookie")
	}
	status, me, _ := b.do("GET", "/api/v1/me", "", nil)
	if status != 200 || me["user"].(map[string]any)["email"] != "boss@example.com" {
		t.Fatalf("me: %d %v", status, me)
	}
	// A signed-in admin can use the API with the cookie, with the CSRF
	// token on writes.
	if status, m, _ := b.do("POST", "/api/v1/teams", `{"name":"Cookie team"}`, map[string]string{HeaderCSRF: b.csrf}); status != 201 {
		t.Fatalf("create team with cookie: %d %v", status, m)
	}
	if status, _, _ := b.do("POST", "/api/v1/auth/logout", "", map[string]string{HeaderCSRF: b.csrf}); status != 204 {
		t.Fatalf("logout: %d", status)
	}
	if status, _, _ := b.do("GET", "/api/v1/me", "", nil); status != 401 {
		t.Fatalf("me after logout: %d, want 401", status)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	h := newHarness(t, nil)
	h.newUser(`{"email":"c@example.com","name":"C","role":"finance"}`, goodPassword)
	req := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"c@example.com","password":"`+goodPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.s.App().Test(req)
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Header.Get("Set-Cookie")
	for _, want := range []string{CookieSession + "=", "httponly", "samesite=lax", "path=/"} {
		if !strings.Contains(strings.ToLower(c), strings.ToLower(want)) {
			t.Errorf("Set-Cookie %q lacks %q", c, want)
		}
	}
}

func TestCSRF(t *testing.T) {
	h := newHarness(t, nil)
	h.newUser(`{"email":"a@example.com","name":"A","role":"admin"}`, goodPassword)
	b := h.browser()
	b.login("a@example.com", goodPassword)
	for _, hdr := range []map[string]string{nil, {HeaderCSRF: "forged"}} {
		status, m, _ := b.do("POST", "/api/v1/teams", `{"name":"Forged"}`, hdr)
		if status != 403 || m["code"] != ECSRF {
			t.Errorf("cookie write with CSRF header %v: %d %v, want 403 %s", hdr, status, m, ECSRF)
		}
	}
	teams := h.call("GET", "/api/v1/teams", testToken, "", 200)["teams"].([]any)
	for _, tm := range teams {
		if tm.(map[string]any)["name"] == "Forged" {
			t.Fatal("a write without CSRF token changed something")
		}
	}
	// Reads need no CSRF token; bearer-token writes need none either.
	if status, _, _ := b.do("GET", "/api/v1/teams", "", nil); status != 200 {
		t.Errorf("cookie read: %d", status)
	}
	// A cross-site form cannot post JSON: sign-in refuses other types.
	status, _, _ := b.do("POST", "/api/v1/auth/login", "", map[string]string{"Content-Type": "text/plain"})
	if status != 422 {
		t.Errorf("login as text/plain: %d, want 422", status)
	}
}

func TestLockoutAfterWrongPasswords(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.LoginRateLimit = -1 })
	h.newUser(`{"email":"l@example.com","name":"L","role":"rep","rep_id":`+jsonNum(h.rep)+`}`, goodPassword)
	b := h.browser()
	for i := range game.DefaultLockout.MaxFailures {
		if status, m := b.login("l@example.com", "wrong password "+fmt.Sprint(i)); status != 401 || m["code"] != game.EUnauthorized {
			t.Fatalf("wrong password %d: %d %v", i, status, m)
		}
	}
	status, m, hdr := b.do("POST", "/api/v1/auth/login", `{"email":"l@example.com","password":"`+goodPassword+`"}`, nil)
	if status != 429 || m["code"] != game.ERateLimited || hdr.Get("Retry-After") == "" {
		t.Fatalf("right password while locked: %d %v Retry-After %q, want 429 with Retry-After", status, m, hdr.Get("Retry-After"))
	}
	h.clock.Advance(game.DefaultLockout.LockFor + time.Second)
	if status, m := b.login("l@example.com", goodPassword); status != 200 {
		t.Fatalf("after the lock: %d %v", status, m)
	}
	// The lock is on the record.
	log := h.call("GET", "/api/v1/audit?limit=1000", testToken, "", 200)["entries"].([]any)
	found := false
	for _, e := range log {
		found = found || e.(map[string]any)["action"] == "user.locked"
	}
	if !found {
		t.Error("no user.locked audit entry")
	}
}

// TestUnknownEmailCostsAHashCheck: an unknown email is answered like a
// wrong password, after the same argon2id work, so neither the answer nor
// its timing tells which emails have accounts. (Timing itself is not
// asserted: shared machines are too noisy; the work done is.)
func TestUnknownEmailCostsAHashCheck(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PasswordParams = OWASPParams })
	h.newUser(`{"email":"k@example.com","name":"K","role":"admin"}`, goodPassword)
	b := h.browser()
	_, known := b.login("k@example.com", "wrong password!")
	_, unknown := b.login("nobody@example.com", "wrong password!")
	_, malformed := b.login("not an email", "wrong password!")
	if known["message"] != unknown["message"] || known["message"] != malformed["message"] {
		t.Errorf("answers differ: %v / %v / %v", known, unknown, malformed)
	}
	checks := h.s.hasher.checks.Load()
	b.login("nobody2@example.com", "x")
	if got := h.s.hasher.checks.Load() - checks; got != 1 {
		t.Errorf("an unknown email made %d password checks, want 1", got)
	}
}

func TestPasswordsUseOWASPParams(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PasswordParams = nil })
	id := h.newUser(`{"email":"o@example.com","name":"O","role":"admin"}`, goodPassword)
	u, err := h.dir.User(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _, err := argon2id.DecodeHash(u.PasswordHash)
	if err != nil {
		t.Fatalf("stored hash %q: %v", u.PasswordHash, err)
	}
	if p.Memory != 19*1024 || p.Iterations != 2 || p.Parallelism != 1 || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Errorf("hash parameters %+v, want argon2id m=19456 t=2 p=1", p)
	}
}

func TestResetLinks(t *testing.T) {
	h := newHarness(t, nil)
	m := h.call("POST", "/api/v1/users", testToken, `{"email":"r@example.com","name":"R","role":"finance"}`, 201)
	id := int64(m["user"].(map[string]any)["id"].(float64))
	_, secret, _ := strings.Cut(m["sign_in_link"].(map[string]any)["link"].(string), "#reset=")
	reset := func(tok, pw string) (int, map[string]any) {
		s, m, _ := h.browser().do("POST", "/api/v1/auth/reset", fmt.Sprintf(`{"token":%q,"password":%q}`, tok, pw), nil)
		return s, m
	}
	if s, m := reset(secret, "short"); s != 422 || m["field"] != "password" {
		t.Fatalf("short password: %d %v", s, m)
	}
	if s, m := reset(secret, goodPassword); s != 204 { // a refused password did not use the link up
		t.Fatalf("reset: %d %v", s, m)
	}
	if s, m := reset(secret, goodPassword+"2"); s != 404 || m["code"] != game.ENotFound {
		t.Fatalf("second use: %d %v, want 404", s, m)
	}
	if s, _ := h.browser().login("r@example.com", goodPassword); s != 200 {
		t.Fatalf("login after reset: %d", s)
	}
	// An admin-issued link expires.
	link := h.call("POST", fmt.Sprintf("/api/v1/users/%d/reset-link", id), testToken, "", 201)
	_, secret, _ = strings.Cut(link["link"].(string), "#reset=")
	h.clock.Advance(73 * time.Hour)
	if s, _ := reset(secret, goodPassword); s != 404 {
		t.Fatalf("expired link: %d, want 404", s)
	}
}

func TestSignOutEverywhere(t *testing.T) {
	h := newHarness(t, nil)
	h.newUser(`{"email":"e@example.com","name":"E","role":"admin"}`, goodPassword)
	phone, laptop := h.browser(), h.browser()
	phone.login("e@example.com", goodPassword)
	laptop.login("e@example.com", goodPassword)
	if s, _, _ := laptop.do("POST", "/api/v1/auth/logout-all", "", map[string]string{HeaderCSRF: laptop.csrf}); s != 204 {
		t.Fatalf("logout-all: %d", s)
	}
	for name, b := range map[string]*browser{"phone": phone, "laptop": laptop} {
		if s, _, _ := b.do("GET", "/api/v1/me", "", nil); s != 401 {
			t.Errorf("%s after sign-out everywhere: %d, want 401", name, s)
		}
	}
}

// TestRolesCannotSetTheirOwnPrivileges: fields a person may not set are
// refused, never silently ignored, and change nothing.
func TestRolesCannotSetTheirOwnPrivileges(t *testing.T) {
	h := newHarness(t, nil)
	h.newUser(`{"email":"rep@example.com","name":"Rep","role":"rep","rep_id":`+jsonNum(h.rep)+`}`, goodPassword)
	b := h.browser()
	b.login("rep@example.com", goodPassword)
	for _, body := range []string{`{"role":"admin"}`, `{"rep_id":999}`, `{"name":"X","teams":[1]}`, `{"email":"x@example.com"}`} {
		s, m, _ := b.do("PATCH", "/api/v1/me", body, map[string]string{HeaderCSRF: b.csrf})
		if s != 403 || m["code"] != game.EForbidden || m["field"] == "" {
			t.Errorf("PATCH /me %s: %d %v, want 403 naming the field", body, s, m)
		}
	}
	_, me, _ := b.do("GET", "/api/v1/me", "", nil)
	if u := me["user"].(map[string]any); u["role"] != "rep" || u["name"] != "Rep" {
		t.Errorf("after refused changes: %v", u)
	}
	if s, m, _ := b.do("PATCH", "/api/v1/me", `{"name":"Rep Renamed"}`, map[string]string{HeaderCSRF: b.csrf}); s != 200 || m["name"] != "Rep Renamed" {
		t.Errorf("rename self: %d %v", s, m)
	}
	// A rep cannot create users or tokens, whatever they send.
	if s, _, _ := b.do("POST", "/api/v1/users", `{"email":"x@example.com","name":"X","role":"admin"}`, map[string]string{HeaderCSRF: b.csrf}); s != 403 {
		t.Errorf("rep creating a user: %d, want 403", s)
	}
}

func TestLastAdminStays(t *testing.T) {
	h := newHarness(t, nil)
	id := h.newUser(`{"email":"only@example.com","name":"Only","role":"admin"}`, goodPassword)
	h.wantError("PATCH", fmt.Sprintf("/api/v1/users/%d", id), testToken, `{"role":"finance"}`, 409, game.EConflict, "role")
	h.wantError("PATCH", fmt.Sprintf("/api/v1/users/%d", id), testToken, `{"disabled":true}`, 409, game.EConflict, "role")
}

func TestTokens(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PublicBoards = false })
	h.wantError("POST", "/api/v1/tokens", testToken, `{"kind":"api","name":"X","scopes":["users:manage"]}`, 422, game.EInvalid, "scopes[0]")
	h.wantError("POST", "/api/v1/tokens", testToken, `{"kind":"display","name":"TV","channels":["rep:1"]}`, 422, game.EInvalid, "channels[0]")
	h.wantError("POST", "/api/v1/tokens", testToken, `{"kind":"display","name":"TV","scopes":["ingest"],"channels":["feed"]}`, 422, game.EInvalid, "scopes")
	tv := h.call("POST", "/api/v1/tokens", testToken, `{"kind":"display","name":"TV by the door","channels":["board:revenue:month:company","feed"]}`, 201)
	secret := tv["secret"].(string)
	if !strings.HasPrefix(secret, "pod_tv_") || !strings.Contains(tv["display_url"].(string), "#token="+secret) {
		t.Fatalf("display token answer %v", tv)
	}
	// Shown once: listing never shows the secret or its hash.
	list, _, _ := h.do("GET", "/api/v1/tokens", testToken, "", nil)
	_, raw, _ := h.do("GET", "/api/v1/tokens", testToken, "", nil)
	if list != 200 || strings.Contains(string(raw), secret) || strings.Contains(string(raw), hashSecret(secret)) {
		t.Fatalf("token list leaks the secret: %s", raw)
	}
	h.call("GET", "/api/v1/boards/revenue/month/company", secret, "", 200)
	h.wantError("POST", "/api/v1/deals", secret, `{}`, 403, game.EForbidden, "")
	id := int64(tv["token"].(map[string]any)["id"].(float64))
	h.call("DELETE", fmt.Sprintf("/api/v1/tokens/%d", id), testToken, "", 200)
	h.wantError("GET", "/api/v1/boards/revenue/month/company", secret, "", 401, game.EUnauthorized, "Authorization")
}

func TestRateLimits(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AnonRateLimit, c.RateLimit = 3, 5 })
	for i := range 3 {
		if s, _, _ := h.do("GET", "/api/v1/boards/revenue/month/company", "", "", nil); s != 200 {
			t.Fatalf("request %d: %d", i, s)
		}
	}
	s, b, hdr := h.do("GET", "/api/v1/boards/revenue/month/company", "", "", nil)
	if s != 429 || !strings.Contains(string(b), game.ERateLimited) || hdr.Get("Retry-After") == "" {
		t.Fatalf("4th anonymous request: %d %s Retry-After %q", s, b, hdr.Get("Retry-After"))
	}
	// Health checks are never limited; a token has its own budget.
	if s, _, _ := h.do("GET", "/healthz", "", "", nil); s != 200 {
		t.Errorf("healthz under limit: %d", s)
	}
	// The harness made 2 requests with the token already.
	for i := range 3 {
		if s, _, _ := h.do("GET", "/api/v1/reps", testToken, "", nil); s != 200 {
			t.Fatalf("token request %d: %d", i, s)
		}
	}
	if s, _, _ := h.do("GET", "/api/v1/reps", testToken, "", nil); s != 429 {
		t.Errorf("6th token request: %d, want 429", s)
	}
	// Sign-in has its own, stricter limit per address.
	lh := newHarness(t, func(c *Config) { c.LoginRateLimit = 2 })
	for range 2 {
		lh.browser().login("x@example.com", "whatever password")
	}
	if s, m := lh.browser().login("x@example.com", "whatever password"); s != 429 {
		t.Errorf("3rd sign-in attempt: %d %v, want 429", s, m)
	}
}

func TestJSONDepthLimit(t *testing.T) {
	h := newHarness(t, nil)
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	h.wantError("POST", "/api/v1/deals", testToken, `{"splits":`+deep+`}`, 400, codeBadJSON, "")
	// Brackets inside strings do not count.
	if err := checkDepth([]byte(`{"name":"`+strings.Repeat("[", 100)+`"}`), maxJSONDepth); err != nil {
		t.Errorf("brackets in a string: %v", err)
	}
}

func TestAuditThroughTheAPI(t *testing.T) {
	h := newHarness(t, nil)
	id := h.newUser(`{"email":"aud@example.com","name":"Aud","role":"admin"}`, goodPassword)
	h.call("PATCH", fmt.Sprintf("/api/v1/users/%d", id), testToken, `{"name":"Auditor"}`, 200)
	tok := h.call("POST", "/api/v1/tokens", testToken, `{"kind":"api","name":"CRM","scopes":["ingest"]}`, 201)
	h.call("DELETE", fmt.Sprintf("/api/v1/tokens/%v", tok["token"].(map[string]any)["id"]), testToken, "", 200)
	h.call("POST", "/api/v1/admin/rebuild", testToken, "", 200)
	page := h.call("GET", "/api/v1/audit?limit=1000", testToken, "", 200)
	var actions []string
	raw, _ := json.Marshal(page)
	for _, e := range page["entries"].([]any) {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	for _, want := range []string{"team.create", "rep.create", "user.create", "user.reset_issued", "user.password", "user.update", "token.create", "token.revoke", "boards.rebuild"} {
		found := false
		for _, a := range actions {
			found = found || a == want
		}
		if !found {
			t.Errorf("no %s entry in %v", want, actions)
		}
	}
	if strings.Contains(string(raw), "$argon2id$") {
		t.Error("the audit log holds a password hash")
	}
	v := h.call("GET", "/api/v1/audit/verify", testToken, "", 200)
	if v["ok"] != true {
		t.Errorf("verify: %v", v)
	}
	s, body, hdr := h.do("GET", "/api/v1/audit/export", testToken, "", nil)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if s != 200 || !strings.Contains(hdr.Get("Content-Type"), "ndjson") || len(lines) != len(actions) {
		t.Errorf("export: %d %s, %d lines for %d entries", s, hdr.Get("Content-Type"), len(lines), len(actions))
	}
}

// TestMadeUpTokensAreLimited: rotating made-up tokens (each its own
// rate-limit bucket) is cut off per address after a few failures.
func TestMadeUpTokensAreLimited(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.LoginRateLimit = 1 })
	for i := range h.s.failureLimit() {
		if s, _, _ := h.do("GET", "/api/v1/reps", fmt.Sprintf("pod_api_madeup%d", i), "", nil); s != 401 {
			t.Fatalf("made-up token %d: %d, want 401", i, s)
		}
	}
	if s, b, _ := h.do("GET", "/api/v1/reps", "pod_api_one_more", "", nil); s != 429 {
		t.Fatalf("after %d failures: %d %s, want 429", h.s.failureLimit(), s, b)
	}
	h.clock.Advance(time.Minute)
	if s, _, _ := h.do("GET", "/api/v1/reps", testToken, "", nil); s != 200 {
		t.Fatalf("a minute later: %d", s)
	}
}

// TestSecretsNeverLogged: a request that fails on the server is logged,
// without its password, token or cookie.
func TestSecretsNeverLogged(t *testing.T) {
	var logs strings.Builder
	h := newHarness(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	h.newUser(`{"email":"log@example.com","name":"Log","role":"admin"}`, goodPassword)
	b := h.browser()
	b.login("log@example.com", goodPassword)
	cookie := b.cookies[CookieSession]
	// Break the database under the server: every request now fails inside.
	if err := h.dir.(interface{ Close() error }).Close(); err != nil {
		t.Fatal(err)
	}
	b.do("POST", "/api/v1/auth/login", `{"email":"log@example.com","password":"`+goodPassword+`"}`, nil)
	h.do("GET", "/api/v1/reps/1/ledger", "pod_api_a-secret-token-value", "", nil)
	b.do("GET", "/api/v1/me", "", nil)
	out := logs.String()
	if !strings.Contains(out, "request failed") {
		t.Fatalf("the failures were not logged at all:\n%s", out)
	}
	for _, secret := range []string{goodPassword, "pod_api_a-secret-token-value", cookie, testToken} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds a secret %q:\n%s", secret, out)
		}
	}
}
