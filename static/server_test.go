package static

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
	"github.com/fasthttp/websocket"

	"podium/internal/browsertest"
)

// strictCSP is the policy the server sends with every page: no inline
// script or style, no eval. The tests fail on any violation of it.
const strictCSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// canaryPath serves a page that breaks the CSP on purpose.
const canaryPath = "/csp-canary.html"

// cspMarker prefixes the console line that the securitypolicyviolation
// listener writes, so that the test can tell a violation from other errors.
const cspMarker = "podium-test-csp-violation:"

// subprotocol is what the live protocol's server answers an upgrade with.
const subprotocol = "podium.v1"

// fakeServer stands in for the Podium server in the browser tests of this
// package: the embedded FS under the strict CSP, a canary page, the
// WebSocket at /ws and the part of the API the pages call (sign-in, me,
// sign-out, password links, boards, and a rep's statement, what-if and
// disputes), with the real server's rules of
// authentication: a bearer token (header, or the "bearer.<token>"
// subprotocol of an upgrade), a session cookie, or nothing where boards are
// public; a wrong credential is refused with 401, never taken as anonymous.
type fakeServer struct {
	*httptest.Server
	hub *fakeHub

	mu        sync.Mutex
	public    bool                   // boards and /ws without credentials
	revoked   map[string]bool        // display tokens that no longer work
	passwords map[string]string      // email → password
	users     map[string]fakeUser    // email → user
	sessions  map[string]fakeSession // cookie → session
	resets    map[string]string      // one-time link secret → email
	logins    gate                   // held: sign-ins wait
	pay       gate                   // held: statement reads wait
	requests  []apiRequest           // every API request, in order

	statements map[string]map[string]any // "<rep>/<period>" → StatementView JSON
	whatIfs    map[int64]map[string]any  // rep → what-if answer, whatever the amount
	disputes   []map[string]any          // opened through the API, added to statements
}

type fakeUser struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	RepID int64  `json:"rep_id,omitempty"`
}

type fakeSession struct {
	email, csrf string
}

// apiRequest is what the fake server saw of one API request.
type apiRequest struct {
	Method, Path, Query, Auth, CSRF string
	Body                            map[string]any
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	if _, err := fs.Stat(FS, "index.html"); err != nil {
		t.Fatalf("embedded FS: %v", err)
	}
	f := &fakeServer{
		public:    true,
		revoked:   map[string]bool{},
		passwords: map[string]string{},
		users:     map[string]fakeUser{},
		sessions:  map[string]fakeSession{},
		resets:    map[string]string{},

		statements: map[string]map[string]any{},
		whatIfs:    map[int64]map[string]any{},
	}
	f.hub = newFakeHub(f.authenticate)
	files := http.FileServer(http.FS(FS))
	mux := http.NewServeMux()
	mux.Handle("/ws", f.hub)
	// The canary has no icon link, so say there is none rather than 404.
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc(canaryPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", strictCSP)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>canary</title>`+
			`<style>body{color:red}</style><p style="color:red">x</p><script>document.title='x'</script>`)
	})
	mux.HandleFunc("POST /api/v1/auth/login", f.login)
	mux.HandleFunc("POST /api/v1/auth/logout", f.logout)
	mux.HandleFunc("POST /api/v1/auth/reset", f.reset)
	mux.HandleFunc("GET /api/v1/me", f.me)
	mux.HandleFunc("GET /api/v1/boards/{metric}/{period}/{scope}", f.board)
	mux.HandleFunc("GET /api/v1/reps/{rep}/statements/{period}", f.statement)
	mux.HandleFunc("GET /api/v1/reps/{rep}/what-if", f.whatIf)
	mux.HandleFunc("POST /api/v1/reps/{rep}/disputes", f.openDispute)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", strictCSP)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
	f.Server = httptest.NewServer(f.record(mux))
	t.Cleanup(f.Close)
	return f
}

// record keeps every API request for the test to look at.
func (f *fakeServer) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			req := apiRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), CSRF: r.Header.Get("X-CSRF-Token")}
			_ = json.Unmarshal(body, &req.Body)
			f.mu.Lock()
			f.requests = append(f.requests, req)
			f.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// sent returns the API requests received so far to method and path.
func (f *fakeServer) sent(method, path string) []apiRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []apiRequest
	for _, r := range f.requests {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeServer) setPublic(public bool) {
	f.mu.Lock()
	f.public = public
	f.mu.Unlock()
}

func (f *fakeServer) revoke(token string) {
	f.mu.Lock()
	f.revoked[token] = true
	f.mu.Unlock()
}

// addUser adds a user without a password and returns a one-time link
// secret that sets it.
func (f *fakeServer) addUser(u fakeUser) (resetSecret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u.ID = int64(len(f.users) + 1)
	f.users[u.Email] = u
	secret := newFakeSecret()
	f.resets[secret] = u.Email
	return secret
}

// setPassword gives a user a password without going through a link.
func (f *fakeServer) setPassword(email, password string) {
	f.mu.Lock()
	f.passwords[email] = password
	f.mu.Unlock()
}

// endSessions signs every browser out, as an admin disabling accounts
// does; the test then closes their sockets with 4001.
func (f *fakeServer) endSessions() {
	f.mu.Lock()
	clear(f.sessions)
	f.mu.Unlock()
}

// setStatement makes st the answer for rep's statement of period; nil
// takes it away (404). The disputes opened through the API are added to
// the answer, as the server reads them with the statement.
func (f *fakeServer) setStatement(rep int64, period string, st map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := fmt.Sprint(rep, "/", period)
	if st == nil {
		delete(f.statements, key)
		return
	}
	f.statements[key] = st
}

// setWhatIf makes answer the what-if of rep, for any amount.
func (f *fakeServer) setWhatIf(rep int64, answer map[string]any) {
	f.mu.Lock()
	f.whatIfs[rep] = answer
	f.mu.Unlock()
}

// csrfOf returns the CSRF token of the user's session.
func (f *fakeServer) csrfOf(email string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sessions {
		if s.email == email {
			return s.csrf
		}
	}
	return ""
}

// holdLogins makes sign-ins wait until the returned func is called.
func (f *fakeServer) holdLogins() (release func()) { return f.logins.hold() }

// holdPay makes statement reads wait until the returned func is called.
func (f *fakeServer) holdPay() (release func()) { return f.pay.hold() }

// gate holds requests back while it is held, so that a test can look at a
// page while it waits for an answer.
type gate struct {
	mu sync.Mutex
	ch chan struct{} // closed on release; nil when not held
}

// hold makes pass wait until the returned func is called.
func (g *gate) hold() (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.ch = ch
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.ch = nil
		g.mu.Unlock()
		close(ch)
	}
}

// pass waits while the gate is held; false means the request went away.
func (g *gate) pass(r *http.Request) bool {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-r.Context().Done():
		return false
	}
}

func newFakeSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// authenticate applies the server's rules to a request; on an upgrade a
// token may come as the subprotocol "bearer.<token>".
func (f *fakeServer) authenticate(r *http.Request, upgrade bool) (who string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok, hasTok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if upgrade && !hasTok {
		for _, p := range websocket.Subprotocols(r) {
			if tok, hasTok = strings.CutPrefix(p, "bearer."); hasTok {
				break
			}
		}
	}
	if hasTok {
		return "token:" + tok, !f.revoked[tok]
	}
	if c, err := r.Cookie("podium_session"); err == nil {
		s, ok := f.sessions[c.Value]
		return "user:" + s.email, ok
	}
	return "anonymous", f.public
}

// session returns the session of the request's cookie.
func (f *fakeServer) session(r *http.Request) (string, fakeSession, bool) {
	c, err := r.Cookie("podium_session")
	if err != nil {
		return "", fakeSession{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[c.Value]
	return c.Value, s, ok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, field, message string) {
	body := map[string]string{"code": code, "message": message}
	if field != "" {
		body["field"] = field
	}
	writeJSON(w, status, body)
}

// unauthorized answers as the server does a request without valid
// credentials.
func unauthorized(w http.ResponseWriter) {
	writeError(w, http.StatusUnauthorized, "unauthorized", "", "sign in, or send Authorization: Bearer <token>")
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "Content-Type", "send the body as Content-Type: application/json")
		return false
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_json", "", "the body is not JSON")
		return false
	}
	return true
}

// grants are the permissions of each role that the pages look at, as the
// server's role table gives them.
var grants = map[string][]string{
	"admin":   {"self", "boards:read", "pay:read", "disputes", "pay:adjust"},
	"finance": {"self", "boards:read", "pay:read", "disputes", "pay:adjust"},
	"manager": {"self", "boards:read", "pay:read", "disputes"},
	"rep":     {"self", "boards:read", "pay:read", "disputes"},
}

func (f *fakeServer) answer(s fakeSession) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[s.email]
	return map[string]any{"kind": "user", "user": u, "csrf_token": s.csrf, "permissions": grants[u.Role]}
}

func (f *fakeServer) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Email, Password string }
	if !decodeJSON(w, r, &in) {
		return
	}
	if !f.logins.pass(r) {
		return
	}
	f.mu.Lock()
	pw, known := f.passwords[strings.ToLower(in.Email)]
	if !known || pw != in.Password {
		f.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "unauthorized", "", "the email or password is wrong")
		return
	}
	cookie, s := newFakeSecret(), fakeSession{email: strings.ToLower(in.Email), csrf: newFakeSecret()}
	f.sessions[cookie] = s
	f.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "podium_session", Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	writeJSON(w, http.StatusOK, f.answer(s))
}

func (f *fakeServer) me(w http.ResponseWriter, r *http.Request) {
	_, s, ok := f.session(r)
	if !ok {
		unauthorized(w)
		return
	}
	writeJSON(w, http.StatusOK, f.answer(s))
}

// csrfOK checks, as the server does of every write made with a session
// cookie, that the request echoes the session's CSRF token; else it has
// answered.
func csrfOK(w http.ResponseWriter, r *http.Request, s fakeSession) bool {
	if r.Header.Get("X-CSRF-Token") != s.csrf {
		writeError(w, http.StatusForbidden, "csrf_failed", "X-CSRF-Token", "this page is out of date: reload it and try again")
		return false
	}
	return true
}

func (f *fakeServer) logout(w http.ResponseWriter, r *http.Request) {
	cookie, s, ok := f.session(r)
	if !ok {
		unauthorized(w)
		return
	}
	if !csrfOK(w, r, s) {
		return
	}
	f.mu.Lock()
	delete(f.sessions, cookie)
	f.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "podium_session", Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeServer) reset(w http.ResponseWriter, r *http.Request) {
	var in struct{ Token, Password string }
	if !decodeJSON(w, r, &in) {
		return
	}
	if utf8.RuneCountInString(in.Password) < 12 {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "password", "a password is at least 12 characters; a few words make a good one")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	email, ok := f.resets[in.Token]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "token", "this link has expired or was already used; ask an admin for a new one")
		return
	}
	delete(f.resets, in.Token)
	f.passwords[email] = in.Password
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeServer) board(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.authenticate(r, false); !ok {
		unauthorized(w)
		return
	}
	key := r.PathValue("metric") + ":" + r.PathValue("period") + ":2026-11:" + r.PathValue("scope")
	writeJSON(w, http.StatusOK, map[string]any{"board": key, "entries": []any{}})
}

// payReader returns the rep of the path if the request's session may read
// their pay, as the server's object rule does: a rep their own, admins,
// finance and managers (here: any rep) others; else it has answered.
func (f *fakeServer) payReader(w http.ResponseWriter, r *http.Request) (rep int64, s fakeSession, ok bool) {
	_, s, ok = f.session(r)
	if !ok {
		unauthorized(w)
		return 0, s, false
	}
	if _, err := fmt.Sscan(r.PathValue("rep"), &rep); err != nil || rep <= 0 {
		writeError(w, http.StatusNotFound, "not_found", "id", "no rep "+r.PathValue("rep"))
		return 0, s, false
	}
	f.mu.Lock()
	u := f.users[s.email]
	f.mu.Unlock()
	if u.RepID != rep && u.Role != "admin" && u.Role != "finance" && u.Role != "manager" {
		writeError(w, http.StatusForbidden, "forbidden", "", "you may not read this rep's statement")
		return 0, s, false
	}
	return rep, s, true
}

func (f *fakeServer) statement(w http.ResponseWriter, r *http.Request) {
	rep, _, ok := f.payReader(w, r)
	if !ok || !f.pay.pass(r) {
		return
	}
	period := r.PathValue("period")
	f.mu.Lock()
	st, found := f.statements[fmt.Sprint(rep, "/", period)]
	var answer map[string]any
	if found {
		answer = map[string]any{}
		for k, v := range st {
			answer[k] = v
		}
		disputes, _ := st["disputes"].([]any)
		disputes = append([]any(nil), disputes...)
		for _, d := range f.disputes {
			if d["rep_id"] == rep && d["period"] == period {
				disputes = append(disputes, d)
			}
		}
		answer["disputes"] = disputes
	}
	f.mu.Unlock()
	writePay(w, answer, found, fmt.Sprintf("rep %d is on no plan in %s", rep, period))
}

// writePay answers with v, or when there is none with the server's 404.
func writePay(w http.ResponseWriter, v map[string]any, found bool, notFound string) {
	if !found {
		writeError(w, http.StatusNotFound, "not_found", "period", notFound)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (f *fakeServer) whatIf(w http.ResponseWriter, r *http.Request) {
	rep, _, ok := f.payReader(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	answer, found := f.whatIfs[rep]
	f.mu.Unlock()
	writePay(w, answer, found, fmt.Sprintf("rep %d is on no plan", rep))
}

// openDispute checks what the server checks of a cookie's write (the CSRF
// token) and of the body (a line of one of the rep's statements).
func (f *fakeServer) openDispute(w http.ResponseWriter, r *http.Request) {
	rep, s, ok := f.payReader(w, r)
	if !ok {
		return
	}
	if !csrfOK(w, r, s) {
		return
	}
	var in struct {
		LineID  int64  `json:"line_id"`
		Comment string `json:"comment"`
	}
	if !decodeJSON(w, r, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	period := ""
	for key, st := range f.statements {
		lines, _ := st["lines"].([]any)
		for _, l := range lines {
			if l, _ := l.(map[string]any); l != nil && fmt.Sprint(l["id"]) == fmt.Sprint(in.LineID) && strings.HasPrefix(key, fmt.Sprint(rep, "/")) {
				period = fmt.Sprint(l["posted_in"])
			}
		}
	}
	if period == "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "line_id", fmt.Sprintf("line %d is not on this rep's statements", in.LineID))
		return
	}
	by := fmt.Sprint("user:", f.users[s.email].ID)
	at := time.Now().UTC().Format(time.RFC3339)
	d := map[string]any{
		"id": int64(len(f.disputes) + 100), "rep_id": rep, "period": period, "line_id": in.LineID, "status": "open",
		"opened_by": by, "opened_at": at, "comments": []any{map[string]any{"by": by, "at": at, "body": in.Comment}},
	}
	f.disputes = append(f.disputes, d)
	writeJSON(w, http.StatusCreated, d)
}

// ---- fake WebSocket endpoint --------------------------------------------------------

// since mirrors the resume position a client sends with a subscribe.
type since struct {
	Offset int64  `json:"offset"`
	Epoch  string `json:"epoch"`
}

type clientMsg struct {
	Op      string `json:"op"`
	Channel string `json:"channel"`
	Since   *since `json:"since"`
}

// fakeHub accepts authenticated WebSocket connections at /ws and hands each
// to the test. The default Upgrader checks that the Origin is the page's
// own host.
type fakeHub struct {
	upgrader websocket.Upgrader
	auth     func(r *http.Request, upgrade bool) (string, bool)
	conns    chan *fakeConn
	gate     gate // held: handshakes wait
}

func newFakeHub(auth func(*http.Request, bool) (string, bool)) *fakeHub {
	return &fakeHub{
		upgrader: websocket.Upgrader{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{subprotocol}},
		auth:     auth,
		conns:    make(chan *fakeConn, 8),
	}
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.gate.pass(r) {
		return
	}
	// As the real server: a refused upgrade is a plain 401, which a page
	// sees only as a socket that closed (1006) before it opened.
	who, ok := h.auth(r, true)
	if !ok {
		unauthorized(w)
		return
	}
	protocols := websocket.Subprotocols(r)
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the Upgrader has already answered with an HTTP error
	}
	c := &fakeConn{ws: ws, who: who, protocols: protocols, msgs: make(chan clientMsg, 64), done: make(chan struct{})}
	go c.read()
	h.conns <- c
}

// hold makes new handshakes wait until the returned func is called.
func (h *fakeHub) hold() (release func()) { return h.gate.hold() }

func (h *fakeHub) next(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case c := <-h.conns:
		t.Cleanup(func() { c.ws.Close() })
		return c
	case <-time.After(15 * time.Second):
		t.Fatal("the page did not open a WebSocket to /ws")
		return nil
	}
}

func (h *fakeHub) within(d time.Duration) *fakeConn {
	select {
	case c := <-h.conns:
		return c
	case <-time.After(d):
		return nil
	}
}

// fakeConn is one page connection. Only the test goroutine writes to it; the
// reader goroutine decodes client messages into msgs.
type fakeConn struct {
	ws        *websocket.Conn
	who       string   // what authenticated the upgrade: "token:…", "user:…" or "anonymous"
	protocols []string // the subprotocols the page asked for
	msgs      chan clientMsg
	done      chan struct{}
}

func (c *fakeConn) read() {
	defer close(c.done)
	defer close(c.msgs)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var m clientMsg
		if err := json.Unmarshal(data, &m); err != nil {
			m = clientMsg{Op: "invalid JSON: " + string(data)}
		}
		c.msgs <- m
	}
}

func (c *fakeConn) send(t *testing.T, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		t.Fatalf("send to page: %v", err)
	}
}

// closeWith sends a close frame with the code and waits for the page to
// answer it, as a server shutting down cleanly does.
func (c *fakeConn) closeWith(t *testing.T, code int, reason string) {
	t.Helper()
	msg := websocket.FormatCloseMessage(code, reason)
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
		t.Fatalf("close with %d: %v", code, err)
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Errorf("the page did not answer the close frame (code %d)", code)
	}
	c.ws.Close()
}

// ---- browser ------------------------------------------------------------------------

// tab is one browser tab of this package's tests.
type tab struct {
	*browsertest.Tab
}

// newTab opens a 1920×1080 tab in the browser that records console errors,
// exceptions and CSP violations (marked with cspMarker). The browser's own
// network lines about refused API calls and WebSocket handshakes are not
// problems: the pages meet them on purpose (a 401 from /api/v1/me means
// "not signed in"); what the pages do about them is what the tests check.
func newTab(t *testing.T, browserCtx context.Context) *tab {
	t.Helper()
	return &tab{browsertest.NewTab(t, browserCtx, browsertest.Options{CSPMarker: cspMarker, Expected: refusedByServer})}
}

func refusedByServer(e *cdplog.Entry) bool {
	if e.Source != cdplog.EntrySourceNetwork {
		return false
	}
	apiRefusal := strings.Contains(e.URL, "/api/v1/") &&
		strings.HasPrefix(e.Text, "Failed to load resource: the server responded with a status of 4")
	// Chromium words a 401 to an upgrade either way, depending on version.
	wsRefusal := strings.HasPrefix(e.Text, "WebSocket connection to '") &&
		(strings.Contains(e.Text, "/ws' failed: HTTP Authentication failed") ||
			strings.Contains(e.Text, "/ws' failed: Error during WebSocket handshake: Unexpected response code: 401"))
	return apiRefusal || wsRefusal
}

// waitFor polls cond for up to 10 seconds.
func (b *tab) waitFor(what string, cond func() bool) {
	b.T.Helper()
	b.WaitFor(what, 10*time.Second, cond)
}

// visible reports whether the element with the id is shown (neither it nor
// an ancestor hidden).
func (b *tab) visible(id string) bool {
	b.T.Helper()
	return b.EvalBool(`document.getElementById(` + jsString(id) + `)?.checkVisibility()`)
}

// fill replaces the value of the input with the id by typing text.
func (b *tab) fill(id, text string) {
	b.T.Helper()
	b.Eval(`(() => { document.getElementById(` + jsString(id) + `).value = ''; return ''; })()`)
	b.Run(chromedp.SendKeys(chromedp.ID(id), text))
}

func (b *tab) click(id string) {
	b.T.Helper()
	b.Run(chromedp.Click(chromedp.ID(id)))
}

// location returns the page's address without the origin.
func (b *tab) location() string {
	b.T.Helper()
	return b.Eval(`location.pathname + location.search + location.hash`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// expectNoProblems fails the test with what the page reported, if anything.
func (b *tab) expectNoProblems() {
	b.T.Helper()
	for _, p := range b.Problems() {
		b.T.Errorf("browser console: %s", p)
	}
}
