package main

import (
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

	"podium/internal/browsertest"
)

// tvCSPMarker prefixes the console line that the securitypolicyviolation
// listener writes, so that a violation is told apart from other errors.
const tvCSPMarker = "podium-e2e-csp-violation:"

// TestTVBoardLive drives the real TV page in a headless Chromium against a
// real embedded node: deals posted over the API reach the wall within
// seconds, formatted and ranked, and celebrated; the node restarts on the
// same data directory and port, and the page reconnects by itself and shows
// the boards rebuilt from the ledger. All under the server's strict CSP, with
// no JS exception and no console error on the page.
func TestTVBoardLive(t *testing.T) {
	chrome := browsertest.ChromiumPath(t)

	// A fixed port, so that the restarted node is where the page expects it.
	addr := tvFreeAddr(t)
	env := map[string]string{"PODIUM_ADMIN_TOKEN": token, "PODIUM_DATA_DIR": t.TempDir()}
	n := mustRunMain(t, env, "--addr", addr)
	if n.addr != addr {
		t.Fatalf("node listens on %s, want %s", n.addr, addr)
	}
	tvCheckCSPHeader(t, n)
	reps := seedTeamAndReps(t, n)
	ana, ben := reps[0], reps[1]

	p := newTVPage(t, chrome, addr)
	p.Navigate(n.url("/"))
	p.waitState("live", 15*time.Second)
	if got := p.Text("#status-label"); got != "Live" {
		t.Errorf("status label = %q, want %q", got, "Live")
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
	// away and comes back by itself; the new node rebuilt its in-memory
	// boards from the ledger, and the page shows its fresh snapshot.
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

	// Nothing went wrong on the page during the whole test. Then prove that
	// the watch would have seen it: an inline script on this very page is
	// blocked and reported, and an uncaught exception is reported.
	if problems := p.Problems(); len(problems) > 0 {
		t.Errorf("the page reported %d problem(s):\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
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

// tvPage is the tab of a fresh headless Chromium that shows the TV board,
// with, besides what browsertest.Tab records, the page's log lines and the
// WebSocket frames it received.
type tvPage struct {
	*browsertest.Tab
	wsURL string

	mu          sync.Mutex
	infos       []string
	connErrsOK  bool                           // the node is down on purpose
	sockets     []network.RequestID            // the page's sockets to wsURL, in order
	frames      map[network.RequestID][][]byte // frames received per socket
	socketByReq map[network.RequestID]bool
	closed      map[network.RequestID]bool
}

func newTVPage(t *testing.T, execPath, addr string) *tvPage {
	t.Helper()
	p := &tvPage{
		wsURL:       "ws://" + addr + "/ws",
		frames:      map[network.RequestID][][]byte{},
		socketByReq: map[network.RequestID]bool{},
		closed:      map[network.RequestID]bool{},
	}
	p.Tab = browsertest.Open(t, execPath, browsertest.Options{
		CSPMarker: tvCSPMarker,
		Locale:    "en_US",
		Expected:  p.expectedLogError,
		OnEvent:   p.onEvent,
		Describe:  p.describe,
	})
	return p
}

// expectedLogError reports whether a log error is one of the page's failed
// reconnects while the node is down on purpose.
func (p *tvPage) expectedLogError(en *cdplog.Entry) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.connErrsOK && en.Source == cdplog.EntrySourceNetwork &&
		strings.HasPrefix(en.Text, "WebSocket connection to '"+p.wsURL+"' failed")
}

// describe shows the state of the page when a wait times out.
func (p *tvPage) describe() string {
	return fmt.Sprintf("status %q, rows %v, banner %q\npage problems: %v",
		p.Eval(`document.getElementById('status').dataset.state`), p.rows(), p.Text("#banner-text"), p.Problems())
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
	case *network.EventWebSocketClosed:
		p.closed[e.RequestID] = true
	case *network.EventWebSocketFrameReceived:
		if p.socketByReq[e.RequestID] && e.Response != nil && e.Response.Opcode == 1 {
			p.frames[e.RequestID] = append(p.frames[e.RequestID], append([]byte(nil), e.Response.PayloadData...))
		}
	}
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
	var raw [][]byte
	for _, id := range p.sockets[min(from, len(p.sockets)):] {
		raw = append(raw, p.frames[id]...)
	}
	p.mu.Unlock()
	var out []map[string]any
	for _, b := range raw {
		var batch []map[string]any
		if len(b) > 0 && b[0] == '[' {
			if err := json.Unmarshal(b, &batch); err != nil {
				p.T.Fatalf("the server sent a frame that is not JSON: %s", b)
			}
		} else {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				p.T.Fatalf("the server sent a frame that is not JSON: %s", b)
			}
			batch = append(batch, m)
		}
		out = append(out, batch...)
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
		return p.Eval(`document.getElementById('status').dataset.state`) == state
	})
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
