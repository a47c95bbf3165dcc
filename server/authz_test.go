package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"podium/game"
	"podium/internal/wstest"
)

// The authorization matrix: every route of the route table and every live
// channel, for every kind of principal, against a second rep, a second team
// and a second manager. The expectations below are written out by hand from
// the rules, not derived from the code under test; a route whose
// permission has no row here fails the test, so a new route cannot ship
// without deciding who may call it.

// The principals of the matrix.
const (
	pAnon      = "anonymous"
	pOperator  = "operator"
	pAdmin     = "admin"
	pFinance   = "finance"
	pManagerN  = "manager of North" // North and, below it, North-East
	pManagerS  = "manager of South"
	pRepA      = "rep A (North)"
	pRepB      = "rep B (South)"
	pAPIIngest = "API token: ingest"
	pAPIPay    = "API token: pay:read"
	pAPIRead   = "API token: boards:read directory:read"
	pDisplay   = "display token: revenue board and feed"
)

var matrixPrincipals = []string{pAnon, pOperator, pAdmin, pFinance, pManagerN, pManagerS, pRepA, pRepB, pAPIIngest, pAPIPay, pAPIRead, pDisplay}

// allowedBy lists, per permission, who holds it (object rules aside).
var allowedBy = map[Permission][]string{
	PermSelf:               {pAdmin, pFinance, pManagerN, pManagerS, pRepA, pRepB},
	PermBoardsRead:         {pOperator, pAdmin, pFinance, pManagerN, pManagerS, pRepA, pRepB, pAPIRead, pDisplay},
	PermDirectoryRead:      {pOperator, pAdmin, pFinance, pManagerN, pManagerS, pRepA, pRepB, pAPIRead},
	PermDirectoryWrite:     {pOperator, pAdmin},
	PermIngest:             {pOperator, pAdmin, pAPIIngest},
	PermPayRead:            {pOperator, pAdmin, pFinance, pManagerN, pManagerS, pRepA, pRepB, pAPIPay},
	PermUsersManage:        {pOperator, pAdmin},
	PermTokensManage:       {pOperator, pAdmin},
	PermAuditRead:          {pOperator, pAdmin},
	PermPrivacy:            {pOperator, pAdmin},
	PermOps:                {pOperator, pAdmin},
	PermPlansManage:        {pOperator, pAdmin, pFinance},
	PermQuotasManage:       {pOperator, pAdmin, pFinance, pManagerN, pManagerS},
	PermStatementsApprove:  {pOperator, pAdmin, pManagerN, pManagerS},
	PermStatementsFinalize: {pOperator, pAdmin, pFinance},
	PermPayAdjust:          {pOperator, pAdmin, pFinance},
	PermDisputes:           {pOperator, pAdmin, pFinance, pManagerN, pManagerS, pRepA, pRepB},
	PermPayrollExport:      {pOperator, pAdmin, pFinance},
}

// The reps whose pay the matrix asks for.
const (
	tRepA  = "rep A (North)"
	tRepA2 = "rep A2 (North-East, under North)"
	tRepB  = "rep B (South)"
)

// seesPay lists the reps within each principal's reach (whose pay they may
// read, whose quota a manager may set): their own, their teams' down the
// hierarchy, or everyone's.
var seesPay = map[string][]string{
	pOperator: {tRepA, tRepA2, tRepB},
	pAdmin:    {tRepA, tRepA2, tRepB},
	pFinance:  {tRepA, tRepA2, tRepB},
	pAPIPay:   {tRepA, tRepA2, tRepB},
	pManagerN: {tRepA, tRepA2},
	pManagerS: {tRepB},
	pRepA:     {tRepA},
	pRepB:     {tRepB},
}

// The teams the matrix asks for, and who reaches them.
const (
	tmNorth     = "North"
	tmNorthEast = "North-East (under North)"
	tmSouth     = "South"
)

var reachesTeam = map[string][]string{
	pOperator:  {tmNorth, tmNorthEast, tmSouth},
	pAdmin:     {tmNorth, tmNorthEast, tmSouth},
	pFinance:   {tmNorth, tmNorthEast, tmSouth},
	pAPIIngest: {tmNorth, tmNorthEast, tmSouth},
	pAPIPay:    {tmNorth, tmNorthEast, tmSouth},
	pAPIRead:   {tmNorth, tmNorthEast, tmSouth},
	pManagerN:  {tmNorth, tmNorthEast},
	pManagerS:  {tmSouth},
}

// The boards the matrix asks for: a display token reads only its own.
const (
	bRevenue = "revenue"
	bDeals   = "deals"
)

var displayBoards = []string{bRevenue}

type matrix struct {
	h      *harness
	reps   map[string]int64
	teams  map[string]int64
	creds  map[string]func(*http.Request) // adds the principal's credentials
	tokens map[string]int64
}

func newMatrix(t *testing.T) *matrix {
	h := newHarness(t, func(c *Config) { c.PublicBoards = false; c.RateLimit, c.AnonRateLimit = -1, -1 })
	ctx := t.Context()
	m := &matrix{h: h, reps: map[string]int64{}, teams: map[string]int64{}, creds: map[string]func(*http.Request){}, tokens: map[string]int64{}}
	team := func(name string, parent int64) int64 {
		body := fmt.Sprintf(`{"name":%q,"parent_id":%d}`, name, parent)
		return int64(h.call("POST", "/api/v1/teams", testToken, body, 201)["id"].(float64))
	}
	north := team("North", 0)
	northEast := team("North-East", north)
	south := team("South", 0)
	m.teams[tmNorth], m.teams[tmNorthEast], m.teams[tmSouth] = north, northEast, south
	rep := func(name string, team int64) int64 {
		body := fmt.Sprintf(`{"name":%q,"team_id":%d}`, name, team)
		return int64(h.call("POST", "/api/v1/reps", testToken, body, 201)["id"].(float64))
	}
	m.reps[tRepA] = rep("Rep A", north)
	m.reps[tRepA2] = rep("Rep A2", northEast)
	m.reps[tRepB] = rep("Rep B", south)

	users := map[string]game.User{
		pAdmin:    {Email: "admin@example.com", Name: "Admin", Role: game.RoleAdmin},
		pFinance:  {Email: "fin@example.com", Name: "Fin", Role: game.RoleFinance},
		pManagerN: {Email: "mn@example.com", Name: "Manager North", Role: game.RoleManager, Teams: []int64{north}},
		pManagerS: {Email: "ms@example.com", Name: "Manager South", Role: game.RoleManager, Teams: []int64{south}},
		pRepA:     {Email: "a@example.com", Name: "Rep A", Role: game.RoleRep, RepID: m.reps[tRepA]},
		pRepB:     {Email: "b@example.com", Name: "Rep B", Role: game.RoleRep, RepID: m.reps[tRepB]},
	}
	for name, u := range users {
		u, err := h.dir.CreateUser(ctx, u, game.ActorSystem)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		// A fresh session for every request: some routes end sessions.
		m.creds[name] = func(r *http.Request) {
			secret, csrf := newSecret(""), newSecret("")
			now := h.clock.Now()
			if err := h.dir.CreateSession(ctx, game.Session{Hash: hashSecret(secret), UserID: u.ID, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			r.AddCookie(&http.Cookie{Name: CookieSession, Value: secret})
			r.Header.Set(HeaderCSRF, csrf)
		}
	}
	tokens := map[string]game.Token{
		pAPIIngest: {Kind: game.TokenAPI, Name: "CRM", Scopes: []string{"ingest"}},
		pAPIPay:    {Kind: game.TokenAPI, Name: "Payroll", Scopes: []string{"pay:read"}},
		pAPIRead:   {Kind: game.TokenAPI, Name: "Wiki", Scopes: []string{"boards:read", "directory:read"}},
		pDisplay:   {Kind: game.TokenDisplay, Name: "TV", Channels: []string{"board:revenue:month:company", "feed"}},
	}
	for name, tok := range tokens {
		secret := newSecret(tokenPrefix)
		tok.Hash, tok.Prefix = hashSecret(secret), secret[:8]
		tok, err := h.dir.CreateToken(ctx, tok, game.ActorSystem)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		m.tokens[name] = tok.ID
		m.creds[name] = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret) }
	}
	m.creds[pOperator] = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }
	m.creds[pAnon] = func(*http.Request) {}
	return m
}

func (m *matrix) send(principal, method, path string) (int, string) {
	m.h.t.Helper()
	var body string
	if method != "GET" {
		// Unknown field: an authorized request stops at decoding (400),
		// so the matrix changes nothing.
		body = `{"matrix_probe":1}`
	}
	req, _ := http.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	m.creds[principal](req)
	resp, err := m.h.s.App().Test(req, 10000)
	if err != nil {
		m.h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 300)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode, string(buf[:n])
}

// matrixCase is one request of the matrix.
type matrixCase struct {
	path  string
	allow bool
	about string // the object asked for
}

// cases expands a route into requests with its parameters filled, each with
// whether principal may make it.
func (m *matrix) cases(r route, principal string) []matrixCase {
	holds := slices.Contains(allowedBy[r.Perm], principal)
	fill := func(path string, params map[string]string) string {
		for k, v := range params {
			path = strings.ReplaceAll(path, ":"+k, v)
		}
		return path
	}
	base := map[string]string{"id": "999999", "source": "crm", "external_id": "none", "rep_id": strconv.FormatInt(m.reps[tRepA], 10),
		"period": "2026-11", "instance": "2026-11"}
	switch r.Object {
	case ObjTeam:
		var out []matrixCase
		for _, target := range []string{tmNorth, tmNorthEast, tmSouth} {
			params := map[string]string{"id": strconv.FormatInt(m.teams[target], 10), "period": "month", "instance": "2026-11"}
			out = append(out, matrixCase{fill(r.Path, params), holds && slices.Contains(reachesTeam[principal], target), target})
		}
		return out
	case ObjRep:
		var out []matrixCase
		for _, target := range []string{tRepA, tRepA2, tRepB} {
			params := map[string]string{"id": strconv.FormatInt(m.reps[target], 10), "period": "2026-11"}
			out = append(out, matrixCase{fill(r.Path, params), holds && slices.Contains(seesPay[principal], target), target})
		}
		return out
	case ObjBoard:
		var out []matrixCase
		for _, board := range []string{bRevenue, bDeals} {
			params := map[string]string{"metric": board, "period": "month", "scope": "company", "rep_id": base["rep_id"]}
			allow := holds && (principal != pDisplay || slices.Contains(displayBoards, board))
			out = append(out, matrixCase{fill(r.Path, params), allow, board + " board"})
		}
		return out
	}
	return []matrixCase{{fill(r.Path, base), holds, ""}}
}

func TestAuthorizationMatrix(t *testing.T) {
	m := newMatrix(t)
	for _, r := range m.h.s.routes() {
		if r.Perm == PermPublic {
			continue // health, docs, sign-in and the app's files: anyone
		}
		if _, ok := allowedBy[r.Perm]; !ok {
			t.Errorf("%s %s needs %q, which the matrix has no row for: decide who holds it", r.Method, r.Path, r.Perm)
			continue
		}
		if strings.Contains(r.Path, "/:") && r.Object == ObjNone && (strings.Contains(r.Path, "rep") && !strings.Contains(r.Path, "/reps/:id") || strings.Contains(r.Path, "/boards/")) {
			t.Errorf("%s %s names a rep or board but declares no object rule", r.Method, r.Path)
		}
		for _, p := range matrixPrincipals {
			for _, c := range m.cases(r, p) {
				status, body := m.send(p, r.Method, c.path)
				denied := status == 401 || status == 403
				if c.allow == denied {
					t.Errorf("%s %s %s as %s: %d %s; want allowed=%v", r.Method, c.path, c.about, p, status, body, c.allow)
				}
				if denied && p == pAnon && status != 401 {
					t.Errorf("%s %s anonymous: %d, want 401", r.Method, c.path, status)
				}
				if denied && p != pAnon && status != 403 {
					t.Errorf("%s %s as %s: %d, want 403", r.Method, c.path, p, status)
				}
			}
		}
	}
}

// TestChannelMatrix: every kind of live channel, for every principal,
// through a real WebSocket whose upgrade carries the principal's
// credentials (a display token as the "bearer.<token>" subprotocol, as the
// TV page sends it).
func TestChannelMatrix(t *testing.T) {
	m := newMatrix(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go m.h.s.Serve(ln)
	t.Cleanup(func() { _ = m.h.s.Shutdown(context.Background()) })
	url := "ws://" + ln.Addr().String() + "/ws"

	for _, p := range matrixPrincipals {
		req, _ := http.NewRequest("GET", "/", nil)
		m.creds[p](req)
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{Subprotocol}}
		if p == pDisplay {
			tok := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
			req.Header.Del("Authorization")
			d.Subprotocols = append(d.Subprotocols, subprotocolBearer+tok)
		}
		ws, resp, err := d.Dial(url, req.Header)
		if p == pAnon {
			if err == nil || resp == nil || resp.StatusCode != 401 {
				t.Errorf("anonymous upgrade without public boards: err %v, want HTTP 401", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: dial: %v", p, err)
		}
		if got := ws.Subprotocol(); got != Subprotocol {
			t.Errorf("%s: server chose subprotocol %q, want %q (never the bearer one)", p, got, Subprotocol)
		}
		holdsBoards := slices.Contains(allowedBy[PermBoardsRead], p)
		type chanCase struct {
			channel string
			allow   bool
		}
		cases := []chanCase{
			{"feed", holdsBoards},
			{"board:revenue:month:company", holdsBoards},
			{"board:deals:month:company", holdsBoards && p != pDisplay},
			{fmt.Sprintf("board:revenue:week:team-%d", m.h.team), holdsBoards && p != pDisplay},
			// Pay on a board: finance and admins; a manager only their teams'.
			{"board:commission:month:company", holdsBoards && slices.Contains([]string{pOperator, pAdmin, pFinance}, p)},
			{fmt.Sprintf("board:commission:month:team-%d", m.teams[tmNorthEast]), holdsBoards && slices.Contains([]string{pOperator, pAdmin, pFinance, pManagerN}, p)},
			{fmt.Sprintf("board:commission:month:team-%d", m.teams[tmSouth]), holdsBoards && slices.Contains([]string{pOperator, pAdmin, pFinance, pManagerS}, p)},
			{"board:attainment:month:company", holdsBoards && p != pDisplay},
		}
		for _, target := range []string{tRepA, tRepA2, tRepB} {
			cases = append(cases, chanCase{"rep:" + strconv.FormatInt(m.reps[target], 10), slices.Contains(allowedBy[PermPayRead], p) && slices.Contains(seesPay[p], target)})
		}
		for _, c := range cases {
			_ = ws.WriteJSON(map[string]string{"op": "subscribe", "channel": c.channel})
			got := readUntil(t, ws, c.channel)
			allowed := got != "error"
			if allowed != c.allow {
				t.Errorf("%s subscribing to %s: %s, want allowed=%v", p, c.channel, got, c.allow)
			}
			_ = ws.WriteJSON(map[string]string{"op": "unsubscribe", "channel": c.channel})
		}
		ws.Close()
	}
}

// readUntil reads messages (single or batched in arrays) until one about
// channel says "subscribed", "snapshot" or "error", and returns its type.
func readUntil(t *testing.T, ws *websocket.Conn, channel string) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for an answer about %s: %v", channel, err)
		}
		for _, msg := range wstest.Messages(data) {
			if msg["channel"] != channel {
				continue
			}
			switch typ, _ := msg["type"].(string); typ {
			case "subscribed", "snapshot", "error":
				if typ == "error" && msg["code"] != game.EForbidden {
					t.Fatalf("subscribing to %s: unexpected error %v", channel, msg)
				}
				return typ
			}
		}
	}
}
