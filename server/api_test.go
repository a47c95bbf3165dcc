package server

import (
	"context"

	"encoding/json"
	"github.com/alexedwards/argon2id"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/engine"
	"podium/engine/memory"
	"podium/game"
	"podium/store/sqlite"
)

const testToken = "test-admin-token-0123456789"

// cheapParams keep password hashing fast in tests; TestPasswordsUseOWASPParams
// checks the production default.
var cheapParams = &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

type harness struct {
	t     testing.TB
	s     *Server
	e     *engine.Engine
	dir   engine.Directory
	clock *testClock
	rep   int64
	team  int64
}

// testClock is a settable clock for the server (lockouts, link expiry).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newHarness(t testing.TB, mutate func(*Config)) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &testClock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	now := clock.Now
	e := engine.New(engine.Config{Now: now}, st, memory.NewBoards(), memory.NewBus(100))
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	cfg := Config{Directory: st, AdminToken: testToken, PublicBoards: true, BodyLimit: 64 << 10, PasswordParams: cheapParams, Now: now}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, e)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, e: e, dir: st, clock: clock}
	team := h.call("POST", "/api/v1/teams", testToken, `{"name":"Enterprise"}`, 201)
	rep := h.call("POST", "/api/v1/reps", testToken, `{"name":"Ana Lima","email":"ana@example.com","team_id":`+jsonNum(team["id"])+`}`, 201)
	h.rep = int64(rep["id"].(float64))
	h.team = int64(team["id"].(float64))
	return h
}

func jsonNum(v any) string { b, _ := json.Marshal(v); return string(b) }

// do sends a request through the Fiber app and returns status and body.
func (h *harness) do(method, path, token, body string, hdr map[string]string) (int, []byte, http.Header) {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.s.App().Test(req, 10000)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func (h *harness) call(method, path, token, body string, want int) map[string]any {
	h.t.Helper()
	status, b, _ := h.do(method, path, token, body, nil)
	if status != want {
		h.t.Fatalf("%s %s = %d %s, want %d", method, path, status, b, want)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Fatalf("%s %s: not JSON: %s", method, path, b)
	}
	return m
}

func (h *harness) wantError(method, path, token, body string, status int, code, field string) {
	h.t.Helper()
	m := h.call(method, path, token, body, status)
	if m["code"] != code {
		h.t.Errorf("%s %s %s: code %v, want %s (%v)", method, path, body, m["code"], code, m["message"])
	}
	if field != "" && m["field"] != field {
		h.t.Errorf("%s %s %s: field %v, want %s", method, path, body, m["field"], field)
	}
	if msg, _ := m["message"].(string); msg == "" {
		h.t.Errorf("%s %s: error without a message", method, path)
	}
}

func TestEveryRouteDeclaresAPermission(t *testing.T) {
	h := newHarness(t, nil)
	declared := map[string]bool{}
	for _, r := range h.s.routes() {
		if r.Perm == "" || r.Summary == "" {
			t.Errorf("%s %s declares no permission or summary", r.Method, r.Path)
		}
		declared[r.Method+" "+r.Path] = true
	}
	for _, r := range h.s.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Path == "/" && r.Method == "USE" {
			continue
		}
		if r.Method == "USE" {
			continue
		}
		if !declared[r.Method+" "+r.Path] {
			t.Errorf("route %s %s is registered without an entry in the route table", r.Method, r.Path)
		}
	}
}

func TestAuthorization(t *testing.T) {
	h := newHarness(t, nil)
	h.wantError("POST", "/api/v1/deals", "", `{}`, 401, game.EUnauthorized, "")
	h.wantError("POST", "/api/v1/deals", "wrong-token-wrong-token", `{}`, 401, game.EUnauthorized, "Authorization")
	h.wantError("GET", "/api/v1/reps", "", "", 401, game.EUnauthorized, "")
	h.wantError("GET", "/api/v1/reps/1/ledger", "", "", 401, game.EUnauthorized, "")
	h.call("GET", "/api/v1/boards/revenue/month/company", "", "", 200)

	private := newHarness(t, func(c *Config) { c.PublicBoards = false })
	private.wantError("GET", "/api/v1/boards/revenue/month/company", "", "", 401, game.EUnauthorized, "")
	private.call("GET", "/api/v1/boards/revenue/month/company", testToken, "", 200)
}

func TestDealThroughTheAPI(t *testing.T) {
	h := newHarness(t, nil)
	body := `{"external_id":"OPP-1","version":1,"rep_id":` + jsonNum(h.rep) + `,"amount":"12000.00","stage":"won","close_time":"2026-11-27T16:00:00Z","name":"Acme renewal"}`
	status, first, _ := h.do("POST", "/api/v1/deals", testToken, body, map[string]string{"Idempotency-Key": "abc"})
	if status != 201 {
		t.Fatalf("create deal = %d %s", status, first)
	}
	status, again, hdr := h.do("POST", "/api/v1/deals", testToken, body, map[string]string{"Idempotency-Key": "abc"})
	if status != 201 || string(again) != string(first) || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay = %d %s (replayed header %q)", status, again, hdr.Get("Idempotent-Replayed"))
	}
	h.wantError("POST", "/api/v1/deals", testToken, strings.Replace(body, "12000.00", "1.00", 1), 422, game.EIdempotency, "version")

	board := h.call("GET", "/api/v1/boards/revenue/month/company?top=5", "", "", 200)
	entries := board["entries"].([]any)
	if board["board"] != "revenue:month:2026-11:company" || len(entries) != 1 {
		t.Fatalf("board = %v", board)
	}
	e := entries[0].(map[string]any)
	if e["name"] != "Ana Lima" || e["value"] != "12000.00" || e["rank"] != float64(1) || e["team"] != "Enterprise" {
		t.Fatalf("entry = %v", e)
	}
	st := h.call("GET", "/api/v1/boards/revenue/month/company/reps/"+jsonNum(h.rep), "", "", 200)
	if st["rep"].(map[string]any)["score"] != float64(1200000) {
		t.Fatalf("standing = %v", st)
	}
	h.call("GET", "/api/v1/boards/revenue/month/company?instance=2026-10", "", "", 200)
	h.wantError("GET", "/api/v1/boards/revenue/month/company?instance=2026-13", "", "", 422, game.EInvalid, "instance")
	deal := h.call("GET", "/api/v1/deals/api/OPP-1", testToken, "", 200)
	if deal["amount"] != "12000.00" {
		t.Fatalf("deal amount = %v, want the string \"12000.00\"", deal["amount"])
	}
	led := h.call("GET", "/api/v1/reps/"+jsonNum(h.rep)+"/ledger", testToken, "", 200)
	if n := len(led["ledger"].([]any)); n != 3 {
		t.Fatalf("ledger rows = %d, want revenue, deals and points", n)
	}
}

func TestBadInputIsRefusedClearly(t *testing.T) {
	h := newHarness(t, nil)
	rep := jsonNum(h.rep)
	cases := []struct {
		body   string
		status int
		code   string
		field  string
	}{
		{`{"external_id":`, 400, codeBadJSON, ""},
		{`[1,2]`, 400, codeBadJSON, ""},
		{``, 400, codeBadJSON, ""},
		{`{"external_id":"X","version":1,"rep_id":` + rep + `,"amount":12.5,"stage":"won","close_time":"2026-11-27T16:00:00Z"}`, 400, codeBadJSON, "amount"},
		{`{"external_id":"X","version":1,"rep_id":` + rep + `,"amount":"1e400","stage":"won","close_time":"2026-11-27T16:00:00Z"}`, 422, game.EInvalid, "amount"},
		{`{"external_id":"X","version":1,"rep_id":` + rep + `,"amount":"-5","stage":"won","close_time":"2026-11-27T16:00:00Z"}`, 422, game.EInvalid, "amount"},
		{`{"external_id":"X","version":1,"rep_id":` + rep + `,"amount":"5.001","stage":"won","close_time":"2026-11-27T16:00:00Z"}`, 422, game.EInvalid, "amount"},
		{`{"external_id":"X","version":1,"rep_id":` + rep + `,"amount":"5","stage":"closed","close_time":"2026-11-27T16:00:00Z"}`, 422, game.EInvalid, "stage"},
		{`{"external_id":"X","version":1,"rep_id":777,"amount":"5","stage":"won","close_time":"2026-11-27T16:00:00Z"}`, 422, game.EUnknownRep, "rep_id"},
		{`{"external_id":"X","rep_id":` + rep + `,"amount":"5","stage":"won","close_time":"2026-11-27T16:00:00Z"}`, 422, game.EMissingField, "version"},
		{`{"external_id":"X","version":1,"rep_id":` + rep + `,"amount":"5","currency":"EUR","stage":"won","close_time":"2026-11-27T16:00:00Z"}`, 422, game.ECurrency, "currency"},
		{`{"external_id":"X","version":1,"rep_id":` + rep + `,"amount":"5","stage":"won","close_time":"yesterday"}`, 422, game.EInvalid, "close_time"},
	}
	for _, c := range cases {
		h.wantError("POST", "/api/v1/deals", testToken, c.body, c.status, c.code, c.field)
	}
	// Bodies over the limit are refused by fasthttp before routing; app.Test
	// cannot show that, so cmd/podium's end-to-end test checks the 413.
	h.wantError("GET", "/api/v1/nothing-here", "", "", 404, game.ENotFound, "")
	h.wantError("PATCH", "/api/v1/reps/99", testToken, `{"name":"X"}`, 404, game.ENotFound, "id")
	h.wantError("POST", "/api/v1/teams", testToken, `{"name":"Enterprise"}`, 409, game.EConflict, "")
	h.wantError("GET", "/api/v1/boards/revenue/fortnight/company", "", "", 422, game.EInvalid, "period")

	// None of it left a trace.
	board := h.call("GET", "/api/v1/boards/revenue/all/company", "", "", 200)
	if n := len(board["entries"].([]any)); n != 0 {
		t.Fatalf("refused input reached the board: %v", board)
	}
	h.wantError("GET", "/api/v1/deals/api/X", testToken, "", 404, game.ENotFound, "")
}

func TestBatchNDJSON(t *testing.T) {
	h := newHarness(t, nil)
	rep := jsonNum(h.rep)
	lines := []string{
		`{"type":"activity","activity":{"external_id":"c1","rep_id":` + rep + `,"kind":"call","occurred_at":"2026-11-28T09:00:00Z"}}`,
		`{"type":"activity","activity":{"external_id":"c2","rep_id":` + rep + `,"kind":"meeting","count":2,"occurred_at":"2026-11-28T09:05:00Z"}}`,
		`{"type":"deal","deal":{"external_id":"d1","version":3,"rep_id":` + rep + `,"amount":"99.99","stage":"won","close_time":"2026-11-28T10:00:00Z"}}`,
	}
	status, b, _ := h.do("POST", "/api/v1/batch", testToken, strings.Join(lines, "\n")+"\n", map[string]string{"Content-Type": "application/x-ndjson"})
	if status != 200 {
		t.Fatalf("batch = %d %s", status, b)
	}
	var res struct{ Items []map[string]any }
	if err := json.Unmarshal(b, &res); err != nil || len(res.Items) != 3 {
		t.Fatalf("batch answer %s: %v", b, err)
	}
	board := h.call("GET", "/api/v1/boards/points/day/company", "", "", 200)
	// 1 call (1) + 2 meetings (10) + one won deal (100 + 0 per 1,000)
	if got := board["entries"].([]any)[0].(map[string]any)["score"]; got != float64(111) {
		t.Fatalf("points = %v, want 111", got)
	}
	h.wantError("POST", "/api/v1/batch", testToken, `[{"type":"meeting"}]`, 422, game.EInvalid, "items[0].type")
	h.wantError("POST", "/api/v1/batch", testToken, `[]`, 422, game.EMissingField, "items")
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t, nil)
	_, _, hdr := h.do("GET", "/healthz", "", "", nil)
	csp := hdr.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP = %q", csp)
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("nosniff missing")
	}
}
