package static

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"podium/internal/browsertest"
)

// TestTVBoard drives the TV board in a real headless Chromium against a fake
// server: subscriptions, snapshot, delta, celebration, reconnect with
// resume, period rollover and a session closed by the server, all under the
// strict CSP.
func TestTVBoard(t *testing.T) {
	chrome := browsertest.ChromiumPath(t)
	srv := newFakeServer(t)
	hub := srv.hub
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
	// No token in the address: the page asks for the live protocol alone
	// and relies on the browser's cookie (here: public boards).
	if !reflect.DeepEqual(conn.protocols, []string{subprotocol}) || conn.ws.Subprotocol() != subprotocol {
		t.Errorf("subprotocols asked %q, agreed %q; want only %q", conn.protocols, conn.ws.Subprotocol(), subprotocol)
	}
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

	// The server closes the connection as unauthorized (4001), as it does
	// when a person's account changed. Without a token the page asks the
	// API whether it may still read the board; it may, so it comes back and
	// resumes where it was.
	conn.closeWith(t, 4001, "signed out or access revoked")
	conn = hub.next(t)
	conn.expectSubscribes(t, map[string]*since{
		"board:revenue:month:company": {Offset: 10, Epoch: "e1"},
		"feed":                        {Offset: 14, Epoch: "e2"},
	})
	b.waitState("live")
	if checks := srv.sent("GET", "/api/v1/boards/revenue/month/company"); len(checks) != 1 || checks[0].Auth != "" {
		t.Errorf("access checks after 4001 = %+v, want one, with no token", checks)
	}
	if !b.EvalBool(`document.getElementById('notice').hidden`) {
		t.Errorf("a notice covers the board after a 4001 it recovered from: %q", b.Text("#notice"))
	}

	b.expectNoProblems()
}

// TestTVBoardAccess drives the TV board through what its credentials
// decide: a display token goes to the server as the "bearer.<token>"
// subprotocol (and never in a message); a board the token does not cover, a
// token revoked while the page is open (4001) or before it opens (the
// upgrade refused), each show a full-screen notice and the page stops
// knocking; and a browser without a token where boards are not public is
// sent to the sign-in page, which is told where to come back to.
func TestTVBoardAccess(t *testing.T) {
	chrome := browsertest.ChromiumPath(t)
	srv := newFakeServer(t)
	srv.setPublic(false)
	hub := srv.hub
	b := newTab(t, browsertest.NewBrowser(t, chrome))

	b.Navigate(srv.URL + "/?board=points&period=all&scope=team-2&title=Crew%20Cup&locale=en-US#token=s3cret")
	conn := hub.next(t)
	if want := []string{subprotocol, "bearer.s3cret"}; !reflect.DeepEqual(conn.protocols, want) {
		t.Errorf("subprotocols asked = %q, want %q", conn.protocols, want)
	}
	if got := conn.ws.Subprotocol(); got != subprotocol {
		t.Errorf("subprotocol agreed = %q, want %q", got, subprotocol)
	}
	if conn.who != "token:s3cret" {
		t.Errorf("the upgrade was authenticated as %q, want the token from the URL fragment", conn.who)
	}
	// Subscribes only: there is no auth message any more.
	conn.expectSubscribes(t, map[string]*since{"board:points:all:team-2": nil, "feed": nil})
	b.waitState("live")
	if got := b.Text("#title"); got != "Crew Cup" {
		t.Errorf("title override = %q, want %q", got, "Crew Cup")
	}

	// The token does not cover this board: say so on the wall.
	conn.send(t, map[string]any{
		"type": "error", "code": "forbidden", "channel": "board:points:all:team-2",
		"message": "you may not read board:points:all:team-2",
	})
	b.waitFor("the notice about the board", func() bool { return b.visible("notice") })
	if got, want := b.Text("#notice-title"), "This screen may not show this board."; got != want {
		t.Errorf("notice = %q, want %q", got, want)
	}

	// The token is revoked while the page is open: the server closes the
	// socket with 4001. The page covers the board and stops knocking.
	srv.revoke("s3cret")
	conn.closeWith(t, 4001, "signed out or access revoked")
	b.waitState("unauthorized")
	b.expectRevoked()
	if c := hub.within(1500 * time.Millisecond); c != nil {
		t.Error("the page reconnected after close code 4001")
		c.ws.Close()
	}
	if checks := srv.sent("GET", "/api/v1/boards/points/all/team-2"); len(checks) != 0 {
		t.Errorf("the page checked its access after a 4001 that says it all: %+v", checks)
	}

	// The same link opened again, after the revocation: the upgrade is
	// refused (the page sees only a socket that closed), so the page asks
	// the REST API with its token, which says 401.
	b.Navigate(srv.URL + "/?metric=deals&period=week&locale=en-US#token=s3cret")
	b.waitState("unauthorized")
	b.expectRevoked()
	checks := srv.sent("GET", "/api/v1/boards/deals/week/company")
	if len(checks) != 1 || checks[0].Auth != "Bearer s3cret" {
		t.Errorf("access checks = %+v, want one with the token as a bearer header", checks)
	}
	if got := b.Text("#title"); got != "Deals won — this week" {
		t.Errorf("heading from the display link's metric = %q, want %q", got, "Deals won — this week")
	}

	// No token, no session, boards not public: off to the sign-in page,
	// which knows where to come back to.
	b.Navigate(srv.URL + "/?board=deals&period=week&locale=en-US")
	b.waitFor("the sign-in page", func() bool { return b.visible("signin-form") })
	if got, want := b.location(), "/signin.html?next="+url.QueryEscape("/?board=deals&period=week&locale=en-US"); got != want {
		t.Errorf("sent to %s, want %s", got, want)
	}

	b.expectNoProblems()
}

// TestAssetsHaveNoInlineCode catches what the strict CSP would block even
// where no browser is installed: inline scripts, <style> blocks, style
// attributes, inline event handlers, javascript: URLs and eval.
func TestAssetsHaveNoInlineCode(t *testing.T) {
	scriptTag, withSrc := regexp.MustCompile(`(?i)<script\b[^>]*>`), regexp.MustCompile(`(?i)\ssrc\s*=`)
	for name, html := range embedded(t, "*.html", "index.html", "signin.html", "me.html") {
		for _, tag := range scriptTag.FindAll(html, -1) {
			if !withSrc.Match(tag) {
				t.Errorf("%s has an inline script: %s", name, tag)
			}
		}
		forbid(t, name, html, "has inline code the CSP blocks",
			regexp.MustCompile(`(?i)<style\b`),
			regexp.MustCompile(`(?i)\sstyle\s*=`),
			regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
			regexp.MustCompile(`(?i)javascript:`),
		)
	}
	for name, js := range embedded(t, "*.js", "tv.js", "signin.js", "me.js", "podium.js") {
		forbid(t, name, js, "uses",
			regexp.MustCompile(`\beval\s*\(`),
			regexp.MustCompile(`\bnew\s+Function\b`),
			regexp.MustCompile(`set(?:Timeout|Interval)\(\s*['"`+"`"+`]`),
			regexp.MustCompile(`setAttribute\(\s*['"]style['"]|\.style\.cssText|\.style\.[a-zA-Z]+\s*=`),
			// Not a CSP rule, ours: names and deal names come from a CRM.
			regexp.MustCompile(`\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write`),
		)
	}
}

// embedded returns the embedded files that match pattern, by name, and
// fails the test when one of want is not among them.
func embedded(t *testing.T, pattern string, want ...string) map[string][]byte {
	t.Helper()
	names, err := fs.Glob(FS, pattern)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, name := range names {
		if files[name], err = fs.ReadFile(FS, name); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range want {
		if files[w] == nil {
			t.Errorf("%s is not embedded", w)
		}
	}
	return files
}

// forbid reports each pattern found in the file src.
func forbid(t *testing.T, name string, src []byte, what string, patterns ...*regexp.Regexp) {
	t.Helper()
	for _, bad := range patterns {
		if loc := bad.FindIndex(src); loc != nil {
			t.Errorf("%s %s: %q", name, what, src[loc[0]:loc[1]])
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

// expectRevoked checks that the full-screen notice of a revoked display
// token covers the wall.
func (b *tab) expectRevoked() {
	b.T.Helper()
	b.waitFor("the revoked notice", func() bool { return b.visible("notice") })
	got := b.Text("#notice-title") + " " + b.Text("#notice-body")
	if want := "This screen's access was revoked. Ask an admin for a new display link."; got != want {
		b.T.Errorf("notice = %q, want %q", got, want)
	}
	if b.visible("board") {
		b.T.Error("the board is still shown behind the revoked notice")
	}
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
