package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"podium/internal/browsertest"
	"podium/internal/wstest"
)

// tvCSPMarker prefixes the console line that the securitypolicyviolation
// listener writes, so that a violation is told apart from other errors.
const tvCSPMarker = "podium-e2e-csp-violation:"

// TestBrowserTVBoard drives the real TV page in a headless Chromium against
// a real embedded node whose boards are not public, through a display link:
// the page authenticates its socket with the link's token, deals posted over
// the API reach the wall within seconds, formatted and ranked, and
// celebrated; the node restarts on the same data directory and port, and
// the page reconnects by itself and shows the boards rebuilt from the
// ledger; the token is revoked, and the wall says so and stops. All under
// the server's strict CSP, with no JS exception and no console error on the
// page.
func TestBrowserTVBoard(t *testing.T) {
	chrome := browsertest.ChromiumPath(t)

	// A fixed port, so that the restarted node is where the page expects it.
	addr := tvFreeAddr(t)
	env := map[string]string{"PODIUM_ADMIN_TOKEN": token, "PODIUM_DATA_DIR": t.TempDir(), "PODIUM_PUBLIC_BOARDS": "false"}
	n := mustRunMain(t, env, "--addr", addr)
	if n.addr != addr {
		t.Fatalf("node listens on %s, want %s", n.addr, addr)
	}
	tvCheckCSPHeader(t, n)
	reps := seedTeamAndReps(t, n)
	ana, ben := reps[0], reps[1]

	// A display token for this month's revenue board and the win feed. It
	// reads; it never writes.
	tv := n.post(t, "/api/v1/tokens", `{"kind":"display","name":"TV","channels":["board:revenue:month:company","feed"]}`, 201)
	secret, _ := tv["secret"].(string)
	displayURL, _ := tv["display_url"].(string)
	tokenID := tv["token"].(map[string]any)["id"]
	if !strings.HasPrefix(displayURL, n.url("/")) || !strings.HasSuffix(displayURL, "#token="+secret) {
		t.Fatalf("display_url = %q, want this node's page with #token=<secret>", displayURL)
	}
	if code := bearerStatus(t, "POST", n.url("/api/v1/deals"), secret, wonDeal("TV-0", ana, "1.00")); code != 403 {
		t.Fatalf("a display token sending a deal: %d, want 403", code)
	}

	p := newTVPage(t, browsertest.NewBrowser(t, chrome), addr)
	p.Navigate(displayURL)
	p.waitState("live", 15*time.Second)
	if got := p.Text("#status-label"); got != "Live" {
		t.Errorf("status label = %q, want %q", got, "Live")
	}
	// The token went to the server as a subprotocol, which the server
	// answered with the protocol's name and never echoed.
	if asked, agreed := p.handshake(0); asked != "podium.v1, bearer."+secret || agreed != "podium.v1" {
		t.Errorf("subprotocols asked %q, agreed %q; want the token asked and only podium.v1 agreed", asked, agreed)
	}
	// Wait for the board snapshot and the feed subscription: a deal posted
	// before the server registered the feed would never be celebrated.
	p.WaitFor("the empty board", 10*time.Second, func() bool {
		return strings.HasPrefix(p.Text("#empty"), "No scores yet")
	})
	p.WaitFor("the feed subscription", 10*time.Second, func() bool { return p.subscribedFeed(0) })
	if got, want := p.Text("#empty"), "No scores yet this month. The first one takes the top spot."; got != want {
		t.Errorf("empty board says %q, want %q", got, want)
	}
	if got := p.Text("#title"); got != "Revenue — this month" {
		t.Errorf("heading = %q, want %q", got, "Revenue — this month")
	}
	months := map[string]bool{time.Now().UTC().Format("January 2006"): true}

	// Rep A's deal reaches the wall and is celebrated.
	n.post(t, "/api/v1/deals", wonDeal("TV-1", ana, "1234.50"), 201)
	p.WaitFor("Ana Lima's row", 5*time.Second, func() bool { return p.rowCount() == 1 })
	p.expectRows([]tvRow{{ana, "1", "Ana Lima", "Enterprise", "$1,234.50"}})
	p.WaitFor("the celebration of Deal TV-1", 5*time.Second, func() bool {
		return p.EvalBool(`!document.getElementById('celebration').hidden`)
	})
	if got, want := p.Text("#banner-text"), "🎉 Ana Lima closed Deal TV-1 — $1,234.50"; got != want {
		t.Errorf("banner = %q, want %q", got, want)
	}
	months[time.Now().UTC().Format("January 2006")] = true
	if got := p.Text("#period"); !months[got] {
		t.Errorf("period = %q, want this month (%v)", got, months)
	}
	p.settle()
	p.screenshot("celebration")

	// A bigger deal for rep B puts B on top.
	n.post(t, "/api/v1/deals", wonDeal("TV-2", ben, "2000.00"), 201)
	p.WaitFor("Ben Okafor above Ana Lima", 5*time.Second, func() bool { return p.rowCount() == 2 && p.rows()[0].RepID == ben })
	want := []tvRow{
		{ben, "1", "Ben Okafor", "Enterprise", "$2,000.00"},
		{ana, "2", "Ana Lima", "Enterprise", "$1,234.50"},
	}
	p.expectRows(want)
	// Rep B's deal is celebrated after rep A's, then the board comes back.
	p.WaitFor("the celebration of Deal TV-2", 15*time.Second, func() bool {
		return p.Text("#banner-text") == "🎉 Ben Okafor closed Deal TV-2 — $2,000.00"
	})
	p.WaitFor("the end of the celebrations", 15*time.Second, func() bool {
		return p.EvalBool(`document.getElementById('celebration').hidden`)
	})

	// Restart on the same data directory and port. The page sees the node go
	// away and comes back by itself, with the same token; the new node
	// rebuilt its in-memory boards from the ledger, and the page shows its
	// fresh snapshot.
	sockets := p.socketCount()
	p.expectConnectionErrors(true)
	n.stop()
	p.waitState("reconnecting", 10*time.Second)
	// The node closed the page's socket as going away (1001), not by
	// dropping it.
	p.WaitFor("the page to log the close code", 5*time.Second, func() bool {
		return p.logged("podium: connection closed (1001 ")
	})
	// Stay down until the page has tried, and failed, to reconnect at least
	// once, as when a node takes a while to come back.
	p.WaitFor("a reconnect attempt while the node is down", 10*time.Second, func() bool { return p.socketCount() > sockets })
	p.WaitFor("the attempt to fail", 10*time.Second, func() bool { return p.socketClosed(sockets) })
	n2 := mustRunMain(t, env, "--addr", addr)
	if n2.addr != addr {
		t.Fatalf("restarted node listens on %s, want %s", n2.addr, addr)
	}
	p.waitState("live", 30*time.Second)
	p.expectConnectionErrors(false)
	t.Logf("the page opened %d WebSocket(s) to come back", p.socketCount()-sockets)
	snap := p.waitBoardSnapshot(sockets, 10*time.Second)
	if got, want := snap, map[int64]int64{ana: 123450, ben: 200000}; !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot from the restarted node = %v, want %v", got, want)
	}
	p.WaitFor("the feed subscription on the new node", 10*time.Second, func() bool { return p.subscribedFeed(sockets) })
	p.expectRows(want)
	if got := p.Text("#status-label"); got != "Live" {
		t.Errorf("status label after the restart = %q, want %q", got, "Live")
	}
	if p.EvalBool(`document.getElementById('board').classList.contains('is-stale')`) {
		t.Error("the board is still dimmed as stale after reconnecting")
	}
	if !p.EvalBool(`document.getElementById('celebration').hidden`) {
		t.Errorf("the page celebrates again after the restart: %q", p.Text("#banner-text"))
	}
	p.settle()
	p.screenshot("")

	// The page is really live on the new node, not just showing old rows.
	n2.post(t, "/api/v1/deals", wonDeal("TV-3", ana, "1000.00"), 201)
	p.WaitFor("Ana Lima back on top", 5*time.Second, func() bool {
		rows := p.rows()
		return len(rows) > 0 && rows[0].RepID == ana
	})
	p.expectRows([]tvRow{
		{ana, "1", "Ana Lima", "Enterprise", "$2,234.50"},
		{ben, "2", "Ben Okafor", "Enterprise", "$2,000.00"},
	})
	p.WaitFor("the celebration of Deal TV-3", 5*time.Second, func() bool {
		return p.Text("#banner-text") == "🎉 Ana Lima closed Deal TV-3 — $1,000.00"
	})

	// An admin revokes the token: the node closes the page's socket with
	// 4001, and the wall says what happened instead of the last numbers.
	live := p.socketCount() - 1
	req, _ := http.NewRequest("DELETE", n2.url(fmt.Sprintf("/api/v1/tokens/%v", tokenID)), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	doJSON(t, req, 200)
	p.waitState("unauthorized", 10*time.Second)
	p.expectNotice("This screen's access was revoked.", "Ask an admin for a new display link.")
	if !p.socketClosed(live) {
		t.Error("the revoked page's socket is still open")
	}
	if !p.warned("podium: the server closed the connection: access revoked") {
		t.Errorf("the page did not see the close as a revocation (4001); warnings: %v", p.Warnings())
	}
	if code := bearerStatus(t, "GET", n2.url("/api/v1/boards/revenue/month/company"), secret, ""); code != 401 {
		t.Errorf("the revoked token reading the board: %d, want 401", code)
	}
	p.screenshot("revoked")

	// Nothing went wrong on the page during the whole test. Then prove that
	// the watch would have seen it: an inline script on this very page is
	// blocked and reported, and an uncaught exception is reported.
	p.expectNoProblems()
	p.Eval(`(() => { const s = document.createElement('script'); s.textContent = 'document.title = "x"'; document.head.append(s); return ''; })()`)
	p.WaitFor("the CSP canary to be reported", 10*time.Second, func() bool { return p.Reported(tvCSPMarker + " script-src-elem") })
	if strings.HasPrefix(p.Eval(`document.title`), "x") {
		t.Error("an inline script ran on the page: the CSP is not enforced")
	}
	p.Eval(`(() => { setTimeout(() => { throw new Error('podium-e2e-exception-canary'); }, 0); return ''; })()`)
	p.WaitFor("the exception canary to be reported", 10*time.Second, func() bool { return p.Reported("podium-e2e-exception-canary") })
	for _, w := range p.Warnings() {
		t.Logf("page warning: %s", w)
	}
}

// TestBrowserSignIn follows a person through the real sign-in on a node
// whose boards are not public: the TV page sends a browser without a
// session to the sign-in page; the link an admin got for them sets their
// password; they sign in and the board is live by their session cookie
// alone; they sign out in another tab, and the node closes the board's
// socket, which sends that tab back to the sign-in page.
func TestBrowserSignIn(t *testing.T) {
	chrome := browsertest.ChromiumPath(t)
	env := map[string]string{"PODIUM_ADMIN_TOKEN": token, "PODIUM_DATA_DIR": t.TempDir(), "PODIUM_PUBLIC_BOARDS": "false"}
	n := mustRunMain(t, env)
	reps := seedTeamAndReps(t, n)
	ana, ben := reps[0], reps[1]
	n.post(t, "/api/v1/deals", wonDeal("S-1", ana, "1234.50"), 201)
	created := n.post(t, "/api/v1/users", `{"email":"ann@example.com","name":"Ann","role":"admin"}`, 201)
	link, _ := created["sign_in_link"].(map[string]any)["link"].(string)
	if !strings.HasPrefix(link, n.url("/signin.html#reset=")) {
		t.Fatalf("sign-in link = %q, want %s…", link, n.url("/signin.html#reset="))
	}
	const password = "a sales floor with a view"

	browser := browsertest.NewBrowser(t, chrome)
	p := newTVPage(t, browser, n.addr)
	p.expectRefusals()

	// Not signed in: the board sends the browser to sign in, and back here
	// after.
	p.Navigate(n.url("/"))
	p.WaitFor("the sign-in form", 15*time.Second, func() bool { return p.visible("signin-form") })
	if got, want := p.location(), "/signin.html?next=%2F"; got != want {
		t.Errorf("the board sent the browser to %s, want %s", got, want)
	}

	// The admin's link: choose a password.
	p.Navigate(link)
	p.WaitFor("the password form", 10*time.Second, func() bool { return p.visible("reset-form") })
	p.fill("new-password", password)
	p.fill("repeat-password", password)
	p.click("reset-submit")
	p.WaitFor("the password-set note", 10*time.Second, func() bool { return p.visible("note") && p.visible("signin-form") })
	if got, want := p.Text("#note"), "Your password is set. Sign in now."; got != want {
		t.Errorf("note = %q, want %q", got, want)
	}
	if got := p.location(); got != "/signin.html" {
		t.Errorf("after the password is set the address is %s, want the link gone from it", got)
	}

	// Sign in: on to the board, live by the session cookie.
	p.fill("email", "ann@example.com")
	p.fill("password", password)
	p.click("signin-submit")
	p.waitState("live", 15*time.Second)
	if got := p.location(); got != "/" {
		t.Errorf("signed in, the browser is at %s, want /", got)
	}
	if asked, agreed := p.handshake(p.socketCount() - 1); asked != "podium.v1" || agreed != "podium.v1" {
		t.Errorf("subprotocols asked %q, agreed %q; want podium.v1 alone (the cookie authenticates)", asked, agreed)
	}
	p.WaitFor("Ana Lima's row", 10*time.Second, func() bool { return p.rowCount() == 1 })
	p.expectRows([]tvRow{{ana, "1", "Ana Lima", "Enterprise", "$1,234.50"}})
	p.WaitFor("the feed subscription", 10*time.Second, func() bool { return p.subscribedFeed(0) })
	n.post(t, "/api/v1/deals", wonDeal("S-2", ben, "2000.00"), 201)
	p.WaitFor("Ben Okafor on top", 10*time.Second, func() bool { return p.rowCount() == 2 && p.rows()[0].RepID == ben })

	// Another tab of the same browser: signed in, and signs out.
	other := newTVPage(t, browser, n.addr)
	other.expectRefusals()
	other.Navigate(n.url("/signin.html"))
	other.WaitFor("the signed-in view", 10*time.Second, func() bool { return other.visible("signed-in") })
	if got, want := other.Text("#signed-in-as"), "Signed in as Ann (admin)"; got != want {
		t.Errorf("signed-in view = %q, want %q", got, want)
	}
	other.click("signout")
	other.WaitFor("the signed-out note", 10*time.Second, func() bool {
		return other.visible("signin-form") && other.Text("#note") == "You are signed out."
	})

	// The session ended: the node closed the board's socket, and the board
	// sends its tab to sign in again.
	p.WaitFor("the board to send its tab to sign in", 10*time.Second, func() bool { return p.visible("signin-form") })
	if got, want := p.location(), "/signin.html?next=%2F"; got != want {
		t.Errorf("after signing out the board sent its tab to %s, want %s", got, want)
	}

	p.expectNoProblems()
	other.expectNoProblems()
}

// bearerStatus sends a request with a bearer token and returns the status.
func bearerStatus(t *testing.T, method, url, bearer, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tvCheckCSPHeader checks that the page is served with a CSP strict enough
// for the test's "no violation" to mean something.
func tvCheckCSPHeader(t *testing.T, n *runningNode) {
	t.Helper()
	resp, err := http.Get(n.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, need := range []string{"script-src 'self'", "style-src 'self'", "default-src 'self'"} {
		if !strings.Contains(csp, need) {
			t.Fatalf("the page's CSP %q lacks %q", csp, need)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Fatalf("the page's CSP %q allows unsafe code", csp)
	}
}

// tvFreeAddr returns a loopback address with a port that was free a moment
// ago.
func tvFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// ---- browser ------------------------------------------------------------------------

// tvPage is a tab of a headless Chromium that shows the TV board (and, when
// the board sends it there, the sign-in page), with, besides what
// browsertest.Tab records, the page's log lines, the subprotocols of its
// WebSocket handshakes and the frames it received.
type tvPage struct {
	*browsertest.Tab
	origin string // http://addr
	wsURL  string

	mu          sync.Mutex
	infos       []string
	connErrsOK  bool                           // the node is down on purpose
	refusalsOK  bool                           // the page meets 401s on purpose (not signed in)
	sockets     []network.RequestID            // the page's sockets to wsURL, in order
	frames      map[network.RequestID][][]byte // frames received per socket
	socketByReq map[network.RequestID]bool
	closed      map[network.RequestID]bool
	asked       map[network.RequestID]string // Sec-WebSocket-Protocol of the handshake request
	agreed      map[network.RequestID]string // and of its answer
}

// newTVPage opens a tab in the browser of browserCtx for the node at addr.
func newTVPage(t *testing.T, browserCtx context.Context, addr string) *tvPage {
	t.Helper()
	p := &tvPage{
		origin:      "http://" + addr,
		wsURL:       "ws://" + addr + "/ws",
		frames:      map[network.RequestID][][]byte{},
		socketByReq: map[network.RequestID]bool{},
		closed:      map[network.RequestID]bool{},
		asked:       map[network.RequestID]string{},
		agreed:      map[network.RequestID]string{},
	}
	p.Tab = browsertest.NewTab(t, browserCtx, browsertest.Options{
		CSPMarker: tvCSPMarker,
		Locale:    "en_US",
		Expected:  p.expectedLogError,
		OnEvent:   p.onEvent,
		Describe:  p.describe,
	})
	return p
}

// expectedLogError reports whether a log error of the browser is one the
// test caused on purpose: the page's failed reconnects, and its access
// checks, while the node is down; the node's 401s to a browser that is not
// signed in (the socket refused, /api/v1/me, the board's access check).
func (p *tvPage) expectedLogError(en *cdplog.Entry) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if en.Source != cdplog.EntrySourceNetwork {
		return false
	}
	socketFailed := strings.HasPrefix(en.Text, "WebSocket connection to '"+p.wsURL+"' failed")
	api := strings.HasPrefix(en.URL, p.origin+"/api/v1/")
	switch {
	case p.connErrsOK:
		return socketFailed || api && strings.HasPrefix(en.Text, "Failed to load resource: net::")
	case p.refusalsOK:
		return socketFailed && strings.Contains(en.Text, "HTTP Authentication failed") ||
			socketFailed && strings.Contains(en.Text, "Unexpected response code: 401") ||
			api && en.Text == "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
	}
	return false
}

// expectRefusals accepts the node's 401s to a browser that is not signed in.
func (p *tvPage) expectRefusals() {
	p.mu.Lock()
	p.refusalsOK = true
	p.mu.Unlock()
}

// describe shows the state of the page when a wait times out.
func (p *tvPage) describe() string {
	return fmt.Sprintf("at %s, status %q, rows %v, banner %q\npage problems: %v",
		p.location(), p.Eval(`document.getElementById('status')?.dataset.state`), p.rows(), p.Text("#banner-text"), p.Problems())
}

// onEvent runs on the tab's reader goroutine: it only records.
func (p *tvPage) onEvent(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		switch e.Type {
		case runtime.ConsoleAPICalledTypeInfo, runtime.ConsoleAPICalledTypeLog:
			p.infos = append(p.infos, browsertest.ConsoleText(e.Args))
		}
	case *network.EventWebSocketCreated:
		if e.URL == p.wsURL {
			p.sockets = append(p.sockets, e.RequestID)
			p.socketByReq[e.RequestID] = true
		}
	case *network.EventWebSocketWillSendHandshakeRequest:
		if e.Request != nil {
			p.asked[e.RequestID] = header(e.Request.Headers, "Sec-WebSocket-Protocol")
		}
	case *network.EventWebSocketHandshakeResponseReceived:
		if e.Response != nil {
			p.agreed[e.RequestID] = header(e.Response.Headers, "Sec-WebSocket-Protocol")
		}
	case *network.EventWebSocketClosed:
		p.closed[e.RequestID] = true
	case *network.EventWebSocketFrameReceived:
		if p.socketByReq[e.RequestID] && e.Response != nil && e.Response.Opcode == 1 {
			p.frames[e.RequestID] = append(p.frames[e.RequestID], append([]byte(nil), e.Response.PayloadData...))
		}
	}
}

// header returns a header of a DevTools request or response.
func header(h network.Headers, name string) string {
	for k, v := range h {
		if s, ok := v.(string); ok && strings.EqualFold(k, name) {
			return s
		}
	}
	return ""
}

// handshake returns the subprotocols the i-th socket of the page asked for
// and the one the server agreed to.
func (p *tvPage) handshake(i int) (asked, agreed string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i < 0 || i >= len(p.sockets) {
		p.T.Fatalf("the page opened %d socket(s), no socket %d", len(p.sockets), i)
	}
	return p.asked[p.sockets[i]], p.agreed[p.sockets[i]]
}

func (p *tvPage) expectConnectionErrors(ok bool) {
	p.mu.Lock()
	p.connErrsOK = ok
	p.mu.Unlock()
}

// logged reports whether the page wrote an info or log line starting with s.
func (p *tvPage) logged(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.infos {
		if strings.HasPrefix(m, s) {
			return true
		}
	}
	return false
}

func (p *tvPage) socketCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sockets)
}

// socketClosed reports whether the i-th socket of the page is closed.
func (p *tvPage) socketClosed(i int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return i < len(p.sockets) && p.closed[p.sockets[i]]
}

// messages returns the messages received on the page's sockets from the
// from-th on, array frames split.
func (p *tvPage) messages(from int) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, id := range p.sockets[min(from, len(p.sockets)):] {
		for _, frame := range p.frames[id] {
			out = append(out, wstest.Messages(frame)...)
		}
	}
	return out
}

// subscribedFeed reports whether the server acknowledged the feed
// subscription on a socket from the from-th on; it registers the
// subscription before it acknowledges it.
func (p *tvPage) subscribedFeed(from int) bool {
	for _, m := range p.messages(from) {
		if m["type"] == "subscribed" && m["channel"] == "feed" {
			return true
		}
	}
	return false
}

// waitBoardSnapshot waits for a snapshot of the page's board on a socket from
// the from-th on and returns its scores by rep.
func (p *tvPage) waitBoardSnapshot(from int, d time.Duration) map[int64]int64 {
	p.T.Helper()
	var scores map[int64]int64
	p.WaitFor("a board snapshot", d, func() bool {
		for _, m := range p.messages(from) {
			if m["type"] != "snapshot" || m["channel"] != "board:revenue:month:company" {
				continue
			}
			scores = map[int64]int64{}
			entries, _ := m["entries"].([]any)
			for _, e := range entries {
				em, _ := e.(map[string]any)
				id, _ := em["rep_id"].(float64)
				score, _ := em["score"].(float64)
				scores[int64(id)] = int64(score)
			}
			return true
		}
		return false
	})
	return scores
}

func (p *tvPage) waitState(state string, d time.Duration) {
	p.T.Helper()
	p.WaitFor("connection state "+state, d, func() bool {
		return p.Eval(`document.getElementById('status')?.dataset.state`) == state
	})
}

// warned reports whether the page wrote a warning containing s.
func (p *tvPage) warned(s string) bool {
	for _, w := range p.Warnings() {
		if strings.Contains(w, s) {
			return true
		}
	}
	return false
}

// expectNotice checks the full-screen notice that covers the wall.
func (p *tvPage) expectNotice(title, body string) {
	p.T.Helper()
	p.WaitFor("the notice", 10*time.Second, func() bool { return p.visible("notice") })
	if got := p.Text("#notice-title") + " / " + p.Text("#notice-body"); got != title+" / "+body {
		p.T.Errorf("notice = %q, want %q", got, title+" / "+body)
	}
	if p.visible("board") {
		p.T.Error("the board is still shown behind the notice")
	}
}

// expectNoProblems fails the test with what the page reported, if anything.
func (p *tvPage) expectNoProblems() {
	p.T.Helper()
	if problems := p.Problems(); len(problems) > 0 {
		p.T.Errorf("the page reported %d problem(s):\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
}

// visible reports whether the element with the id is shown (neither it nor
// an ancestor hidden).
func (p *tvPage) visible(id string) bool {
	p.T.Helper()
	return p.EvalBool(`document.getElementById('` + id + `')?.checkVisibility()`)
}

// fill replaces the value of the input with the id by typing text.
func (p *tvPage) fill(id, text string) {
	p.T.Helper()
	p.Eval(`(() => { document.getElementById('` + id + `').value = ''; return ''; })()`)
	p.Run(chromedp.SendKeys(chromedp.ID(id), text))
}

func (p *tvPage) click(id string) {
	p.T.Helper()
	p.Run(chromedp.Click(chromedp.ID(id)))
}

// location returns the page's address without the origin.
func (p *tvPage) location() string {
	p.T.Helper()
	return p.Eval(`location.pathname + location.search + location.hash`)
}

// tvRow is one line of the board as the room reads it.
type tvRow struct {
	RepID int64  `json:"rep_id"`
	Rank  string `json:"rank"`
	Name  string `json:"name"`
	Team  string `json:"team"`
	Value string `json:"value"`
}

func (p *tvPage) rowCount() int {
	p.T.Helper()
	n, _ := strconv.Atoi(p.Eval(`String(document.querySelectorAll('#rows .row').length)`))
	return n
}

func (p *tvPage) rows() []tvRow {
	p.T.Helper()
	raw := p.Eval(`JSON.stringify(Array.from(document.querySelectorAll('#rows .row'), (li) => ({
		rep_id: Number(li.dataset.repId),
		rank: li.querySelector('.rank').textContent,
		name: li.querySelector('.name').textContent,
		team: li.querySelector('.team').textContent,
		value: li.querySelector('.value').textContent,
	})))`)
	var out []tvRow
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		p.T.Fatalf("decode rows %s: %v", raw, err)
	}
	return out
}

func (p *tvPage) expectRows(want []tvRow) {
	p.T.Helper()
	if got := p.rows(); !reflect.DeepEqual(got, want) {
		p.T.Fatalf("board rows = %+v\nwant %+v", got, want)
	}
}

// settle waits for the finite animations (row entries, FLIP moves, banner
// entrance; not the falling confetti, which outlives a short look) to end, so
// that a screenshot shows the page at rest.
func (p *tvPage) settle() {
	p.T.Helper()
	p.WaitFor("the animations to settle", 10*time.Second, func() bool {
		return p.EvalBool(`document.getAnimations().every((a) => a.playState !== 'running' ||
			a.effect.getComputedTiming().iterations === Infinity ||
			a.effect.target?.classList.contains('confetti-piece'))`)
	})
}

// screenshot saves the viewport to PODIUM_SCREENSHOT, or to the test's temp
// directory; a non-empty name goes into the file name, beside that path.
func (p *tvPage) screenshot(name string) {
	p.T.Helper()
	png := p.Screenshot()
	path := os.Getenv("PODIUM_SCREENSHOT")
	if path == "" {
		path = filepath.Join(p.T.TempDir(), "tv-live.png")
	}
	if name != "" {
		ext := filepath.Ext(path)
		path = strings.TrimSuffix(path, ext) + "-" + name + ext
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.T.Fatal(err)
	}
	p.T.Logf("screenshot: %s", path)
}
