package static

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"podium/internal/browsertest"
)

// strictCSP is the policy the server is going to send with the page: no
// inline script or style, no eval. The test fails on any violation of it.
const strictCSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; " +
	"style-src 'self'; script-src 'self'; frame-ancestors 'none'"

// canaryPath serves a page that breaks the CSP on purpose.
const canaryPath = "/csp-canary.html"

// cspMarker prefixes the console line that the securitypolicyviolation
// listener writes, so that the test can tell a violation from other errors.
const cspMarker = "podium-test-csp-violation:"

// TestTVBoard drives the TV board in a real headless Chromium against a fake
// /ws endpoint: subscriptions, snapshot, delta, celebration, reconnect with
// resume, period rollover and sign-out, all under the strict CSP.
func TestTVBoard(t *testing.T) {
	chrome := browsertest.ChromiumPath(t)
	hub := newFakeHub()
	srv := httptest.NewServer(testMux(t, hub))
	t.Cleanup(srv.Close)
	browserCtx := browsertest.NewBrowser(t, chrome)

	// First prove, in a tab of its own, that the CSP watch sees each kind of
	// violation (inline script, <style> block, style attribute), so that
	// silence on the board's tab means something.
	canary := newTab(t, browserCtx)
	canary.Navigate(srv.URL + canaryPath)
	for _, directive := range []string{"script-src-elem", "style-src-elem", "style-src-attr"} {
		canary.waitFor("a "+directive+" violation on the canary page", func() bool {
			return canary.Reported(cspMarker + " " + directive)
		})
	}
	canary.Close()

	b := newTab(t, browserCtx)
	b.Navigate(srv.URL + "/?board=revenue&period=month&locale=en-US")
	conn := hub.next(t)
	conn.expectSubscribes(t, map[string]*since{
		"board:revenue:month:company": nil,
		"feed":                        nil,
	})
	b.waitState("live")
	if got := b.Text("#title"); got != "Revenue — this month" {
		t.Errorf("heading = %q, want %q", got, "Revenue — this month")
	}

	// A snapshot of 12 entries, in one frame together with the acks (the
	// server may batch messages as a JSON array).
	snapshot := map[string]any{
		"type": "snapshot", "channel": "board:revenue:month:company",
		"board": "revenue:month:2026-11:company", "offset": 7, "epoch": "e1", "currency": "USD",
		"entries": entries(
			rep{3, "Ana Lima", 1, "Enterprise", 1200000, "12000.00", 1},
			rep{2, "Yara Costa", 2, "Mid-Market", 900000, "9000.00", 2},
			rep{7, "Bruno Alves", 1, "Enterprise", 900000, "9000.00", 2},
			rep{5, "Chen Wei", 3, "SMB", 750050, "7500.50", 4},
			rep{1, "Dana Okafor", 2, "Mid-Market", 600000, "6000.00", 5},
			rep{4, "Emil Novak", 3, "SMB", 512345, "5123.45", 6},
			rep{6, "Fatima Zahra", 1, "Enterprise", 400000, "4000.00", 7},
			rep{8, "Gus Moreno", 2, "Mid-Market", 300000, "3000.00", 8},
			rep{9, "Hana Sato", 3, "SMB", 250000, "2500.00", 9},
			rep{10, "Ivan Petrov", 1, "Enterprise", 200000, "2000.00", 10},
			rep{11, "Jo Kim", 2, "Mid-Market", 150000, "1500.00", 11},
			rep{12, "Kai Berg", 3, "SMB", 100000, "1000.00", 12},
		),
	}
	conn.send(t, []any{
		map[string]any{"type": "subscribed", "channel": "board:revenue:month:company"},
		map[string]any{"type": "subscribed", "channel": "feed"},
		snapshot,
	})
	b.waitFor("10 rows", func() bool { return b.rowCount() == 10 })
	b.expectRows([]row{
		{"1", "Ana Lima", "Enterprise", "$12,000.00"},
		{"2", "Yara Costa", "Mid-Market", "$9,000.00"},
		{"2", "Bruno Alves", "Enterprise", "$9,000.00"},
		{"4", "Chen Wei", "SMB", "$7,500.50"},
		{"5", "Dana Okafor", "Mid-Market", "$6,000.00"},
		{"6", "Emil Novak", "SMB", "$5,123.45"},
		{"7", "Fatima Zahra", "Enterprise", "$4,000.00"},
		{"8", "Gus Moreno", "Mid-Market", "$3,000.00"},
		{"9", "Hana Sato", "SMB", "$2,500.00"},
		{"10", "Ivan Petrov", "Enterprise", "$2,000.00"},
	})
	if got := b.Text("#period"); got != "November 2026" {
		t.Errorf("period = %q, want %q", got, "November 2026")
	}

	// A replayed delta below the snapshot's offset must change nothing; the
	// real one moves Ivan from 10th to 2nd, drops Chen Wei and lets Jo Kim in.
	conn.send(t, map[string]any{
		"type": "delta", "channel": "board:revenue:month:company", "board": "revenue:month:2026-11:company",
		"offset": 6, "epoch": "e1", "entries": []any{}, "removed": []int{3},
	})
	conn.send(t, map[string]any{
		"type": "delta", "channel": "board:revenue:month:company", "board": "revenue:month:2026-11:company",
		"offset": 8, "epoch": "e1", "removed": []int{5},
		"entries": entries(
			rep{10, "Ivan Petrov", 1, "Enterprise", 1000000, "10000.00", 2},
			rep{11, "Jo Kim", 2, "Mid-Market", 150000, "1500.00", 10},
		),
	})
	b.waitFor("Ivan Petrov in 2nd place", func() bool {
		return b.Eval(`document.querySelector('#rows .row:nth-child(2) .name')?.textContent`) == "Ivan Petrov"
	})
	b.expectRows([]row{
		{"1", "Ana Lima", "Enterprise", "$12,000.00"},
		{"2", "Ivan Petrov", "Enterprise", "$10,000.00"},
		{"3", "Yara Costa", "Mid-Market", "$9,000.00"},
		{"3", "Bruno Alves", "Enterprise", "$9,000.00"},
		{"5", "Dana Okafor", "Mid-Market", "$6,000.00"},
		{"6", "Emil Novak", "SMB", "$5,123.45"},
		{"7", "Fatima Zahra", "Enterprise", "$4,000.00"},
		{"8", "Gus Moreno", "Mid-Market", "$3,000.00"},
		{"9", "Hana Sato", "SMB", "$2,500.00"},
		{"10", "Jo Kim", "Mid-Market", "$1,500.00"},
	})
	if !b.EvalBool(`document.querySelector('.row[data-rep-id="10"]').classList.contains('is-bumped')`) {
		t.Error("the row whose score went up does not flash (no is-bumped class)")
	}
	if got := b.Text(`.row[data-rep-id="10"] .climb`); got != "▲ 8" {
		t.Errorf("climb chip = %q, want %q", got, "▲ 8")
	}

	// Let the rows settle, then look at the wall the way the room does.
	b.waitFor("the animations to settle", func() bool {
		return b.EvalBool(`document.getAnimations().every((a) => a.effect.getComputedTiming().iterations === Infinity)`)
	})
	b.screenshot()

	// Feed: an activity is not for the TV; two won deals queue up.
	now := time.Now().UTC().Format(time.RFC3339)
	conn.send(t, map[string]any{
		"type": "event", "channel": "feed", "offset": 12, "epoch": "e2",
		"data": map[string]any{"kind": "activity_logged", "at": now},
	})
	conn.send(t, []any{
		map[string]any{
			"type": "event", "channel": "feed", "offset": 13, "epoch": "e2",
			"data": map[string]any{
				"kind": "deal_won", "deal_name": "Acme renewal", "amount": "12000.00", "currency": "USD", "at": now,
				"reps": []any{map[string]any{"rep_id": 3, "name": "Ana Lima", "team": "Enterprise", "amount": "12000.00"}},
			},
		},
		map[string]any{
			"type": "event", "channel": "feed", "offset": 14, "epoch": "e2",
			"data": map[string]any{
				"kind": "deal_won", "deal_name": "Globex expansion", "amount": "8000.00", "currency": "USD", "at": now,
				"reps": []any{
					map[string]any{"rep_id": 2, "name": "Yara Costa", "amount": "4000.00"},
					map[string]any{"rep_id": 7, "name": "Bruno Alves", "amount": "4000.00"},
				},
			},
		},
	})
	b.waitFor("the celebration banner", func() bool { return b.EvalBool(`!document.getElementById('celebration').hidden`) })
	const wantBanner = "🎉 Ana Lima closed Acme renewal — $12,000.00"
	if got := b.Text("#banner-text"); got != wantBanner {
		t.Errorf("banner = %q, want %q", got, wantBanner)
	}
	if got := b.Text("#banner-more"); got != "+1 more deal coming up" {
		t.Errorf("banner queue = %q, want %q", got, "+1 more deal coming up")
	}

	// The server goes away (1001). Hold the next handshake so the page is
	// seen reconnecting, then let it in and check that it resumes.
	release := hub.hold()
	conn.closeWith(t, websocket.CloseGoingAway, "server going away")
	b.waitState("reconnecting")
	release()
	conn = hub.next(t)
	conn.expectSubscribes(t, map[string]*since{
		"board:revenue:month:company": {Offset: 8, Epoch: "e1"},
		"feed":                        {Offset: 14, Epoch: "e2"},
	})
	b.waitState("live")

	// The resumed stream applies on top of what is shown.
	conn.send(t, map[string]any{
		"type": "delta", "channel": "board:revenue:month:company", "board": "revenue:month:2026-11:company",
		"offset": 9, "epoch": "e1", "entries": entries(rep{1, "Dana Okafor", 2, "Mid-Market", 1300000, "13000.00", 1}),
	})
	b.waitFor("Dana Okafor in 1st place", func() bool {
		return b.Text(`#rows .row:first-child .name`) == "Dana Okafor"
	})

	// The month rolls over: a delta for another board replaces the list.
	conn.send(t, map[string]any{
		"type": "delta", "channel": "board:revenue:month:company", "board": "revenue:month:2026-12:company",
		"offset": 10, "epoch": "e1", "entries": entries(rep{3, "Ana Lima", 1, "Enterprise", 50000, "500.00", 1}),
	})
	b.waitFor("the December board", func() bool { return b.rowCount() == 1 })
	b.expectRows([]row{{"1", "Ana Lima", "Enterprise", "$500.00"}})
	if got := b.Text("#period"); got != "December 2026" {
		t.Errorf("period after rollover = %q, want %q", got, "December 2026")
	}

	// Unauthorized (4001): show the notice and stop knocking.
	conn.closeWith(t, 4001, "unauthorized")
	b.waitState("unauthorized")
	if !b.EvalBool(`!document.getElementById('notice').hidden`) {
		t.Error("no sign-in notice after close code 4001")
	}
	if c := hub.within(1500 * time.Millisecond); c != nil {
		t.Error("the page reconnected after close code 4001")
		c.ws.Close()
	}

	// Another board from the URL, with a token in the fragment: the page
	// authenticates before it subscribes.
	b.Navigate(srv.URL + "/?board=points&period=all&scope=team-2&title=Crew%20Cup&locale=en-US#token=s3cret")
	conn = hub.next(t)
	if m := conn.receive(t); m.Op != "auth" || m.Token != "s3cret" {
		t.Errorf("first message = %+v, want auth with the token from the URL fragment", m)
	}
	conn.expectSubscribes(t, map[string]*since{"board:points:all:team-2": nil, "feed": nil})
	if got := b.Text("#title"); got != "Crew Cup" {
		t.Errorf("title override = %q, want %q", got, "Crew Cup")
	}

	for _, p := range b.Problems() {
		t.Errorf("browser console: %s", p)
	}
}

// TestAssetsHaveNoInlineCode catches what the strict CSP would block even
// where no browser is installed: inline scripts, <style> blocks, style
// attributes, inline event handlers, javascript: URLs and eval.
func TestAssetsHaveNoInlineCode(t *testing.T) {
	html, err := fs.ReadFile(FS, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range regexp.MustCompile(`(?i)<script\b[^>]*>`).FindAll(html, -1) {
		if !regexp.MustCompile(`(?i)\ssrc\s*=`).Match(tag) {
			t.Errorf("index.html has an inline script: %s", tag)
		}
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<style\b`),
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if loc := bad.FindIndex(html); loc != nil {
			t.Errorf("index.html has inline code the CSP blocks: %q", html[loc[0]:loc[1]])
		}
	}

	js, err := fs.ReadFile(FS, "tv.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`\beval\s*\(`),
		regexp.MustCompile(`\bnew\s+Function\b`),
		regexp.MustCompile(`set(?:Timeout|Interval)\(\s*['"` + "`" + `]`),
		regexp.MustCompile(`setAttribute\(\s*['"]style['"]|\.style\.cssText|\.style\.[a-zA-Z]+\s*=`),
		// Not a CSP rule, ours: names and deal names come from a CRM.
		regexp.MustCompile(`\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write`),
	} {
		if loc := bad.FindIndex(js); loc != nil {
			t.Errorf("tv.js uses %q", js[loc[0]:loc[1]])
		}
	}
}

// ---- fixtures -----------------------------------------------------------------------

type rep struct {
	id     int
	name   string
	teamID int
	team   string
	score  int64
	value  string
	rank   int
}

func entries(reps ...rep) []any {
	out := make([]any, len(reps))
	for i, r := range reps {
		out[i] = map[string]any{
			"rep_id": r.id, "name": r.name, "team_id": r.teamID, "team": r.team,
			"score": r.score, "value": r.value, "rank": r.rank,
		}
	}
	return out
}

// row is one line of the board as the room reads it.
type row struct {
	Rank  string `json:"rank"`
	Name  string `json:"name"`
	Team  string `json:"team"`
	Value string `json:"value"`
}

// testMux serves the embedded FS under the strict CSP, the fake /ws, and a
// canary page that breaks the CSP on purpose.
func testMux(t *testing.T, hub *fakeHub) http.Handler {
	t.Helper()
	if _, err := fs.Stat(FS, "index.html"); err != nil {
		t.Fatalf("embedded FS: %v", err)
	}
	files := http.FileServer(http.FS(FS))
	mux := http.NewServeMux()
	mux.Handle("/ws", hub)
	// The canary has no icon link, so say there is none rather than 404.
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc(canaryPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", strictCSP)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>canary</title>`+
			`<style>body{color:red}</style><p style="color:red">x</p><script>document.title='x'</script>`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", strictCSP)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
	return mux
}

// ---- fake WebSocket endpoint --------------------------------------------------------

// since mirrors the resume position a client sends with a subscribe.
type since struct {
	Offset int64  `json:"offset"`
	Epoch  string `json:"epoch"`
}

type clientMsg struct {
	Op      string `json:"op"`
	Token   string `json:"token"`
	Channel string `json:"channel"`
	Since   *since `json:"since"`
}

// fakeHub accepts WebSocket connections at /ws and hands each to the test.
// The default Upgrader checks that the Origin is the page's own host.
type fakeHub struct {
	upgrader websocket.Upgrader
	conns    chan *fakeConn

	mu   sync.Mutex
	gate chan struct{} // when set, handshakes wait until it is closed
}

func newFakeHub() *fakeHub {
	return &fakeHub{
		upgrader: websocket.Upgrader{HandshakeTimeout: 5 * time.Second},
		conns:    make(chan *fakeConn, 8),
	}
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the Upgrader has already answered with an HTTP error
	}
	c := &fakeConn{ws: ws, msgs: make(chan clientMsg, 64), done: make(chan struct{})}
	go c.read()
	h.conns <- c
}

// hold makes new handshakes wait until the returned func is called.
func (h *fakeHub) hold() (release func()) {
	gate := make(chan struct{})
	h.mu.Lock()
	h.gate = gate
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		h.gate = nil
		h.mu.Unlock()
		close(gate)
	}
}

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
	ws   *websocket.Conn
	msgs chan clientMsg
	done chan struct{}
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

// receive returns the next message from the page.
func (c *fakeConn) receive(t *testing.T) clientMsg {
	t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			t.Fatal("the page closed the connection")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("the page sent nothing")
		return clientMsg{}
	}
}

// expectSubscribes reads one subscribe per channel (in any order) and checks
// each one's resume position; nil means no "since" at all.
func (c *fakeConn) expectSubscribes(t *testing.T, want map[string]*since) {
	t.Helper()
	got := map[string]*since{}
	deadline := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				t.Fatalf("connection closed after subscribes %v, want %v", keys(got), keys(want))
			}
			if m.Op != "subscribe" {
				t.Fatalf("client sent %+v before subscribing to every channel", m)
			}
			if _, dup := got[m.Channel]; dup {
				t.Fatalf("client subscribed to %q twice", m.Channel)
			}
			got[m.Channel] = m.Since
		case <-deadline:
			t.Fatalf("got subscribes %v, want %v", keys(got), keys(want))
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("subscribes = %s, want %s", show(got), show(want))
	}
}

func keys(m map[string]*since) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func show(m map[string]*since) string {
	var parts []string
	for k, v := range m {
		if v == nil {
			parts = append(parts, k+" (no since)")
		} else {
			parts = append(parts, fmt.Sprintf("%s since %d/%s", k, v.Offset, v.Epoch))
		}
	}
	return strings.Join(parts, ", ")
}

// ---- browser ------------------------------------------------------------------------

// tab is one browser tab of the TV board test.
type tab struct {
	*browsertest.Tab
}

// newTab opens a 1920×1080 tab in the browser that records console errors,
// exceptions and CSP violations (marked with cspMarker).
func newTab(t *testing.T, browserCtx context.Context) *tab {
	t.Helper()
	return &tab{browsertest.NewTab(t, browserCtx, browsertest.Options{CSPMarker: cspMarker})}
}

// waitFor polls cond for up to 10 seconds.
func (b *tab) waitFor(what string, cond func() bool) {
	b.T.Helper()
	b.WaitFor(what, 10*time.Second, cond)
}

func (b *tab) rowCount() int {
	b.T.Helper()
	var n int
	fmt.Sscan(b.Eval(`String(document.querySelectorAll('#rows .row').length)`), &n)
	return n
}

func (b *tab) rows() []row {
	b.T.Helper()
	raw := b.Eval(`JSON.stringify(Array.from(document.querySelectorAll('#rows .row'), (li) => ({
		rank: li.querySelector('.rank').textContent,
		name: li.querySelector('.name').textContent,
		team: li.querySelector('.team').textContent,
		value: li.querySelector('.value').textContent,
	})))`)
	var out []row
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		b.T.Fatalf("decode rows %s: %v", raw, err)
	}
	return out
}

func (b *tab) expectRows(want []row) {
	b.T.Helper()
	got := b.rows()
	if reflect.DeepEqual(got, want) {
		return
	}
	var sb strings.Builder
	for i := range max(len(got), len(want)) {
		var g, w row
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		mark := "  "
		if g != w {
			mark = "✗ "
		}
		fmt.Fprintf(&sb, "%s%-45v want %v\n", mark, g, w)
	}
	b.T.Fatalf("board rows differ:\n%s", sb.String())
}

func (b *tab) waitState(state string) {
	b.T.Helper()
	b.waitFor("connection state "+state, func() bool {
		return b.Eval(`document.getElementById('status').dataset.state`) == state
	})
}

func (b *tab) screenshot() {
	b.T.Helper()
	png := b.Screenshot()
	path := os.Getenv("PODIUM_SCREENSHOT")
	if path == "" {
		path = filepath.Join(b.T.TempDir(), "tv.png")
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.T.Fatal(err)
	}
	b.T.Logf("screenshot: %s", path)
}
